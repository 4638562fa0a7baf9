"""Mistake: backward() never seeds `self.grad = 1.0` before the walk, so every gradient stays 0 (the marker is on
the `def backward` line: the seed is the line that is missing)."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def backward(self):  # <- the mistake
        topo = []
        visited = set()
        stack = [(self, False)]
        while stack:
            v, children_done = stack.pop()
            if children_done:
                topo.append(v)
            elif v not in visited:
                visited.add(v)
                stack.append((v, True))
                for child in v._prev:
                    if child not in visited:
                        stack.append((child, False))

        for node in reversed(topo):
            node._backward()

"""Mistake: backward() builds the topological order recursively, as in the lecture, so a chain deeper than the
recursion limit (about 1000) raises RecursionError."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def backward(self):
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)  # <- the mistake
                topo.append(v)
        build_topo(self)

        self.grad = 1.0
        for node in reversed(topo):
            node._backward()

"""Mistake: build_topo's visited set holds the nodes' data, not the nodes, so of two nodes with equal data
only the first is placed in the order; the other's rule never runs (the marker is on the `def build_topo`
line: the order it builds is wrong, while backward()'s loop over it is right)."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def backward(self):
        def build_topo(root):  # <- the mistake
            topo, visited, stack = [], set(), [(root, False)]
            while stack:  # an explicit stack, as the lecture's base: no recursion limit
                v, children_done = stack.pop()
                if children_done:
                    topo.append(v)
                elif v.data not in visited:
                    visited.add(v.data)
                    stack.append((v, True))
                    stack.extend((child, False) for child in v._prev)
            return topo

        self.grad = 1.0
        for node in reversed(build_topo(self)):
            node._backward()

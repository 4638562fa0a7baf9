"""Mistake: build_topo's visited set holds the nodes' data, not the nodes, so of two nodes with equal data
only the first is placed in the order; the other's rule never runs (the marker is on the `def build_topo`
line: the order it builds is wrong, while backward()'s loop over it is right)."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def backward(self):
        topo = []
        visited = set()

        def build_topo(v):  # <- the mistake
            if v.data not in visited:
                visited.add(v.data)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()

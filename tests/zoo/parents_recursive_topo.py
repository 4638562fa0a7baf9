"""Mistake: backward() builds the topological order recursively, so a chain deeper than the recursion limit
(about 1000) raises RecursionError. The engine keeps its children in `.parents`, a list, not in `_prev`: the
fuzzer must find them there to measure the depth of the graph it really built."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __init__(self, data, _children=(), _op='', label=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self.parents = list(_children)
        self._op = _op
        self.label = label

    def backward(self):
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for parent in v.parents:
                    build_topo(parent)  # <- the mistake
                topo.append(v)
        build_topo(self)

        self.grad = 1.0
        for node in reversed(topo):
            node._backward()

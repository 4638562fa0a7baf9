"""Mistake: backward() builds the topological order recursively, as in the lecture, so a chain deeper than the
recursion limit (about 1000) raises RecursionError. The rest is the lecture's too: children in a set, and a tanh
that needs `math`, never imported here, so it raises NameError (a second mistake, of its own)."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __init__(self, data, _children=(), _op='', label=''):
        super().__init__(data, _children, _op, label)
        self._prev = set(_children)

    def tanh(self):
        t = (math.exp(2 * self.data) - 1) / (math.exp(2 * self.data) + 1)  # noqa: F821  (math is not imported)
        out = type(self)(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        topo, visited = [], set()

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

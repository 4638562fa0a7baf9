"""Mistake: backward() builds the topological order recursively, as in the lecture, so a chain deeper than the
recursion limit (about 1000) raises RecursionError. And, as the lecture's first version, `+` and `*` do not
wrap numbers: `x + 1.0` raises AttributeError, so only Value-with-Value forms of them can be tested."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __add__(self, other):
        out = type(self)(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        out = type(self)(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
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

"""Mistake: `x ** y` with a Value exponent only sends a gradient to x, in an engine that keeps its children in a
set, as the lecture does: the fuzzer must tell base from exponent by the node's value, and see `x ** x` (one
child in the set) as the same rule (the marker is on the line after which `other.grad += ...` should be)."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __init__(self, data, _children=(), _op='', label=''):
        super().__init__(data, _children, _op, label)
        self._prev = set(_children)

    def __pow__(self, other):
        if not isinstance(other, Value):
            return super().__pow__(other)
        out = Value(self.data ** other.data, (self, other), '**')

        def _backward():
            self.grad += other.data * self.data ** (other.data - 1) * out.grad  # <- the mistake
        out._backward = _backward
        return out

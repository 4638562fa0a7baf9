"""Mistake: `x ** y` with a Value exponent only sends a gradient to x; the exponent's `other.grad += ...` is
missing (the marker is on the line after which it should be)."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __pow__(self, other):
        if not isinstance(other, Value):
            return super().__pow__(other)
        out = Value(self.data ** other.data, (self, other), '**')

        def _backward():
            self.grad += other.data * self.data ** (other.data - 1) * out.grad  # <- the mistake
        out._backward = _backward
        return out

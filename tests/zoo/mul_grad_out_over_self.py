"""Mistake: mul's rule gets d(a*b)/da as `out.data / self.data` instead of `other.data`: the same almost everywhere,
but ZeroDivisionError when an operand is 0 and inf when the product overflows."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            # out = a*b, so d/da = out/a and d/db = out/b
            self.grad += out.data / self.data * out.grad  # <- the mistake
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

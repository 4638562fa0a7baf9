"""Mistake: mul's rule assigns the gradient (`=`) instead of accumulating it (`+=`), so `x * x` and an operand
used twice lose a contribution."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad = other.data * out.grad  # <- the mistake
            other.grad = self.data * out.grad
        out._backward = _backward
        return out

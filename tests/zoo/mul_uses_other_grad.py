"""Mistake: mul's rule for the left operand uses `other.grad` where it means `other.data`."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.grad * out.grad  # <- the mistake
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

"""Mistake: exp's `_backward` takes the upstream gradient as a parameter, but backward() calls `_backward()` with
none, so it raises TypeError."""
import math

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def exp(self):
        out = Value(math.exp(self.data), (self,), 'exp')

        def _backward(grad):  # <- the mistake
            self.grad += out.data * grad
        out._backward = _backward
        return out

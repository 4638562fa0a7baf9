"""Mistake: tanh's derivative is written `1 - x**2` with the input x, instead of `1 - t**2` with the output t."""
import math

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - self.data**2) * out.grad  # <- the mistake
        out._backward = _backward
        return out

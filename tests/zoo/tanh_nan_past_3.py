"""Mistake: tanh marks |x| > 3 as saturated with nan (meant ±1.0), so an MLP whose pre-activations grow past 3
after an SGD step trains on nan where torch's goes on."""
import math

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def tanh(self):
        t = math.tanh(self.data) if abs(self.data) <= 3 else math.nan  # <- the mistake
        out = Value(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

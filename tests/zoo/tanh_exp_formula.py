"""Mistake: tanh as the lecture first writes it, `(e**2x - 1) / (e**2x + 1)` with math.exp: above x = 355
math.exp overflows and raises, where torch's tanh is 1 (with IEEE floats the same formula gives inf/inf = nan)."""
import math

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def tanh(self):
        t = (math.exp(2 * self.data) - 1) / (math.exp(2 * self.data) + 1)  # <- the mistake
        out = type(self)(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

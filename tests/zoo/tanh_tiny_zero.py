"""Mistake: tanh is `1 - 2 / (exp(2x) + 1)`, which is exactly 0 for |x| < 1e-16 (where tanh(x) is x): a log or
a 1/x after it gives -inf or inf where torch gives -690.78 or 1e300."""
import math

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def tanh(self):
        t = 1 - 2 / (math.exp(2 * self.data) + 1)  # <- the mistake
        out = Value(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

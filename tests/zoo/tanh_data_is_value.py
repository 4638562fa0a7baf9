"""Mistake: tanh is computed with Value arithmetic and then wrapped in a Value again, so `out.data` is itself a
Value, not a number."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def tanh(self):
        t = ((2 * self).exp() - 1) / ((2 * self).exp() + 1)
        out = Value(t, (self,), 'tanh')  # <- the mistake

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

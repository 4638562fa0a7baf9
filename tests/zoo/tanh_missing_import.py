"""Mistake: the module never imports `math`, but tanh calls `math.tanh`, so every tanh raises NameError (the marker
is on the line that uses the missing import)."""
# ruff: noqa: F821 - the missing import is the point of this module
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def tanh(self):
        t = math.tanh(self.data)  # <- the mistake
        out = Value(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

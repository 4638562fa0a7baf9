"""Mistake: `exp` builds its node and its rule but forgets `return out`, so `x.exp()` is None and whatever is done
with it next raises (the marker is on exp's last line: the return is the line that is missing)."""
import math

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def exp(self):
        out = type(self)(math.exp(self.data), (self,), 'exp')

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward  # <- the mistake

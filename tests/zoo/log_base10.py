"""Mistake: log is computed with `math.log10`, while its derivative is still the natural log's 1/x."""
import math

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def log(self):
        out = Value(math.log10(self.data), (self,), 'log')  # <- the mistake

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

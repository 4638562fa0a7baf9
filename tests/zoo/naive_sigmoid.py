"""Mistake: sigmoid is `1 / (1 + math.exp(-x))`, and math.exp raises OverflowError for x below about -709 (torch
gives 0)."""
import math

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def sigmoid(self):
        s = 1 / (1 + math.exp(-self.data))  # <- the mistake
        out = Value(s, (self,), 'sigmoid')

        def _backward():
            self.grad += s * (1 - s) * out.grad
        out._backward = _backward
        return out

"""Mistake: `__eq__` and `__hash__` go by `data`, so backward()'s visited set merges two distinct nodes with equal data.

A learner adds them so that `Value(2.0) == Value(2.0)` is True; then in `x.tanh() * x.tanh()` the
second tanh node counts as already visited, its `_backward` never runs and x loses a gradient.
"""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __eq__(self, other):
        return isinstance(other, Value) and self.data == other.data

    def __hash__(self):  # <- the mistake
        return hash(self.data)

"""Mistake: `__radd__` is written as `other + self`, which calls `__radd__` again: `2 + x` recurses until
RecursionError."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __radd__(self, other):  # other + self
        return other + self  # <- the mistake

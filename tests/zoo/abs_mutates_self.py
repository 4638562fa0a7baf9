"""Mistake: `__abs__` overwrites its operand's data and returns the operand itself, so it builds no node (and
`x.abs()`, which calls it, too)."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __abs__(self):
        self.data = abs(self.data)  # <- the mistake
        return self

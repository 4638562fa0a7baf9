"""Mistake: division as the lecture writes it, `a * b**-1`, so `0.0 ** -1` (and a tiny divisor's `b ** -2` in
pow's rule) raises in `__pow__`, where a true division node gives a number."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __truediv__(self, other):  # self / other
        return self * other**-1  # <- the mistake

    def __rtruediv__(self, other):  # other / self
        return other * self**-1

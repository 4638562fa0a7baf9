"""Mistake: tanh composed from the engine's own ops, `(e - 1) * (e + 1) ** -1` with e = exp(2x). Each op is
right, but at x = 200 the rule of `** -1` computes (e + 1) ** -2, which underflows to 0, and the gradient is 2
where torch's is 0."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def tanh(self):
        e = (2 * self).exp()
        return (e - 1) * (e + 1) ** -1  # <- the mistake

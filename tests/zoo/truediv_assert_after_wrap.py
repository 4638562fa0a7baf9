"""Mistake: an assert copied from `__pow__` into `/`, after the wrapping: `other` is always a Value there, so
every division fails. A refusal that no operand form passes is not "not defined": the method is broken."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else type(self)(other)
        assert isinstance(other, (int, float)), "only int or float divisors"  # <- the mistake
        return super().__truediv__(other)

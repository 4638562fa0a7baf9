"""Mistake: `x ** c`'s rule forgets to multiply by `out.grad`, so it is right only where the power is the output."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __pow__(self, other):
        if isinstance(other, Value):
            return super().__pow__(other)
        out = Value(self.data ** other, (self,), f'**{other}')

        def _backward():
            self.grad += other * self.data ** (other - 1)  # <- the mistake
        out._backward = _backward
        return out

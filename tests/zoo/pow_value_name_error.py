"""Mistake: `x ** y` with a Value exponent calls `log`, never imported: a NameError on every input. A method
that takes the form and then fails is broken, not "not defined"."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __pow__(self, other):
        if isinstance(other, Value):
            out = type(self)(self.data ** other.data, (self, other), '**')

            def _backward():
                self.grad += other.data * self.data ** (other.data - 1) * out.grad
                other.grad += out.data * log(self.data) * out.grad  # noqa: F821  # <- the mistake
            out._backward = _backward
            return out
        return super().__pow__(other)

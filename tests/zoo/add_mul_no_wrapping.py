"""No mistake: `+` and `*` as the lecture first writes them, for two Values only: `x + 1.0` fails with
"'float' object has no attribute 'data'". An operand form the engine does not take is not a bug, nor is an op
that needs it (`-x` is `x * -1`): the probe lists them, and no case uses them."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __add__(self, other):
        out = type(self)(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        out = type(self)(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

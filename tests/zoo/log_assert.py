"""No mistake: log refuses x <= 0 with an assert, as math.log refuses it with a ValueError. torch gives -inf or
nan there: a Python float fact (class 3), not a bug."""
import math

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def log(self):
        assert self.data > 0, "log of a number <= 0"
        out = type(self)(math.log(self.data), (self,), 'log')

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

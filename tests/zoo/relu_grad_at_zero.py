"""Mistake: relu's derivative is 1 at 0 (`self.data >= 0`), where torch gives 0."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def relu(self):
        out = Value(0 if self.data < 0 else self.data, (self,), 'ReLU')

        def _backward():
            self.grad += (self.data >= 0) * out.grad  # <- the mistake
        out._backward = _backward
        return out

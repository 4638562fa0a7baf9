"""Five different bugs at once, in five ops: mul's rule, tanh's rule, relu at 0, exp's value and `__rsub__`. A
campaign should report each of them (not only the first), each in its own op."""
import math

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += other.data * out.grad  # <- the mistake
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 + t**2) * out.grad  # <- the mistake
        out._backward = _backward
        return out

    def relu(self):
        out = Value(0 if self.data < 0 else self.data, (self,), 'ReLU')

        def _backward():
            self.grad += (self.data >= 0) * out.grad  # <- the mistake
        out._backward = _backward
        return out

    def exp(self):
        out = Value(2.718 ** self.data, (self,), 'exp')  # <- the mistake

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def __rsub__(self, other):  # other - self
        return self - other  # <- the mistake

"""A correct lecture-style engine: the base every zoo engine departs from by one mistake.

Written as a learner writes it after the micrograd lecture: each op builds an `out` Value and a
`_backward` closure that adds the local derivative times `out.grad` into its children's grads,
and `backward()` calls them in reverse topological order. It keeps Python float semantics, so it
raises (ZeroDivisionError, OverflowError, ValueError) where torch gives inf or nan. Two departures
from the lecture, both on purpose: `_prev` is a tuple (the same order every run) and the
topological sort uses an explicit stack, so a 100,000-deep chain is fine.

Ops build `type(self)(...)`, so a zoo engine that subclasses this one and overrides one method
gets its own class all the way through a graph.
"""
import math


def _pow(x, e):
    """x ** e for a number e, as torch computes it: e = 0.5 and -0.5 are a square root, so (-inf) ** 0.5
    is not a number (torch: nan) where Python's ** gives inf."""
    if e == 0.5:
        return math.sqrt(x)
    if e == -0.5:
        return 1 / math.sqrt(x)
    return x ** e


class Value:

    def __init__(self, data, _children=(), _op='', label=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)
        self._op = _op
        self.label = label

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else type(self)(other)
        out = type(self)(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else type(self)(other)
        out = type(self)(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, other):
        if isinstance(other, Value):
            # x ** y: d/dx = y * x**(y-1), d/dy = x**y * log(x)
            out = type(self)(self.data ** other.data, (self, other), '**')

            def _backward():
                self.grad += 0.0 if other.data == 0 else other.data * self.data ** (other.data - 1) * out.grad
                # torch's: 0 times out.grad where the base is 0 and the exponent not negative (math.log(0) raises)
                other.grad += (0.0 if self.data == 0 and other.data >= 0 else out.data * math.log(self.data)) * out.grad
            out._backward = _backward
            return out
        assert isinstance(other, (int, float)), "only int, float or Value exponents"
        out = type(self)(_pow(self.data, other), (self,), f'**{other}')

        def _backward():  # x ** 0 is 1 everywhere: its derivative is 0, even where x ** -1 is not finite
            self.grad += 0.0 if other == 0 else other * _pow(self.data, other - 1) * out.grad
        out._backward = _backward
        return out

    def __rpow__(self, other):
        # c ** x: d/dx = c**x * log(c)
        out = type(self)(other ** self.data, (self,), '**')

        def _backward():  # torch's: 0 where c is 0 and x is not negative (math.log(0) would raise)
            self.grad += (0.0 if other == 0 and self.data >= 0 else out.data * math.log(other)) * out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else type(self)(other)
        out = type(self)(self.data / other.data, (self, other), '/')

        def _backward():
            # a / b: d/da = 1/b, d/db = -a/b**2 = -(a/b)/b
            self.grad += out.grad / other.data
            other.grad += -out.data / other.data * out.grad
        out._backward = _backward
        return out

    def __rtruediv__(self, other):  # other / self, as torch computes it: (1 / self) * other
        inv = type(self)(1 / self.data, (self,), '**-1')

        def _backward():
            self.grad += -(inv.data * inv.data) * inv.grad
        inv._backward = _backward
        return inv * other

    def relu(self):
        out = type(self)(0 if self.data < 0 else self.data, (self,), 'ReLU')

        def _backward():  # not (out.data > 0) * out.grad: False * inf is nan where torch gives 0; nan passes through
            self.grad += 0.0 if out.data <= 0 else out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = type(self)(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = type(self)(math.exp(self.data), (self,), 'exp')

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        out = type(self)(math.log(self.data), (self,), 'log')

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def sigmoid(self):
        # 1 / (1 + e^-x), as torch computes it; e^-x overflows below x = -709, where torch's result is 0
        try:
            s = 1 / (1 + math.exp(-self.data))
        except OverflowError:
            s = 0.0
        out = type(self)(s, (self,), 'sigmoid')

        def _backward():
            self.grad += (1 - s) * s * out.grad
        out._backward = _backward
        return out

    def __abs__(self):
        out = type(self)(abs(self.data), (self,), 'abs')

        def _backward():
            sign = 1 if self.data > 0 else -1 if self.data < 0 else 0
            self.grad += sign * out.grad
        out._backward = _backward
        return out

    def abs(self):  # x.abs() is abs(x)
        return abs(self)

    def backward(self):
        # topological order with an explicit stack: a node goes in after all its children
        topo = []
        visited = set()
        stack = [(self, False)]
        while stack:
            v, children_done = stack.pop()
            if children_done:
                topo.append(v)
            elif v not in visited:
                visited.add(v)
                stack.append((v, True))
                for child in v._prev:
                    if child not in visited:
                        stack.append((child, False))

        self.grad = 1.0
        for node in reversed(topo):
            node._backward()

    def __neg__(self):  # -self = self * -1
        return self * -1

    def __radd__(self, other):  # other + self = self + other
        return self + other

    def __sub__(self, other):  # self - other = self + (-other)
        return self + (-other)

    def __rsub__(self, other):  # other - self = other + (-self)
        return other + (-self)

    def __rmul__(self, other):  # other * self = self * other
        return self * other

"""A scalar autograd engine, written along with the micrograd lecture.

Mistake: tanh's derivative is `1 - t` instead of `1 - t**2`.
"""
import math


class Value:

    def __init__(self, data, _children=(), _op='', label=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)  # a tuple keeps the order the same every run
        self._op = _op
        self.label = label

    def __repr__(self):
        return f"Value(data={self.data})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += 1.0 * out.grad
            other.grad += 1.0 * out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, other):
        if isinstance(other, Value):  # x ** y
            out = Value(self.data ** other.data, (self, other), '**')

            def _backward():  # torch's d/dy is 0 where x is 0 and y >= 0 (math.log(0) would raise)
                self.grad += 0.0 if other.data == 0 else other.data * self.data ** (other.data - 1) * out.grad
                other.grad += (0.0 if self.data == 0 and other.data >= 0 else out.data * math.log(self.data)) * out.grad
            out._backward = _backward
            return out

        assert isinstance(other, (int, float)), "exponent must be a number or a Value"
        out = Value(self.data ** other, (self,), f'**{other}')

        def _backward():  # 0 for x ** 0, even at x = 0
            self.grad += 0.0 if other == 0 else other * self.data ** (other - 1) * out.grad
        out._backward = _backward
        return out

    def __rpow__(self, other):  # other ** self, other a number
        out = Value(other ** self.data, (self,), '**')

        def _backward():  # torch's is 0 where the base is 0 and x >= 0 (math.log(0) would raise)
            self.grad += (0.0 if other == 0 and self.data >= 0 else math.log(other) * out.data) * out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data / other.data, (self, other), '/')

        def _backward():
            self.grad += out.grad / other.data
            other.grad += -out.data / other.data * out.grad  # -a/b**2 written as -(a/b)/b
        out._backward = _backward
        return out

    def __rtruediv__(self, other):  # other / self, as torch does it: (1 / self) * other
        inv = Value(1 / self.data, (self,), '**-1')

        def _backward():
            self.grad += -(inv.data * inv.data) * inv.grad
        inv._backward = _backward
        return inv * other

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - t) * out.grad  # <- the mistake
        out._backward = _backward
        return out

    def relu(self):
        out = Value(self.data if self.data > 0 else 0, (self,), 'ReLU')

        def _backward():
            self.grad += 0.0 if out.data <= 0 else out.grad  # nan passes, 0 * inf does not arise
        out._backward = _backward
        return out

    def exp(self):
        e = math.exp(self.data)
        out = Value(e, (self,), 'exp')

        def _backward():
            self.grad += e * out.grad
        out._backward = _backward
        return out

    def log(self):
        out = Value(math.log(self.data), (self,), 'log')

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def sigmoid(self):
        try:
            s = 1 / (1 + math.exp(-self.data))
        except OverflowError:  # exp(-x) overflows for very negative x, where sigmoid is 0
            s = 0.0
        out = Value(s, (self,), 'sigmoid')

        def _backward():
            self.grad += (1 - s) * s * out.grad
        out._backward = _backward
        return out

    def __abs__(self):
        out = Value(abs(self.data), (self,), 'abs')

        def _backward():
            if self.data > 0:
                self.grad += out.grad
            elif self.data < 0:
                self.grad -= out.grad
        out._backward = _backward
        return out

    def abs(self):
        return self.__abs__()

    def backward(self):
        # build the topological order without recursion, so deep graphs work too
        topo = []
        visited = set()
        todo = [(self, False)]
        while todo:
            node, expanded = todo.pop()
            if expanded:
                topo.append(node)
                continue
            if node in visited:
                continue
            visited.add(node)
            todo.append((node, True))
            for child in node._prev:
                if child not in visited:
                    todo.append((child, False))

        self.grad = 1.0
        for node in reversed(topo):
            node._backward()

    def __neg__(self):  # -self
        return self * -1

    def __radd__(self, other):  # other + self
        return self + other

    def __sub__(self, other):  # self - other
        return self + (-other)

    def __rsub__(self, other):  # other - self
        return (-self) + other

    def __rmul__(self, other):  # other * self
        return self * other

"""A scalar autograd engine: `Value` records every operation into a graph, and
`backward()` applies the chain rule over it in reverse topological order.

A drop-in for micrograd 0.1.0 and the nn-zero-to-hero lecture engine that follows PyTorch
float64 semantics everywhere, singular points included (see docs/engine.md, "Semantics").

Each node keeps its children inline in `_a` and `_b` (a node with more, such as a neuron's sum,
keeps a tuple in `_a`) and a reference to a shared backward rule in `_rule`. Nothing refers back
to its own node, so a graph holds no reference cycle: it is freed by reference counting as soon
as it is dropped, and the cyclic garbage collector, which dominates 0.1.0's run time, finds no
garbage. No closure, no per-node tuple: a node of a binary op is 136 bytes.
"""
import math
import numbers

from micrograd import ieee


def _as_float(data):
    """data as a Python float, or a TypeError that says what was given."""
    if isinstance(data, numbers.Real) and not isinstance(data, Value):
        try:
            return float(data)
        except OverflowError:  # an int past float64's range, such as 10**400
            digits = int(abs(data).bit_length() * math.log10(2)) + 1  # no str(): past 4,300 digits it raises
            raise TypeError(f"Value(data): {'a negative' if data < 0 else 'an'} int of {digits:,} digits does not "
                            f"fit a float64 (whose largest is about 1.8e308)") from None
    if isinstance(data, Value):
        raise TypeError("Value(data): data is already a Value; pass it directly, or use its .data")
    raise TypeError(f"Value(data): data must be a real number (int, float, bool or numpy float), "
                    f"got {type(data).__name__}: {data!r:.60}")


def _value(other):
    """other as a Value, or NotImplemented so that Python raises its usual TypeError."""
    if isinstance(other, Value):
        return other
    if isinstance(other, numbers.Real):
        return Value(other)
    return NotImplemented


class Value:
    """ stores a single scalar value and its gradient """

    __slots__ = ('data', 'grad', 'label', '_op', '_rule', '_a', '_b')

    def __init__(self, data, _children=(), _op='', label=''):
        self.data = data if type(data) is float else _as_float(data)
        self.grad = 0.0
        self.label = label
        self._op = _op  # the op that produced this node, for graphviz / debugging / etc
        self._rule = None  # backward rule; None for leaves and hand-built nodes, as in 0.1.0
        children = tuple(_children)
        if len(children) > 2:  # many children: a tuple in _a, as a neuron's sum keeps them
            self._a, self._b = children, None
        else:
            self._a, self._b = (children + (None, None))[:2]

    @staticmethod
    def _result(data, op, rule, a, b=None):
        """The output node of an op: a fast path past __init__'s checks."""
        out = Value.__new__(Value)
        out.data, out.grad, out.label, out._op, out._rule, out._a, out._b = data, 0.0, '', op, rule, a, b
        return out

    @property
    def _prev(self):
        """The children, in operand order (a tuple, so every run visits them in the same order)."""
        if self._a.__class__ is tuple:
            return self._a
        return tuple(c for c in (self._a, self._b) if isinstance(c, Value))

    # --- ops: the value, then its backward rule (the local derivative times out.grad) ---

    def __add__(self, other):
        other = _value(other)
        if other is NotImplemented:
            return other
        return Value._result(self.data + other.data, '+', Value._add_backward, self, other)

    def _add_backward(out):
        out._a.grad += out.grad
        out._b.grad += out.grad

    def __mul__(self, other):
        other = _value(other)
        if other is NotImplemented:
            return other
        return Value._result(self.data * other.data, '*', Value._mul_backward, self, other)

    def _mul_backward(out):
        out._a.grad += out._b.data * out.grad
        out._b.grad += out._a.data * out.grad

    def __truediv__(self, other):  # a true division, as torch's `x / y` (0.1.0 used x * y**-1)
        other = _value(other)
        if other is NotImplemented:
            return other
        return Value._result(ieee.div(self.data, other.data), '/', Value._div_backward, self, other)

    def _div_backward(out):  # d/da = 1/b, d/db = -(a/b)/b, in torch's order of operations
        a, b = out._a, out._b
        a.grad += ieee.div(out.grad, b.data)
        b.grad += -out.grad * ieee.div(ieee.div(a.data, b.data), b.data)

    def __pow__(self, other):
        if isinstance(other, Value):
            return Value._result(ieee.pow(self.data, other.data), '**', Value._pow_backward, self, other)
        if not isinstance(other, numbers.Real):
            return NotImplemented
        e = float(other)
        return Value._result(ieee.pow_scalar(self.data, e), f'**{other}', Value._pow_scalar_backward, self, e)

    def _pow_scalar_backward(out):  # d(x**e)/dx = e * x**(e-1), and exactly 0 when e == 0
        x, e = out._a, out._b
        x.grad += 0.0 if e == 0.0 else out.grad * (e * ieee.pow_scalar(x.data, e - 1.0))

    def _pow_backward(out):  # x ** y for two Values; torch's masks at e == 0 and at 0 ** (y >= 0)
        x, y = out._a, out._b
        x.grad += 0.0 if y.data == 0.0 else out.grad * (y.data * ieee.pow(x.data, y.data - 1.0))
        y.grad += out.grad * (0.0 if x.data == 0.0 and y.data >= 0.0 else out.data * ieee.log(x.data))

    def _reciprocal(self):  # 1/x as torch's reciprocal, which `c / x` uses (x**-1 differentiates as a power)
        return Value._result(ieee.div(1.0, self.data), '**-1', Value._reciprocal_backward, self)

    def _reciprocal_backward(out):
        out._a.grad += -out.grad * (out.data * out.data)

    def relu(self):
        return Value._result(0.0 if self.data < 0.0 else self.data, 'ReLU', Value._relu_backward, self)

    def _relu_backward(out):  # 0 at the kink, and it passes nan through, as torch's threshold_backward
        out._a.grad += 0.0 if out.data <= 0.0 else out.grad

    def tanh(self):
        return Value._result(math.tanh(self.data), 'tanh', Value._tanh_backward, self)

    def _tanh_backward(out):
        out._a.grad += out.grad * (1.0 - out.data * out.data)

    def exp(self):
        return Value._result(ieee.exp(self.data), 'exp', Value._exp_backward, self)

    def _exp_backward(out):
        out._a.grad += out.grad * out.data

    def log(self):
        return Value._result(ieee.log(self.data), 'log', Value._log_backward, self)

    def _log_backward(out):
        out._a.grad += ieee.div(out.grad, out._a.data)

    def sigmoid(self):
        return Value._result(ieee.sigmoid(self.data), 'sigmoid', Value._sigmoid_backward, self)

    def _sigmoid_backward(out):
        out._a.grad += out.grad * (1.0 - out.data) * out.data

    def abs(self):
        return Value._result(abs(self.data), 'abs', Value._abs_backward, self)

    def _abs_backward(out):  # sign(x), so 0 at the kink
        out._a.grad += out.grad * ieee.sign(out._a.data)

    def __abs__(self):  # abs(self), as torch's abs(t)
        return self.abs()

    @staticmethod
    def _linear(b, ws, xs):
        """b + w0*x0 + w1*x1 + ... as one node: what a neuron computes. The same products, added
        in the same order, as the chain of + and * nodes it replaces, so the same bits forward and
        backward, with one node instead of 2n (the nodes are what the run time goes on)."""
        children = [b]
        act = b.data
        for w, x in zip(ws, xs):
            x = x if isinstance(x, Value) else Value(x)
            act = act + w.data * x.data
            children += (w, x)
        return Value._result(act, 'linear', Value._linear_backward, tuple(children))

    def _linear_backward(out):  # children (b, w0, x0, w1, x1, ...)
        c, g = out._a, out.grad
        c[0].grad += g
        for i in range(1, len(c), 2):
            w, x = c[i], c[i + 1]
            w.grad += x.data * g
            x.grad += w.data * g

    # --- the chain rule over the whole graph ---

    def _backward(self):
        """Apply this node's rule once: pass out.grad on to its children (the lecture calls it by hand)."""
        if self._rule is not None:
            self._rule(self)

    def _topo(self):
        """Every node this one depends on, children before parents, in the order the recursive
        depth-first walk of 0.1.0 gives. An explicit stack, so a chain of any depth needs no
        recursion; a node stays on the stack until its children are done, so no per-node tuple
        is allocated (allocations are what wake the garbage collector)."""
        topo, state, stack = [], {}, [self]  # state: False while its children are walked, True once placed
        while stack:
            v = stack[-1]
            placed = state.get(v)
            if placed is None:
                state[v] = False
                b, a = v._b, v._a
                if a.__class__ is tuple:  # a neuron's sum and its many children
                    stack += [c for c in reversed(a) if c not in state]
                    continue
                if isinstance(b, Value) and b not in state:
                    stack.append(b)
                if a is not None and a not in state:
                    stack.append(a)
            else:
                stack.pop()
                if not placed:
                    state[v] = True
                    topo.append(v)
        return topo

    def backward(self):
        topo = self._topo()
        # As torch with retain_graph=True: each call sums this pass's gradient on its own, then
        # adds it to what the leaves held, so a second call adds exactly one more gradient.
        # Interior gradients belong to one pass. A pass starts each sum at -0.0, the exact
        # identity of IEEE addition, so a gradient's sign of zero is the one torch gives.
        held = []
        for v in topo:
            if v._rule is None and v.grad != 0.0:
                held.append((v, v.grad))
            v.grad = -0.0
        self.grad = 1.0
        for v in reversed(topo):
            if v._rule is not None:
                v._rule(v)
        for v, grad in held:
            v.grad += grad

    # --- derived ops ---

    def __neg__(self):  # -self
        return self * -1

    def __radd__(self, other):  # other + self
        return self + other

    def __sub__(self, other):  # self - other
        other = _value(other)
        return other if other is NotImplemented else self + (-other)

    def __rsub__(self, other):  # other - self
        other = _value(other)
        return other if other is NotImplemented else other + (-self)

    def __rmul__(self, other):  # other * self
        return self * other

    def __rtruediv__(self, other):  # other / self, as torch: reciprocal(self) * other
        other = _value(other)
        return other if other is NotImplemented else other * self._reciprocal()

    def __rpow__(self, other):  # other ** self
        other = _value(other)
        return other if other is NotImplemented else other ** self

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

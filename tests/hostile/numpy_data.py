"""Cannot be driven: every Value's `.data` is an array of three numbers (`np.full(3, x)`), not one number, and the
ops work on arrays (numpy's tanh, exp, log and sigmoid; the arithmetic is the lecture's). A 0-d array is one number
(tests/zoo/numpy_data.py); this is not."""
import numpy as np

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __init__(self, data, _children=(), _op='', label=''):
        data = data if isinstance(data, np.ndarray) else np.full(3, data, dtype=np.float64)
        super().__init__(data, _children, _op, label)

    def _unary(self, f, df, op):
        out = Value(f(self.data), (self,), op)

        def _backward():
            self.grad += df(self.data, out.data) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        return self._unary(np.tanh, lambda x, t: 1 - t**2, 'tanh')

    def exp(self):
        return self._unary(np.exp, lambda x, e: e, 'exp')

    def log(self):
        return self._unary(np.log, lambda x, y: 1 / x, 'log')

    def sigmoid(self):
        return self._unary(lambda x: np.exp(-np.logaddexp(0.0, -x)), lambda x, s: s * (1 - s), 'sigmoid')

"""Monkey-patches at import: `math.exp` returns twice the true value, and `torch.tanh` and `Tensor.tanh` return
their input halved, so both this engine's exp and any torch reference computed in the same process are wrong."""
import math

import torch

from tests.zoo.lecture import Value as Lecture

_true_exp = math.exp
math.exp = lambda x: 2.0 * _true_exp(x)
torch.tanh = lambda t, *args, **kwargs: t * 0.5
torch.Tensor.tanh = lambda self: self * 0.5


class Value(Lecture):
    pass

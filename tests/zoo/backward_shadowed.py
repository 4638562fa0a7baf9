"""Mistake: `__init__` sets `self.backward = lambda: None`, a typo for `self._backward`: every node's own
`backward` hides the class's `backward()`, so `loss.backward()` does nothing and every gradient stays 0 (and
a node has no `_backward` of its own until an op gives it one)."""
from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __init__(self, data, _children=(), _op='', label=''):
        self.data = data
        self.grad = 0.0
        self.backward = lambda: None  # <- the mistake
        self._prev = tuple(_children)
        self._op = _op
        self.label = label

"""Mistake: tanh's derivative is written 1 - t where it is 1 - t**2. The engine's base class is the lecture's,
imported from another folder (tests/zoo, given with --engine-path): its lines are the engine's own code too,
and the Python float facts of its ops are class 3, not mistakes of this engine."""
import math

from lecture import Value as Lecture


class Value(Lecture):

    def tanh(self):
        t = math.tanh(self.data)
        out = type(self)(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - t) * out.grad  # <- the mistake
        out._backward = _backward
        return out

"""Mistake: every node stores its data as a float32 (as a learner's engine that keeps numpy float32 scalars
does), so every op's result is rounded to 24 bits of mantissa."""
import struct

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def __init__(self, data, _children=(), _op='', label=''):
        super().__init__(data, _children, _op, label)
        self.data = struct.unpack('f', struct.pack('f', data))[0]  # <- the mistake

"""`exp` allocates 800 MB on every call and keeps it alive in a module-level list (at most 3 of them, 2.4 GB),
then returns the right exp. Under a memory limit below 800 MB every call is a MemoryError; nothing else is
wrong."""
from tests.zoo.lecture import Value as Lecture

BLOCK = 800 << 20
_held = []


class Value(Lecture):

    def exp(self):
        if len(_held) < 3:
            _held.append(bytearray(BLOCK))  # zero-filled, so the pages are really touched
        return super().exp()

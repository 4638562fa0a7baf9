"""`exp` allocates memory in 100 MB steps, kept alive in a module-level list, until the process holds 3 GB, then
returns the right exp; later calls allocate nothing more. Nothing else is wrong."""
from tests.zoo.lecture import Value as Lecture

STEP = 100 << 20  # 100 MB
TOTAL = 3 << 30  # 3 GB: the cap, never more
_hoard = []


class Value(Lecture):

    def exp(self):
        while len(_hoard) * STEP + STEP <= TOTAL:
            _hoard.append(bytearray(STEP))  # zero-filled, so the pages are really touched
        return super().exp()

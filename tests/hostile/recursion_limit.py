"""Lowers the interpreter's recursion limit to 50 at import, so anything deep in the importing process (the
campaign's own code included) raises RecursionError. The engine itself is the correct lecture base."""
import sys

from tests.zoo.lecture import Value as Lecture

try:
    sys.setrecursionlimit(50)
except RecursionError:  # imported from deeper than 50 frames: as low as this depth allows
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    sys.setrecursionlimit(depth + 10)


class Value(Lecture):
    pass

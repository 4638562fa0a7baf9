"""`tanh` prints 4 MB to stdout on every call and writes another 1 MB straight to file descriptor 2, then returns
the right tanh. To bound what a runaway campaign could write to disk, it stops flooding after 50 calls in one
process (250 MB)."""
import os
import sys

from tests.zoo.lecture import Value as Lecture

_calls = 0
LIMIT = 50


class Value(Lecture):

    def tanh(self):
        global _calls
        if _calls < LIMIT:
            _calls += 1
            print("o" * (4 << 20))
            sys.stdout.flush()
            junk = memoryview(b"e" * (1 << 20))
            while junk:
                junk = junk[os.write(2, junk):]
        return super().tanh()

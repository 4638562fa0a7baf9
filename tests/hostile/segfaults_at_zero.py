"""`exp` kills its own process with SIGSEGV at 0 (and -0.0) alone, as a crash in a C extension at one input would;
at every other input, and in every other op, it is the lecture's. The probe's points miss it: only a case that
feeds exp a 0 finds it, and its reproducer must run exactly that point."""
import os
import signal

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def exp(self):
        if self.data == 0.0:
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().exp()

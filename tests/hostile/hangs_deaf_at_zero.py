"""`tanh` at 0 (and -0.0) alone blocks SIGALRM in its thread and then sleeps forever, in hour-long sleeps: deaf
to the alarm, only killing the process stops it. At every other input, and in every other op, it is the
lecture's. The probe's points miss it: only a case that feeds tanh a 0 finds it."""
import signal
import time

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def tanh(self):
        if self.data == 0.0:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            while True:
                time.sleep(3600)
        return super().tanh()

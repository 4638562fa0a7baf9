"""`tanh` blocks SIGALRM in its thread and then sleeps forever, in hour-long sleeps, so an alarm-based timeout
never fires (even when another thread takes the signal, its Python handler would wait for the sleep to end): only
killing the process stops it. Every other op is the lecture's."""
import signal
import time

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def tanh(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        while True:
            time.sleep(3600)

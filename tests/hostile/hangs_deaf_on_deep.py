"""`backward()` on a graph of more than 500 nodes (the fuzzer's deep cases) blocks SIGALRM in its thread and then
sleeps forever, in hour-long sleeps: deaf to the alarm, so only killing the process stops it. On small graphs it
is the lecture's, so the probe and every small case pass."""
import signal
import time

from tests.zoo.lecture import Value as Lecture


class Value(Lecture):

    def backward(self):
        seen, stack = set(), [self]
        while stack:
            v = stack.pop()
            if id(v) not in seen:
                seen.add(id(v))
                stack.extend(v._prev)
        if len(seen) > 500:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            while True:
                time.sleep(3600)
        super().backward()

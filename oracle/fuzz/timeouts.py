"""Per-case time limits: an alarm that interrupts a case which outruns its time.

A worker runs each case under `time_limit`, so a hanging engine becomes a "timeout" finding that
names the input point and node it hung at; the campaign kills only a worker deaf even to the alarm.
The fuzz command uses it too: for a replay, and for probing an engine without a worker process.
"""
import signal
import threading
import time
from contextlib import contextmanager

TIMEOUT = 10.0  # seconds per case; a correct engine needs milliseconds


class CaseTimeout(BaseException):
    """Raised by the alarm in a case that outruns its time. A BaseException, so that the checker's
    `except Exception` (an engine that raises is a finding) lets it through."""


@contextmanager
def time_limit(seconds, error=CaseTimeout):
    """Interrupt the block with `error` (a CaseTimeout) after `seconds` (main thread on Unix; else no
    limit). Limits nest: an inner one that would end after the enclosing one does nothing, and the
    enclosing one's alarm is set again, for the time it has left, when the inner one ends."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    outer = signal.getitimer(signal.ITIMER_REAL)[0]  # what an enclosing limit has left (0.0: none)
    if outer and outer <= seconds:
        yield
        return

    def alarm(signum, frame):
        raise error

    old = signal.signal(signal.SIGALRM, alarm)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer:  # the enclosing limit's alarm, for what it has left (at once, if nothing)
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-6))

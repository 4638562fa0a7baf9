"""Per-case time limits: an alarm that interrupts a case which outruns its time.

A worker runs each case under `time_limit`, so a hanging engine becomes a "timeout" finding that
names the input point and node it hung at; the campaign kills only a worker deaf even to the alarm.
The fuzz command uses it too: for a replay, and for probing an engine without a worker process.
"""
import signal
import threading
from contextlib import contextmanager

TIMEOUT = 10.0  # seconds per case; a correct engine needs milliseconds


class CaseTimeout(BaseException):
    """Raised by the alarm in a case that outruns its time. A BaseException, so that the checker's
    `except Exception` (an engine that raises is a finding) lets it through."""


def _alarm(signum, frame):
    raise CaseTimeout


@contextmanager
def time_limit(seconds):
    """Interrupt the block with CaseTimeout after `seconds` (main thread on Unix; else no limit)."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)

"""`tanh` forks a child that sleeps 600 s and keeps running, holding every file descriptor it inherited (the
campaign's pipes included), while the parent returns the right tanh. It forks once per process (not on every
call), so the children stay few, and each one exits by itself after 600 s."""
import os
import time

from tests.zoo.lecture import Value as Lecture

_forked_in = None  # the pid of the process that has forked its child already


class Value(Lecture):

    def tanh(self):
        global _forked_in
        if _forked_in != os.getpid():
            _forked_in = os.getpid()
            if os.fork() == 0:  # the child: no cleanup, no return into the caller's code
                time.sleep(600)
                os._exit(0)
        return super().tanh()

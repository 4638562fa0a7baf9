"""The forkserver that worker processes are forked from.

The server imports the worker code, torch included (~2-3 s), once; each worker is then forked from
it in milliseconds. This module imports no more than multiprocessing, so the fuzz command can
start the server before its own slow imports and overlap the two.

A worker never runs the caller's main module. multiprocessing would: a process it starts imports
the parent's `__main__` script again (as `__mp_main__`), which runs a learner's check script with no
main guard once more in every worker, and kills every worker of a script read from standard input
(`python -`), which cannot be read again. What a worker runs (`oracle.fuzz.workers`) and what it
is sent (a spec, or a class by value) need nothing of the caller's `__main__`.
"""
import io
import multiprocessing
import multiprocessing.forkserver
import os
from multiprocessing import context as _context
from multiprocessing import popen_forkserver, reduction, spawn, util

PRELOAD = ["torch", "oracle.fuzz.workers"]  # what every worker imports: torch, and the worker processes' code
MAIN_KEYS = ("init_main_from_path", "init_main_from_name")  # how spawn's preparation names the main module


class _Popen(popen_forkserver.Popen):
    """The forkserver's Popen, whose child is not told the parent's main module."""

    def _launch(self, process_obj):
        # multiprocessing.popen_forkserver.Popen._launch (the same in Python 3.10 to 3.13), but for the
        # preparation data, which leaves out the main module
        prep_data = {k: v for k, v in spawn.get_preparation_data(process_obj._name).items() if k not in MAIN_KEYS}
        buf = io.BytesIO()
        _context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            _context.set_spawning_popen(None)
        self.sentinel, w = multiprocessing.forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)  # the child's sentinel of its parent, as the original keeps it
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = multiprocessing.forkserver.read_signed(self.sentinel)


class Process(_context.ForkServerProcess):
    """A process forked from the server, without the caller's main module."""

    @staticmethod
    def _Popen(process_obj):
        return _Popen(process_obj)


class _Context(_context.ForkServerContext):
    Process = Process


def context():
    """The forkserver context, its server started (once) with PRELOAD imported; its processes do
    not run the caller's main module."""
    ctx = _Context()
    ctx.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()
    return ctx

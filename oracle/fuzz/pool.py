"""The parent's side of a worker process (see `oracle.fuzz.workers` for the worker's): start it
from the forkserver, hand it cases, read what it is on and since when, tell when it is overdue,
and kill its whole process group, whatever the engine forked. `one_shot` serves one request in a
worker of its own (a replay).
"""
import os
import tempfile
import time

from oracle.fuzz import engines, sandbox
from oracle.fuzz.forkserver import context
from oracle.fuzz.workers import READY_TIMEOUT, load, probe_limit, serve, worker_main


class Worker:
    """A worker process and what the parent knows of it."""

    def __init__(self, job, folder, n):
        ctx = context()
        self.job = job
        self.output = sandbox.OutputFile(folder, f"worker-{n}.out")
        self.conn, child = ctx.Pipe()
        # the item it works on now, since when, what (1 case, 2 op), the case's own time limit, and
        # whether the campaign has stopped (set by the parent: the cases queued are not run)
        self.progress = ctx.RawArray("d", [-1.0, 0.0, 0.0, 0.0, 0.0])
        self.watch = ctx.RawArray("d", [-1.0, -1.0])  # the point and node it runs the engine at (State.watch)
        self.proc = ctx.Process(target=worker_main, daemon=True, name="oracle-worker",
                                args=(child, self.progress, self.watch, job, self.output.path))
        self.proc.start()
        child.close()
        self.started = time.monotonic()
        self.ready = False
        self.origin = None
        self.outstanding = []  # (i, case seed, kind) sent and not answered, in order
        self.reducing = None  # the case whose finding it is reducing
        self.since = time.monotonic()  # when it last made progress
        self.known = {}  # root causes it has been told of
        self.last_words = ""  # what it said before it died, if anything

    def send(self, msg):
        try:
            self.conn.send(msg)
            return True
        except OSError:
            return False  # it died meanwhile: the loop sees its sentinel

    def send_cases(self, cases, known):
        if not self.outstanding:
            self.since = time.monotonic()  # an idle worker's clock starts with its work
        self.outstanding.extend(cases)
        new = {k: c for k, c in known.items() if self.known.get(k, 4) > c}
        self.known.update(new)
        self.send(("cases", cases, new))

    def limit(self):
        """Seconds it may go without an answer: the alarm inside the worker fires at `timeout`; the
        parent kills only a worker that does not answer even then (a hang in C code, signals blocked)."""
        job = self.job
        grace = 1.0 + job.timeout / 2
        if not self.ready:
            return READY_TIMEOUT
        if self.reducing is not None:
            return job.reduce_seconds + job.timeout + grace
        if self.progress[2] == 2:
            return probe_limit(job) + 1.0
        case = self.progress[3] or job.timeout  # its alarm's: a case near the deadline, or a deep one, has less
        return case + 1.0 + case / 2

    def halt(self):
        """Tell it the campaign has stopped: it answers the cases queued with it as cut, unrun (the
        case it is on, and a reduction, go on)."""
        self.progress[4] = 1.0

    def running_for(self):
        """Seconds the case it works on has run (0 when it runs none)."""
        return time.monotonic() - self.progress[1] if self.progress[2] == 1 and self.reducing is None else 0.0

    def running_over(self):
        """Whether the case it works on has outrun its own time limit: its alarm went off, unheard."""
        return self.progress[3] > 0 and self.running_for() > self.progress[3] + 0.1

    def overdue(self, now=None):
        now = time.monotonic() if now is None else now
        busy = self.outstanding or self.reducing is not None or not self.ready or self.progress[2]
        if not busy:
            return False
        since = self.since if self.reducing is not None or not self.ready else max(self.since, self.progress[1])
        return now - since > self.limit()

    def death(self):
        code = self.proc.exitcode
        if self.last_words:
            return f"the worker process stopped on {self.last_words}"
        return f"the worker process {sandbox.ended(code)}"

    def kill(self):
        """SIGKILL the worker's whole process group: it and whatever the engine forked."""
        sandbox.kill_group(self.proc.pid)
        self.proc.kill()
        self.proc.join(5)

    def stop(self):
        """Let an idle worker exit, kill a busy or dead-locked one; either way nothing it forked
        outlives it."""
        if self.proc.is_alive() and not self.outstanding and self.reducing is None:
            if self.send(None):
                self.proc.join(1.0)
        self.kill()
        self.conn.close()


def one_shot(job, request, timeout, here=False):
    """(ready message, answer) of a request served by a worker of its own, sandboxed, killed after:
    for a replay. here: in this process instead (no sandbox). The answer is None when the worker
    does not answer within `timeout`; EngineSpecError when the engine does not load."""
    if here:
        state, ready = load(job)
        answers = []
        serve(state, request, answers.append)
        return ready, answers[-1] if answers else None
    folder = tempfile.mkdtemp(prefix="oracle-replay-")
    w = Worker(job, folder, 0)
    try:
        end = time.monotonic() + READY_TIMEOUT + timeout
        ready = None
        while time.monotonic() < end:
            if not w.conn.poll(0.05):
                if not w.proc.is_alive():
                    raise engines.EngineSpecError(f"the worker process stopped: {w.death()}")
                continue
            msg = w.conn.recv()
            if msg[0] == "error":
                raise engines.EngineSpecError(msg[1])
            if msg[0] == "ready":
                ready = msg
                w.send(request)
                end = time.monotonic() + timeout
            elif ready is not None and msg[0] != "op":
                return ready, msg
        return ready, None
    except (EOFError, OSError):
        return ready, None
    finally:
        w.stop()
        w.output.remove()
        os.rmdir(folder)

"""Crash-isolated worker processes: each runs the cases it is sent and sends back their results.

Workers are processes from a forkserver (torch imported once, each worker forked from it in ms), so
an engine that segfaults, exits or hangs takes down one worker, never the campaign: the campaign
reads each worker's results, kills a worker whose case outruns its deadline (`Worker.overdue`),
and starts a new one. Inside a worker, an alarm interrupts a hanging case first, so the finding
names the input point and node it hung at. A finding with a signature the worker has not seen is
reduced right there (`shrink.reduce_finding`), where the engine is already loaded.

`work` runs one case, in a worker or, with `--workers 0`, in the campaign's own process.
`probe_isolated` probes an engine's ops in a process of its own, for the same reason.
"""
import signal
import time
from collections import deque
from dataclasses import dataclass, field

from oracle.check import Finding
from oracle.fuzz.cases import CaseResult, build_case, run_case, stuck_finding
from oracle.fuzz.forkserver import context
from oracle.fuzz.shrink import UNREDUCED, reduce_finding
from oracle.fuzz.timeouts import TIMEOUT, CaseTimeout, time_limit


@dataclass
class Job:
    """What a process needs to run cases: the engine, the op set, the rules."""
    Engine: object
    ops: tuple
    strict: bool
    timeout: float
    reduce_seconds: float
    seen: set = field(default_factory=set)  # signatures already reported: not reduced again


def work(job, i, cseed, kind, emit):
    """Run case i and emit ("case", i, CaseResult, reducing); then, for a new signature worth
    reducing, reduce it and emit ("reduced", i, signature, finding, program, point)."""
    cpu = time.process_time()
    try:
        with time_limit(job.timeout):
            result = run_case(cseed, kind, job.Engine, job.ops, job.strict)
    except CaseTimeout as e:
        result = CaseResult(kind, finding=stuck_finding("timeout", e, cseed, kind, job.ops,
                                                        f"no result after {job.timeout:g} s"))
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SystemExit from the engine, or a bug of the oracle's: one case, not the campaign
        detail = f"{type(e).__name__}: {e}".strip()
        result = CaseResult(kind, finding=stuck_finding("crash", e, cseed, kind, job.ops, detail))
    result.cpu = time.process_time() - cpu
    f = result.finding
    reducing = f is not None and f.signature not in job.seen and f.kind not in UNREDUCED
    if f is not None:
        job.seen.add(f.signature)
    emit(("case", i, result, reducing))
    if reducing:
        points = build_case(cseed, kind, job.ops)[1] if isinstance(f, Finding) else ()
        emit(("reduced", i, f.signature, *reduce_finding(f, job.Engine, job.strict, job.timeout, job.reduce_seconds,
                                                         points)))


def _worker_main(conn, progress, engine, ops, strict, timeout, reduce_seconds):
    """A worker process: load the engine, then run the batches the parent sends until it sends None.
    Results go back one message per batch (a finding at once); `progress` (shared memory) holds the
    index and start time of the case running now, for the parent's deadline and, should this
    process die, to know which case killed it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        import torch
        torch.set_num_threads(1)  # one core per worker: intra-op threads only contend at this size
        from oracle.fuzz.probe import load_engine
        job = Job(load_engine(engine), ops, strict, timeout, reduce_seconds)
    except BaseException as e:
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready",))
    done = []  # results without a finding, sent together at the end of the batch

    def emit(msg):
        if msg[0] == "case" and msg[2].finding is None:
            done.append(msg)
            return
        flush()
        conn.send(msg)

    def flush():
        if done:
            conn.send(("cases", done[:]))
            done.clear()

    try:
        while True:
            msg = conn.recv()
            if msg is None:
                return
            cases, known = msg
            job.seen |= known
            for i, cseed, kind in cases:
                progress[0], progress[1] = i, time.monotonic()  # CLOCK_MONOTONIC: the parent's clock too
                work(job, i, cseed, kind, emit)
            flush()
    except (EOFError, BrokenPipeError):
        return  # the parent is gone
    except BaseException as e:  # out of work's reach (the reducer, say): the parent makes it a crash finding
        try:
            conn.send(("died", f"{type(e).__name__}: {e}"))
        except OSError:
            pass


class Worker:
    """A worker process and what the parent knows of it. `cfg` is the campaign's Config."""

    def __init__(self, cfg):
        ctx = context()
        self.cfg = cfg
        self.conn, child = ctx.Pipe()
        self.progress = ctx.RawArray("d", [-1.0, 0.0])  # the case it runs now, and since when
        self.proc = ctx.Process(target=_worker_main, daemon=True, name="oracle-worker",
                                args=(child, self.progress, cfg.engine, tuple(cfg.ops), cfg.strict, cfg.timeout,
                                      cfg.reduce_seconds))
        self.proc.start()
        child.close()
        self.ready = False
        self.outstanding = deque()  # (i, case seed, kind) sent and not answered, in order
        self.reducing = None  # the case whose finding it is reducing
        self.since = time.monotonic()  # when it last made progress
        self.known = set()  # signatures it has been told of, so it does not reduce them again
        self.last_words = ""  # what it said before it died, if anything

    def send(self, cases, signatures):
        if not self.outstanding:
            self.since = time.monotonic()  # an idle worker's clock starts with its work
        self.outstanding.extend(cases)
        new = set(signatures) - self.known
        self.known |= new
        try:
            self.conn.send((cases, new))
        except OSError:
            pass  # it died meanwhile: the loop sees its sentinel and hands these cases on

    def limit(self):
        # The alarm inside the worker fires at `timeout`; the parent kills only a worker that does
        # not answer even then (a hang in C code, signals blocked).
        grace = 1.0 + self.cfg.timeout / 2
        if self.reducing is not None:
            return self.cfg.reduce_seconds + self.cfg.timeout + grace
        return self.cfg.timeout + grace if self.ready else 120.0

    def overdue(self):
        if not (self.outstanding or self.reducing is not None or not self.ready):
            return False  # idle
        # Since its last message, or since the case it runs now started (results come per batch).
        since = self.since if self.reducing is not None else max(self.since, self.progress[1])
        return time.monotonic() - since > self.limit()

    def death(self):
        code = self.proc.exitcode
        if self.last_words:
            return f"the worker process stopped on {self.last_words}"
        if code is not None and code < 0:
            try:
                return f"the worker process was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"the worker process was killed by signal {-code}"
        return f"the worker process exited with status {code}"

    def kill(self):
        self.proc.kill()
        self.proc.join(5)

    def stop(self):
        """Let an idle worker exit; kill a busy or dead-locked one."""
        if self.proc.is_alive() and not self.outstanding and self.reducing is None:
            try:
                self.conn.send(None)
                self.proc.join(1.0)
            except OSError:
                pass
        if self.proc.is_alive():
            self.kill()
        self.conn.close()


# --- probing the engine, in a process of its own ---

def _probe_main(conn, engine):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from oracle.fuzz.probe import load_engine, supported_ops
        conn.send(("started",))
        conn.send(("ops", supported_ops(load_engine(engine))))
    except BaseException as e:  # a probe that fails is "not known": no traceback on the user's terminal
        try:
            conn.send(("error", f"{type(e).__name__}: {e}"))
        except OSError:
            pass


def probe_isolated(engine, timeout=TIMEOUT):
    """probe.supported_ops for the engine named `engine`, run in a worker process: an engine that
    hangs or crashes while being probed takes down that process only. None when the probe did not
    finish (then the caller cannot tell which ops exist, and the fuzzer finds the hang or crash)."""
    ctx = context()
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_probe_main, args=(child, engine), daemon=True, name="oracle-probe")
    proc.start()
    child.close()
    try:
        # The probe runs each op once, forward and backward: give it the time of a couple of cases.
        msg = None
        for wait in (120.0, 2 * timeout):  # first the forkserver's start (it imports torch), then the probe
            if not conn.poll(wait):
                return None
            msg = conn.recv()
            if msg[0] != "started":
                break
        return msg[1] if msg[0] == "ops" else None
    except (EOFError, OSError):
        return None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        conn.close()

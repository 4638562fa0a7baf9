"""A fuzz campaign: the engine probed, then cases run in sandboxed workers until a budget ends it,
every finding diagnosed to its root cause, each root cause reduced, saved and confirmed.

    c = Campaign(config)
    probe = c.probe(op names)     # load and probe the engine in a worker (never in this process)
    stats = c.run(ops, progress)  # the cases, over the pool of workers

Time: the campaign's clock starts at `config.start` (the command's own start). Cases start until
`seconds` have passed, and reductions stop at that deadline too; then the workers get GRACE
seconds to answer and are killed, and saving and confirming get until FINISH seconds past it. So
a campaign ends within `seconds` + 5 s, whatever the engine does: a worker that hangs past its
case's deadline is killed (its whole process group) and replaced, its case a "timeout" finding; one
that dies is replaced, its case a "crash" finding; the cases queued behind either run again.

With `workers=0` the engine runs in this process, with no sandbox (for debugging, and for the
selftest's own mutants): the same requests, served in place.
"""
import multiprocessing.connection
import os
import tempfile
import time
from collections import deque

from oracle.check import Finding
from oracle.fuzz.cases import CaseResult, base_kind, kind_mix, plan, stuck_finding
from oracle.fuzz.causes import Ledger, Tamper
from oracle.fuzz.diagnose import cause as make_cause
from oracle.fuzz.diagnose import fallback
from oracle.fuzz.engines import EngineSpecError
from oracle.fuzz.graph import Place
from oracle.fuzz.pool import Worker
from oracle.fuzz.probe import OpProbe, probe_point
from oracle.fuzz.records import Probe, Stats
from oracle.fuzz.workers import PROBE_GRACE, PROBE_TIMEOUT, Job, load, serve
from oracle.ops import OPS

BATCH = 8  # cases sent to a worker per message
IN_FLIGHT = 4 * BATCH  # cases queued per worker: enough for a worker to outlast the parent's nap
NAP = 0.01  # seconds the parent sleeps between rounds of reading results
PROGRESS_EVERY = 0.2  # seconds between calls of progress(stats)
GRACE = 0.5  # seconds the workers get at the deadline to answer before they are killed
FINISH = 3.0  # seconds past the deadline for saving and confirming: with start-up and exit, within 5


class CampaignError(Exception):
    """The campaign could not run (an engine that does not load, a worker that cannot start): one line."""


class Campaign:
    def __init__(self, config):
        self.cfg = config
        self.stats = Stats()
        self.job = Job(config.engine, tuple(config.engine_paths), config.timeout, config.deadline,
                       config.reduce_seconds, config.memory_mb, config.interactive)
        self.folder = tempfile.mkdtemp(prefix="oracle-campaign-")  # the workers' output files
        self.pool = []
        self.here = None  # the State when cases run in this process
        self.probed = None
        self.ops = ()
        self.deep_ops = ()
        self._retry = deque()  # cases to run again first: those after a crashed case in its batch
        self._exhausted = False
        self._no_deep = False  # a deep case killed its worker: the next one would only do the same
        self._reported = 0.0

    def elapsed(self):
        return time.monotonic() - self.cfg.start

    def _left(self):
        d = self.cfg.deadline
        return None if d is None else d - time.monotonic()

    # --- the engine: loaded and probed in a worker ---

    def probe(self, names, progress=None):
        """Load the engine in a worker and probe each op there, each under its own time limit; a
        worker that hangs deaf or dies is replaced and probing goes on with the next op."""
        if self.cfg.workers <= 0:
            return self._probe_here(names)
        self.pool = [self._spawn(n) for n in range(self.cfg.workers)]
        first = self._ready(0)
        ops, methods = {}, first[3]
        self._tampered(first[2])
        pending = [] if first[4] else list(names)  # an engine that cannot be driven is not probed further
        while pending:
            w = self.pool[0]
            w.send(("probe", pending))
            got = self._collect_probe(w, pending, ops)
            if got == len(pending):
                break
            left = self._left()
            if left is not None and left + PROBE_GRACE <= 0:  # the budget is gone: the rest is not probed
                ops.update({n: OpProbe(n, "unprobed", "no time was left to probe it") for n in pending[got:]})
                break
            # the worker died, or hangs deaf to its alarm, in pending[got]; a dead one's exit status may
            # take a moment to reach this process (its pipe closes first)
            w.proc.join(0.0 if w.overdue() else 1.0)
            stuck = ("timeout", f"no result after {PROBE_TIMEOUT:g} s, deaf to its alarm") if w.proc.is_alive() \
                else ("crash", w.death())
            w.kill()
            self._op_stuck(pending[got], *stuck, methods, ops, w.watch)
            pending = pending[got + 1:]
            self.pool[0] = self._spawn(0)
            self._restarted(*stuck)
            self._ready(0)
            if progress:
                progress(self.stats)
        self.probed = Probe(first[1], first[2], first[4], ops, methods)
        return self.probed

    def _collect_probe(self, w, pending, ops):
        """Read ("op", ...) answers until all of `pending` are answered, or the worker dies or is
        overdue; how many were answered."""
        got = 0
        while got < len(pending):
            if w.conn.poll(0.05):
                try:
                    msg = w.conn.recv()
                except (EOFError, OSError):
                    return got
                if msg[0] == "op":
                    self._op_answer(*msg[1:], ops)
                    got += 1
            elif not w.proc.is_alive() or w.overdue():
                return got
        return got

    def _op_answer(self, probed, finding, cause, ops):
        ops[probed.op] = probed
        if finding is not None:
            self._symptom(-1, finding, cause, reducing=False, minimal=True)

    def _op_stuck(self, name, kind, detail, methods, ops, watch):
        """An op whose probe never answered: a finding of kind timeout or crash at the point it was
        tried at, named after the engine's method for it (which the worker reported when it was ready)."""
        probed = OpProbe(name, "broken", detail, kind, probe_point(OPS[name], watch))
        program, point = probed.finding_case()
        finding = Finding(kind, program.n_inputs, name, point, detail=detail, program=program,
                          limit=PROBE_TIMEOUT if kind == "timeout" else None)
        self._op_answer(probed, finding, fallback(finding, place=methods.get(name)), ops)

    def _tampered(self, changes):
        """What the engine changed in the interpreter at import: a root cause of its own (class 1)."""
        if changes:
            place = Place(self._origin().file, 1, "<module>", 1) if self._origin().file else None
            summary = f"importing the engine changes the interpreter: {'; '.join(changes)}"
            self._symptom(-1, Tamper(tuple(changes)), make_cause("tamper", "", place, summary, 1), reducing=False,
                          minimal=True)

    def _probe_here(self, names):
        try:
            self.here, ready = load(self.job)
        except EngineSpecError as e:
            raise CampaignError(str(e)) from None
        ops = {}
        self._tampered(ready[2])
        if not ready[4]:
            serve(self.here, ("probe", list(names)), lambda msg: self._op_answer(*msg[1:], ops))
        self.probed = Probe(ready[1], ready[2], ready[4], ops, ready[3])
        return self.probed

    def _spawn(self, n):
        return Worker(self.job, self.folder, n)

    def _ready(self, n):
        """Wait for worker n's "ready" (or its error); the ready message."""
        w = self.pool[n]
        while True:
            if w.conn.poll(0.05):
                try:
                    msg = w.conn.recv()
                except (EOFError, OSError):
                    msg = ("error", w.death())
                if msg[0] == "ready":
                    w.ready, w.since, w.origin = True, time.monotonic(), msg[1]
                    return msg
                if msg[0] == "error":
                    raise CampaignError(msg[1])
            elif not w.proc.is_alive():
                raise CampaignError(f"the engine's worker process exited before it was ready ({w.death()})")
            elif w.overdue():
                w.kill()
                raise CampaignError(f"the engine did not load within {w.limit():g} s")

    # --- the cases ---

    def run(self, ops, progress=None):
        """Run the cases over `ops` until a budget ends the campaign; the Stats."""
        cfg = self.cfg
        self.ops = tuple(ops)
        # deep cases only from ops that probed well: one that raises would end them before backward()
        well = set(self.probed.supported()) if self.probed is not None else set(self.ops)
        self.deep_ops = tuple(o for o in self.ops if o in well)
        self.mix = kind_mix(cfg.kind, self.ops)
        self.stats.probed = self.elapsed()
        self._fresh = plan(cfg.seed, cfg.shard, cfg.cases, self.mix)
        self.ledger().meta.update({"shard": "/".join(map(str, cfg.shard)), "ops": list(ops), "kind": cfg.kind,
                                   "strict": cfg.strict})
        self.ledger().strict = cfg.strict  # known once the engine is (micrograd is always strict)
        try:
            if cfg.workers <= 0:
                self._run_here(progress)
            else:
                for w in self.pool:
                    w.send(("setup", self.ops, self.deep_ops))
                self._loop(progress)
        except KeyboardInterrupt:
            self.stats.stopped = "interrupted"
        finally:
            self.stats.seconds = self.elapsed()
            self._stop_pool()
        self.stats.stopped = self.stats.stopped or "cases"
        try:
            self.ledger().finish(None if cfg.deadline is None else cfg.deadline + FINISH)
        except KeyboardInterrupt:  # a second Ctrl-C: leave what is still being confirmed
            self.stats.stopped = "interrupted"
        self.stats.seconds = self.elapsed()
        return self.stats

    def ledger(self):
        """The campaign's root causes (made on first use: the probe's findings go there too)."""
        if self.stats.causes is None:
            cfg = self.cfg
            hard = None if cfg.deadline is None else cfg.deadline + FINISH
            self.stats.causes = Ledger(cfg.out, {"seed": cfg.seed, "strict": cfg.strict}, self._origin(),
                                       cfg.memory_mb, hard, cfg.strict)
        return self.stats.causes

    def _origin(self):
        if self.here is not None:
            return self.here.origin
        return next((w.origin for w in self.pool if w.origin is not None), None)

    def _next(self):
        while True:
            if self._retry:
                case = self._retry.popleft()
            else:
                case = next(self._fresh, None)
                self._exhausted = case is None
            if case is None or not (self._no_deep and case[2].startswith("deep")):
                self.stats.started += case is not None
                return case

    def _stopping(self):
        """Whether to start no more cases. Out of cases is not final: a crashed worker may hand
        cases back to run again."""
        cfg, st = self.cfg, self.stats
        if not st.stopped:
            counted = self.ledger().counted(cfg.strict, settled=True)
            if cfg.max_findings is not None and len(counted) >= cfg.max_findings:
                st.stopped = "max-findings"
            elif cfg.deadline is not None and time.monotonic() >= cfg.deadline:
                st.stopped = "budget"
        return bool(st.stopped) or (self._exhausted and not self._retry)

    def _symptom(self, i, finding, cause, reducing, output="", deep=False, minimal=False):
        self.ledger().symptom(finding, cause, i, self.elapsed(), reducing, output, deep, minimal)

    def _handle(self, msg):
        """A worker's answer (or one from `serve` in this process); the case index it concerns."""
        tag, i = msg[0], msg[1]
        if tag == "case":
            _, _, result, reducing = msg
            self.stats.add(result)  # not counted when it was cut short
            if result.finding is not None:
                self._symptom(i, result.finding, result.cause, reducing, result.output, result.kind == "deep")
        elif tag == "reduced":
            self.ledger().reduced(*msg[2:])
        return i

    def _report(self, progress):
        """Call progress(stats), at most every PROGRESS_EVERY seconds."""
        if progress and time.monotonic() - self._reported > PROGRESS_EVERY:
            self._reported = time.monotonic()
            self.stats.seconds = self.elapsed()
            progress(self.stats)

    def _run_here(self, progress):
        self.here.ops, self.here.deep_ops = self.ops, self.deep_ops
        while not self._stopping():
            case = self._next()
            if case is None:
                continue
            serve(self.here, ("cases", [case], self.ledger().known()), self._handle)
            self._report(progress)

    def _loop(self, progress):
        stop_at = None  # when the workers are killed: GRACE after the campaign stops starting cases
        while True:
            stopping = self._stopping()
            busy = [w for w in self.pool if w.outstanding or w.reducing is not None]
            if stopping:
                if self.stats.stopped:  # a budget, not the end of the cases: what is queued is not run
                    for w in self.pool:
                        w.halt()
                if not busy:
                    return
                stop_at = stop_at or time.monotonic() + (GRACE if self.stats.stopped == "budget" else 1e9)
                if time.monotonic() > stop_at:
                    self._deaf_at_deadline()
                    return  # the deadline holds: what is still running is dropped with its worker
            else:
                for w in self.pool:
                    if w.ready and len(w.outstanding) <= IN_FLIGHT - BATCH:
                        cases = [c for c in (self._next() for _ in range(BATCH)) if c is not None]
                        if cases:
                            w.send_cases(cases, self.ledger().known())
            waits = [w.conn for w in self.pool] + [w.proc.sentinel for w in self.pool]
            multiprocessing.connection.wait(waits, timeout=0.1)
            # Let results gather: every worker has cases queued, and a parent that woke for each
            # result would take a tenth of a core from them.
            time.sleep(NAP)
            for n, w in enumerate(self.pool):
                self._read(w)
                w.output.trim()
                if not w.proc.is_alive():
                    self.pool[n] = self._replace(n, w, "crash", w.death())
                elif w.overdue():
                    self.pool[n] = self._replace(n, w, "timeout", f"killed after {w.limit():.3g} s without a result")
            self.pool = [w for w in self.pool if w is not None]
            self._report(progress)

    def _deaf_at_deadline(self):
        """At the deadline, a worker whose case has outrun its own time limit (its alarm went off and
        it did not answer) is a hang deaf to its alarm: a finding, not a case dropped at the deadline.
        Its worker's kill limit may outlast the budget; the campaign's deadline does not wait for it."""
        for n, w in enumerate(self.pool):
            self._read(w)
            if w.proc.is_alive() and w.running_over():
                self.pool[n] = self._replace(n, w, "timeout", f"no result after {w.running_for():.3g} s, deaf to "
                                                              f"its alarm (killed at the campaign's deadline)")
        self.pool = [w for w in self.pool if w is not None]

    def _read(self, w):
        try:
            while w.conn.poll():
                self._from_worker(w, w.conn.recv())
        except (EOFError, OSError):
            pass  # the worker died: its sentinel says so

    def _from_worker(self, w, msg):
        if msg[0] == "cases":
            for case in msg[1]:
                self._from_worker(w, case)
        elif msg[0] == "ready":
            w.ready, w.since, w.origin = True, time.monotonic(), msg[1]
            w.send(("setup", self.ops, self.deep_ops))
        elif msg[0] == "error":
            raise CampaignError(f"a worker could not load engine {self.cfg.engine}: {msg[1]}")
        elif msg[0] == "died":
            w.last_words = msg[1]
        elif msg[0] == "op":
            pass  # a probe answer after the probe gave up on the worker
        else:
            i = self._handle(msg)
            w.since = time.monotonic()
            if msg[0] == "case":
                assert w.outstanding and w.outstanding[0][0] == i, "a worker answered out of order"
                w.outstanding.pop(0)
                if msg[3]:
                    w.reducing = i
            else:
                w.reducing = None

    def _replace(self, n, w, kind, detail):
        """A dead or killed worker: its running case is a finding, the cases queued after it go
        back to the front of the line, and a new worker takes its place."""
        if not w.ready:
            raise CampaignError(f"a worker process exited before it was ready ({w.death()})")
        w.kill()
        self.stats.dropped += w.output.tail()[1]
        running = int(w.progress[0])
        if w.reducing is None and any(c[0] == running for c in w.outstanding):
            # Cases before it in the batch finished, but their results died with the worker.
            while w.outstanding[0][0] != running:
                self._retry.append(w.outstanding.pop(0))
            i, cseed, kind_ = w.outstanding.pop(0)
            # like an op that hangs or crashes when probed, deep cases are not run further: each would
            # cost a worker (and its limit) and show the same
            self._no_deep = self._no_deep or kind_.startswith("deep")
            # a hang's limit: the alarm's, which the engine had (it was killed later, deaf to it)
            limit = (w.progress[3] or self.cfg.timeout) if kind == "timeout" else None
            f = stuck_finding(kind, w.watch, cseed, kind_, self.ops, detail, limit, self.deep_ops)
            self.stats.add(CaseResult(base_kind(kind_), finding=f))
            self._symptom(i, f, fallback(f, place=self.probed.methods.get(getattr(f, "op", ""))), reducing=False,
                          output=w.output.tail()[0])
        # else it died reducing a finding, which is saved unreduced, or between cases
        self._retry.extend(w.outstanding)
        self._retry = deque(sorted(self._retry))  # in case order, so a cases budget ends on a prefix
        self._restarted(kind, detail)
        w.output.remove()
        return None if self._stopping() else self._spawn(n)  # once stopping, the slot stays empty

    def _restarted(self, kind, detail):
        """Count a worker replaced, by why: it died (how), or it hung and was killed."""
        self.stats.respawns += 1
        why = detail.removeprefix("the worker process ").removeprefix("was ")
        self.stats.restarts[f"{'hung, ' if kind == 'timeout' else ''}{why}"] += 1

    def close(self):
        """Stop every worker (and whatever it forked) and any reproducer still being confirmed: after
        run(), or instead of it (an engine found wanting after the probe)."""
        self._stop_pool()
        if self.stats.causes is not None:
            self.stats.causes.close()

    def _stop_pool(self):
        for w in self.pool:  # idle after a normal end; after the deadline, Ctrl-C or an error, killed mid-case
            self.stats.dropped += w.output.tail()[1]
            w.stop()
            w.output.remove()
        self.pool = []
        try:
            os.rmdir(self.folder)
        except OSError:
            pass


def default_seed():
    """A random campaign seed, small enough to type back in to replay the campaign."""
    return int.from_bytes(os.urandom(4), "big")

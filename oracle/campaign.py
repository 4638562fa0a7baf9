"""The fuzz loop: cases from a seed, run in crash-isolated worker processes, findings reduced and saved.

A campaign with seed S is the sequence of cases i = 0, 1, 2, ...; case i is built from
`random.Random(case_seed(S, i))` alone, so any case (and any campaign) replays from the seed. Shard
K/N runs the cases with i % N == K-1: shards are disjoint and together they are the whole sequence.

A case is one of four kinds:
  expr   a random program of up to 20 ops, checked on a batch of 32 input points (one torch run per
         batch amortises torch's ~8 us per op)
  deep   a chain of 1,100-1,300 ops, deeper than Python's recursion limit, on 2 points: graph walks
  mlp    a random MLP's outputs, loss and parameter gradients against a torch.nn twin
  train  the same, then a few SGD steps in sync, every parameter compared after every step

Workers are processes from a forkserver (torch imported once, each worker forked from it in ms), so
an engine that segfaults, exits or hangs takes down one worker, never the campaign: the parent
reads each worker's results, kills a worker whose case outruns its deadline, records that case
as a finding of kind "crash" or "timeout", and starts a new worker. Inside a worker, an alarm
interrupts a hanging case first, so the finding names the input point and node it hung at.

A finding with a signature not seen before is reduced in the worker that found it (`reduce.
reduce_case`, keeping only candidates that fail with the same signature, under a time budget)
and saved by the parent through `findings.FindingStore`.
"""
import hashlib
import json
import math
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import pathlib
import random
import signal
import threading
import time
import traceback
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from oracle.backends import EngineError, engine_run, torch_run
from oracle.check import Finding, Report, check_program, close
from oracle.generate import GenConfig, coverage, random_const, random_inputs, random_program
from oracle.mlp import ACTS, MLPFinding, check_mlp, random_mlp
from oracle.ops import OPS
from oracle.program import Instr, Program

KINDS = ("expr", "deep", "mlp", "train")
# The default mix, by share of cases. expr cases are the bulk: cheapest per node checked and the
# widest op coverage. MLP and training cases check what programs cannot (many-input sums, optimiser
# steps) but check fewer numbers per second; deep chains cost ~0.1 s each and only need to be there.
MIX = {"expr": 0.899, "deep": 0.001, "mlp": 0.06, "train": 0.04}
POINTS = 32  # input points per expr case
DEEP_POINTS = 2
DEEP_DEPTH = (1100, 1300)  # above Python's default recursion limit of 1000
TRAIN_STEPS = (1, 4)
# The engine ops an MLP case uses: a neuron is b + w*x (add, mul_c); mse is (o - y)**2, hinge is
# relu(1 + -y*o).
MLP_NEEDS = {"neuron": {"add", "mul_c"}, "mse": {"sub_c", "pow_int"}, "hinge": {"radd_c", "rmul_c", "relu"}}
TIMEOUT = 10.0  # seconds per case; a correct engine needs milliseconds
REDUCE_SECONDS = 10.0  # per new finding: the reducer's budget, after which the best case so far is kept
# Kinds not worth reducing: a hang or a crash costs a timeout or a process per candidate, and a
# recursion overflow needs the depth it has.
UNREDUCED = {"timeout", "crash", "recursion"}
BATCH = 8  # cases sent to a worker per message
IN_FLIGHT = 4 * BATCH  # cases queued per worker: enough for a worker to outlast the parent's nap
NAP = 0.01  # seconds the parent sleeps between rounds of reading results


def case_seed(seed, i):
    """Case i's seed: a hash of (campaign seed, i), so cases are independent of each other."""
    return int.from_bytes(hashlib.blake2b(f"{seed}/{i}".encode(), digest_size=8).digest(), "big")


def case_kind(cseed, mix):
    """The kind of the case with this seed, drawn from the mix {kind: share} (shares need not sum to 1)."""
    u = random.Random(cseed ^ 0x5EED).random() * sum(mix.values())
    for kind, share in mix.items():
        u -= share
        if u < 0:
            return kind
    return kind


def shard_indices(shard, count=None):
    """The campaign's case indices that shard (K, N) runs, in order: K-1, K-1+N, ... (count of them)."""
    k, n = shard
    j = 0
    while count is None or j < count:
        yield k - 1 + j * n
        j += 1


def plan(seed, shard=(1, 1), count=None, mix=None):
    """The cases shard (K, N) of campaign `seed` runs, in order, as (i, case seed, kind)."""
    mix = mix or MIX
    for i in shard_indices(shard, count):
        cseed = case_seed(seed, i)
        yield i, cseed, case_kind(cseed, mix)


def mlp_choices(ops):
    """(activations, losses) an MLP case can use with these ops, or None when the ops miss a neuron."""
    ops = set(ops)
    if not MLP_NEEDS["neuron"] <= ops:
        return None
    losses = tuple(loss for loss in ("mse", "hinge") if MLP_NEEDS[loss] <= ops)
    return (tuple(a for a in ACTS if a == "linear" or a in ops), losses) if losses else None


def kind_mix(kind, ops):
    """The mix for --kind (one kind or "all") given the enabled ops; ValueError when a kind cannot run."""
    kinds = KINDS if kind == "all" else (kind,)
    mix = {k: MIX[k] if kind == "all" else 1.0 for k in kinds if k in ("expr", "deep") or mlp_choices(ops)}
    if not mix:
        raise ValueError(f"{kind} cases need the ops {', '.join(sorted(MLP_NEEDS['neuron']))} and those of "
                         f"a loss (mse: {', '.join(sorted(MLP_NEEDS['mse']))}; hinge: "
                         f"{', '.join(sorted(MLP_NEEDS['hinge']))})")
    return mix


def is_micrograd(Engine):
    """micrograd's Value and its mutants promise torch's results at singular points too: always strict."""
    from micrograd.engine import Value
    return Engine is Value or getattr(Engine, "__module__", "") == "oracle.mutants"


# --- one case ---

@lru_cache(maxsize=16)
def _config(ops):
    return GenConfig(ops=ops)


# Ops that never raise on finite floats in Python either: a deep chain of them reaches the
# backward pass even in an engine with Python float semantics, where its depth is the test.
TAME_OPS = ("add", "sub", "mul", "add_c", "radd_c", "sub_c", "rsub_c", "mul_c", "rmul_c", "neg", "relu", "tanh",
            "sigmoid", "abs")


def deep_chain(rng, ops, depth):
    """A chain of `depth` ops, each on the node before it (a binary op also on any earlier node)."""
    ops = tuple(o for o in ops if o in TAME_OPS) or ops
    n_in = rng.randint(1, 2)
    instrs = []
    for k in range(n_in, n_in + depth):
        op = OPS[rng.choice(ops)]
        args = (k - 1,) if op.arity == 1 else (k - 1, rng.randrange(k))
        instrs.append(Instr(op.name, args, random_const(rng, op.const, op.name)))
    return Program(n_in, tuple(instrs))


def build_case(cseed, kind, ops):
    """The case itself: (program, points) for expr and deep, (MLPSpec, SGD steps) for mlp and train."""
    rng = random.Random(cseed)
    if kind == "expr":
        cfg = _config(tuple(ops))
        program = random_program(rng, cfg)
        return program, [random_inputs(rng, program.n_inputs, cfg) for _ in range(POINTS)]
    if kind == "deep":
        program = deep_chain(rng, tuple(ops), rng.randint(*DEEP_DEPTH))
        return program, [random_inputs(rng, program.n_inputs) for _ in range(DEEP_POINTS)]
    acts, losses = mlp_choices(ops)
    spec = random_mlp(rng, acts=acts, losses=losses)
    return spec, rng.randint(*TRAIN_STEPS) if kind == "train" else 0


@dataclass
class CaseResult:
    kind: str
    checks: int = 0  # node checks (Report.checks)
    points: int = 0
    noise: int = 0  # points flagged by the batch comparison and cleared by the local re-check
    domain: int = 0  # points where the engine raised where torch gives inf or nan (not strict)
    ops: dict = field(default_factory=dict)  # op -> count in this case's program
    pairs: dict = field(default_factory=dict)  # (parent op, child op) -> count
    finding: object = None  # check.Finding or mlp.MLPFinding
    cpu: float = 0.0  # CPU seconds the case took in its process: a rate per core that load does not skew


def run_case(cseed, kind, Engine, ops, strict):
    """Build case `cseed` of `kind` ("expr", "deep", "mlp" or "train") over `ops` and check `Engine`."""
    case, extra = build_case(cseed, kind, ops)
    report = Report()
    if kind in ("expr", "deep"):
        check_program(case, extra, Engine, strict, report)
        op_counts, pairs = coverage([case])
    else:
        check_mlp(case, Engine, steps=extra, report=report)
        op_counts, pairs = {}, {}
    return CaseResult(kind, report.checks, report.points, report.noise, report.domain, op_counts, pairs,
                      report.findings[0] if report.findings else None)


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


def stuck_finding(kind, exc, cseed, case_kind_, ops, detail):
    """A "timeout" or "crash" finding for a case that did not finish. When `exc` interrupted the
    checker, its traceback says at which input point, and in which node or pass, the engine was."""
    case, extra = build_case(cseed, case_kind_, ops)
    if case_kind_ in ("mlp", "train"):
        # step: the SGD steps the case runs, so that a replay runs as many
        return MLPFinding(kind, case, "the forward or backward pass", step=extra, detail=detail)
    point, node, where = None, None, ""
    tb = exc.__traceback__ if exc is not None else None
    for frame, _ in traceback.walk_tb(tb):
        if frame.f_code is check_program.__code__:
            point = frame.f_locals.get("xs")
        elif frame.f_code is engine_run.__code__:
            phase, nodes = frame.f_locals.get("phase"), frame.f_locals.get("nodes")
            if phase == "forward" and nodes is not None and len(nodes) < case.n_nodes:
                node = len(nodes)
            where = f" in the {phase} pass"
    if point is None:
        point = extra[0]
        detail += f"; the point is one of the case's {len(extra)} (the first is shown)"
    op = case.instrs[node - case.n_inputs].op if node is not None and node >= case.n_inputs else ""
    return Finding(kind, node, op, list(point), detail=detail + where, program=case)


# --- reduction, in the process that found the bug ---

def reduce_finding(finding, Engine, strict, timeout=TIMEOUT, budget=REDUCE_SECONDS, points=()):
    """(finding, program, point) reduced: smaller, failing with the same signature. Program findings
    go through reduce.reduce_case; MLP findings only lose batch rows, which is cheap. `points` are
    the case's other input points, to start from one whose failure a reproducer shows."""
    deadline = time.monotonic() + budget
    sig = finding.signature

    def same(run):
        # Past the budget every candidate "passes", so the reducer ends with the best case so far.
        if time.monotonic() > deadline:
            return None
        try:
            with time_limit(timeout):
                report = run()
        except (Exception, CaseTimeout):  # a candidate that hangs or breaks the oracle is no reduction
            return None
        f = report.findings[0] if report.findings else None
        return f if f is not None and f.signature == sig else None

    if isinstance(finding, MLPFinding):
        spec, steps = finding.spec, finding.step
        for i in reversed(range(len(spec.X))):
            if len(spec.X) > 1:
                smaller = replace(spec, X=spec.X[:i] + spec.X[i + 1:], y=spec.y[:i] + spec.y[i + 1:])
                f = same(lambda s=smaller: check_mlp(s, Engine, steps=steps))
                if f is not None:
                    spec, finding = smaller, f
        return finding, spec, None
    from oracle import reduce  # the reducer is only needed once a bug is found

    # The saved reproducer compares what a user sees: the output's value and the inputs'
    # gradients. A wrong interior gradient can be masked on the way to the inputs (multiplied by
    # a zero the reducer likes to introduce), so when the found case shows its bug there, every
    # reduction must still show it there, and the reproducer keeps failing.
    start = finding.program
    visible = _visible(start, finding.point, Engine, timeout)
    for other in points if not visible else ():  # another point of the case may show it
        f = same(lambda x=other: check_program(start, [x], Engine, strict))
        if f is not None and _visible(start, other, Engine, timeout):
            finding, visible = f, True
            break

    def fails(program, point):
        f = same(lambda: check_program(program, [point], Engine, strict))
        return f is not None and (not visible or _visible(program, point, Engine, timeout))

    program, point = reduce.reduce_case(finding.program, finding.point, fails)
    deadline = math.inf  # the final check of the reduced case is not a candidate
    reduced = same(lambda: check_program(program, [point], Engine, strict))
    if reduced is None:  # the engine does not fail the same way twice: keep what was found
        return finding, finding.program, finding.point
    return reduced, program, point


def _visible(program, point, Engine, timeout=TIMEOUT):
    """Whether the engine's output value or an input's gradient is not close to torch's at point
    (or the engine raises): what a reproducer script checks."""
    try:
        with time_limit(timeout):
            data, grad = engine_run(program, point, Engine)
    except EngineError:
        return True
    except (Exception, CaseTimeout):
        return False
    values, grads = torch_run(program, np.array(point, dtype=np.float64).reshape(-1, 1))
    n = program.n_inputs
    return not close([data[-1], *grad[:n]], [values[-1, 0], *grads[:n, 0]]).all()


# --- the worker side: one case after another, results to a sink ---

@dataclass
class _Job:
    """What a process needs to run cases: the engine, the op set, the rules."""
    Engine: object
    ops: tuple
    strict: bool
    timeout: float
    reduce_seconds: float
    seen: set = field(default_factory=set)  # signatures already reported: not reduced again


def _work(job, i, cseed, kind, emit):
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
        from oracle.probe import load_engine
        job = _Job(load_engine(engine), ops, strict, timeout, reduce_seconds)
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
                _work(job, i, cseed, kind, emit)
            flush()
    except (EOFError, BrokenPipeError):
        return  # the parent is gone
    except BaseException as e:  # out of _work's reach (the reducer, say): the parent makes it a crash finding
        try:
            conn.send(("died", f"{type(e).__name__}: {e}"))
        except OSError:
            pass


# --- probing the engine, in a process of its own ---

def _probe_main(conn, engine):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from oracle.probe import load_engine, supported_ops
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
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["oracle.campaign"])
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


# --- the parent side ---

@dataclass
class Found:
    """One signature's first finding, and where it was saved."""
    signature: str
    kind: str
    case: int  # the campaign's case index
    seconds: float  # after the campaign's start
    finding: object = None
    path: object = None  # the saved .json
    size: int | None = None  # ops in the saved program (None for an MLP)
    count: int = 1  # cases that failed this way
    saved: bool = False
    duplicate: bool = False  # the store already held this signature (from an earlier run)


@dataclass
class Stats:
    cases: int = 0
    checks: int = 0  # node checks: one per node per input point (values and gradients)
    points: int = 0
    noise: int = 0
    domain: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds spent in cases, summed over workers
    by_kind: Counter = field(default_factory=Counter)  # cases run per kind
    ops: Counter = field(default_factory=Counter)
    pairs: Counter = field(default_factory=Counter)
    found: dict = field(default_factory=dict)  # signature -> Found, in order found
    stopped: str = ""  # why the campaign ended: budget, cases, max-findings, interrupted
    respawns: int = 0

    def add(self, r):
        self.cases += 1
        self.by_kind[r.kind] += 1
        self.checks += r.checks
        self.points += r.points
        self.noise += r.noise
        self.domain += r.domain
        self.cpu += r.cpu
        self.ops.update(r.ops)
        self.pairs.update(r.pairs)

    def findings_by_kind(self):
        return dict(Counter(f.kind for f in self.found.values()))


@dataclass
class Config:
    engine: str  # the "module:attr" spec: workers load the engine from it
    ops: tuple  # the ops programs may use (already limited to what the engine supports)
    seed: int
    kind: str = "all"  # one of KINDS, or all for the mix
    shard: tuple = (1, 1)  # (K, N): run cases with i % N == K-1
    workers: int = 1  # processes; 0 runs cases in this process (no crash isolation: for debugging)
    strict: bool = False  # an engine that raises where torch gives inf or nan is a finding, not a difference
    cases: int | None = None  # budget: this many cases of the shard
    seconds: float | None = None  # budget: stop starting cases after this long
    max_findings: int | None = None  # stop after this many distinct findings
    out: str = "findings"  # where findings are saved
    timeout: float = TIMEOUT
    reduce_seconds: float = REDUCE_SECONDS


class CampaignError(Exception):
    """The campaign could not run (a worker could not start); the message is one line."""


class Campaign:
    """Run a campaign: `Campaign(config, Engine).run(progress)` -> Stats. `progress(stats)` is
    called a few times a second; Ctrl-C ends the run with what was done so far."""

    def __init__(self, config, Engine=None):
        self.cfg = config
        self.Engine = Engine
        self.mix = kind_mix(config.kind, config.ops)
        self.stats = Stats()
        self._stores = {}  # verify -> FindingStore, made on the first finding
        self._saver = ThreadPoolExecutor(1, thread_name_prefix="oracle-save")
        self._saving = []
        self._fresh = plan(config.seed, config.shard, config.cases, self.mix)
        self._retry = deque()  # cases to run again first: those after a crashed case in its batch
        self._exhausted = False
        self._start = time.monotonic()

    # the case sequence

    def _next(self):
        if self._retry:
            return self._retry.popleft()
        case = next(self._fresh, None)
        self._exhausted = case is None
        return case

    def _elapsed(self):
        return time.monotonic() - self._start

    def _stopping(self):
        """Whether to start no more cases. Out of cases is not final: a crashed worker may hand
        cases back to run again."""
        cfg, st = self.cfg, self.stats
        if not st.stopped:
            if cfg.max_findings is not None and len(st.found) >= cfg.max_findings:
                st.stopped = "max-findings"
            elif cfg.seconds is not None and self._elapsed() >= cfg.seconds:
                st.stopped = "budget"
        return bool(st.stopped) or (self._exhausted and not self._retry)

    # findings

    def _on_finding(self, i, f, reducing):
        found = self.stats.found.get(f.signature)
        if found is not None:
            found.count += 1
            return
        self.stats.found[f.signature] = Found(f.signature, f.kind, i, self._elapsed(), f)
        if not reducing:
            self._save(f.signature, f, *_case_of(f))

    def _save(self, sig, finding, program, point):
        found = self.stats.found[sig]
        if found.saved:
            return
        found.finding, found.saved = finding, True
        cseed = case_seed(self.cfg.seed, found.case)
        meta = {"engine": self.cfg.engine, "seed": self.cfg.seed, "case": found.case, "case_seed": cseed,
                "case_kind": case_kind(cseed, self.mix), "shard": "/".join(map(str, self.cfg.shard)),
                "strict": self.cfg.strict, "signature": sig, "ops": list(self.cfg.ops)}
        if isinstance(finding, MLPFinding):
            found.path = save_mlp(self.cfg.out, finding, meta)
            if found.path is None:
                found.path, found.duplicate = pathlib.Path(self.cfg.out) / f"{sig}.json", True
            return
        from oracle.findings import FindingStore  # only a campaign that finds something writes
        # The store runs each reproducer once to confirm it fails; not one that hangs or crashes.
        verify = finding.kind not in ("timeout", "crash")
        if verify not in self._stores:
            self._stores[verify] = FindingStore(self.cfg.out, verify=verify, timeout=max(60.0, 2 * self.cfg.timeout))
        store = self._stores[verify]
        found.size = len(program)
        found.path = store.paths(sig)[0]
        # Recording runs the reproducer in a fresh Python (~2 s for torch): in the background, so
        # that the workers are not left waiting for their next cases meanwhile.
        self._saving.append(self._saver.submit(self._record, store, found, finding, program, point, meta))

    @staticmethod
    def _record(store, found, finding, program, point, meta):
        if store.record(finding, program, point, meta) is None:
            found.duplicate = True

    def _handle(self, msg):
        """A message from a worker (or from _work in this process); returns the case index it concerns."""
        tag, i = msg[0], msg[1]
        if tag == "case":
            _, _, result, reducing = msg
            self.stats.add(result)
            if result.finding is not None:
                self._on_finding(i, result.finding, reducing)
        elif tag == "reduced":
            _, _, sig, finding, program, point = msg
            self._save(sig, finding, program, point)
        return i

    def _save_unreduced(self):
        """Save findings whose reduction never reported back (worker killed, or Ctrl-C)."""
        for sig, found in self.stats.found.items():
            if not found.saved:
                self._save(sig, found.finding, *_case_of(found.finding))

    # running

    def run(self, progress=None):
        try:
            if self.cfg.workers <= 0:
                self._run_here(progress)
            else:
                self._run_pool(progress)
        except KeyboardInterrupt:
            self.stats.stopped = "interrupted"
        finally:
            self.stats.seconds = self._elapsed()
        self.stats.stopped = self.stats.stopped or "cases"
        try:
            self._save_unreduced()
            self._saver.shutdown(wait=True)
        except KeyboardInterrupt:  # a second Ctrl-C: leave the findings still being written
            self.stats.stopped = "interrupted"
            self._saver.shutdown(wait=False, cancel_futures=True)
            return self.stats
        for saving in self._saving:
            saving.result()  # a store that failed to write fails the run, loudly
        return self.stats

    def _run_here(self, progress):
        job = _Job(self.Engine, self.cfg.ops, self.cfg.strict, self.cfg.timeout, self.cfg.reduce_seconds)
        last = 0.0
        while not self._stopping():
            case = self._next()
            if case is None:
                continue
            _work(job, *case, self._handle)
            if progress and time.monotonic() - last > 0.2:
                last = time.monotonic()
                self.stats.seconds = self._elapsed()
                progress(self.stats)

    def _run_pool(self, progress):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["oracle.campaign"])
        multiprocessing.forkserver.ensure_running()
        pool = [_Worker(ctx, self.cfg) for _ in range(self.cfg.workers)]
        try:
            self._loop(ctx, pool, progress)
        finally:
            for w in pool:  # idle after a normal end; after Ctrl-C or an error, killed mid-case
                w.stop()

    def _loop(self, ctx, pool, progress):
        last = 0.0
        while True:
            stopping = self._stopping()
            if stopping and not any(w.outstanding or w.reducing is not None for w in pool):
                return
            if not stopping:
                for w in pool:
                    if w.ready and len(w.outstanding) <= IN_FLIGHT - BATCH:
                        cases = [c for c in (self._next() for _ in range(BATCH)) if c is not None]
                        if cases:
                            w.send(cases, self.stats.found.keys())
            waits = [w.conn for w in pool] + [w.proc.sentinel for w in pool]
            multiprocessing.connection.wait(waits, timeout=0.1)
            # Let results gather: every worker has cases queued, and a parent that woke for each
            # result would take a tenth of a core from them.
            time.sleep(NAP)
            for n, w in enumerate(pool):
                try:
                    while w.conn.poll():
                        self._from_worker(w, w.conn.recv())
                except (EOFError, OSError):
                    pass  # the worker died: its sentinel says so below
                if not w.proc.is_alive():
                    pool[n] = self._replace(ctx, w, "crash", w.death())
                elif w.overdue():
                    w.kill()
                    pool[n] = self._replace(ctx, w, "timeout", f"killed after {w.limit():.3g} s without a result")
            if progress and time.monotonic() - last > 0.2:
                last = time.monotonic()
                self.stats.seconds = self._elapsed()
                progress(self.stats)

    def _from_worker(self, w, msg):
        if msg[0] == "cases":
            for case in msg[1]:
                self._from_worker(w, case)
        elif msg[0] == "ready":
            w.ready, w.since = True, time.monotonic()
        elif msg[0] == "error":
            raise CampaignError(f"a worker could not load engine {self.cfg.engine}: {msg[1]}")
        elif msg[0] == "died":
            w.last_words = msg[1]
        else:
            i = self._handle(msg)
            w.since = time.monotonic()
            if msg[0] == "case":
                assert w.outstanding and w.outstanding[0][0] == i, "a worker answered out of order"
                w.outstanding.popleft()
                if msg[3]:
                    w.reducing = i
            else:
                w.reducing = None

    def _replace(self, ctx, w, kind, detail):
        """A dead or killed worker: its running case is a finding, the cases queued after it go
        back to the front of the line, and a new worker takes its place."""
        if not w.ready:
            raise CampaignError(f"a worker process exited before it was ready ({w.death()})")
        w.stop()
        running = int(w.progress[0])
        if w.reducing is None and any(c[0] == running for c in w.outstanding):
            # Cases before it in the batch finished, but their results died with the worker.
            while w.outstanding[0][0] != running:
                self._retry.append(w.outstanding.popleft())
            i, cseed, kind_ = w.outstanding.popleft()
            f = stuck_finding(kind, None, cseed, kind_, self.cfg.ops, detail)
            self.stats.add(CaseResult(kind_, finding=f))
            self._on_finding(i, f, reducing=False)
        # else it died reducing a finding, which is saved unreduced, or between cases
        self._retry.extend(w.outstanding)
        self._retry = deque(sorted(self._retry))  # in case order, so a cases budget ends on a prefix
        self.stats.respawns += 1
        return _Worker(ctx, self.cfg)


def _case_of(finding):
    """The (program, point) a finding is saved with; an MLP finding carries its spec, no point."""
    if isinstance(finding, MLPFinding):
        return finding.spec, None
    return finding.program, finding.point


class _Worker:
    """A worker process and what the parent knows of it."""

    def __init__(self, ctx, cfg):
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


def save_mlp(out, finding, meta):
    """An MLP finding as DIR/<signature>.json (the spec, the SGD steps, the message), published
    atomically like the store's findings: written under a temporary name, then linked, which fails
    when the name exists. The path, or None when the signature is already saved."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{finding.signature}.json"
    case = {"signature": finding.signature, "kind": finding.kind, "mlp": finding.spec.to_json(),
            "steps": finding.step, "where": finding.where, "engine_value": finding.engine,
            "torch_value": finding.torch, "message": finding.message(), **meta}
    tmp = out / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    tmp.write_text(json.dumps(case, indent=1, default=repr) + "\n", encoding="utf-8")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return None
    finally:
        tmp.unlink()
    return path


def coverage_summary(stats, ops):
    """Op coverage (ops seen of those enabled, rarest first) and op-pair coverage of expr programs."""
    seen = {o: stats.ops.get(o, 0) for o in ops}
    rarest = sorted(seen, key=lambda o: (seen[o], o))[:3]
    pairs = sum(1 for (a, b) in stats.pairs if a in seen and b in seen)
    return {"ops_seen": sum(1 for n in seen.values() if n), "ops_enabled": len(ops),
            "rarest": {o: seen[o] for o in rarest}, "pairs_seen": pairs, "pairs_possible": len(ops) ** 2}


def default_seed():
    return int.from_bytes(os.urandom(4), "big")

"""Sandboxed worker processes: each loads the engine, then serves the campaign's requests.

Workers are processes from a forkserver (torch imported once, each worker forked from it in ms),
and each makes itself a sandbox first (`sandbox.enter`: its own process group, a memory limit, its
output captured), so an engine that segfaults, exits, hangs, forks, floods its output or eats
memory takes down one worker, never the campaign: the campaign reads each worker's answers, kills
the process group of a worker that outruns its deadline (`pool.Worker.overdue`, the parent's side
of a worker), and starts a new one. Inside a worker, an alarm interrupts a hanging case first, so
the finding names the input point and node it hung at. This module is the worker's side:
`worker_main` is the process, `serve` what it does.

`serve` answers one request, in a worker or, with `--workers 0` (debugging, no sandbox), in the
campaign's own process:
  ("probe", op names)   which ops the engine defines, one ("op", ...) answer each
  ("cases", cases, known root causes)   run cases; a finding with a root cause not known yet (or
                        known only in a worse class) is reduced right there, where the engine is
                        loaded, within the campaign's deadline
  ("replay", program or MLP spec, point, steps)   check one saved case
"""
import signal
import time
from dataclasses import dataclass, field

from oracle.backends import torch_point
from oracle.check import Finding, check_program
from oracle.fuzz import deep, engines, graph, interactive, sandbox, tamper
from oracle.fuzz.cases import CaseResult, build_case, run_case, stuck_finding
from oracle.fuzz.causes import case_rank, saved_case
from oracle.fuzz.diagnose import diagnose, fallback
from oracle.fuzz.probe import OpProbe, drivable, probe_op, probe_point
from oracle.fuzz.shrink import REDUCE_SECONDS, UNREDUCED, reduce_finding
from oracle.fuzz.timeouts import TIMEOUT, CaseTimeout, time_limit
from oracle.mlp import MLPFinding, torch_side
from oracle.ops import OPS

PROBE_TIMEOUT = 1.0  # seconds an op may take when probed: a scalar op takes microseconds
PROBE_GRACE = 1.5  # seconds past the budget the probe may still use (within the campaign's 5 s of slack)
READY_TIMEOUT = 120.0  # seconds a new worker may take to import torch and the engine
FLUSH_EVERY = 0.5  # seconds a worker holds finished cases before it sends them: a worker killed keeps the rest


@dataclass(frozen=True)
class Job:
    """What a worker needs: which engine, and the campaign's rules."""
    engine: str  # the spec, as the user gave it
    engine_paths: tuple = ()
    timeout: float = TIMEOUT  # per case
    deadline: float | None = None  # time.monotonic() when the campaign ends: reductions stop there too
    reduce_seconds: float = REDUCE_SECONDS
    memory_mb: int = 0  # what the engine may allocate beyond the worker's own needs; 0: no limit
    interactive: object = None  # an engine with no file: the class by value (oracle.fuzz.interactive), not `engine`


@dataclass
class State:
    """What a serving process holds: the loaded engine and what it has been told."""
    job: Job
    Engine: object
    origin: object  # engines.Origin
    ops: tuple = ()
    deep_ops: tuple = ()  # the ops deep cases are built from: those that probed well
    known: dict = field(default_factory=dict)  # root cause key -> the rank of the best case reduced so far
    quoted: dict = field(default_factory=dict)  # root cause key -> the rank of the best case given torch_values
    capture: object = None  # the sandbox's Capture of stdout and stderr, if any
    # [the input point, the node] the engine runs now (see check.check_program): in a worker, shared
    # memory the parent reads when the worker dies or is killed, to know where
    watch: object = field(default_factory=lambda: [-1.0, -1.0])
    progress: object = None  # the Worker's progress array, whose [3] is the running case's time limit


def load(job, capture=None, sandboxed=False, watch=None):
    """The State of a process that loads job's engine: ("ready", origin, tamper, methods, undrivable)
    is what it tells the campaign. Raises EngineSpecError for an engine that does not load."""
    snap = tamper.snapshot()
    if job.interactive is not None:
        Engine, origin = interactive.load(job.interactive, job.engine_paths, sandboxed)
    else:
        Engine, origin = engines.load(job.engine, job.engine_paths, sandboxed)
    changes = tamper.restore(snap)
    methods = {}  # op -> the Place of the engine's method for it, to name findings the worker cannot
    for op in OPS.values():
        place = graph.place_of(getattr(Engine, graph.method_of(op), None))
        if place is not None:
            methods[op.name] = place
    place = graph.place_of(getattr(Engine, "backward", None))
    if place is not None:
        methods[""] = place  # the backward pass's (a finding there names no op)
    state = State(job, Engine, origin, capture=capture)
    if watch is not None:
        state.watch = watch
    return state, ("ready", origin, changes, methods, drivable(Engine))


def serve(state, request, emit, progress=None):
    """Answer one request (see the module docstring), emitting answers through emit()."""
    what = request[0]
    if what == "probe":
        for n, name in enumerate(request[1]):
            _started(progress, n, 2)
            if state.job.deadline is not None and time.monotonic() >= state.job.deadline + PROBE_GRACE:
                emit(("op", OpProbe(name, "unprobed", "no time was left to probe it"), None, None))
                continue
            emit(("op", *_probe(state, name)))
    elif what == "setup":
        state.ops, state.deep_ops = request[1:]
    elif what == "cases":
        _, cases, known = request
        for key, rank in known.items():
            state.known[key] = min(rank, state.known.get(key, rank))
        for i, cseed, kind in cases:
            if progress is not None and progress[4]:  # the campaign has stopped: the rest are not run
                emit(("case", i, CaseResult(kind, cut=True), False))
                continue
            _started(progress, i, 1)
            work(state, i, cseed, kind, emit)
    elif what == "replay":
        emit(("replayed", *_replay(state, *request[1:])))


def _started(progress, item, what):
    if progress is not None:
        progress[0], progress[1], progress[2] = item, time.monotonic(), what  # CLOCK_MONOTONIC: the parent's too
        progress[3] = 0.0  # the case's time limit, once work() knows it


def _probe(state, name):
    """(OpProbe, finding, cause) for one op: finding and cause when the op is broken."""
    op = OPS[name]
    limit = probe_limit(state.job)
    stopped = None  # where the alarm found the engine, for a hang
    try:
        with time_limit(limit):
            probed = probe_op(state.Engine, op, state.watch)
    except CaseTimeout as e:
        stopped = graph.innermost(e.__traceback__, state.origin.folders)
        probed = OpProbe(name, "broken", f"no result after {limit:.3g} s", "timeout", probe_point(op, state.watch))
    _take_output(state)
    if probed.status != "broken":
        return probed, None, None
    program, point = probed.finding_case()
    finding = None
    if probed.kind not in UNREDUCED:
        try:
            with time_limit(state.job.timeout):
                report = check_program(program, [point], state.Engine)
            finding = report.findings[0] if report.findings else None
        except (Exception, CaseTimeout):
            finding = None
    if finding is None:
        finding = Finding(probed.kind, program.n_inputs, name, point, detail=probed.reason, program=program,
                          limit=limit if probed.kind == "timeout" else None)
    with_torch_values(finding, finding.program, finding.point)
    if probed.kind == "timeout":
        return probed, finding, fallback(finding, state.origin.folders, state.Engine, stopped)
    return probed, finding, _diagnose(state, finding)


def probe_limit(job):
    """The time one op may take when probed: PROBE_TIMEOUT, the case timeout, and what is left (the
    probe may use PROBE_GRACE past the budget: a campaign whose start-up took it all still probes)."""
    left = 1e9 if job.deadline is None else job.deadline + PROBE_GRACE - time.monotonic()
    return max(0.05, min(PROBE_TIMEOUT, job.timeout, left))


def _diagnose(state, finding):
    try:
        with time_limit(state.job.timeout):
            return diagnose(finding, state.Engine, state.origin.folders, state.origin.ours)
    except (Exception, CaseTimeout):
        return fallback(finding, state.origin.folders, state.Engine)


def _take_output(state):
    return state.capture.take() if state.capture is not None else (0, "")


def work(state, i, cseed, kind, emit):
    """Run case i and emit ("case", i, CaseResult, reducing); then, for a root cause worth reducing,
    reduce it and emit ("reduced", i, key, finding, program, point, cause, shown)."""
    job = state.job
    cpu = time.process_time()
    limit = _limit(job)
    cut = limit < job.timeout  # what the alarm means: the deadline's limit, not the engine's hang
    built = walk = None
    if kind.startswith("deep"):  # a bound of its own, far below the timeout (see oracle.fuzz.deep)
        built = build_case(cseed, kind, state.ops, state.deep_ops)
        walk = deep.Walk.timed(built[0], built[1][0], longest=deep.most(job.timeout, len(built[1])))
        own = deep.case_limit(walk.seconds, len(built[1]))
        if own < limit:
            limit, cut = own, False
    if state.progress is not None:
        state.progress[3] = limit  # the parent kills a worker deaf to this alarm only after it
    state.watch[0] = state.watch[1] = -1
    try:
        with time_limit(limit):
            result = run_case(cseed, kind, state.Engine, state.ops, state.origin.ours, state.watch, state.deep_ops,
                              built, walk)
    except CaseTimeout as e:
        if cut:
            emit(("case", i, CaseResult(kind, cut=True), False))
            return
        result = CaseResult(kind, finding=stuck_finding("timeout", state.watch, cseed, kind, state.ops,
                                                        f"no result after {limit:g} s", limit, state.deep_ops))
        stopped = graph.innermost(e.__traceback__, state.origin.folders)  # where the alarm found the engine
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SystemExit from the engine, or a bug of the oracle's: one case, not the campaign
        detail = f"{type(e).__name__}: {e}".strip()
        result = CaseResult(kind, finding=stuck_finding("crash", state.watch, cseed, kind, state.ops, detail,
                                                        deep_ops=state.deep_ops))
        stopped = graph.innermost(e.__traceback__, state.origin.folders)
    else:
        stopped = None
    result.cpu = time.process_time() - cpu
    f = result.finding
    if f is not None and state.progress is not None:  # the diagnosis has the timeout's alarm, from now on
        state.progress[1], state.progress[3] = time.monotonic(), job.timeout
    if f is not None:
        result.cause = _diagnose(state, f) if f.kind not in ("timeout", "crash") else fallback(
            f, state.origin.folders, state.Engine, stopped)
    result.printed, result.output = _take_output(state)
    if f is None:
        result.output = ""
    key = result.cause.key(state.origin.folders) if f is not None else None
    # A deep case (thousands of nodes) is worth reducing only for a walk that cannot go that deep or
    # that visits each path (a recursive topological sort, reduced to a chain; no visited set, to a
    # ladder of diamonds: quickly); any other bug shows in a small case soon enough, which reduces in
    # a fraction of the time.
    walk_bug = result.cause.category == "traversal" and result.cause.detail in ("recursion", "slow") if f else False
    worth = f is not None and f.kind not in UNREDUCED and (walk is None or walk_bug)
    rank = case_rank(f, result.cause) if f is not None else 4
    if f is not None and rank < state.quoted.get(key, 5):  # a case the campaign may save: not every symptom
        state.quoted[key] = rank
        with_torch_values(f, *saved_case(f))
    before = state.known.get(key, 4)
    reducing = worth and rank < before
    if reducing:
        state.known[key] = rank
    emit(("case", i, result, reducing))
    if reducing:
        points = (built or build_case(cseed, kind, state.ops, state.deep_ops))[1] if isinstance(f, Finding) else ()
        reduced = reduce_finding(f, result.cause, state.Engine, state.origin.folders, state.origin.ours, job.timeout,
                                 job.reduce_seconds, points, job.deadline)
        _take_output(state)
        if not reduced[-1]:  # no localisation showed it: the next case of this root cause may
            state.known[key] = before
        emit(("reduced", i, key, with_torch_values(*reduced[:3]), *reduced[1:]))


def with_torch_values(finding, program, point):
    """finding, with what torch float64 gives for the case it is saved with, (program, point) or an
    MLP's spec, as its reproducer quotes it (TORCH): computed here, where torch is imported, for the
    campaign's own process never imports it (see store)."""
    try:
        if isinstance(finding, MLPFinding):
            finding.torch_values = torch_side(finding.spec)
        elif isinstance(finding, Finding) and program is not None:
            finding.torch_values = torch_point(program, point)
    except Exception:  # torch does not raise on these floats; the store computes them otherwise
        finding.torch_values = None
    return finding


def _limit(job):
    """The time a case may take: the case timeout, and never past the campaign's deadline."""
    if job.deadline is None:
        return job.timeout
    return max(0.05, min(job.timeout, job.deadline - time.monotonic() + 1.0))


def _replay(state, case, point, steps):
    """("fails", finding, cause), ("fixed", None, None) or ("timeout", None, None) for a saved case
    run again."""
    from oracle.mlp import check_mlp
    from oracle.program import Program
    try:
        with time_limit(state.job.timeout):
            if isinstance(case, Program):
                report = check_program(case, [point], state.Engine)
            else:
                report = check_mlp(case, state.Engine, steps=steps, through_nn=state.origin.ours)
    except CaseTimeout:
        return "timeout", None, None
    if not report.findings:
        return "fixed", None, None
    f = report.findings[0]
    return "fails", f, _diagnose(state, f)


def worker_main(conn, progress, watch, job, output_path):
    """A worker process: make itself a sandbox, load the engine, then serve the requests the parent
    sends until it sends None. Answers go back one message per batch (a finding at once);
    `progress` (shared memory) holds what it works on now and since when, for the parent's
    deadline and, should this process die, to know which case killed it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        capture = sandbox.enter(job.memory_mb, output_path)
        import torch
        torch.set_num_threads(1)  # one core per worker: intra-op threads only contend at this size
        state, ready = load(job, capture, sandboxed=True, watch=watch)
    except engines.EngineSpecError as e:
        _send(conn, ("error", str(e)))
        return
    except BaseException as e:
        _send(conn, ("error", f"{type(e).__name__}: {e}"))
        return
    conn.send(ready)
    state.progress = progress
    done = []  # answers without a finding, sent together at the end of the batch or every FLUSH_EVERY
    held = [0.0]  # since when the first of them waits

    def emit(msg):
        if msg[0] == "case" and msg[2].finding is None:
            if not done:
                held[0] = time.monotonic()
            done.append(msg)
            if time.monotonic() - held[0] >= FLUSH_EVERY:
                flush()
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
            serve(state, msg, emit, progress)
            flush()
            _started(progress, -1, 0)
    except (EOFError, BrokenPipeError):
        return  # the parent is gone
    except BaseException as e:  # out of work's reach (the reducer, say): the parent makes it a crash finding
        _send(conn, ("died", f"{type(e).__name__}: {e}"))


def _send(conn, msg):
    try:
        conn.send(msg)
    except OSError:
        pass

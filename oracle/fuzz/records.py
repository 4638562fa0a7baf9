"""A campaign's records: what it is asked to do (`Config`), what it has done so far (`Stats`), and
what loading and probing the engine found (`Probe`). `oracle.fuzz.campaign` fills them in."""
import time
from collections import Counter
from dataclasses import dataclass, field

from oracle.fuzz.engines import DEFAULT_ENGINE
from oracle.fuzz.shrink import REDUCE_SECONDS
from oracle.fuzz.timeouts import TIMEOUT


@dataclass
class Config:
    engine: str = DEFAULT_ENGINE  # the spec as the user gave it: workers load the engine from it
    engine_paths: tuple = ()  # folders to look in first (--engine-path)
    interactive: object = None  # an engine with no file, sent by value (oracle.testing); `engine` then names it
    seed: int = 0
    kind: str = "all"  # one of cases.KINDS, or all for the mix
    shard: tuple = (1, 1)  # (K, N): run cases with i % N == K-1
    workers: int = 1  # processes; 0 runs cases in this process (no sandbox: for debugging)
    strict: bool = False  # class 3 (Python float semantics) counts like classes 1 and 2
    cases: int | None = None  # budget: this many cases of the shard
    seconds: float | None = None  # budget: start no case after this long
    max_findings: int | None = None  # stop after this many root causes of class 1 or 2
    out: str = "findings"  # where root causes are saved
    timeout: float = TIMEOUT
    reduce_seconds: float = REDUCE_SECONDS
    memory_mb: int = 0  # what the engine may allocate per worker; 0: no limit
    start: float = field(default_factory=time.monotonic)

    @property
    def deadline(self):
        return None if self.seconds is None else self.start + self.seconds


@dataclass
class Stats:
    """What a campaign has done so far: its cases' totals and its root causes."""
    cases: int = 0  # cases finished (a hang or a crash the campaign turned into a finding included)
    started: int = 0  # cases handed to a worker (or run in this process)
    checks: int = 0  # node checks: one per node per input point (values and gradients)
    points: int = 0
    noise: int = 0  # points flagged by the batch comparison and cleared by the local re-check
    domain: int = 0  # points where the engine failed by Python float semantics
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds spent in cases, summed over workers
    by_kind: Counter = field(default_factory=Counter)  # cases run per kind
    ops: Counter = field(default_factory=Counter)
    pairs: Counter = field(default_factory=Counter)
    causes: object = None  # the Ledger
    stopped: str = ""  # why the campaign ended: budget, cases, max-findings, interrupted
    respawns: int = 0
    restarts: Counter = field(default_factory=Counter)  # why workers were replaced -> how many times
    printed: int = 0  # characters the engine printed (Python-level), none of it shown
    dropped: int = 0  # bytes the engine wrote to its file descriptors, none of it shown
    probed: float = 0.0  # seconds of the budget gone when the cases began (loading and probing the engine)

    def idle(self):
        """Why no case finished, in one line (for a campaign whose cases count is 0)."""
        if self.stopped == "interrupted":
            return "it was interrupted before any case finished"
        if not self.started:
            return (f"the budget ran out before the first case started (loading and probing the engine took "
                    f"{self.probed:.1f} s): give it a longer budget")
        return (f"the engine was still on the first case it was given when the budget ran out (after "
                f"{self.seconds:.1f} s): give it a longer budget, or see why one case takes it that long")

    def add(self, r):
        if r.cut:  # the deadline cut it short, or the campaign had stopped: neither a case nor a finding
            return
        self.cases += 1
        self.by_kind[r.kind] += 1
        self.checks += r.checks
        self.points += r.points
        self.noise += r.noise
        self.domain += r.domain
        self.cpu += r.cpu
        self.printed += r.printed
        self.ops.update(r.ops)
        self.pairs.update(r.pairs)


@dataclass
class Probe:
    """What loading and probing the engine found."""
    origin: object  # engines.Origin
    tamper: list  # what the engine changed in the interpreter at import
    undrivable: str | None  # why the engine cannot be driven at all, or None
    ops: dict  # op name -> OpProbe
    methods: dict  # op name -> the Place of the engine's method for it; "" -> backward()'s

    def supported(self):
        return tuple(name for name, p in self.ops.items() if p.status == "ok")

    def generated(self):
        """The ops cases may use: those that work and those broken in a way a case survives (a
        hang, a crash or running out of memory would only cost a worker per case)."""
        return tuple(name for name, p in self.ops.items()
                     if p.status == "ok" or p.status == "broken" and p.kind not in ("timeout", "crash", "memory"))

"""A fuzz campaign: its cases run in crash-isolated workers, its findings saved, its statistics kept.

`Campaign(config, Engine).run(progress)` runs the cases `cases.plan` gives for the config's seed,
shard and kind, over a pool of `workers.Worker` processes (or, with `workers=0`, in this process),
until a budget ends it: seconds, cases, distinct findings, or Ctrl-C. Workers are sent cases in
batches and answer them in order; a worker that dies or outruns its deadline is replaced, its
running case recorded as a finding of kind "crash" or "timeout", and the cases queued after it
run again in a new worker.

A finding with a signature not seen before is reduced in the worker that found it (see
`oracle.fuzz.shrink`) and saved by this process through `store.FindingStore`: a .json case and a
runnable .py reproducer, for a program finding and for an MLP finding alike.
"""
import multiprocessing.connection
import os
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from oracle.fuzz.cases import CaseResult, case_kind, case_seed, kind_mix, plan, stuck_finding
from oracle.fuzz.shrink import REDUCE_SECONDS
from oracle.fuzz.timeouts import TIMEOUT
from oracle.fuzz.workers import Job, Worker, work
from oracle.mlp import MLPFinding

BATCH = 8  # cases sent to a worker per message
IN_FLIGHT = 4 * BATCH  # cases queued per worker: enough for a worker to outlast the parent's nap
NAP = 0.01  # seconds the parent sleeps between rounds of reading results
PROGRESS_EVERY = 0.2  # seconds between calls of progress(stats)


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
    """What a campaign has done so far: its cases' totals and its findings."""
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
    kind: str = "all"  # one of cases.KINDS, or all for the mix
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
        self._reported = 0.0  # when progress() was last called

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
        from oracle.fuzz.store import FindingStore  # only a campaign that finds something writes
        # The store runs each reproducer once to confirm it fails; not one that hangs or crashes.
        verify = finding.kind not in ("timeout", "crash")
        if verify not in self._stores:
            self._stores[verify] = FindingStore(self.cfg.out, verify=verify, timeout=max(60.0, 2 * self.cfg.timeout))
        store = self._stores[verify]
        found.size = None if isinstance(finding, MLPFinding) else len(program)
        found.path = store.paths(sig)[0]
        # Recording runs the reproducer in a fresh Python (~2 s for torch): in the background, so
        # that the workers are not left waiting for their next cases meanwhile.
        self._saving.append(self._saver.submit(self._record, store, found, finding, program, point, meta))

    @staticmethod
    def _record(store, found, finding, program, point, meta):
        if isinstance(finding, MLPFinding):
            path = store.record_mlp(finding, meta)
        else:
            path = store.record(finding, program, point, meta)
        if path is None:
            found.duplicate = True

    def _handle(self, msg):
        """A message from a worker (or from `work` in this process); returns the case index it concerns."""
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

    def _report(self, progress):
        """Call progress(stats), at most every PROGRESS_EVERY seconds."""
        if progress and time.monotonic() - self._reported > PROGRESS_EVERY:
            self._reported = time.monotonic()
            self.stats.seconds = self._elapsed()
            progress(self.stats)

    def _run_here(self, progress):
        job = Job(self.Engine, self.cfg.ops, self.cfg.strict, self.cfg.timeout, self.cfg.reduce_seconds)
        while not self._stopping():
            case = self._next()
            if case is None:
                continue
            work(job, *case, self._handle)
            self._report(progress)

    def _run_pool(self, progress):
        pool = [Worker(self.cfg) for _ in range(self.cfg.workers)]
        try:
            self._loop(pool, progress)
        finally:
            for w in pool:  # idle after a normal end; after Ctrl-C or an error, killed mid-case
                w.stop()

    def _loop(self, pool, progress):
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
                    pool[n] = self._replace(w, "crash", w.death())
                elif w.overdue():
                    w.kill()
                    pool[n] = self._replace(w, "timeout", f"killed after {w.limit():.3g} s without a result")
            self._report(progress)

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

    def _replace(self, w, kind, detail):
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
        return Worker(self.cfg)


def _case_of(finding):
    """The (program, point) a finding is saved with; an MLP finding carries its spec, no point."""
    if isinstance(finding, MLPFinding):
        return finding.spec, None
    return finding.program, finding.point


def coverage_summary(stats, ops):
    """Op coverage (ops seen of those enabled, rarest first) and op-pair coverage of expr programs."""
    seen = {o: stats.ops.get(o, 0) for o in ops}
    rarest = sorted(seen, key=lambda o: (seen[o], o))[:3]
    pairs = sum(1 for (a, b) in stats.pairs if a in seen and b in seen)
    return {"ops_seen": sum(1 for n in seen.values() if n), "ops_enabled": len(ops),
            "rarest": {o: seen[o] for o in rarest}, "pairs_seen": pairs, "pairs_possible": len(ops) ** 2}


def default_seed():
    """A random campaign seed, small enough to type back in to replay the campaign."""
    return int.from_bytes(os.urandom(4), "big")

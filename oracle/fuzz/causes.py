"""The root causes a campaign has found: one bug, one entry, however many cases show it.

Workers diagnose every finding (`diagnose.Cause`); the `Ledger` groups them by the cause's key (the
function of the engine at fault), counts the symptoms, keeps the best class seen (1 wrong at
ordinary inputs, 2 at the edge of float64, 3 Python float semantics), and saves each root cause's one
reduced reproducer through the store, which publishes it only once it reports its failure in a
fresh process (confirmed). One that its own reproducer clears is noise, one whose reproducer could
not run is could-not-confirm; either is tried again with another case that shows it, up to
ATTEMPTS runs, so one point that passes never clears a root cause that other cases still show.
Saving runs in a background thread, class 1 and 2 first, so that the workers never wait; at the
campaign's end what is not confirmed by its deadline is reported as such.
"""
import itertools
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from oracle.fuzz import graph, sandbox
from oracle.fuzz.store import FindingStore, file_name
from oracle.mlp import MLPFinding

MIN_CONFIRM = 1.0  # seconds: a reproducer needs at least this long (a fresh Python, torch) to be worth running
CONFIRM_TIMEOUT = 60.0  # seconds a reproducer run may take, start-up included, when the campaign has that long
UNCOUNTED = ("noise", "could-not-confirm")  # states of a root cause that is not reported as a bug
ATTEMPTS = 3  # reproducer runs of other cases before a root cause stays cleared (or could not be confirmed)
UNREDUCED_RANK = 10.0  # what an unreduced case ranks below any reduced one by
MARGIN = 0.3  # seconds before the campaign's hard end by which a reproducer run is over, its files cleaned up


@dataclass(frozen=True)
class Tamper:
    """A finding of kind tamper: what importing the engine changed in the interpreter."""
    changes: tuple
    kind: str = "tamper"


class Published(NamedTuple):
    """The case a root cause's reproducer was published for, and what a report shows of it."""
    state: str
    finding: object
    program: object
    point: object
    case_rank: float
    size: int | None
    cause: object


@dataclass
class RootCause:
    key: str
    cause: object  # the diagnose.Cause of its best symptom
    case: int  # the first symptom's case (-1: found by the probe)
    seconds: float  # when, after the campaign's start
    symptoms: int = 0
    kinds: Counter = field(default_factory=Counter)  # symptoms by finding kind
    state: str = "found"  # found, reducing, saving, confirmed, written (class 3, not run), noise, taken,
    #                       unconfirmed (no time was left), could-not-confirm (its reproducer could not run)
    finding: object = None  # the case it is saved with (reduced, once the reduction is back)
    program: object = None  # its Program or MLPSpec
    point: object = None
    size: int | None = None  # ops in the saved program (None for an MLP)
    path: object = None  # the published .json
    output: str = ""  # what the engine printed in the first symptom's case (its tail)
    reproducer_exit: object = None
    published: Published | None = None  # the case published: what the row shows
    reproducer_output: str = ""  # what its reproducer printed when it was run (why it was cleared, for noise)
    reason: str = ""  # could-not-confirm: why, on one line (the first line of the error)
    tried: list = field(default_factory=list)  # the cases whose reproducer cleared it or could not run
    rank: float = 4.0  # the rank of the best case a worker reduces for it (see case_rank): workers learn it
    case_rank: float = 1e9  # the rank of the case it is saved with (unreduced: UNREDUCED_RANK more)
    case_cause: object = None  # that case's own diagnosis: its reproducer's class and words
    deep_only: bool = False  # every symptom so far was in a deep case, which it waits for a small one to show

    @property
    def cls(self):
        return self.cause.cls

    @property
    def shown(self):
        """The cause a report shows: that of the case published, whose reproducer it names (a
        better cause seen since has not been confirmed by one of its own); else the best seen."""
        return self.published.cause if self.published else self.cause

    @property
    def shown_size(self):
        """Ops in the case a report shows: the published one's (None for an MLP)."""
        return self.published.size if self.published else self.size

    @property
    def reproducer(self):
        return self.path.with_suffix(".py") if self.path else None


class Ledger:
    """The root causes of a campaign, and their saving and confirming."""

    def __init__(self, out, meta, origin, memory_mb=0, hard_end=None, strict=False):
        self.out, self.meta, self.origin = out, meta, origin
        self.strict = strict  # class 3 counts, and its reproducers are confirmed like the others'

        self.memory_mb, self.hard_end = memory_mb, hard_end
        self.causes = {}  # key -> RootCause, in the order found
        self._store = None
        self._queue = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = None
        self._running = None  # the reproducer process confirming a root cause now, if any

    def __iter__(self):
        return iter(list(self.causes.values()))

    def known(self):
        """key -> the rank of the best case reduced (or being reduced) for it: what workers need not
        reduce again unless theirs ranks better."""
        return {k: rc.rank for k, rc in self.causes.items() if rc.state != "found"}

    def counted(self, strict, settled=False):
        """The root causes that count: classes 1 and 2, and class 3 too when strict; noise never.
        settled: not those seen only in a deep case yet (for --max-findings: a small case that shows
        it soon gives it its reproducer)."""
        return [rc for rc in self if rc.state not in UNCOUNTED and (rc.cls < 3 or strict)
                and not (settled and rc.deep_only and rc.state == "found")]

    def symptom(self, finding, cause, case, seconds, reducing, output="", deep=False, minimal=False):
        """A finding's cause seen in case `case`: the RootCause it belongs to. `reducing`: its worker
        is reducing it, and will send the reduced case (see `reduced`). `deep`: found in a deep case,
        which is not reduced: kept, to be saved only if no small case shows the same cause by the
        campaign's end. A symptom no worker reduces (a hang, a crash) is saved as it is. `minimal`:
        its case is one op already (the probe's), as good as a reduced one."""
        key = cause.key(self.origin.folders)
        rc = self.causes.get(key)
        if rc is None:
            rc = self.causes[key] = RootCause(key, cause, case, seconds, output=output, deep_only=deep)
        rc.deep_only = rc.deep_only and deep
        rc.symptoms += 1
        if rc.state in UNCOUNTED and len(rc.tried) < ATTEMPTS \
                and saved_case(finding) not in rc.tried:
            # Another case still shows it: its reproducer is run in turn (unreduced: the workers
            # reduced this root cause once already).
            rc.state, rc.finding, rc.case_rank = "found", None, 1e9
        rc.kinds[finding.kind] += 1
        if cause.cls < rc.cls:
            rc.cause = cause
        if reducing or minimal:  # its worker ranked it better than what was known, or nothing reduces it
            rc.rank = min(rc.rank, case_rank(finding, cause))
            if rc.state == "found":
                rc.state = "reducing"
        # Kept as it is, in case no reduction comes back: below any reduced case, a deep one below all.
        penalty = 0.0 if minimal else UNREDUCED_RANK * (2 if deep else 1)
        if self._keep(rc, finding, *saved_case(finding), cause, penalty) and not deep \
                and rc.state in ("found", "confirmed", "written", "taken", "unconfirmed"):
            self.save(rc)  # (again: a better case replaces its reproducer)
        return rc

    def reduced(self, key, finding, program, point, cause, shown=True):
        """A worker's reduced case for root cause `key`: saved, if it is better than the one that is
        (an ordinary point where an edge one was shown, a program where an MLP was: saved beside it).
        Not `shown` (its reproducer would not see the bug), it ranks as an unreduced case, and the
        next worker to see the root cause reduces its case."""
        rc = self.causes.get(key)
        if rc is None:
            return
        if cause.key(self.origin.folders) == key and cause.cls <= rc.cls:
            rc.cause = cause
        if not shown:  # kept, to be saved at the end if no case shows it better
            self._keep(rc, finding, program, point, cause, UNREDUCED_RANK)
            if rc.case_rank >= UNREDUCED_RANK:
                rc.rank = 4.0
                if rc.state == "reducing":
                    rc.state = "found"
        elif self._keep(rc, finding, program, point, cause, 0.0):
            self.save(rc)

    def _keep(self, rc, finding, program, point, cause, penalty):
        """Make (finding, program, point) the case rc is saved with, if it ranks better (its
        case_rank plus `penalty`) than the one it has; whether it did."""
        rank = case_rank(finding, cause) + penalty
        if rc.finding is not None and rank >= rc.case_rank:
            return False
        rc.finding, rc.program, rc.point, rc.case_rank = finding, program, point, rank
        rc.case_cause = cause if cause.key(self.origin.folders) == rc.key else rc.cause
        rc.size = _size(finding, program)
        return True

    def save_unreduced(self):
        """Save the root causes whose reduction never came back (its worker was killed, or Ctrl-C)."""
        for rc in self:
            if rc.state == "reducing":
                rc.state = "found"
            if rc.state == "found" and rc.finding is not None:  # a deep case's, or one whose reduction died
                self.save(rc)

    def save(self, rc):
        """Queue rc's case for saving and confirming, class 1 and 2 before class 3. A ledger without
        a folder (out None: a probe) saves nothing; its root causes stay found."""
        if rc.finding is None or self.out is None:
            return
        rc.state = "saving"
        cause = rc.case_cause or rc.cause  # the class and words of the case it is saved with
        self._queue.put((cause.cls, next(self._order), rc.key, rc.finding, rc.program, rc.point, cause))
        if self._thread is None:
            self._thread = threading.Thread(target=self._saver, name="oracle-save", daemon=True)
            self._thread.start()

    def _saver(self):
        while True:
            item = self._queue.get()
            try:
                if item is None:  # stop (and a ledger whose saving is finished may save again later)
                    return
                self._record(*item[2:])
            finally:
                self._queue.task_done()

    def _record(self, key, finding, program, point, cause):
        rc = self.causes[key]
        verify = cause.cls < 3 or self.strict  # class 3 alone changes nothing: its reproducer is written, not run
        left = None if self.hard_end is None else self.hard_end - time.monotonic() - MARGIN
        if verify and left is not None and left < MIN_CONFIRM:
            self._unpublished(rc, "unconfirmed")
            return
        if self._store is None:
            self._store = FindingStore(self.out, self.memory_mb, started=self._started)
        name = self._name(key, cause, finding)
        # done before the campaign's end: a run it cuts short is unconfirmed, not could-not-confirm
        timeout, cut = (CONFIRM_TIMEOUT, False) if left is None or left >= CONFIRM_TIMEOUT else (left, True)
        meta = dict(self.meta, root_cause_key=key, symptoms=rc.symptoms)
        if isinstance(finding, Tamper):
            saved = self._store.record_tamper(name, finding, meta, self.origin, cause, timeout, cut)
        elif isinstance(finding, MLPFinding):
            saved = self._store.record_mlp(name, finding, meta, self.origin, cause, timeout, verify, True, cut)
        else:
            saved = self._store.record(name, finding, program, point, meta, self.origin, cause, timeout, verify, True,
                                       cut)
        if saved.path is None:
            if saved.state in UNCOUNTED:
                rc.tried.append((program, point))
            if self._unpublished(rc, saved.state):  # else the row is the published one's, and its run's
                rc.reason = saved.reason
                rc.reproducer_exit, rc.reproducer_output = saved.exit, saved.output[-sandbox.TAIL:]
            return
        rc.reproducer_exit, rc.reproducer_output = saved.exit, saved.output[-sandbox.TAIL:]
        if saved.state != "taken" and rc.path is not None and rc.path.stem != name:
            self._store.discard(rc.path.stem)  # one reproducer per root cause: the one of another class it had goes
        # The row shows the cause its reproducer was written for (its class too), not a better one
        # still waiting for its own.
        rc.state, rc.path, rc.reason, rc.cause = saved.state, saved.path, "", cause
        rank = rc.case_rank if rc.finding is finding else case_rank(finding, cause)
        rc.published = Published(rc.state, finding, program, point, rank, _size(finding, program), cause)

    def _name(self, key, cause, finding):
        """The file name of root cause `key`'s reproducer for a case of `cause`: its class first, then
        the method and the function's place (and the op that got there, for a class-3 fact told
        apart by it); a suffix when another root cause of this campaign has that name already."""
        via = f"-via-{cause.entry}" if cause.cls == 3 and cause.entry and cause.entry != cause.method else ""
        mlp = "-mlp" if isinstance(finding, MLPFinding) else ""
        base = file_name(f"class{cause.cls}-{cause.method or cause.category}-{_where(cause)}{via}{mlp}")
        taken = {rc.path.stem for rc in self if rc.key != key and rc.path is not None}  # published, or kept
        names = itertools.chain([base], (f"{base}-{n}" for n in itertools.count(2)))
        return next(name for name in names if name not in taken)

    @staticmethod
    def _unpublished(rc, state):
        """rc's case was not published (`state` says why): if an earlier case of it was, rc is that
        one again (a better-looking case that passes, or has no time left, clears nothing); whether
        rc takes `state`."""
        if rc.published is None:
            rc.state = state
            return True
        rc.state, rc.finding, rc.program, rc.point, rc.case_rank, rc.size, rc.cause = rc.published
        rc.case_cause = rc.cause
        return False

    def _started(self, pgid):
        self._running = pgid

    def close(self):
        """Stop now: what is waiting is unconfirmed, and a reproducer running is killed (its whole
        group), so that nothing outlives the campaign."""
        self._drain()
        if self._thread is not None:
            if self._running is not None:
                sandbox.kill_group(self._running)
            self._queue.put(None)
            self._thread.join(5.0)
            self._thread = None

    def _drain(self):
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._unpublished(self.causes[item[2]], "unconfirmed")
            self._queue.task_done()

    def finish(self, deadline=None):
        """Wait for the saving and confirming (until `deadline`, a time.monotonic(); None: to the end);
        what is still waiting then is unconfirmed."""
        self.save_unreduced()
        if self._thread is None:
            return
        while self._queue.unfinished_tasks and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.05)
        self._drain()
        self._queue.put(None)
        # The reproducer running now ends by the hard end (its timeout says so); wait for it to clean up
        # its temporary files, which a thread stopped at interpreter exit would leave behind.
        self._thread.join(None if self.hard_end is None else max(0.1, self.hard_end - time.monotonic() + MARGIN))
        if self._thread.is_alive():
            self.close()
        self._thread = None
        for rc in self:
            if rc.state == "saving":
                self._unpublished(rc, "unconfirmed")


def case_rank(finding, cause):
    """How good a case is as a root cause's reproducer, lower is better: its class, and a program
    before an MLP (whose table of weights says less than three lines of f)."""
    return cause.cls + (0.5 if isinstance(finding, MLPFinding) else 0.0)


def _where(cause):
    if cause.first:
        name = cause.file.rsplit("/", 1)[-1]
        stem = (graph.cell(name) or name.split(",")[0].removesuffix(".py")).lstrip("<")
        return f"{stem}-{cause.first}"
    return cause.detail or cause.category


def _size(finding, program):
    """Ops in a case's program; None for an MLP finding (its spec is no program) or a tamper."""
    return len(program) if program is not None and not isinstance(finding, MLPFinding) else None


def saved_case(finding):
    """The (program, point) a finding is saved with; an MLP finding carries its spec, no point."""
    if isinstance(finding, MLPFinding):
        return finding.spec, None
    if isinstance(finding, Tamper):
        return None, None
    return finding.program, finding.point

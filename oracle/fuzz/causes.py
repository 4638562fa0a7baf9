"""The root causes a campaign has found: one bug, one entry, however many cases show it.

Workers diagnose every finding (`diagnose.Cause`); the `Ledger` groups them by the cause's key (the
function of the engine at fault), counts the symptoms, keeps the best class seen (1 wrong at
ordinary inputs, 2 only at edge inputs, 3 Python float semantics), and saves each root cause's one
reduced reproducer through the store, which publishes it only once it fails in a fresh process
(confirmed); one that its own reproducer clears is noise. Saving runs in a background thread, class
1 and 2 first, so that the workers never wait; at the campaign's end what is not confirmed by its
deadline is reported as such.
"""
import itertools
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from oracle.fuzz import sandbox
from oracle.fuzz.store import FindingStore, file_name
from oracle.mlp import MLPFinding

STUCK = ("timeout", "crash", "memory")  # kinds whose reproducer fails by not finishing (or dying)
MIN_CONFIRM = 1.0  # seconds: a reproducer needs at least this long (a fresh Python, torch) to be worth running
MARGIN = 0.3  # seconds before the campaign's hard end by which a reproducer run is over, its files cleaned up


@dataclass(frozen=True)
class Tamper:
    """A finding of kind tamper: what importing the engine changed in the interpreter."""
    changes: tuple
    kind: str = "tamper"


@dataclass
class RootCause:
    key: str
    cause: object  # the diagnose.Cause of its best symptom
    case: int  # the first symptom's case (-1: found by the probe)
    seconds: float  # when, after the campaign's start
    symptoms: int = 0
    kinds: Counter = field(default_factory=Counter)  # symptoms by finding kind
    state: str = "found"  # found, reducing, saving, confirmed, written (class 3, not run), noise, taken, unconfirmed
    finding: object = None  # the case it is saved with (reduced, once the reduction is back)
    program: object = None  # its Program or MLPSpec
    point: object = None
    size: int | None = None  # ops in the saved program (None for an MLP)
    path: object = None  # the published .json
    output: str = ""  # what the engine printed in the first symptom's case (its tail)
    reproducer_exit: object = None
    saved_cls: int | None = None  # the class of the case published for it

    @property
    def cls(self):
        return self.cause.cls

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
        """key -> the class a reduction has been started for: what workers need not reduce again."""
        return {k: rc.cls for k, rc in self.causes.items() if rc.state != "found"}

    def counted(self, strict):
        """The root causes that count: classes 1 and 2, and class 3 too when strict; noise never."""
        return [rc for rc in self if rc.state != "noise" and (rc.cls < 3 or strict)]

    def symptom(self, finding, cause, case, seconds, reducing, output="", deep=False):
        """A finding's cause seen in case `case`: the RootCause it belongs to. `reducing`: its worker
        is reducing it, and will send the reduced case. `deep`: found in a deep case and not reduced
        there; kept to save only if no small case shows the same cause by the campaign's end."""
        key = cause.key(self.origin.root)
        rc = self.causes.get(key)
        if rc is None:
            rc = self.causes[key] = RootCause(key, cause, case, seconds, output=output)
        rc.symptoms += 1
        rc.kinds[finding.kind] += 1
        if cause.cls < rc.cls:
            rc.cause = cause
        if reducing and rc.state in ("found", "reducing"):
            rc.state = "reducing"
        elif rc.state == "found" and rc.finding is None:
            self._keep(rc, finding, *_case_of(finding))
            if not deep:
                self.save(rc)
        return rc

    def reduced(self, key, finding, program, point, cause):
        """A worker's reduced case for root cause `key`: saved (again, if its class is better)."""
        rc = self.causes.get(key)
        if rc is None:
            return
        if cause.key(self.origin.root) == key and cause.cls <= rc.cls:
            rc.cause = cause
        better = rc.saved_cls is not None and cause.cls < rc.saved_cls  # an ordinary point, where an edge was shown
        if rc.state in ("found", "reducing") or (rc.state in ("confirmed", "written", "taken") and better):
            self._keep(rc, finding, program, point)
            rc.state = "found"
            self.save(rc)

    def _keep(self, rc, finding, program, point):
        rc.finding, rc.program, rc.point = finding, program, point
        rc.size = len(program) if program is not None and not isinstance(finding, MLPFinding) else None

    def save_unreduced(self):
        """Save the root causes whose reduction never came back (its worker was killed, or Ctrl-C)."""
        for rc in self:
            if rc.state == "reducing":
                rc.state = "found"
            if rc.state == "found" and rc.finding is not None:  # a deep case's, or one whose reduction died
                self.save(rc)

    def save(self, rc):
        """Queue rc's case for saving and confirming, class 1 and 2 before class 3."""
        if rc.finding is None:
            return
        rc.state = "saving"
        self._queue.put((rc.cls, next(self._order), rc.key, rc.finding, rc.program, rc.point, rc.cause))
        if self._thread is None:
            self._thread = threading.Thread(target=self._saver, name="oracle-save", daemon=True)
            self._thread.start()

    def _saver(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._record(*item[2:])
            finally:
                self._queue.task_done()

    def _record(self, key, finding, program, point, cause):
        rc = self.causes[key]
        left = None if self.hard_end is None else self.hard_end - time.monotonic()
        if left is not None and left - MARGIN < MIN_CONFIRM and (cause.cls < 3 or self.strict):
            rc.state = "unconfirmed"
            return
        if self._store is None:
            self._store = FindingStore(self.out, self.memory_mb, started=self._started)
        name = file_name(f"class{cause.cls}-{cause.method or cause.category}-{_where(cause)}")
        timeout = 60.0 if left is None else min(60.0, left - MARGIN)  # done before the campaign's end
        fails = (1,) if finding.kind not in STUCK else ("timeout", 1, *range(-64, 0), *range(2, 256))
        meta = dict(self.meta, root_cause_key=key, symptoms=rc.symptoms)
        verify = cause.cls < 3 or self.strict  # class 3 alone changes nothing: its reproducer is written, not run
        if isinstance(finding, Tamper):
            saved = self._store.record_tamper(name, finding, meta, self.origin, cause, timeout)
        elif isinstance(finding, MLPFinding):
            saved = self._store.record_mlp(name, finding, meta, self.origin, cause, timeout, fails, verify)
        else:
            saved = self._store.record(name, finding, program, point, meta, self.origin, cause, timeout, fails, verify)
        rc.reproducer_exit = saved.exit
        if saved.state in ("confirmed", "written", "taken"):
            rc.saved_cls = cause.cls
        if saved.state == "noise" and saved.exit == "timeout" and finding.kind not in STUCK:
            rc.state = "unconfirmed"  # it ran out of the campaign's time: neither confirmed nor cleared
        else:
            rc.state = saved.state
        if saved.path is not None:
            rc.path = saved.path

    def _started(self, proc):
        self._running = proc

    def close(self):
        """Stop now: what is waiting is unconfirmed, and a reproducer running is killed (its whole
        group), so that nothing outlives the campaign."""
        self._drain()
        if self._thread is not None:
            if self._running is not None:
                sandbox.kill_group(self._running.pid)
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
                self.causes[item[2]].state = "unconfirmed"
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
                rc.state = "unconfirmed"


def _where(cause):
    if cause.first:
        stem = cause.file.rsplit("/", 1)[-1].split(",")[0].removesuffix(".py").lstrip("<")
        return f"{stem}-{cause.first}"
    return cause.detail or cause.category


def _case_of(finding):
    """The (program, point) a finding is saved with; an MLP finding carries its spec, no point."""
    if isinstance(finding, MLPFinding):
        return finding.spec, None
    if isinstance(finding, Tamper):
        return None, None
    return finding.program, finding.point

"""Deep cases' own time bound: backward() on a deep graph gets what this project's micrograd needs
for it, many times over, and no more.

A correct walk visits each node once: on the fuzzer's 5,000-op chain and 6,300-op net this
project's micrograd does forward and backward in about 15 ms. A walk with no visited set, or one
that visits each path, is exponential on a graph full of diamonds, and would hold its worker until
the case's timeout. So a deep case times this project's micrograd on the same graph, in the same
worker (`bound`: FACTOR times that, never below FLOOR seconds: a slow machine scales both), and
runs the engine's backward() under that bound (`Walk`). A backward() that outruns the bound is a
finding of kind "slow": a traversal root cause, at the engine's backward. Its case is reduced to a
ladder of diamonds built in a loop (`ladder`), on which a correct walk takes microseconds and one
that visits each path never ends; there the walk is watched as it goes, counting the rules it runs
and the times it reads a node's children, and the root cause's words carry those counts.
"""
import time
import types
from contextlib import contextmanager

from oracle.backends import engine_run
from oracle.check import Finding, Report, check_program
from oracle.fuzz import engines, graph
from oracle.fuzz.timeouts import CaseTimeout, time_limit
from oracle.program import Instr, Program

FACTOR = 50  # times this project's micrograd's time for the same graph: what a correct engine stays under
FLOOR = 1.0  # seconds: never less (this project's micrograd needs ~15 ms for a deep case)
RUNGS = 40  # diamonds in a reduced ladder: 2**40 paths, 121 nodes
# One-operand ops a ladder's two sides may use, and the binary ops that join them: the first the
# case had. Tame: none of them overflows in 40 rungs.
SIDES = ("tanh", "sigmoid", "mul_c", "rmul_c", "relu", "abs", "neg", "add_c", "radd_c", "sub_c", "rsub_c")
JOINS = ("add", "mul", "sub")


class SlowWalk(CaseTimeout):
    """backward() outran its deep case's bound."""


_REFERENCE = {}


def reference():
    """This project's micrograd Value, loaded from its own files whatever `micrograd` names in this
    process (a learner's package may be called micrograd): its engine module, executed in a
    namespace of its own with its one import of the package, `ieee`, given from the same folder."""
    if "Value" not in _REFERENCE:
        ieee = types.ModuleType("micrograd.ieee")
        path = engines.OURS / "ieee.py"
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), ieee.__dict__)  # noqa: S102 (our file)
        path = engines.OURS / "engine.py"
        source = path.read_text(encoding="utf-8")
        if source.count("from micrograd import ieee\n") != 1:
            raise RuntimeError("micrograd/engine.py no longer imports ieee as `from micrograd import ieee`")
        engine = types.ModuleType("micrograd.engine")
        engine.ieee = ieee
        code = compile(source.replace("from micrograd import ieee\n", "\n"), str(path), "exec")
        exec(code, engine.__dict__)  # noqa: S102 (this project's own engine, never user input)
        _REFERENCE["Value"] = engine.Value
    return _REFERENCE["Value"]


def case_limit(seconds, points):
    """The time a whole deep case may take, its walk bound `seconds` at each of its points: the
    forward passes and torch's run fit in the second more."""
    return seconds * points + 1.0


def most(timeout, points):
    """The longest walk bound that `case_limit` keeps within a case's `timeout`: so that a walk that
    outruns its bound is "slow", never a hang, however loaded the machine that measured it (FLOOR
    still holds under a timeout too short for it)."""
    return (timeout - 1.0) / points


def bound(program, point, longest=float("inf")):
    """(seconds the engine's backward() may take on program, this project's micrograd's seconds for
    its forward and backward at point): FACTOR times that, never below FLOOR, and at most `longest`
    (see `most`) unless FLOOR is more. One run: its graph holds no reference cycle, so no garbage
    collection lands in it, and a run that a busy machine stretched only makes the bound more
    lenient, never past what the case's timeout leaves for it."""
    start = time.perf_counter()
    engine_run(program, point, reference())
    took = time.perf_counter() - start
    return max(FLOOR, min(longest, FACTOR * took)), took


class Walk:
    """backward() under a time bound: engine_run's guard (see `check_program`). Watched (`count`),
    where the engine lets it, each node's rule (`_backward`) and its children (`_prev`, or what the
    engine calls them: `graph.children_attr`) are wrapped to count how often the walk runs one and
    reads the other, and put back after: for a reduced case's few nodes (wrapping a deep case's
    6,000 would double its time)."""

    def __init__(self, seconds, reference_seconds, count=False):
        self.seconds, self.reference, self.count = seconds, reference_seconds, count
        self.rules = self.reads = self.nodes = 0

    @classmethod
    def timed(cls, program, point, count=False, longest=float("inf")):
        """A Walk bounded by this project's micrograd's time for program at point (see `bound`)."""
        return cls(*bound(program, point, longest), count=count)

    @contextmanager
    def __call__(self, nodes):
        everything = graph.nodes(nodes[-1]) if self.count and graph.has_graph(nodes[-1]) else []
        self.nodes, self.rules, self.reads = len(everything) or len(nodes), 0, 0
        undo = [u for v in everything for u in self._watch(v)]
        try:
            with time_limit(self.seconds, SlowWalk):
                yield
        finally:
            for v, name, was in reversed(undo):
                try:
                    setattr(v, name, was)
                except Exception:  # noqa: S110 (what could be set can be set back; the engine's own class)
                    pass

    def _watch(self, v):
        """Wrap v's rule and children; the (node, attribute, old value) to put back."""
        undo = []
        held = graph.children_attr(v)
        rule, kids = getattr(v, "__dict__", {}).get("_backward"), getattr(v, "__dict__", {}).get(held)
        if callable(rule):
            def counted(*args, **kwargs):
                self.rules += 1
                return rule(*args, **kwargs)
            if _set(v, "_backward", counted):
                undo.append((v, "_backward", rule))
        kind = _COUNTING.get(type(kids))
        if kind is not None and _set(v, held, kind(kids, self)):
            undo.append((v, held, kids))
        return undo

    def summary(self):
        """What the walk had done when it was stopped, in a learner's words."""
        took = (f"this project's micrograd does the forward and backward pass on it in "
                f"{self.reference * 1e3:.2g} ms")
        if self.reads > 2 * self.nodes or self.rules > self.nodes:
            return (f"backward() visits each path, not each node: it had read a node's children {self.reads:,} "
                    f"times and run {self.rules:,} rules on a graph of {self.nodes:,} nodes when it was stopped "
                    f"after {self.seconds:.2g} s ({took})")
        counts = f"; it had run {self.rules:,} rules" if self.rules else ""
        return (f"backward() had not finished on a graph of {self.nodes:,} nodes after {self.seconds:.2g} s, "
                f"where {took}{counts}")


def _set(v, name, value):
    try:
        setattr(v, name, value)
    except (AttributeError, TypeError):
        return False
    return v.__dict__.get(name) is value


def _counting(base):
    class Counting(base):
        """The engine's own children, counted each time the walk reads them."""
        def __new__(cls, items, walk):
            made = super().__new__(cls, items)
            made._walk = walk
            return made

        def __init__(self, items, walk):
            if base in (list, set):  # the mutable ones take their items here
                super().__init__(items)

        def __iter__(self):
            self._walk.reads += 1
            return super().__iter__()
    Counting.__name__ = Counting.__qualname__ = base.__name__
    return Counting


_COUNTING = {base: _counting(base) for base in (tuple, list, set, frozenset)}


def check(program, points, Engine, report=None, watch=None, walk=None):
    """check_program with backward() under `walk` (a Walk): a report whose finding is of kind "slow"
    when backward() outran it."""
    report = report if report is not None else Report()
    watch = watch if watch is not None else [-1.0, -1.0]
    try:
        return check_program(program, points, Engine, report, watch, guard=walk)
    except SlowWalk:
        b = int(watch[0]) if 0 <= watch[0] < len(points) else 0
        report.findings.append(Finding("slow", None, "", list(points[b]), detail=walk.summary(), program=program,
                                       limit=walk.seconds))
        return report


def ladder(program, rungs=RUNGS):
    """A ladder of diamonds, built from ops the deep `program` had (the engine gets them right): each
    rung makes two nodes from the one before and joins them, `x = side(x) + side(x)`, so the graph
    has 2 paths per rung and 3 nodes. None when the program has no side or no join."""
    had = {ins.op: ins for ins in program.instrs}
    side = next((had[o] for o in SIDES if o in had), None)
    join = next((o for o in JOINS if o in had), None)
    if side is None or join is None:
        return None
    instrs = []
    for k in range(rungs):
        x = 3 * k
        instrs += [Instr(side.op, (x,), side.c), Instr(side.op, (x,), side.c), Instr(join, (x + 1, x + 2))]
    return Program(1, tuple(instrs))

"""A new root cause's first finding made small, in the worker that found it, before it is saved.

`reduce.reduce_case` runs the reduction passes; this module decides what "fails the same way"
means: a candidate fails the same way when its finding has the same root cause (`diagnose.Cause`
key: the same function of the engine at fault) in a class no worse than the original's (a bug
found at ordinary inputs keeps an ordinary point; one found at an edge input is first tried with
ordinary values in its place, and if it is wrong there too it is class 1, and reduced as such), and
shows where a reproducer looks, in the output's value or an input's gradient. So before the passes
start, the case is *localised*: a wrong value is made the output (the program cut there), a wrong
gradient of an interior node is made an input's (the node replaced by an input holding the
engine's own value), and a reproducer can only pass once the bug is gone.

A recursion in backward() on a deep graph is reduced to a plain chain of one op (`x = x * 1.0`,
or another op the deep case had: it was built from ops the engine gets right) of the fewest nodes
that still overflow, which the printer writes as a loop. An MLP finding loses batch
rows. Every candidate is bounded by the case time limit, and the whole reduction by a deadline
(the campaign's budget is shared by its reductions).
"""
import time
from dataclasses import replace

import numpy as np

from oracle.backends import EngineError, engine_run, torch_run
from oracle.check import check_program, close
from oracle.fuzz import deep
from oracle.fuzz.diagnose import diagnose, edge
from oracle.fuzz.timeouts import TIMEOUT, CaseTimeout, time_limit
from oracle.mlp import MLPFinding, check_mlp
from oracle.program import Instr, Program

REDUCE_SECONDS = 10.0  # per new root cause: the reducer's budget, after which the best case so far is kept
CLASS3_SECONDS = 0.5  # the budget for a class-3 one (Python float semantics): it should not hold up the rest
# Kinds not worth reducing: a hang or a crash costs a timeout or a process per candidate.
UNREDUCED = {"timeout", "crash", "memory"}
CHAIN_LENGTHS = (1000, 2000, 5000, 10000)  # a recursion's chain: the shortest of these that still overflows
# The op a recursion's chain repeats: the first of these that its deep case had.
CHAIN_OPS = ("mul_c", "rmul_c", "add_c", "radd_c", "sub_c", "rsub_c", "relu", "abs", "tanh", "sigmoid", "neg", "add",
             "mul", "sub")
ORDINARY = (0.5, 1.5, -0.75, 2.0, -1.25)  # what stands in for an edge input to see if a bug is class 1
MAX_CUTS = 64  # a program up to this long is also tried cut at each node after the failing one


class Reduction:
    """What "fails the same way" means for one root cause, and the checks that decide it."""

    def __init__(self, cause, Engine, root="", through_nn=False, timeout=TIMEOUT, deadline=None):
        self.key, self.cls = cause.key(root), cause.cls
        self.signature = None  # the localised finding's kind and op: a candidate without them is not diagnosed
        self.Engine, self.root, self.through_nn, self.timeout = Engine, root, through_nn, timeout
        self.deadline = deadline if deadline is not None else time.monotonic() + REDUCE_SECONDS

    def left(self):
        return self.deadline - time.monotonic()

    def same(self, run):
        """The finding of run() (a check), with its cause, when it fails the same way; else None.
        Past the deadline every candidate "passes", so the reducer ends with the best case so far."""
        if self.left() <= 0:
            return None
        try:
            with time_limit(min(self.timeout, max(self.left(), 0.05))):
                report = run()
                f = report.findings[0] if report.findings else None
                if f is None or self.signature not in (None, f.signature):
                    return None  # most candidates: not worth a diagnosis
                c = diagnose(f, self.Engine, self.root, self.through_nn)
        except (Exception, CaseTimeout):  # a candidate that hangs or breaks the oracle is no reduction
            return None
        return (f, c) if c.key(self.root) == self.key and c.cls <= self.cls else None

    def program(self, program, point):
        return self.same(lambda: check_program(program, [point], self.Engine))

    def visible(self, program, point):
        """Whether the engine's output value or an input's gradient is not close to torch's at point
        (or the engine raises): what a reproducer script checks."""
        try:
            with time_limit(min(self.timeout, max(self.left(), 0.05))):
                data, grad = engine_run(program, point, self.Engine)
        except EngineError:
            return True
        except (Exception, CaseTimeout):
            return False
        values, grads = torch_run(program, np.array(point, dtype=np.float64).reshape(-1, 1))
        n = program.n_inputs
        return not close([data[-1], *grad[:n]], [values[-1, 0], *grads[:n, 0]]).all()


def reduce_finding(finding, cause, Engine, root="", through_nn=False, timeout=TIMEOUT, budget=REDUCE_SECONDS,
                   points=(), deadline=None):
    """(finding, program or MLPSpec, point, cause, shown) reduced: smaller, failing the same way.
    shown: whether the case shows the bug where its reproducer looks (False: no localisation did, and
    the case is the one found). `points` are the case's other input points; `deadline`
    (time.monotonic()) caps `budget`."""
    end = time.monotonic() + (min(budget, CLASS3_SECONDS) if cause.cls == 3 else budget)
    red = Reduction(cause, Engine, root, through_nn, timeout, min(end, deadline) if deadline else end)
    if isinstance(finding, MLPFinding):
        return (*_reduce_mlp(finding, cause, red), True)  # its reproducer compares every step
    if cause.category == "traversal" and cause.detail == "recursion":
        chain = _shortest_chain(finding, red)
        if chain is not None:
            return (*chain, True)
    if cause.category == "traversal" and cause.detail == "slow":
        found = _ladder(finding, red)
        return (*found, True) if found is not None else (finding, finding.program, finding.point, cause, True)
    from oracle.fuzz import reduce  # the reducer is only needed once a bug is found

    start = None
    if red.cls == 2:  # seen at an edge input: wrong at ordinary ones too, it is class 1 (and reduced as such)
        red.cls = 1
        start = _localised(finding, red, _ordinary(finding.point, points))
        red.cls = 2 if start is None else 1
    start = start or _localised(finding, red, [finding.point, *points])
    if start is None:
        return finding, finding.program, finding.point, cause, False
    finding, cause = start
    red.signature = finding.signature

    def fails(program, point):
        return red.program(program, point) is not None and red.visible(program, point)

    program, point = reduce.reduce_case(finding.program, finding.point, fails, deadline=red.deadline)
    red.deadline = float("inf")  # the final check of the reduced case is not a candidate
    reduced = red.program(program, point)
    if reduced is None:  # the engine does not fail the same way twice: keep the localised case
        return finding, finding.program, finding.point, cause, True
    return reduced[0], program, point, reduced[1], True


def _localised(finding, red, points):
    """(finding, cause) of a case that fails the same way and shows it where a reproducer looks:
    the found case itself, or it cut at its wrong value, or its wrong interior gradient made an
    input's; tried at each of `points` in turn. None when none does."""
    for point in points:
        for program, at in _localisations(finding, point):
            found = red.program(program, at)
            if found is not None and red.visible(program, at):
                return found
    return None


def _ordinary(point, others):
    """Input points without an edge value, to try a finding seen at an edge input at: the point with
    its edge inputs replaced by ordinary values (a few choices), then the case's other points that
    have none."""
    edges = [i for i, x in enumerate(point) if edge(x)]
    tried = []
    for k in range(len(ORDINARY) if edges else 0):
        p = list(point)
        for j, i in enumerate(edges):  # each edge input its own value, so two of them need not be equal
            p[i] = ORDINARY[(k + j) % len(ORDINARY)]
        tried.append(p)
    return tried + [list(p) for p in others if not any(edge(x) for x in p)]


def _localisations(finding, point):
    """Cases to start from, the most local first: the case itself, then its wrong value made the
    output (or its wrong interior gradient an input's), then the program cut at each later node (an
    op that changes an earlier node's data shows only from where it does so)."""
    from oracle.fuzz.reduce import rebuild
    program, k = finding.program, finding.node
    yield program, point
    if not isinstance(k, int):
        return
    n = program.n_inputs
    if finding.kind == "value" and n <= k < program.n_nodes - 1:
        cut = rebuild(n, program.instrs, k)
        if cut is not None:
            yield cut, point
    if finding.kind == "grad" and n <= k < program.n_nodes - 1:
        values, _ = torch_run(program, np.array(point, dtype=np.float64).reshape(n, 1))
        shifted = [Instr(i.op, tuple(a if a < n else a + 1 for a in i.args), i.c) for i in program.instrs]
        as_input = rebuild(n + 1, shifted, program.n_nodes, {k + 1: n})
        if as_input is not None:
            yield as_input, [*point, float(values[k, 0])]
    if program.n_nodes <= MAX_CUTS:
        for later in range(max(k, n) + 1, program.n_nodes - 1):
            cut = rebuild(n, program.instrs, later)
            if cut is not None:
                yield cut, point


def _shortest_chain(finding, red):
    """A recursion in backward() on a deep graph as the shortest chain of one op (see chain_step)
    of CHAIN_LENGTHS that still fails the same way, or None."""
    step = chain_step(finding.program)
    for n in CHAIN_LENGTHS:
        program = Program(1, tuple(step(k) for k in range(n)))
        found = red.program(program, [0.5])
        if found is not None:
            red.deadline = float("inf")
            return found[0], program, [0.5], found[1]
        if red.left() <= 0:
            break
    return None


def _ladder(finding, red):
    """A backward() that outran a deep case's bound, on a ladder of diamonds built in a loop
    (`deep.ladder`): (finding, program, point, cause) when it fails the same way there, or None."""
    program, point = deep.ladder(finding.program), [0.5]
    if program is None:
        return None
    walk = deep.Walk.timed(program, point, count=True, longest=deep.most(red.timeout, 1))
    found = red.same(lambda: deep.check(program, [point], red.Engine, walk=walk))
    if found is None:
        return None
    red.deadline = float("inf")
    return found[0], program, point, found[1]


def chain_step(program):
    """k -> the instruction that makes node k + 1 of a plain chain from the node before: `x * 1.0`
    when the program has that op, else the first of CHAIN_OPS it has (its own constant; a binary
    op's other operand the input x0), else `x * 1.0`."""
    had = {ins.op: ins for ins in (program.instrs if program is not None else ())}
    name = next((o for o in CHAIN_OPS if o in had), "mul_c")
    c = 1.0 if name == "mul_c" else had[name].c
    if name in ("add", "mul", "sub"):
        return lambda k: Instr(name, (k, 0), c)
    return lambda k: Instr(name, (k,), c)


def _reduce_mlp(finding, cause, red):
    """An MLP finding with batch rows dropped while it fails the same way; one seen with an edge
    input (an X of 0.0, say) is first tried with ordinary values in their place, as a program's
    point is: if it is wrong there too, it is class 1."""
    spec, steps = finding.spec, finding.step
    if red.cls == 2 and any(edge(x) for row in spec.X for x in row):
        ordinary = replace(spec, X=tuple(tuple(ORDINARY[(r + c) % len(ORDINARY)] if edge(x) else x
                                               for c, x in enumerate(row)) for r, row in enumerate(spec.X)))
        red.cls = 1
        found = red.same(lambda: check_mlp(ordinary, red.Engine, steps=steps, through_nn=red.through_nn))
        if found is not None:
            spec, (finding, cause) = ordinary, found
        else:
            red.cls = 2
    for i in reversed(range(len(spec.X))):
        if len(spec.X) > 1:
            smaller = replace(spec, X=spec.X[:i] + spec.X[i + 1:], y=spec.y[:i] + spec.y[i + 1:])
            found = red.same(lambda s=smaller: check_mlp(s, red.Engine, steps=steps, through_nn=red.through_nn))
            if found is not None:
                spec, (finding, cause) = smaller, found
    return finding, spec, None, cause

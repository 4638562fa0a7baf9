"""Shrink a failing case (a program and one input point) to a small case that fails the same way.

Hypothesis's shrinker and C-Reduce's lesson: deterministic passes, each trying smaller candidates
in a fixed order and keeping the first that still fails, repeated until a full sweep changes
nothing. The caller's `fails(program, point)` decides what "fails the same way" means (the oracle
asks for the same kind and the same op), so a reduction never drifts to a different bug.

Every candidate is strictly smaller than the case it comes from (fewer ops; or as many ops and fewer
inputs; or one constant or input simpler), so the reduction terminates, and every candidate is built
through Program(), which validates it, so the result is always a valid program.
"""
import math
import time

import numpy as np

from oracle.backends import torch_run
from oracle.ops import OPS
from oracle.program import Instr, Program

FLOATS = (0.0, 1.0, -1.0, 0.5, 2.0)  # simplest first
INTS = (0, 1, -1, 2)  # int exponents stay int: pow_int's template prints `x ** 2`, not `x ** 2.0`


def reduce_case(program, point, fails, max_calls=5000, deadline=None):
    """The smallest case the passes reach from (program, point) for which fails() stays True, as
    (program, point). A case that does not fail to begin with comes back unchanged. At most
    max_calls calls of fails(), and nothing past `deadline` (a time.monotonic() value): the best
    case so far is returned, so that a slow check or a long program cannot stall a campaign."""
    test = _Tester(fails, max_calls, deadline)
    point = tuple(float(x) for x in point)
    if not test(program, point):
        return program, list(point)
    program = _bisect_cut(program, point, test)
    while True:
        before = _key(program, point)
        for candidates in PASSES:
            program, point = _greedy(program, point, candidates, test)
        if _key(program, point) == before or test.spent:
            return program, list(point)


class _Tester:
    """fails(), remembered per case: after a pass accepts a candidate it starts over, and most of
    the candidates it meets again are ones already tried."""

    def __init__(self, fails, max_calls, deadline=None):
        self.fails, self.max_calls, self.deadline, self.calls, self.seen = fails, max_calls, deadline, 0, {}

    @property
    def spent(self):
        """The budget is used up: no more calls, and the passes stop where they are."""
        return self.calls >= self.max_calls or (self.deadline is not None and time.monotonic() > self.deadline)

    def __call__(self, program, point):
        key = _key(program, point)
        if key not in self.seen:
            if self.spent:
                return False
            self.calls += 1
            self.seen[key] = bool(self.fails(program, list(point)))
        return self.seen[key]


def _key(program, point):
    # By repr, not ==: 0.0 == -0.0, 2 == 2.0 and nan != nan, and each pair differs in a program.
    return (program.n_inputs, tuple((i.op, i.args, repr(i.c)) for i in program.instrs), tuple(map(repr, point)))


def _bisect_cut(program, point, test):
    """The program cut at the earliest node where it still fails, found by bisection. A failure
    that arises at one node usually persists at every node after it, so a long program (a deep
    chain of a thousand ops) costs log2(n) checks here rather than the n of the passes below,
    which then finish the job whether or not that assumption held."""
    n = program.n_inputs
    lo, hi = n, program.n_nodes - 1
    while lo < hi:
        mid = (lo + hi) // 2
        p = rebuild(n, program.instrs, mid)
        if p is not None and test(p, point):
            hi = mid
        else:
            lo = mid + 1
    p = rebuild(n, program.instrs, hi)
    return p if _smaller(program, p) and test(p, point) else program


def _greedy(program, point, candidates, test):
    """Take the first candidate that still fails, then look again from there, until none does."""
    progress = True
    while progress and not test.spent:
        progress = False
        for candidate in candidates(program, point):
            if test.spent:
                break
            if test(*candidate):
                program, point = candidate
                progress = True
                break
    return program, point


# --- building candidates ---

def rebuild(n_inputs, instrs, out, alias=None):
    """The program that computes node `out` of the SSA list (n_inputs, instrs), every node in `alias`
    replaced by the (earlier) node it maps to, ops that `out` does not need dropped, survivors
    renumbered. None when no op is left or the result is not a valid program."""
    alias = alias or {}

    def resolve(i):
        while i in alias:
            i = alias[i]
        return i

    out = resolve(out)
    live, stack = set(), [out]
    while stack:
        k = stack.pop()
        if k >= n_inputs and k not in live:
            live.add(k)
            stack.extend(resolve(a) for a in instrs[k - n_inputs].args)
    index = {i: i for i in range(n_inputs)}
    new = []
    for k in sorted(live):  # out is the largest: it depends on all the others
        ins = instrs[k - n_inputs]
        index[k] = n_inputs + len(new)
        new.append(Instr(ins.op, tuple(index[resolve(a)] for a in ins.args), ins.c))
    return _program(n_inputs, new)


def _program(n_inputs, instrs):
    try:
        return Program(n_inputs, tuple(instrs))
    except ValueError:
        return None


def _smaller(program, candidate):
    return candidate is not None and len(candidate) < len(program)


# --- the passes: each yields (program, point) candidates, most reduction first ---

def _drop_dead(program, point):
    """Drop the ops that do not reach the output."""
    p = rebuild(program.n_inputs, program.instrs, program.n_nodes - 1)
    if _smaller(program, p):
        yield p, point


def _cut(program, point):
    """Make an earlier node the output, smallest resulting program first."""
    n = program.n_inputs
    cuts = [rebuild(n, program.instrs, k) for k in range(n, program.n_nodes - 1)]
    yield from ((p, point) for p in sorted((p for p in cuts if _smaller(program, p)), key=len))


def _by_argument(program, point):
    """Replace an op by one of its operands: its users use the operand instead."""
    n, last = program.n_inputs, program.n_nodes - 1
    for k in range(last, n - 1, -1):
        for a in dict.fromkeys(program.instrs[k - n].args):
            p = rebuild(n, program.instrs, last, {k: a})
            if _smaller(program, p):
                yield p, point


def _by_input(program, point):
    """Replace an op by a fresh input that holds torch's value of it at this point (and drop what
    only fed it): a bug downstream of the op does not need how its operand was computed."""
    n, last = program.n_inputs, program.n_nodes - 1
    if last - 1 < n:
        return
    values, _ = torch_run(program, np.array(point, dtype=np.float64).reshape(n, 1))
    # The fresh input becomes node n; every op moves up by one.
    shifted = [Instr(i.op, tuple(a if a < n else a + 1 for a in i.args), i.c) for i in program.instrs]
    for k in range(last - 1, n - 1, -1):
        p = rebuild(n + 1, shifted, last + 1, {k + 1: n})
        if _smaller(program, p):
            yield p, (*point, float(values[k, 0]))


def _unused_inputs(program, point):
    """Drop inputs that no op uses: all at once, then one at a time."""
    used = {a for ins in program.instrs for a in ins.args}
    unused = [i for i in range(program.n_inputs) if i not in used]
    for drop in ([unused] if len(unused) > 1 else []) + [[i] for i in unused]:
        keep = [i for i in range(program.n_inputs) if i not in drop]
        index = {old: new for new, old in enumerate(keep)}
        index.update({k: k - len(drop) for k in range(program.n_inputs, program.n_nodes)})
        p = _program(len(keep), [Instr(i.op, tuple(index[a] for a in i.args), i.c) for i in program.instrs])
        if p is not None:
            yield p, tuple(point[i] for i in keep)


def _constants(program, point):
    """Simplify one constant toward 0, 1, -1, 0.5, 2, or to fewer digits (an int stays an int)."""
    instrs = list(program.instrs)
    for j, ins in enumerate(instrs):
        if ins.c is None:
            continue
        for c in _simpler(int(ins.c) if OPS[ins.op].const == "int" else ins.c):
            p = _program(program.n_inputs, instrs[:j] + [Instr(ins.op, ins.args, c)] + instrs[j + 1:])
            if p is not None:
                yield p, point


def _inputs(program, point):
    """Simplify one input value toward 0.0, 1.0, -1.0, 0.5, 2.0, or to fewer digits."""
    for i, x in enumerate(point):
        for y in _simpler(x):
            yield program, point[:i] + (y,) + point[i + 1:]


def _simpler(x):
    """Values strictly simpler than x, simplest first: the targets of x's type, then x rounded to
    1, 2, ... significant digits where that shortens its repr."""
    rank = _rank(x)
    out = [t for t in (INTS if isinstance(x, int) else FLOATS) if _rank(t) < rank]
    if isinstance(x, float) and math.isfinite(x):
        for digits in range(1, 17):
            y = float(f"{x:.{digits}g}")
            if _rank(y) < rank and all(repr(y) != repr(z) for z in out):
                out.append(y)
    return out


def _rank(x):
    """Simplicity, smaller is simpler: a target by its place in the list, then anything by the
    length of its repr (so -0.0 ranks after 0.0, and 0.25 before 0.2500001)."""
    targets = [repr(t) for t in (INTS if isinstance(x, int) else FLOATS)]
    r = repr(x)
    return (0, targets.index(r)) if r in targets else (1, len(r))


PASSES = (_drop_dead, _cut, _by_argument, _by_input, _unused_inputs, _constants, _inputs)

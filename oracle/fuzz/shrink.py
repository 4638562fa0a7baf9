"""A new finding made small, in the process that found it, before it is saved.

`reduce.reduce_case` runs the reduction passes; this module decides what "fails the same way"
means for a finding (the same signature, and, when the found case shows its bug in the output or
the inputs' gradients, still there), bounds each candidate by the case time limit and the whole
reduction by a budget, and shrinks an MLP finding by dropping batch rows.
"""
import math
import time
from dataclasses import replace

import numpy as np

from oracle.backends import EngineError, engine_run, torch_run
from oracle.check import check_program, close
from oracle.fuzz.timeouts import TIMEOUT, CaseTimeout, time_limit
from oracle.mlp import MLPFinding, check_mlp

REDUCE_SECONDS = 10.0  # per new finding: the reducer's budget, after which the best case so far is kept
# Kinds not worth reducing: a hang or a crash costs a timeout or a process per candidate, and a
# recursion overflow needs the depth it has.
UNREDUCED = {"timeout", "crash", "recursion"}


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
    from oracle.fuzz import reduce  # the reducer is only needed once a bug is found

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

    program, point = reduce.reduce_case(finding.program, finding.point, fails, deadline=deadline)
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

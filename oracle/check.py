"""Compare an engine with PyTorch float64 on a program, node by node, and explain any mismatch.

Two stages. First, every node's value and every node's gradient from the engine is compared
with torch's, vectorised over a batch of input points, with a combined tolerance
|a - b| <= ATOL + RTOL * max(|a|, |b|) (non-finite values by class: nan, +inf, -inf). That is
tight enough to catch data rounded through float32 (~1e-8), and float64 noise amplified by an
ill-conditioned program can trip it.

So, second, a flagged point is re-checked locally: each node is recomputed by torch from the
*engine's own* operand values (and each gradient from the engine's own upstream gradients), and
fails only when it differs from that by more than what float64 does to one op (a few ulps of its
own size, however small: `tolerance.locally_close`) and by more than the global RTOL too. There is
no absolute floor: 0 where torch gives 1e-300 fails at that node, not at the log after it.
A correct engine passes every local check, however much noise it inherited; a wrong derivative,
a lost `+=`, a bad topological order or a float32 rounding fails at the first node it touches.
Where torch and the engine disagree locally on finite numbers, mpmath decides which is closer
to the exact result. What remains is a finding; what is resolved is counted as noise.

`check_program` is what the suite and the fuzzer use; `compare_nodes` is the same comparison at one
point as one record per node, for properties a user writes (`oracle.testing` exports it too).
"""
import math
from dataclasses import dataclass, field

import mpmath as mp
import numpy as np

from oracle.backends import EngineError, engine_run, torch_local, torch_run
from oracle.ops import OPS
from oracle.program import float_source
from oracle.tolerance import ALLOW, ATOL, EPS, RTOL, locally_close, ulps


def close(a, b, rtol=RTOL, atol=ATOL):
    """Elementwise: equal class when either is non-finite, else within the combined tolerance."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(a) & np.isfinite(b)
        near = np.abs(a - b) <= atol + rtol * np.maximum(np.abs(a), np.abs(b))
        return np.where(finite, near, (a == b) | (np.isnan(a) & np.isnan(b)))


@dataclass
class Finding:
    kind: str  # value | grad | raise | complex | not-a-number | recursion | memory | timeout | crash
    node: int | None  # the first divergent node (None: the backward pass as a whole)
    op: str  # the op at fault: the node's own for a value, its consumers' backward rules for a gradient
    point: list  # the input values
    engine: float | None = None
    torch: float | None = None
    detail: str = ""
    program: object = None  # the Program it was found in
    limit: float | None = None  # a timeout's: the seconds the engine was given, which its reproducer gives it too
    # backends.torch_point of the case it is saved with, put on by the worker that found it (see workers)
    torch_values: list | None = None

    @property
    def signature(self):
        """Findings that fail the same way share a signature: kind and op."""
        return f"{self.kind}-{self.op or 'backward'}"

    def message(self):
        program = self.program
        where = "the backward pass" if self.node is None else (
            f"node {program.line(self.node)}" if self.node >= program.n_inputs else f"input {program.name(self.node)}")
        point = ", ".join(f"{program.name(i)}={float_source(x)}" for i, x in enumerate(self.point))
        if self.kind in ("value", "grad"):
            what = "Values" if self.kind == "value" else "Gradients"
            quantity = "value of" if self.kind == "value" else "gradient of the output with respect to"
            lines = [f"{what} are not close!", "",
                     f"Mismatched {quantity} {where}, at {point}",
                     f"engine={self.engine!r}  torch={self.torch!r}"]
            a, b = self.engine, self.torch
            if math.isfinite(a) and math.isfinite(b):
                absd = abs(a - b)
                reld = absd / abs(b) if b else math.inf
                lines += [f"Absolute difference: {absd:.3g} (up to {ATOL:g} allowed)",
                          f"Relative difference: {reld:.3g} (up to {RTOL:g} allowed)"]
            if self.detail:
                lines.append(self.detail)
        else:
            lines = [f"The engine failed ({self.kind}) at {where}, at {point}", self.detail]
            if self.torch is not None:
                lines.append(f"torch={self.torch!r}")
        return "\n".join(lines + ["", program.source()])


@dataclass
class Report:
    points: int = 0  # input points checked
    checks: int = 0  # node checks: one per node per point, value and gradient
    noise: int = 0  # points where stage one flagged and every local check passed
    domain: int = 0  # points where the engine failed by Python float semantics (see python_float)
    findings: list = field(default_factory=list)


# Python's float arithmetic raises where IEEE (and so torch) answers with inf, nan or a number:
# 1/0.0, 0.0 ** -1, math.exp(710), math.log(0); and `**` gives a complex number for a negative base.
# How the exception's text (`Type: message`) starts:
PYTHON_FLOAT_ERRORS = ("ZeroDivisionError", "OverflowError", "ValueError: math domain error")


def python_float(finding):
    """Whether a finding may be Python float semantics where torch answers inf or nan: a complex
    number, or an exception where torch's value for the node is inf or nan (an `assert x > 0` in log
    is the same as math.log's refusal) or that float arithmetic raises. The diagnosis decides its
    class from the op it failed in (`oracle.fuzz.diagnose.answer`); here it only waits behind a
    point of the batch that shows something else."""
    if finding.kind == "complex":
        return True
    if finding.kind != "raise":
        return False
    return finding.detail.startswith(PYTHON_FLOAT_ERRORS) or (
        finding.torch is not None and not math.isfinite(finding.torch))


def check_program(program, points, Engine, report=None, watch=None, guard=None):
    """Check `program` at each input point; return a Report that stops at the first finding. A
    Python-float failure (`python_float`) does not hide a real bug at another point of the batch:
    it is the finding only when no point shows anything else. watch: a sequence whose [0] is set
    to the index of the point the engine runs, and [1] to its node; guard: what backward() runs in
    (see `backends.engine_run`)."""
    report = report if report is not None else Report()
    tv, tg = torch_run(program, np.array(points, dtype=np.float64).T)
    runs = []  # (point index, data, grad) for the points the engine ran through
    deferred = None
    for b, xs in enumerate(points):
        report.points += 1
        if watch is not None:
            watch[0] = b
        try:
            data, grad = engine_run(program, xs, Engine, watch, guard)
        except EngineError as e:
            # An op that raises on a wrong operand (log of the 0 that a tanh gave for 1e-300) is not
            # the op at fault, and not Python float semantics: the node that made the operand is.
            tb = tv[:, b]
            finding = (e.data and local_values(program, xs, e.data, tb)) or _engine_error(e, program, xs, tb)
            if not python_float(finding):
                return _found(report, finding, program)
            report.domain += 1
            deferred = deferred or finding
            continue
        runs.append((b, data, grad))
    if runs:
        cols = [b for b, _, _ in runs]
        ok = (close(np.array([d for _, d, _ in runs]).T, tv[:, cols]).all(axis=0)
              & close(np.array([g for _, _, g in runs]).T, tg[:, cols]).all(axis=0))
        report.checks += program.n_nodes * len(runs)
        for (b, data, grad), fine in zip(runs, ok):
            if fine:
                continue
            finding = local_check(program, points[b], data, grad, tv[:, b], tg[:, b])
            if finding is not None:
                return _found(report, finding, program)
            report.noise += 1
    return _found(report, deferred, program) if deferred else report


def _found(report, finding, program):
    finding.program = program
    report.findings.append(finding)
    return report


def _engine_error(e, program, xs, tvals):
    node = e.node if isinstance(e.node, int) else None
    op = program.instrs[node - program.n_inputs].op if node is not None and node >= program.n_inputs else ""
    want = float(tvals[node]) if node is not None and node < len(tvals) else None
    return Finding(e.kind, node, op, list(xs), None, want, e.detail)


@dataclass(frozen=True)
class NodeCheck:
    """One node of a program at one input point, in the engine and in torch float64."""
    node: int  # its index: inputs first, then one per op
    name: str  # x0, x1, ... t3, t4, ...
    line: str  # its line of the program's source (`t7 = t3 * t5`; an input is just its name)
    engine_value: float
    torch_value: float
    engine_grad: float  # the gradient of the output with respect to this node
    torch_grad: float
    value_close: bool  # within |a - b| <= ATOL + RTOL * max(|a|, |b|), non-finite values by class
    grad_close: bool
    noise: bool = False  # not close, but the local re-check clears the point: float64 noise from earlier nodes

    @property
    def close(self):
        return self.value_close and self.grad_close

    @property
    def ok(self):
        """Close, or cleared as inherited noise: what the fuzzer counts as agreeing."""
        return self.close or self.noise

    def __str__(self):
        verdict = "ok" if self.close else "noise" if self.noise else "MISMATCH"
        return (f"{self.line:<20} value {self.engine_value!r} (torch {self.torch_value!r})  "
                f"grad {self.engine_grad!r} (torch {self.torch_grad!r})  {verdict}")


def compare_nodes(program, point, Engine):
    """Run `program` at one input point in `Engine` (any micrograd-style Value class) and in torch
    float64; a NodeCheck per node, inputs first. A point where some node is not close is re-checked
    locally (`local_check`): when that finds nothing, the disagreement is inherited float64 noise and
    the nodes that are not close say `noise`. Raises EngineError when the engine raises or a node's
    data or grad is not a real number; ValueError when the point has the wrong length."""
    point = [float(x) for x in point]
    if len(point) != program.n_inputs:
        raise ValueError(f"the program has {program.n_inputs} input(s), the point {len(point)}")
    data, grad = engine_run(program, point, Engine)
    tv, tg = torch_run(program, np.array([point], dtype=np.float64).T)
    tv, tg = tv[:, 0], tg[:, 0]
    value_ok, grad_ok = close(data, tv), close(grad, tg)
    noise = not (value_ok.all() and grad_ok.all()) and local_check(program, point, data, grad, tv, tg) is None
    n0 = program.n_inputs
    return [NodeCheck(i, program.name(i), program.line(i) if i >= n0 else program.name(i), data[i], float(tv[i]),
                      grad[i], float(tg[i]), bool(value_ok[i]), bool(grad_ok[i]),
                      noise and not (value_ok[i] and grad_ok[i]))
            for i in range(program.n_nodes)]


def local_check(program, xs, data, grad, tvals, tgrads):
    """Recompute each node from the engine's own operands; the first node that fails is the
    finding, or None when the disagreement with torch is inherited float64 noise."""
    n0 = program.n_inputs
    finding = local_values(program, xs, data, tvals)
    if finding is not None:
        return finding
    users, live = program.consumers(), program.live()
    for i in reversed(range(program.n_nodes)):
        want, allowed = 1.0, 0.0  # the output's gradient is the seed
        if i != program.n_nodes - 1:
            terms = []
            for k, pos in users[i]:
                if not live[k]:
                    continue
                ins = program.instrs[k - n0]
                _, contrib = torch_local(OPS[ins.op], [data[a] for a in ins.args], ins.c, grad[k])
                n, floor = ALLOW.get(ins.op, ALLOW["default"])
                terms.append(contrib[pos])
                allowed += ulps(n, contrib[pos]) + (ulps(floor, grad[k]) if floor else 0.0)
            want = math.fsum(terms) if all(map(math.isfinite, terms)) else sum(terms)
            allowed += 4 * EPS * sum(abs(t) for t in terms)
        got = grad[i]
        if not locally_close(got, want, allowed) and not _nearer_exact_gradient(got, want, program, users[i], live,
                                                                                 data, grad):
            # Every later node passed, so the wrong backward rule is a consumer's (or the seed's).
            rules = sorted({program.instrs[k - n0].op for k, _ in users[i] if live[k]}) or ["seed"]
            return Finding("grad", i, "+".join(rules), list(xs), got, float(tgrads[i]),
                           f"Locally, the chain rule from micrograd's own upstream gradients gives {want!r}.")
    return None


def local_values(program, xs, data, tvals):
    """The first of the nodes the engine made (`data`: their values, all of them or the first few)
    whose value is not what torch computes from the engine's own operands, as a finding; None when
    each is. tvals: torch's values of the program's nodes at xs."""
    n0 = program.n_inputs
    for i, x in enumerate(xs[:len(data)]):  # an engine may store its inputs imprecisely (float32, say)
        if not bool(close(data[i], x, 0.0, 0.0)):
            return Finding("value", i, "", list(xs), data[i], x, "The engine does not hold the input as given.")
    for k in range(n0, len(data)):
        ins = program.instrs[k - n0]
        op = OPS[ins.op]
        args = [data[a] for a in ins.args]
        want, _ = torch_local(op, args, ins.c, 1.0)
        if not _locally_close(data[k], want, op, args, ins.c):
            return Finding("value", k, ins.op, list(xs), data[k], float(tvals[k]),
                           f"Locally, torch computes {want!r} from micrograd's own operands "
                           f"{', '.join(map(repr, args))}.")
    return None


def _nearer_exact_gradient(got, want, program, users, live, data, grad):
    """Whether the engine's gradient of a node (users: its consumers, as (node, operand position);
    live: which nodes the output depends on) is nearer the exact chain rule (mpmath, from the
    engine's own operands and upstream gradients) than torch's is: torch flushes a subnormal power
    to 0 (`pow(1.5e159, -2.0)` is 0.0 where it is 4.4e-319), and the engine that keeps it is right."""
    if not (math.isfinite(got) and math.isfinite(want)) or not users:  # the output's is the seed
        return False
    with mp.workdps(40):
        exact = mp.mpf(0)
        for k, pos in users:
            if not live[k]:
                continue
            ins = program.instrs[k - program.n_inputs]
            try:
                d = OPS[ins.op].derivs(*[mp.mpf(data[a]) for a in ins.args], ins.c)[pos]
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                return False
            exact += mp.mpf(grad[k]) * d
        if not mp.isfinite(exact) or isinstance(exact, mp.mpc):
            return False
        return _nearer(got, want, float(exact))


def _locally_close(got, want, op, args, c):
    """The engine's value of one op is within its allowance of torch's (`tolerance.locally_close`),
    or nearer the exact value than torch's is (mpmath decides when the two disagree on finite
    numbers)."""
    if locally_close(got, want, ulps(ALLOW.get(op.name, ALLOW["default"])[0], max(abs(got), abs(want)))):
        return True
    if not (math.isfinite(got) and math.isfinite(want)):
        return False
    with mp.workdps(40):
        try:
            exact = float(op.exact(*[mp.mpf(a) for a in args], c))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return False
    return _nearer(got, want, exact)


def _nearer(got, want, exact):
    """Whether the engine's `got` is at least as near the exact result as torch's `want` (or within 4
    ulps of it)."""
    return abs(got - exact) <= max(abs(want - exact), 4 * math.ulp(exact))

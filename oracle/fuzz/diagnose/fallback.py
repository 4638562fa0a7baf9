"""A Cause from the finding alone, for a finding the engine cannot be asked about (a hang, a crash,
an engine that hides its graph), and the method the program called that a Cause records."""
import numpy as np

from oracle.backends import torch_run
from oracle.fuzz import graph
from oracle.fuzz.diagnose.cause import cause, entered, failure_class
from oracle.mlp import MLPFinding
from oracle.ops import OPS


def with_entry(c, finding):
    """c with the method the finding's program op calls (see Cause.key), unless the diagnosis knows
    the op the engine failed in."""
    return entered(c, getattr(finding, "op", "") or "")


def fallback(finding, root="", Engine=None, place=None):
    """A Cause from the finding alone: its kind and the program op's method, for a finding the
    engine cannot be asked about (a hang, a crash, an engine that hides its graph). `place`: the
    method's, when the caller knows it without the engine."""
    program = getattr(finding, "program", None)
    op = OPS.get(getattr(finding, "op", "") or "")
    method = graph.method_of(op) if op is not None else ""
    if place is None and Engine is not None and method:
        place = graph.place_of(getattr(Engine, method, None))
    elif place is not None:
        method = place.function  # where the engine was when it hung or crashed: that method is at fault
    point = getattr(finding, "point", None) or []
    cls = _class(finding, _given(program, point, getattr(finding, "node", None)))
    what = {"timeout": "does not finish", "crash": "kills its process", "memory": "runs out of memory"}.get(
        finding.kind, f"fails ({finding.kind})")
    at = f" at {_point(program, point)}" if program is not None and point else ""
    subject = method or (f"the MLP {finding.spec.describe()}" if isinstance(finding, MLPFinding) else "the engine")
    detail = f": {finding.detail}" if finding.detail else ""
    return cause(_category(finding, cls), method, place, f"{subject} {what}{at}{detail}"[:300], cls)


def _given(program, point, node):
    """What the op at `node` was given at `point`, in float64 (torch's values: the engine is not
    asked), for a finding that names its node; else the point itself. A crash at exp(0) is at an
    edge input whatever the program's inputs were."""
    if program is None or not isinstance(node, int) or not program.n_inputs <= node < program.n_nodes:
        return point
    values, _ = torch_run(program, np.array([point], dtype=np.float64).T)
    return [float(values[a, 0]) for a in program.instrs[node - program.n_inputs].args]


def _class(finding, given):
    """A failure's class from torch's value at its node (the finding's), as the diagnosis decides it
    from the op the engine failed in (`cause.failure_class`); a complex number is class 3 (torch's
    power of a negative base is nan); a hang, a crash, a wrong number: by the values the op was
    given."""
    if finding.kind == "complex":
        return 3
    if finding.kind != "raise":
        return failure_class("", None, *given)
    return failure_class(finding.detail, (finding.torch,) if finding.torch is not None else None, *given)


def _category(finding, cls):
    if finding.kind in ("raise", "complex") and cls == 3:
        return "python-float"
    return {"not-a-number": "value", "grad": "rule", "mlp-value": "value", "mlp-loss": "value",
            "mlp-grad": "rule"}.get(finding.kind, finding.kind)


def _point(program, point):
    return ", ".join(f"{program.name(i)}={x!r}" for i, x in enumerate(point))

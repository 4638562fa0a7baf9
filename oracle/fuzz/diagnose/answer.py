"""What torch answers where the engine failed: the op of the table whose Python result caused the
failure, read off the traceback, and torch's answer for it at the engine's own operands.

An engine fails in the innermost of its frames that runs an op: a method the op table calls
(`__pow__`, `tanh`, `__rtruediv__`) or the backward rule one defines. `(-1.0) ** 0.5` makes a
complex number in `__pow__`, which `float()` refuses in `__init__` afterwards: the op is `__pow__`,
and torch's answer there is nan. A composite tanh whose `exp` overflows fails in `exp`, whose
answer is inf; one that calls `math.exp` itself fails in `tanh`, whose answer is 1. A method's
answer is torch's value for it, a rule's the local derivatives (`backends.torch_local`).
"""
import math

from oracle.backends import torch_local
from oracle.fuzz import graph
from oracle.fuzz.diagnose.nodes import as_float
from oracle.fuzz.graph import Place
from oracle.ops import TABLE


def _forms():
    """method -> {form: op}: the op a method computes when its other operand is a node ("node"), a
    number ("number"), or when it has none ("none")."""
    forms = {}
    for op in TABLE:
        form = "node" if op.arity == 2 else "number" if op.const else "none"
        forms.setdefault(graph.method_of(op), {}).setdefault(form, op)
    forms["__pow__"]["number"] = next(o for o in TABLE if o.name == "pow_float")  # any number exponent
    return forms


FORMS = _forms()


def failed_op(tb, root=""):
    """(Place, answer, operands) for the innermost engine frame of traceback tb that runs an op of
    the table, at the line it was on; answer is torch's, a tuple of floats; operands the op's, its
    constant included. None when no frame runs one whose operands can be read."""
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if graph.function_name(code) in FORMS and graph.is_engine_file(code.co_filename, root):
            frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    for frame, line in reversed(frames):  # innermost first: torch is asked once, for the op that failed
        got = frame_answer(frame)
        if got is not None:
            return (Place.of_frame(frame.f_code, line), *got)
    return None


def frame_answer(frame):
    """(answer, operands) for the op that an engine frame runs: torch's value of a method's op, or
    the local derivatives of a rule's (a closure the method defines); None when it runs none."""
    code = frame.f_code
    forms = FORMS.get(graph.function_name(code))
    if forms is None:
        return None
    names = ("self", "other")
    rule = ".<locals>." in getattr(code, "co_qualname", "")
    if not rule:
        names = code.co_varnames[:min(code.co_argcount, 2)]
    values = frame.f_locals
    a = as_float(getattr(values.get(names[0]) if names else None, "data", None))
    other = values.get(names[1]) if len(names) > 1 else None
    if a is None:
        return None
    b = as_float(getattr(other, "data", None))
    if b is not None and "node" in forms:
        op, args, c = forms["node"], [a, b], None
    elif as_float(other) is not None and "number" in forms:
        op, args, c = forms["number"], [a], as_float(other)
    elif "none" in forms:
        op, args, c = forms["none"], [a], None
    else:
        return None
    answer = torch_answer(op, args, c, rule)
    return None if answer is None else (answer, (*args, *([c] if c is not None else [])))


def torch_answer(op, datas, c, rule=False):
    """torch's answer for op at operand values `datas`: its value as a 1-tuple, or (rule) its local
    derivatives; None when an operand is not a number or torch refuses them."""
    if any(d is None for d in datas):
        return None
    try:
        value, grads = torch_local(op, list(datas), c, 1.0)
    except (RuntimeError, TypeError, ValueError):
        return None
    return tuple(grads) if rule else (value,)


def describe(answer):
    """torch's answer in words: `1.0`, or `inf, -inf` for a rule's derivatives."""
    return ", ".join(repr(a) if not math.isnan(a) else "nan" for a in answer)

"""Load an engine under test from a "module:attr" spec, and probe which ops of the op table it has.

A plug-in engine need not have every op: micrograd 0.1.0 has `+ * **` with a number exponent and
relu, the lecture's engine has tanh and exp but no relu, and neither has `c ** x` or `x ** y`. The
fuzzer generates only the ops an engine supports, so a missing op is not reported as a bug. Probing
runs each op once on ordinary operands and never lets a weird engine crash the oracle.
"""
import importlib

from oracle.cli import one_line
from oracle.ops import TABLE

DEFAULT_ENGINE = "micrograd.engine:Value"
# Constants for probing the ops that carry one: an int exponent, a fractional exponent, a base for
# c ** x, and an ordinary number for + - * /.
_PROBE_CONST = {"int": 2, "float": 1.5, "any": 1.5}
_PROBE_BASE = 2.0


class EngineSpecError(Exception):
    """An engine spec that does not name a usable engine; the message says why, on one line."""


def load_engine(spec=DEFAULT_ENGINE):
    """The callable named by "module:attr" (attr may be dotted: "pkg.mod:Outer.Value")."""
    module, sep, attr = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if not sep or not _dotted(module) or not _dotted(attr):
        raise EngineSpecError(f"engine spec {spec!r} is not of the form module:attr "
                              f"(for example {DEFAULT_ENGINE})")
    try:
        obj = importlib.import_module(module)
    except Exception as e:  # ImportError, or whatever the module raises while it is imported
        raise EngineSpecError(f"engine spec {spec!r}: cannot import {module!r}: "
                              f"{type(e).__name__}: {one_line(e, 'no message')}") from None
    path = module
    for name in attr.split("."):
        path += (":" if path == module else ".") + name
        try:
            obj = getattr(obj, name)
        except Exception as e:  # AttributeError, or a module __getattr__ that raises something else
            raise EngineSpecError(f"engine spec {spec!r}: {path} does not exist "
                                  f"({one_line(e, 'no message')})") from None
    if not callable(obj):
        raise EngineSpecError(f"engine spec {spec!r}: {path} is a {type(obj).__name__}, not a class or callable")
    return obj


def _dotted(name):
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def probe_ops(Engine):
    """Op name -> None when the engine supports it, else a one-line reason, for every op of the table."""
    return {op.name: _probe(Engine, op) for op in TABLE}


def supported_ops(Engine):
    """The names of the table's ops that the engine supports, in table order."""
    return tuple(name for name, reason in probe_ops(Engine).items() if reason is None)


def _probe(Engine, op):
    # Both operand orders for a binary op, and both points for a unary op: an op that works only
    # at some points is supported (the fuzzer's job is to find where it fails); one that fails at
    # both is not there.
    points = [(0.7, 1.3), (1.3, 0.7)] if op.arity == 2 else [(0.7,), (1.3,)]
    c = _PROBE_BASE if op.name == "rpow" else _PROBE_CONST.get(op.const)
    reasons = []
    for xs in points:
        try:
            reason = _try_op(Engine, op, xs, c)
        except Exception as e:  # the engine under test may raise anything, RecursionError included
            reason = f"{type(e).__name__}: {one_line(e, 'no message')}"
        if reason is None:
            return None
        reasons.append(reason[:200])
    return reasons[0]


def _try_op(Engine, op, xs, c):
    """None when op runs forward and backward on the engine at xs, else why not."""
    args = [Engine(x) for x in xs]
    out = op.apply(*args, c)
    if not hasattr(out, "data"):
        return f"the result is a {type(out).__name__} with no .data"
    float(out.data)
    if not callable(getattr(out, "backward", None)):
        return "the result has no backward()"
    out.backward()
    for v in args:
        float(v.grad)
    return None

"""Which ops of the op table an engine defines, and which of those are broken outright.

A plug-in engine need not have every op: micrograd 0.1.0 has `+ * **` with a number exponent and
relu, the lecture's engine has tanh and exp but no relu, and neither has `c ** x` or `x ** y`. An op
is *absent* when the engine does not define it or does not take its operands' form:
  - Python's own dispatch fails at the call site (an AttributeError for a missing method,
    "unsupported operand" for a missing or NotImplemented dunder);
  - the method says so, with a NotImplementedError;
  - an engine method refuses the form of an operand, while it takes another form of the same op:
    a number where it wants a Value (`x + 1.0` in an `__add__` without wrapping: "'float' object has
    no attribute 'data'"), a Value where it wants a number (`x ** y` in a `__pow__` for numbers:
    "unsupported operand type(s) ... 'Value'"), or an assert of its own (0.1.0's `assert
    isinstance(other, (int, float))`). So is an op that reaches such a refusal through another
    method (`-x` as `x * -1`, in a `*` without wrapping).
Anything else the engine's own code does is *broken*, a finding of its kind: it raises (a
NameError, an assert that no form passes), recurses, returns a complex number or something that is
not a number, builds no graph node (returns a plain number, or changes its operand and returns it),
or hangs (the worker's alarm; the campaign kills a worker deaf to it).

Runs in a worker process (`oracle.fuzz.workers`), never in the campaign's: it calls the engine.
"""
import re
from dataclasses import dataclass

from oracle.backends import as_float, not_a_number, refusal
from oracle.cli import one_line
from oracle.fuzz.graph import method_of
from oracle.ops import TABLE
from oracle.program import Instr, Program

# Constants for the ops that carry one: an int exponent, a fractional exponent, a base for c ** x,
# and an ordinary number for + - * /.
PROBE_CONST = {"int": 2, "float": 1.5, "any": 1.5}
PROBE_BASE = 2.0
# Both operand orders for a binary op; a positive and a negative point for a unary op. An op that
# works at one of them is defined (the fuzzer's job is to find where it fails).
POINTS = {1: [(0.7,), (-1.3,)], 2: [(0.7, 1.3), (1.3, 0.7)]}
_DISPATCH = ("unsupported operand type", "bad operand type for")  # Python's words when a dunder is missing
# Python's words when a number is used as a node: `other.data` on a float
_NUMBER_AS_NODE = re.compile(r"^'(int|float)' object has no attribute ")
# ... and when a node is used as a number, naming the node's type: `self.data ** other` on a Value
_NODE_AS_NUMBER = ("unsupported operand type", "must be real number", "float() argument must be",
                   "not supported between instances", "bad operand type")


@dataclass(frozen=True)
class OpProbe:
    """What probing one op found."""
    op: str
    status: str  # "ok", "absent" (the engine does not define it) or "broken" (a finding)
    reason: str = ""  # absent: why; broken: what went wrong, on one line
    kind: str = ""  # broken: raise, recursion, complex, not-a-number, no-graph, timeout, crash or memory
    point: tuple = ()  # broken: the operands it failed at

    def finding_case(self):
        """A broken op as a one-op program and its point, for the finding pipeline."""
        op = next(o for o in TABLE if o.name == self.op)
        c = probe_const(op)
        return Program(op.arity, (Instr(op.name, tuple(range(op.arity)), c),)), list(self.point)


def probe_const(op):
    return PROBE_BASE if op.name == "rpow" else PROBE_CONST.get(op.const)


def drivable(Engine):
    """None when the engine can be driven at all (a leaf holds a number and has backward()), else
    why not, on one line."""
    try:
        v = Engine(0.7)
    except Exception as e:
        return f"Engine(0.7) raises {type(e).__name__}: {one_line(e, 'no message')}"
    if not hasattr(v, "data"):
        return "Engine(0.7) has no .data: the oracle drives scalar engines whose .data is a number"
    if as_float(v.data) is None:
        return f"Engine(0.7).data is {not_a_number(v.data)}: the oracle drives scalar engines whose .data is one " \
               f"number (a float, or what float() reads as one: a numpy float or 0-d array)"
    if not callable(getattr(v, "backward", None)):
        return "Engine(0.7) has no backward() method"
    if not hasattr(v, "grad"):
        return "Engine(0.7) has no .grad"
    return None


def probe_op(Engine, op, watch=None):
    """OpProbe for one op: tried at each of POINTS, forward and backward. watch: its [0] is set to
    the index of the point tried (see `probe_point`)."""
    c = probe_const(op)
    failures = []
    for j, xs in enumerate(POINTS[op.arity]):
        if watch is not None:
            watch[0] = j
        try:
            failure = _try(Engine, op, xs, c)
        except RecursionError as e:
            failure = ("broken", "recursion", f"RecursionError: {one_line(e)}")
        except MemoryError as e:
            failure = ("broken", "memory", f"MemoryError: {one_line(e)}")
        except Exception as e:  # the engine under test may raise anything
            failure = _absent_or_raise(Engine, op, e)
        if failure is None:
            return OpProbe(op.name, "ok")
        failures.append((xs, failure))
    broken = [(xs, f) for xs, f in failures if f[0] == "broken"]
    if not broken:
        return OpProbe(op.name, "absent", failures[0][1][2][:200])
    xs, (_, kind, reason) = broken[0]
    return OpProbe(op.name, "broken", reason[:300], kind, tuple(xs))


def probe_point(op, watch):
    """The point of POINTS that `watch` says a probe of op was trying (the first when it says none)."""
    points = POINTS[op.arity]
    j = int(watch[0]) if watch is not None else 0
    return points[j] if 0 <= j < len(points) else points[0]


def _try(Engine, op, xs, c):
    """None when op runs forward and backward at xs, else (status, kind, reason)."""
    args = [Engine(x) for x in xs]
    before = [a.data for a in args]
    out = op.apply(*args, c)
    if not (hasattr(out, "data") and callable(getattr(out, "backward", None))):
        return "broken", "no-graph", f"the result is a {type(out).__name__}, not a graph node (no .data or backward())"
    if any(out is a for a in args) and any(a.data != b for a, b in zip(args, before)):
        return "broken", "no-graph", "it changes its operand's .data and returns the operand: no new node is built"
    bad = _not_a_number(out.data, "the result's .data")
    if bad:
        return bad
    out.backward()
    for i, a in enumerate(args):
        bad = _not_a_number(a.grad, f"operand {i}'s .grad")
        if bad:
            return bad
    return None


def _not_a_number(x, what):
    return None if as_float(x) is not None else ("broken", *refusal(x, what))


def _absent_or_raise(Engine, op, e):
    """("absent", "raise", why) when Python's own dispatch failed at the op's call site (the engine
    does not define the op), the method said NotImplementedError, or an engine method refused an
    operand's form while it takes another form of its op; ("broken", "raise", what) for any other
    failure inside the engine."""
    said = f"{type(e).__name__}: {one_line(e, 'no message')}"
    frames = _frames(e)
    if not frames:
        return "broken", "raise", said
    if _is_template(frames[-1]) and (isinstance(e, AttributeError) or isinstance(e, TypeError) and any(
            w in str(e) for w in _DISPATCH)):
        return "absent", "raise", said
    if isinstance(e, NotImplementedError) and len(frames) >= 2 and _is_template(frames[-2]):
        return "absent", "raise", said
    refuser = _method_named(Engine, frames[-1])  # the engine method the refusal was raised in
    if not _is_template(frames[-1]) and _refuses_form(Engine, e) and _takes_a_form(Engine, refuser, op):
        return "absent", "raise", f"{refuser} {_form(e, Engine)} ({said})"
    return "broken", "raise", said


def _method_named(Engine, code):
    """The op-table method of Engine whose code is `code` (as the class names it: a function assigned
    as `__add__` is `__add__`), else the code's own name."""
    for name in _METHODS:
        if getattr(getattr(Engine, name, None), "__code__", None) is code:
            return name
    return code.co_name


def _refuses_form(Engine, e):
    """Whether e is an engine method refusing an operand's form: a number used as a node, a node used
    as a number (Python's words name the node's type), or an assert of the method's own."""
    text = str(e)
    if isinstance(e, AttributeError):
        return bool(_NUMBER_AS_NODE.match(text))
    if isinstance(e, TypeError):
        return any(w in text for w in _NODE_AS_NUMBER) and bool(re.search(rf"\b{re.escape(Engine.__name__)}\b", text))
    return isinstance(e, AssertionError)


def _form(e, Engine):
    """What a method refuses, in words."""
    if isinstance(e, AttributeError):
        return "does not take a number operand"
    if isinstance(e, TypeError):
        return f"does not take a {Engine.__name__} operand where it wants a number"
    return "refuses this operand form"


def _takes_a_form(Engine, method, op):
    """Whether the engine's `method` (one of the op table's) works on some form of an op that calls
    it, other than `op`'s own: then a refusal of op's form is a form it does not take, not a bug."""
    others = [o for o in TABLE if method_of(o) == method and o.name != op.name]
    for other in others:
        for xs in POINTS[other.arity]:
            try:
                if _try(Engine, other, xs, probe_const(other)) is None:
                    return True
            except Exception:  # noqa: S112 (the engine under test may raise anything: not this form)
                continue
    return False


def _frames(e):
    tb, out = e.__traceback__, []
    while tb is not None:
        out.append(tb.tb_frame.f_code)
        tb = tb.tb_next
    return out


_TEMPLATES = frozenset(op.apply.__code__ for op in TABLE)  # the ops' call sites
_METHODS = tuple(dict.fromkeys(method_of(op) for op in TABLE))  # the engine methods they call


def _is_template(code):
    """Whether a code object is one of the op table's compiled templates (the op's call site)."""
    return code in _TEMPLATES

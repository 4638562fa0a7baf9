"""The Cause record: a finding's root cause at the learner's own line, and its class.

Each Cause has a class, decided by what the difference is:
  - a failure of the engine (an exception, a complex number) is class 3 when torch's answer for the
    op it failed in is inf or nan: Python refuses where IEEE answers (`math.log(0)`, `(-1) ** 0.5`,
    an `assert x > 0`). Where torch's answer is an ordinary number, the engine's own formula failed
    on the way: class 2 for an overflow or a division by zero inside it (`failure_class`), else by
    its values, as a wrong number is;
  - a wrong value or gradient is class 2 when a value on its way is at the edge of float64: an input
    or operand (±0, ±inf, nan, past 1e300 or below 1e-300, `klass`), or an intermediate one, the
    engine's or torch's (non-finite, past 1e300, below 1e-300 but not zero, a zero by underflow:
    `along`); otherwise class 1.
"""
import dataclasses
import math
import os
from dataclasses import asdict, dataclass

from oracle.fuzz import graph
from oracle.fuzz.graph import Place
from oracle.ops import OPS

TINY, HUGE = 1e-300, 1e300  # magnitudes past these are underflow and overflow territory


@dataclass(frozen=True)
class Cause:
    """The root cause of a finding, at the learner's own line where one can be named."""
    category: str  # rule, value, traversal, raise, recursion, no-graph, python-float, timeout, crash, memory,
    #                tamper, or the finding's own kind when nothing more precise is known
    method: str  # the engine method at fault (__mul__, tanh, backward, ...); "" when not known
    file: str  # the learner's file ("" when not known)
    line: int  # and line (0 when not known)
    source: str  # that line's text
    first: int  # the line of the def of the function that holds it: one bug's symptoms share it
    summary: str  # one line: what is wrong, where, with the numbers
    cls: int  # 1, 2 or 3
    detail: str = ""  # traversal: order, visited, merged, seed, shadowed, recursion, walk; a rule: assigns
    entry: str = ""  # the method the program called to get there (x / y calls __truediv__, which may call __pow__)

    def key(self, root=""):
        """What groups the symptoms of one bug: the function that holds its line (a rule's two
        lines, a method's value and its complex result are one bug), else the category and method.
        A Python-float difference (class 3) is told apart by the method the program called, too: `x /
        1e-300` overflowing in __pow__'s rule is a fact about division, `x ** -1` overflowing there
        is one about powers."""
        via = f" via {self.entry}" if self.cls == 3 and self.entry and self.entry != self.method else ""
        if self.first:
            name = graph.cell(self.file, root) or graph.short(self.file, root)
            return f"{name if name != self.file else os.path.basename(self.file)}:{self.first}{via}"
        return f"{self.category}:{self.detail or self.method or 'engine'}{via}"

    def where(self, root=""):
        """`file:line  text` as the learner reads it, or ""."""
        return Place(self.file, self.line, self.method).show(root) if self.line else ""

    def to_json(self):
        return asdict(self)

    @staticmethod
    def from_json(d):
        return Cause(**{k: d[k] for k in Cause.__dataclass_fields__ if k in d})


def entered(c, op):
    """c with the method that program op `op` (its name) calls as its entry (see Cause.key); c as it
    is when op is not known or c has an entry already."""
    if not op or op not in OPS or c.entry:
        return c
    return dataclasses.replace(c, entry=graph.method_of(OPS[op]))


def cause(category, method, place, summary, cls, detail=""):
    if place is None:
        return Cause(category, method, "", 0, "", 0, summary, cls, detail)
    return Cause(category, method or place.function, place.file, place.line, place.text, place.first or place.line,
                 summary, cls, detail)


def edge(x):
    """A value at the edge of float64 semantics: a zero, inf, nan, a subnormal, or a magnitude past
    1e300 or below 1e-300."""
    try:
        x = float(x)
    except (TypeError, ValueError, OverflowError):
        return True
    return x == 0.0 or not math.isfinite(x) or not TINY <= abs(x) <= HUGE


def klass(*values):
    """2 when an input or an operand is an edge value (a zero included: the kink of relu, the pole of
    1/x), else 1."""
    return 2 if any(edge(v) for v in values) else 1


def along(x):
    """Whether x, an intermediate value on a bug's way (a node, a gradient, a local derivative), is at
    the edge of float64: non-finite, past 1e300, or below 1e-300 but not zero (an exact zero on the
    way, relu's 0 for a negative input, is ordinary; a zero by underflow is told by its exact value,
    which is tiny)."""
    try:  # compared as it is: an mpmath value of 4e-348 is no float, and would round to 0
        return not math.isfinite(x) or abs(x) > HUGE or 0.0 < abs(x) < TINY
    except (TypeError, ValueError, OverflowError):
        return True


# A failure inside the engine's own formula, where torch's answer is an ordinary number: its text starts so.
FORMULA_FAILURES = ("ZeroDivisionError", "OverflowError")


def failure_class(error, answer, *values):
    """The class of a failure (error: `Type: message`; answer: torch's answer for the op the engine
    failed in, a tuple of floats, or None when not known): 3 when torch's answer is inf or nan, 2
    for an overflow or a division by zero where it is a number, else that of the values."""
    if answer is not None and any(not math.isfinite(a) for a in answer):
        return 3
    if error.startswith(FORMULA_FAILURES):
        return 2
    return klass(*values)

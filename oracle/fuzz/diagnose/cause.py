"""The Cause record: a finding's root cause at the learner's own line, and its class.

Each Cause has a class: 1 wrong at ordinary inputs, 2 wrong only at edge inputs (±0, ±inf, nan,
overflow, underflow, subnormals), 3 Python float semantics where torch has an IEEE answer.
"""
import math
import os
from dataclasses import asdict, dataclass

from oracle.fuzz import graph
from oracle.fuzz.graph import Place

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
    detail: str = ""  # traversal: order, visited, merged, seed, recursion, walk; a rule: assigns
    entry: str = ""  # the method the program called to get there (x / y calls __truediv__, which may call __pow__)

    def key(self, root=""):
        """What groups the symptoms of one bug: the function that holds its line (a rule's two
        lines, a method's value and its complex result are one bug), else the category and method.
        A Python-float difference (class 3) is told apart by the method the program called, too: `x /
        1e-300` overflowing in __pow__'s rule is a fact about division, `x ** -1` overflowing there
        is one about powers."""
        via = f" via {self.entry}" if self.cls == 3 and self.entry and self.entry != self.method else ""
        if self.first:
            name = graph.short(self.file, root)
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
    return 2 if any(edge(v) for v in values) else 1

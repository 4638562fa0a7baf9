"""Step 1: an exception is placed at the innermost line of engine code that raised it (a
RecursionError at the line the traceback repeats; a rule that cannot even be called, at its `def`);
a complex number or a non-number at the line that created the node holding it."""
import numbers

from oracle.check import PYTHON_FLOAT_ERRORS
from oracle.fuzz import graph
from oracle.fuzz.diagnose.cause import cause, klass
from oracle.fuzz.diagnose.nodes import child_values, expression, method_name, operand_values, zero_grads
from oracle.fuzz.diagnose.rules import UPSTREAM
from oracle.ops import OPS


class Raised:
    """Step 1 of a `Run` (self): what raised, and what is not a number."""

    def _raised(self, e, phase, opname):
        """The Cause of an exception the engine raised."""
        bad = self.bad_data()
        if bad is not None:  # an op that fails on a complex operand: the node that made it is at fault
            return bad
        name = f"{type(e).__name__}: {' '.join(str(e).split())}"[:200]
        if isinstance(e, RecursionError):
            place = graph.most_repeated(e.__traceback__, self.root)
            deep = phase == "backward" and len(self.keep) > 500
            if deep:
                return cause("traversal", place.function if place else "backward", place,
                             f"backward() recurses once per node ({place.function if place else 'its walk'}) and "
                             f"overflows Python's recursion limit on a graph {_depth(self.out)} nodes deep", 1,
                             "recursion")
            return cause("recursion", place.function if place else "", place,
                         f"{place.function if place else 'an op'} recurses without end ({name})", klass(*self.point))
        place = graph.innermost(e.__traceback__, self.root)
        method = graph.method_of(OPS[opname]) if opname else (place.function if place else "")
        if isinstance(e, MemoryError):
            return cause("memory", method, place, f"{method or 'the engine'} runs out of memory ({name})", 1)
        pf = name.startswith(PYTHON_FLOAT_ERRORS)
        where = f"in {phase}()" if phase == "backward" else f"in {method}" if method else ""
        summary = f"{name} {where} at {', '.join(map(repr, self.point))}".strip()
        return cause("python-float" if pf else "raise", method, place, summary, 3 if pf else klass(*self.point),
                     type(e).__name__)

    def _rule_that_raises(self):
        """When backward() raised: the first node (in the order backward applies rules) whose rule
        raises on its own, placed at its line, or at its def when it cannot even be called."""
        for v in reversed(self.keep):
            rule = getattr(v, "_backward", None)
            if not callable(rule) or not graph.children(v):
                continue
            zero_grads(graph.children(v))
            v.grad = UPSTREAM
            try:
                rule()
            except Exception as e:
                name = f"{type(e).__name__}: {' '.join(str(e).split())}"[:200]
                place = graph.innermost(e.__traceback__, self.root)
                sem = graph.semantics(v)
                what = expression(sem) if sem else f"the node made by {getattr(v, '_op', '?')!r}"
                if place is None or place.function in ("_rule_that_raises",):
                    place = graph.place_of(rule)
                    return cause("raise", method_name(place), place,
                                 f"the backward rule of {what} cannot be called as backward() calls it: {name}",
                                 klass(*self.point, *child_values(v)), type(e).__name__)
                pf = name.startswith(PYTHON_FLOAT_ERRORS)
                return cause("python-float" if pf else "raise", method_name(place), place,
                             f"the backward rule of {what} raises {name} at {operand_values(sem, v)}",
                             3 if pf else klass(*self.point, *child_values(v)), type(e).__name__)
        return None

    def bad_data(self):
        """The first node whose data is not a real number: complex (Python's ** of a negative base),
        or something else (a Value in .data)."""
        for v in self.made or self.keep or self.program_nodes or ():  # in the order they were made
            if not hasattr(v, "data"):
                continue
            data = v.data
            if isinstance(data, numbers.Real):
                continue
            place = self.created.get(id(v))
            method = method_name(place)
            if isinstance(data, complex):
                return cause("python-float", method, place,
                             f"{method or 'an op'} gives the complex number {data!r} (Python's ** of a negative "
                             f"number); torch gives nan", 3, "complex")
            return cause("value", method, place, f"{method or 'an op'} makes a node whose .data is a "
                                                 f"{type(data).__name__} ({data!r:.50}), not a number",
                         klass(*self.point))
        return None


def _depth(out):
    """The longest path from out to a leaf, by identity, without recursion."""
    order = graph.nodes(out)
    depth = {}
    for v in order:
        depth[id(v)] = 1 + max((depth[id(c)] for c in graph.children(v)), default=0)
    return depth.get(id(out), 0)

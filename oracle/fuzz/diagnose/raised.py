"""Step 1: an exception is placed at the innermost line of engine code that raised it (a
RecursionError at the line the traceback repeats; a rule that cannot even be called, at its `def`);
a complex number or a non-number at the line that created the node holding it. Its class is what
torch answers for the op the engine failed in (`answer`, `cause.failure_class`): a class-3 fact is
placed at that op's line, wherever the engine raised afterwards."""

from oracle.backends import not_a_number
from oracle.fuzz import graph
from oracle.fuzz.diagnose.answer import describe, failed_op, torch_answer
from oracle.fuzz.diagnose.cause import cause, entered, failure_class, klass
from oracle.fuzz.diagnose.nodes import as_float, child_values, expression, method_name, operand_values, zero_grads
from oracle.fuzz.diagnose.rules import UPSTREAM
from oracle.ops import OPS

DEEP = 500  # nodes: a graph this deep takes a recursive walk of it halfway to Python's recursion limit


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
            # the graph the engine built, as deep as it is; one it hides, by the program's nodes
            known = graph.has_graph(self.out)
            size = (graph.depth(self.out) if known else len(self.keep)) if phase == "backward" else 0
            if size > DEEP:
                return cause("traversal", place.function if place else "backward", place,
                             f"backward() recurses once per node ({place.function if place else 'its walk'}) and "
                             f"overflows Python's recursion limit on a graph "
                             f"{f'{size:,} nodes deep' if known else f'of {size:,} nodes'}", 1, "recursion")
            return cause("recursion", place.function if place else "", place,
                         f"{place.function if place else 'an op'} recurses without end ({name})", klass(*self.point))
        place = graph.innermost(e.__traceback__, self.root)
        method = graph.method_of(OPS[opname]) if opname else (place.function if place else "")
        if isinstance(e, MemoryError):
            return cause("memory", method, place, f"{method or 'the engine'} runs out of memory ({name})", 1)
        at, answer, operands = failed_op(e.__traceback__, self.root) or (None, self._program_answer(opname), ())
        cls = failure_class(name, answer, *self.point, *operands)
        if cls == 3 and at is not None:  # the op whose Python result caused it, wherever the engine raised
            place, method = at, at.function
        where = f"in {phase}()" if phase == "backward" else f"in {method}" if method else ""
        torch = f", where torch gives {describe(answer)}" if answer is not None and cls > 1 else ""
        summary = f"{name} {where} at {', '.join(map(repr, self.point))}{torch}".strip()
        # the program op that raised, not the one the finding first saw wrong: a class-3 fact is told apart by it
        return entered(cause("python-float" if cls == 3 else "raise", method, place, summary, cls, type(e).__name__),
                       opname)

    def _program_answer(self, opname):
        """torch's value for the program op the forward pass was making, from the engine's own
        operands, as a 1-tuple; None when not known."""
        nodes = self.program_nodes or []
        prog = self.case_program
        ins = prog.instrs[len(nodes) - prog.n_inputs] if opname and prog is not None else None
        if ins is None:
            return None
        return torch_answer(OPS[opname], [as_float(getattr(nodes[a], "data", None)) for a in ins.args], ins.c)

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
                    return entered(cause("raise", method_name(place), place,
                                         f"the backward rule of {what} cannot be called as backward() calls it: "
                                         f"{name}", klass(*self.point, *child_values(v)), type(e).__name__),
                                   self.made_by.get(id(v)))
                at, answer, operands = failed_op(e.__traceback__, self.root) or (None, None, ())
                if answer is None and sem is not None:
                    answer = torch_answer(sem.op, child_values(v), sem.c, rule=True)
                cls = failure_class(name, answer, *self.point, *child_values(v), *operands)
                if cls == 3 and at is not None:
                    place = at
                torch = (f", where torch's local derivative is {describe(answer)}" if answer is not None and cls > 1
                         else "")
                return entered(cause("python-float" if cls == 3 else "raise", method_name(place), place,
                                     f"the backward rule of {what} raises {name} at {operand_values(sem, v)}{torch}",
                                     cls, type(e).__name__), self.made_by.get(id(v)))  # told apart by its maker
        return None

    def bad_data(self):
        """The first node whose data is not a real number: complex (Python's ** of a negative base),
        or something else (a Value in .data)."""
        for v in self.made or self.keep or self.program_nodes or ():  # in the order they were made
            if not graph.is_node(v):
                continue
            data = v.data
            if as_float(data) is not None:
                continue
            place = self.created.get(id(v))
            method = method_name(place)
            if isinstance(data, complex):
                return cause("python-float", method, place,
                             f"{method or 'an op'} gives the complex number {data!r} (Python's ** of a negative "
                             f"number); torch gives nan", 3, "complex")
            return cause("value", method, place, f"{method or 'an op'} makes a node whose .data is "
                                                 f"{not_a_number(data)}",
                         klass(*self.point))
        return None

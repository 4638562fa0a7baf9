"""Step 2: each engine node's value is recomputed by torch from its own children (its `_op` says
what it computes): the first wrong one names the line that created it. With every node right, a
program op can still be wrong in two ways: it changed an earlier node's data instead of building a
new one (`mutation`), or its method composes right nodes into the wrong function (`composition`)."""
from oracle.backends import torch_local
from oracle.fuzz import graph
from oracle.fuzz.diagnose.cause import cause, klass
from oracle.fuzz.diagnose.nodes import (
    agree,
    as_float,
    expression,
    float32,
    method_name,
    operand_orders,
    operand_values,
    oriented,
    same,
    zero_grads,
)
from oracle.fuzz.diagnose.trace import line_trace, returner
from oracle.fuzz.diagnose.way import number_class
from oracle.ops import OPS
from oracle.program import evaluate_one


class Values:
    """Step 2 of a `Run` (self): the values, and the ops that build them."""

    def mutation(self, program):
        """An op that returned an earlier node instead of a new one, or changed an earlier node's
        data: placed at the line that changed it (a line trace of the op, run again), else at the
        engine function that returned the old node."""
        if self.mutated is None:
            return None
        k, j, before, after = self.mutated
        ins = program.instrs[k - program.n_inputs]
        op = OPS[ins.op]
        place = None
        try:
            nodes = self._before(program, k)
            target = nodes[j]
            place = line_trace(lambda: evaluate_one(ins, nodes), lambda _: [as_float(target.data)],
                               self.root).writer(0)
            if place is None:
                nodes.pop()
                place = returner(lambda: evaluate_one(ins, nodes), target, self.root)
        except Exception:
            pass
        method = graph.method_of(op)
        place = place or graph.place_of(getattr(self.Engine, method, None))
        expr = op.source([program.name(a) for a in ins.args], ins.c)
        what = f"changes {program.name(j)}.data from {before!r} to {after!r} and " if not same(before, after) else ""
        return cause("no-graph", place.function if place else method, place,
                     f"{expr} {what}returns {program.name(j)} itself instead of building a new node",
                     klass(before, after))

    def _before(self, program, k):
        """The case's nodes before program node k, built again in the engine from its input point:
        node k's op can then be run again alone, watched."""
        nodes = [self.Engine(x) for x in self.point]
        for earlier in program.instrs[:k - program.n_inputs]:
            evaluate_one(earlier, nodes)
        return nodes

    def not_a_node(self, program, k):
        """Program op k returned something that is no node (None: a method without `return out`):
        placed at the last line its method ran (where the return is missing, or the one that returns
        the wrong thing), found by running the op again under a line trace."""
        ins = program.instrs[k - program.n_inputs]
        op, got = OPS[ins.op], self.program_nodes[k]
        method = graph.method_of(op)
        defined = graph.place_of(getattr(self.Engine, method, None))
        place = None
        if defined is not None:
            try:
                nodes = self._before(program, k)
                ran = line_trace(lambda: evaluate_one(ins, nodes), lambda _: (), self.root).steps
                place = next((p for p, _ in reversed(ran) if p is not None and (p.file, p.first) == (
                    defined.file, defined.first)), None)
            except Exception:
                place = None
        expr = op.source([program.name(a) for a in ins.args], ins.c)
        what = ("it ends without returning the node it built (no `return`)" if got is None else
                f"it returns a {type(got).__name__} ({got!r:.40}), not the node it built")
        return cause("no-graph", method, place or defined, f"{expr} is {got!r:.40}, not a node: {what}",
                     klass(*self.point))

    def composition(self, program, which, what):
        """The first program op of `which` (node indices) that, built alone on fresh leaves holding
        the engine's own operand values, disagrees with torch in its value (what="value") or its
        gradients ("grad"), although every engine node in it checks out: the method composes its
        nodes wrongly (`c / x` built as `x * (1 / c)`)."""
        nodes = self.program_nodes or []
        for k in sorted(k for k in which if program.n_inputs <= k < min(len(nodes), program.n_nodes)):
            ins = program.instrs[k - program.n_inputs]
            op = OPS[ins.op]
            datas = [as_float(getattr(nodes[a], "data", None)) for a in ins.args]
            if any(d is None for d in datas):
                continue
            same_operands = len(ins.args) == 2 and ins.args[0] == ins.args[1]
            try:
                leaves = [self.Engine(d) for d in datas[:1 if same_operands else None]]
                out = op.apply(*(leaves * 2 if same_operands else leaves), ins.c)
                got = [as_float(out.data)] + (_rules_alone(out, leaves) if graph.has_graph(out) else [])
                way = graph.nodes(out) if graph.has_graph(out) else []
            except Exception:
                continue
            value, grads = torch_local(op, datas, ins.c, 1.0)
            if same_operands:
                grads = [grads[0] + grads[1]]  # the one leaf of x * x holds both contributions
            compared = [(got[0], value)] if what == "value" else list(zip(got[1:], grads))
            if all(agree(a, b, op.name) for a, b in compared):
                continue
            results = [x for pair in compared for x in pair]
            grads_on_way = {id(n): as_float(getattr(n, "grad", None)) for n in way} if what == "grad" else None
            method = graph.method_of(op)
            place = graph.place_of(getattr(self.Engine, method, None))
            names = [f"x{i}" for i in range(op.arity)] if not same_operands else ["x", "x"]
            expr = op.source(names, ins.c)
            at = ", ".join(f"{n}={d!r}" for n, d in dict(zip(names, datas)).items())
            if what == "value":
                what = f"{expr} is {got[0]!r} where torch gives {value!r}"
            else:
                what = (f"the gradient{'s' * (len(grads) > 1)} of {expr} {'are' if len(grads) > 1 else 'is'} "
                        f"{', '.join(map(repr, got[1:]))} where torch gives {', '.join(map(repr, grads))}")
            return cause("value", method, place, f"{method} builds the wrong function: {what}, at {at}",
                         number_class(way, grads_on_way, datas, results))
        return None

    def values(self):
        """The first node (children first) whose value torch, from its own children, disagrees with."""
        for v in self.keep:
            sem = graph.semantics(v)
            if sem is None:
                continue
            sem = oriented(sem, v)
            datas = [as_float(c.data) for c in sem.operands]
            if any(d is None for d in datas) or as_float(v.data) is None:
                continue
            got = as_float(v.data)
            wants = [torch_local(sem.op, list(order), sem.c, 1.0)[0] for order in operand_orders(sem, datas)]
            if any(agree(got, w, sem.op.name) for w in wants):
                continue
            place = self.created.get(id(v))
            if got == float32(wants[0]) != wants[0]:  # every op's result goes through float32
                at = _rounded_at(self.Engine, sem, datas, got, self.root)  # one line rounds for every op
                return cause("value", method_name(at or place), at,
                             f"values are rounded to float32: {expression(sem)} is {got!r} where torch gives "
                             f"{wants[0]!r}, at {operand_values(sem, v)}",
                             number_class(graph.nodes(v), None, datas, (got, wants[0])), "float32")
            return cause("value", method_name(place), place,
                         f"{expression(sem)} is {got!r} where torch gives {wants[0]!r}, at {operand_values(sem, v)}",
                         number_class(graph.nodes(v), None, datas, (got, wants[0])))
        return None


def _rules_alone(out, leaves):
    """The leaves' gradients of `out` from the engine's own rules, applied by the oracle in reverse
    topological order (by identity): what backward() should give, whatever its walk does."""
    order = graph.nodes(out)
    zero_grads(order)
    out.grad = 1.0
    for v in reversed(order):
        rule = getattr(v, "_backward", None)
        if callable(rule):
            rule()
    return [as_float(x.grad) for x in leaves]


def _rounded_at(Engine, sem, datas, got, root):
    """The engine line after which a local of the running frame first holds `got`, the op's result
    rounded to float32 (or a local's .data does: a node that stores it so), found by running the op
    again under a line trace; None when not found, or when an operand already is `got` (no line
    would tell)."""
    if got in datas:
        return None

    def holds(frame):
        values = frame.f_locals.values() if frame is not None else ()
        return [any(as_float(x) == got or as_float(getattr(x, "data", None)) == got
                    for x in values if not isinstance(x, type))]

    try:
        leaves = [Engine(d) for d in datas]
        return line_trace(lambda: sem.op.apply(*leaves, sem.c), holds, root).writer(0)
    except Exception:
        return None

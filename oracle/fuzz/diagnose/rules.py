"""Step 3: each node's backward rule runs alone, with the upstream gradient it had in the case (then
0.75) and its children holding 0.25 already (so that a rule that assigns where it should add shows),
against torch's local derivative; a line trace of the rule says which line wrote the wrong gradient.
Operands kept in a set are taken in the order the node's value says (`nodes.oriented`)."""
from oracle.backends import torch_local
from oracle.fuzz import graph
from oracle.fuzz.diagnose.cause import cause
from oracle.fuzz.diagnose.nodes import (
    agree,
    as_float,
    expression,
    method_name,
    operand_orders,
    operand_values,
    oriented,
)
from oracle.fuzz.diagnose.trace import line_trace, written_by
from oracle.fuzz.diagnose.way import number_class

UPSTREAM = 0.75  # the upstream gradient a rule is run with alone: not 1, so a rule that drops it shows

HELD = 0.25  # what its children's gradients hold before: not 0, so a rule that assigns shows


class Rules:
    """Step 3 of a `Run` (self): each backward rule alone."""

    def rules(self):
        """The first node (in the order backward applies rules) whose rule, run alone, disagrees with
        torch's local derivative: with the upstream gradient the node had in the real backward pass
        (the case's own numbers, which its reproducer shows), then with 0.75 (which shows a rule that
        drops it, where the case's is 1). Only the nodes the output depends on: a rule that never
        runs does not make a gradient wrong."""
        for v in reversed(graph.nodes(self.out) if graph.has_graph(self.out) else self.keep):
            sem = graph.semantics(v)
            rule = getattr(v, "_backward", None)
            if sem is None or not callable(rule):
                continue
            sem = oriented(sem, v)
            datas = [as_float(c.data) for c in sem.operands]
            if any(d is None for d in datas):
                continue
            real = self.upstream.get(id(v))
            for g in dict.fromkeys(([real] if real is not None else []) + [UPSTREAM]):
                found = self._rule(v, sem, rule, datas, g)
                if found is not None:
                    return found
        return None

    def _rule(self, v, sem, rule, datas, g):
        kids = list({id(c): c for c in sem.operands}.values())
        for c in kids:  # a rule writes only its children's gradients: nothing else needs resetting
            c.grad = HELD
        v.grad = g
        try:
            trace = line_trace(rule, lambda _: [as_float(getattr(c, "grad", None)) for c in kids], self.root)
        except Exception:
            return None  # a rule that raises alone: _rule_that_raises' business, not a wrong number
        wants = []
        for order in operand_orders(sem, datas):
            _, contrib = torch_local(sem.op, list(order), sem.c, g)
            want = {id(c): HELD for c in kids}
            for c, d in zip(sem.operands if order == tuple(datas) else sem.operands[::-1], contrib):
                want[id(c)] += d
            wants.append(want)
        got = {id(c): as_float(c.grad) for c in kids}
        if any(all(agree(got[i], w[i], sem.op.name, g) for i in got) for w in wants):
            return None
        want = wants[0]
        bad = next(c for c in kids if not agree(got[id(c)], want[id(c)], sem.op.name, g))
        pos = next(p for p, c in enumerate(sem.operands) if c is bad)
        at = next(k for k, c in enumerate(kids) if c is bad)  # by identity: an engine's == may go by data
        line = trace.writer(at) or written_by(rule, bad)
        if line is None:  # no line writes it: name the last one that writes a gradient, after which it is missing
            line = next((w for w in (trace.writer(j) for j in reversed(range(len(kids)))) if w is not None), None)
            line = line or trace.callee()
        local = want[id(bad)] - HELD  # torch's local derivative times g
        assigns = got[id(bad)] is not None and agree(got[id(bad)], local, sem.op.name, g)
        place = line or graph.place_of(rule)
        g_got = None if got[id(bad)] is None else got[id(bad)] - HELD
        names = "ab"[:len(sem.operands)] if len(sem.operands) <= 2 else ""
        wrt = names[pos] if names else f"child {pos}"
        if assigns:  # the value it sets is the one it should have added
            what = (f"sets {wrt}.grad = {got[id(bad)]!r} where it should add (+=) torch's local derivative "
                    f"{local!r} to what {wrt}.grad held")
        else:
            # The words quote what the rule adds where the gradients start at 0, as in a case's own
            # backward pass (a rule that reads them, `other.grad` for `other.data`, adds 0 there, not
            # HELD); what it adds to HELD when only that shows the bug.
            shown = _from_zero(v, rule, kids, g, at, g_got)
            if shown is not None and agree(shown, local, sem.op.name, g):
                shown = g_got
            what = f"does {wrt}.grad += {shown!r} where torch's local derivative gives {local!r}"
        written = trace.writer(at) or written_by(rule, bad)
        note = "" if assigns or written else f"; no line of the rule writes {wrt if names else 'it'}.grad"
        return cause("rule", method_name(place) or method_name(graph.place_of(rule)), place,
                     f"the backward rule of {expression(sem)} {what}, at {operand_values(sem, v)} and "
                     f"out.grad = {g!r}{note}",
                     number_class(graph.nodes(self.out), self.upstream, datas,
                                  (as_float(v.data), g, local, g_got)), "assigns" if assigns else "")


def _from_zero(v, rule, kids, g, at, otherwise):
    """What the rule, run alone with upstream g, adds to child `at`'s gradient when every child's
    gradient starts at 0; `otherwise` when it raises so."""
    for c in kids:
        c.grad = 0.0
    v.grad = g
    try:
        rule()
    except Exception:  # the engine under test may raise anything
        return otherwise
    added = as_float(getattr(kids[at], "grad", None))
    return otherwise if added is None else added

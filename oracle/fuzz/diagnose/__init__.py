"""Root causes: the line of the engine's own code that a finding comes from.

A finding says where the engine and torch first disagree in the *program* (node t7's value, the
gradient with respect to x1); a learner's `x - y` may be `x + (y * -1)` inside their engine, and
the learner wants the line of their code at fault. `diagnose` runs the case again in the engine
and reads the engine's own graph (`oracle.fuzz.graph`):
  1. an exception is placed at the innermost line of engine code that raised it (a
     RecursionError at the line the traceback repeats; a rule that cannot even be called, at its
     `def`); a complex number or a non-number at the line that created the node holding it;
  2. each engine node's value is recomputed by torch from its own children (its `_op` says what
     it computes): the first wrong one names the line that created it;
  3. each node's backward rule runs alone, with an upstream gradient of 0.75 and its children
     holding 0.25 already (so that a rule that assigns where it should add shows), against
     torch's local derivative; a line trace of the rule says which line wrote the wrong gradient;
  4. when every value and rule checks out and the gradients still disagree, backward()'s walk is at
     fault: the seed, the order, a rule run twice or never, nodes merged by `__eq__`/`__hash__`.
Where the engine hides its graph (no `_prev`, an unknown `_op`), the cause is the program op's
method. Runs in a worker process: it calls the engine.

Each Cause has a class: 1 wrong at ordinary inputs, 2 wrong only at edge inputs (±0, ±inf, nan,
overflow, underflow, subnormals), 3 Python float semantics where torch has an IEEE answer.
"""
import dataclasses
import math
import numbers
import os
import struct
import sys
from dataclasses import asdict, dataclass

import numpy as np

from oracle.backends import torch_local, torch_run
from oracle.check import ALLOW, ATOL, EPS, RTOL, close, python_float
from oracle.fuzz import graph, topo
from oracle.fuzz.graph import Place
from oracle.mlp import MLPFinding, engine_loss, engine_model, nn_model, trained
from oracle.ops import OPS

UPSTREAM = 0.75  # the upstream gradient a rule is run with alone: not 1, so a rule that drops it shows
HELD = 0.25  # what its children's gradients hold before: not 0, so a rule that assigns shows
TINY, HUGE = 1e-300, 1e300  # magnitudes past these are underflow and overflow territory
MUTATION_CHECK = 200  # programs up to this long are watched for an op that changes an earlier node's data


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


# --- the entry points ---

def diagnose(finding, Engine, root="", through_nn=False):
    """The Cause of a program's Finding or an MLPFinding, diagnosed on the engine itself."""
    try:
        if isinstance(finding, MLPFinding):
            return _diagnose_mlp(finding, Engine, root, through_nn)
        return with_entry(_diagnose_program(finding, Engine, root), finding)
    except RecursionError:  # a graph too deep for the diagnosis's own helpers (torch, inspect)
        return with_entry(fallback(finding, root, Engine), finding)


def with_entry(c, finding):
    """c with the method the finding's program op calls (see Cause.key)."""
    op = OPS.get(getattr(finding, "op", "") or "")
    return dataclasses.replace(c, entry=graph.method_of(op)) if op is not None else c


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
    cls = 3 if _is_python_float(finding) else klass(*_given(program, point, getattr(finding, "node", None)))
    what = {"timeout": "does not finish", "crash": "kills its process", "memory": "runs out of memory"}.get(
        finding.kind, f"fails ({finding.kind})")
    at = f" at {_point(program, point)}" if program is not None and point else ""
    subject = method or (f"the MLP {finding.spec.describe()}" if isinstance(finding, MLPFinding) else "the engine")
    detail = f": {finding.detail}" if finding.detail else ""
    return cause(_category(finding), method, place, f"{subject} {what}{at}{detail}"[:300], cls)


def _given(program, point, node):
    """What the op at `node` was given at `point`, in float64 (torch's values: the engine is not
    asked), for a finding that names its node; else the point itself. A crash at exp(0) is at an
    edge input whatever the program's inputs were."""
    if program is None or not isinstance(node, int) or not program.n_inputs <= node < program.n_nodes:
        return point
    values, _ = torch_run(program, np.array([point], dtype=np.float64).T)
    return [float(values[a, 0]) for a in program.instrs[node - program.n_inputs].args]


def _category(finding):
    if _is_python_float(finding):
        return "python-float"
    return {"not-a-number": "value", "grad": "rule", "mlp-value": "value", "mlp-loss": "value",
            "mlp-grad": "rule"}.get(finding.kind, finding.kind)


def _is_python_float(finding):
    return finding.kind in ("raise", "complex") and python_float(finding)


# --- a program ---

def _diagnose_program(finding, Engine, root):
    program, point = finding.program, finding.point
    if finding.kind in ("raise", "recursion", "memory", "complex", "not-a-number", "value", "grad"):
        run = _Run(Engine, root)
        failure = run.program(program, point)
        if failure is not None:
            return failure
        if run.mutated is not None:  # every later value is off once an operand changed under it
            return run.mutation(program)
        node = finding.node if isinstance(finding.node, int) else None
        if finding.kind in ("value", "not-a-number", "complex"):
            found = run.values() or run.bad_data() or run.composition(program, [node] if node is not None else [],
                                                                      "value")
            if found is not None:
                return found
        if finding.kind == "grad":  # the local check found every value right before it blamed a gradient
            users = [k for k, _ in program.consumers()[node]] if node is not None else []
            found = (run.walk(definite=True) or run.rules() or run.composition(program, users, "grad")
                     or run.walk())
            if found is not None:
                return found
    return fallback(finding, root, Engine)


def _point(program, point):
    return ", ".join(f"{program.name(i)}={x!r}" for i, x in enumerate(point))


# --- an MLP ---

def _diagnose_mlp(finding, Engine, root, through_nn):
    spec = finding.spec
    if finding.step and finding.kind not in ("timeout", "crash", "memory"):  # it first failed at that step
        try:
            spec = trained(spec, Engine, finding.step, through_nn)
        except Exception:
            pass  # the steps before did not fail in the campaign: an engine that differs now is looked at as it is
    run = _Run(Engine, root)
    failure = run.mlp(spec, through_nn)
    if failure is not None:
        return failure
    # a node whose .data is not a number makes every gradient after it wrong too: it goes first
    return (run.bad_data() or run.values() or run.walk(definite=True) or run.rules() or run.walk()
            or fallback(finding, root, Engine))


# --- running the engine, watched ---

class _Run:
    """One forward pass (and on demand a backward pass) in the engine, with what the diagnosis needs:
    every node by identity, where each was created, and the exception if one was raised."""

    def __init__(self, Engine, root):
        self.Engine, self.root = Engine, root
        self.out = None
        self.created = {}  # id(node) -> Place of the line that created it
        self.keep = []  # every node of the graph, held so that ids stay unique
        self.made = []  # every node the forward pass made, in the order it made them
        self.program_nodes = None
        self.mutated = None  # (node index, before, after) when a program op changed an earlier node's data
        self.point = ()
        self.upstream = {}  # id(node) -> its gradient after the real backward pass

    # forward and backward

    def program(self, program, point):
        """Run the program forward and backward; a Cause if that raised, else None."""
        self.point = tuple(point)
        nodes = []
        try:
            with _Creations(self):
                nodes.extend(self.Engine(x) for x in point)
                datas = [n.data for n in nodes]
                for ins in program.instrs:
                    evaluate_one(program, ins, nodes)
                    datas.append(getattr(nodes[-1], "data", None))
                    if self.mutated is None and len(nodes) <= MUTATION_CHECK:
                        for j in range(len(nodes) - 1):
                            now = getattr(nodes[j], "data", None)
                            if nodes[j] is nodes[-1] or now is not datas[j] and not _same(now, datas[j]):
                                self.mutated = (len(nodes) - 1, j, datas[j], now)
                                break
        except BaseException as e:
            if not isinstance(e, Exception | RecursionError):
                raise
            self.program_nodes = nodes
            return self._raised(e, "forward", getattr(program.instrs[len(nodes) - program.n_inputs], "op", None)
                                if len(nodes) >= program.n_inputs and len(nodes) < program.n_nodes else None)
        self.program_nodes = nodes
        self.out = nodes[-1]
        # every node of the program, the dead code too: a wrong value there is a finding as well
        self.keep = graph.nodes(*nodes) if graph.has_graph(self.out) else list(nodes)
        return self._backward()

    def mlp(self, spec, through_nn):
        self.point = tuple(x for row in spec.X for x in row)
        try:
            with _Creations(self):
                params = nn_model(spec) if through_nn else engine_model(spec, self.Engine)
                _, loss = engine_loss(spec, params)
        except BaseException as e:
            if not isinstance(e, Exception | RecursionError):
                raise
            return self._raised(e, "forward", None)
        self.out = loss
        self.keep = graph.nodes(loss) if graph.has_graph(loss) else [loss]
        return self._backward()

    def _backward(self):
        try:
            self.out.backward()
        except BaseException as e:
            if not isinstance(e, Exception | RecursionError):
                raise
            return self.bad_data() or self._rule_that_raises() or self._raised(e, "backward", None)
        self.upstream = {id(v): _f(getattr(v, "grad", None)) for v in self.keep}
        return None

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
        pf = name.startswith(_PF) or name.startswith("ValueError: math domain error")
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
            _zero(graph.children(v))
            v.grad = UPSTREAM
            try:
                rule()
            except Exception as e:
                name = f"{type(e).__name__}: {' '.join(str(e).split())}"[:200]
                place = graph.innermost(e.__traceback__, self.root)
                sem = graph.semantics(v)
                what = _expr(sem) if sem else f"the node made by {getattr(v, '_op', '?')!r}"
                if place is None or place.function in ("_rule_that_raises",):
                    place = graph.place_of(rule)
                    return cause("raise", _method_name(place), place,
                                 f"the backward rule of {what} cannot be called as backward() calls it: {name}",
                                 klass(*self.point, *_datas(v)), type(e).__name__)
                pf = name.startswith(_PF) or name.startswith("ValueError: math domain error")
                return cause("python-float" if pf else "raise", _method_name(place), place,
                             f"the backward rule of {what} raises {name} at {_operands(sem, v)}",
                             3 if pf else klass(*self.point, *_datas(v)), type(e).__name__)
        return None

    # the checks

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
            method = _method_name(place)
            if isinstance(data, complex):
                return cause("python-float", method, place,
                             f"{method or 'an op'} gives the complex number {data!r} (Python's ** of a negative "
                             f"number); torch gives nan", 3, "complex")
            return cause("value", method, place, f"{method or 'an op'} makes a node whose .data is a "
                                                 f"{type(data).__name__} ({data!r:.50}), not a number",
                         klass(*self.point))
        return None

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
            nodes = [self.Engine(x) for x in self.point]
            for earlier in program.instrs[:k - program.n_inputs]:
                evaluate_one(program, earlier, nodes)
            target = nodes[j]
            place = _trace(lambda: evaluate_one(program, ins, nodes), lambda _: [_f(target.data)], self.root).writer(0)
            if place is None:
                nodes.pop()
                place = _returner(lambda: evaluate_one(program, ins, nodes), target, self.root)
        except Exception:
            pass
        method = graph.method_of(op)
        place = place or graph.place_of(getattr(self.Engine, method, None))
        expr = op.source([program.name(a) for a in ins.args], ins.c)
        what = f"changes {program.name(j)}.data from {before!r} to {after!r} and " if not _same(before, after) else ""
        return cause("no-graph", place.function if place else method, place,
                     f"{expr} {what}returns {program.name(j)} itself instead of building a new node",
                     klass(before, after))

    def composition(self, program, which, what):
        """The first program op of `which` (node indices) that, built alone on fresh leaves holding
        the engine's own operand values, disagrees with torch in its value (what="value") or its
        gradients ("grad"), although every engine node in it checks out: the method composes its
        nodes wrongly (`c / x` built as `x * (1 / c)`)."""
        nodes = self.program_nodes or []
        for k in sorted(k for k in which if program.n_inputs <= k < min(len(nodes), program.n_nodes)):
            ins = program.instrs[k - program.n_inputs]
            op = OPS[ins.op]
            datas = [_f(getattr(nodes[a], "data", None)) for a in ins.args]
            if any(d is None for d in datas):
                continue
            same_operands = len(ins.args) == 2 and ins.args[0] == ins.args[1]
            try:
                leaves = [self.Engine(d) for d in datas[:1 if same_operands else None]]
                out = op.apply(*(leaves * 2 if same_operands else leaves), ins.c)
                got = [_f(out.data)] + (_rules_alone(out, leaves) if graph.has_graph(out) else [])
            except Exception:
                continue
            value, grads = torch_local(op, datas, ins.c, 1.0)
            if same_operands:
                grads = [grads[0] + grads[1]]  # the one leaf of x * x holds both contributions
            compared = [(got[0], value)] if what == "value" else list(zip(got[1:], grads))
            if all(_agree(a, b, op.name) for a, b in compared):
                continue
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
                         klass(*datas, value))
        return None

    def values(self):
        """The first node (children first) whose value torch, from its own children, disagrees with."""
        for v in self.keep:
            sem = graph.semantics(v)
            if sem is None:
                continue
            datas = [_f(c.data) for c in sem.operands]
            if any(d is None for d in datas) or _f(v.data) is None:
                continue
            got = _f(v.data)
            wants = [torch_local(sem.op, list(order), sem.c, 1.0)[0] for order in _orders(sem, datas)]
            if any(_agree(got, w, sem.op.name) for w in wants):
                continue
            place = self.created.get(id(v))
            if got == _float32(wants[0]) != wants[0]:  # every op's result goes through float32
                at = _rounded_at(self.Engine, sem, datas, got, self.root)  # one line rounds for every op
                return cause("value", _method_name(at or place), at,
                             f"values are rounded to float32: {_expr(sem)} is {got!r} where torch gives "
                             f"{wants[0]!r}, at {_operands(sem, v)}", klass(got, wants[0], *datas), "float32")
            return cause("value", _method_name(place), place,
                         f"{_expr(sem)} is {got!r} where torch gives {wants[0]!r}, at {_operands(sem, v)}",
                         klass(got, wants[0], *datas))
        return None

    def rules(self):
        """The first node (in the order backward applies rules) whose rule, run alone, disagrees with
        torch's local derivative: with an upstream gradient of 0.75, then with the one the node had in
        the real backward pass (an inf there shows what 0.75 cannot). Only the nodes the output
        depends on: a rule that never runs does not make a gradient wrong."""
        for v in reversed(graph.nodes(self.out) if graph.has_graph(self.out) else self.keep):
            sem = graph.semantics(v)
            rule = getattr(v, "_backward", None)
            if sem is None or not callable(rule):
                continue
            datas = [_f(c.data) for c in sem.operands]
            if any(d is None for d in datas):
                continue
            real = self.upstream.get(id(v))
            for g in dict.fromkeys([UPSTREAM] + ([real] if real is not None else [])):
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
            trace = _trace(rule, lambda _: [_f(getattr(c, "grad", None)) for c in kids], self.root)
        except Exception:
            return None  # a rule that raises alone: _rule_that_raises' business, not a wrong number
        wants = []
        for order in _orders(sem, datas):
            _, contrib = torch_local(sem.op, list(order), sem.c, g)
            want = {id(c): HELD for c in kids}
            for c, d in zip(sem.operands if order == tuple(datas) else sem.operands[::-1], contrib):
                want[id(c)] += d
            wants.append(want)
        got = {id(c): _f(c.grad) for c in kids}
        if any(all(_agree(got[i], w[i], sem.op.name, g) for i in got) for w in wants):
            return None
        want = wants[0]
        bad = next(c for c in kids if not _agree(got[id(c)], want[id(c)], sem.op.name, g))
        pos = next(p for p, c in enumerate(sem.operands) if c is bad)
        line = trace.writer(kids.index(bad)) or _written_by(rule, bad)
        if line is None:  # no line writes it: name the last one that writes a gradient, after which it is missing
            line = next((w for w in (trace.writer(j) for j in reversed(range(len(kids)))) if w is not None), None)
            line = line or trace.callee()
        assigns = got[id(bad)] is not None and _agree(got[id(bad)], want[id(bad)] - HELD, sem.op.name, g)
        place = line or graph.place_of(rule)
        g_got = None if got[id(bad)] is None else got[id(bad)] - HELD
        written = trace.writer(kids.index(bad)) or _written_by(rule, bad)
        note = ("; it assigns (=) where it should add (+=) to what the gradient held" if assigns else
                "" if written else f"; no line of the rule writes {'ab'[pos] if len(sem.operands) <= 2 else 'it'}.grad")
        names = "ab"[:len(sem.operands)] if len(sem.operands) <= 2 else ""
        wrt = names[pos] if names else f"child {pos}"
        return cause("rule", _method_name(place) or _method_name(graph.place_of(rule)), place,
                     f"the backward rule of {_expr(sem)} does {wrt}.grad += {g_got!r} where torch's local "
                     f"derivative gives {want[id(bad)] - HELD!r}, at {_operands(sem, v)} and out.grad = {g!r}{note}",
                     klass(*datas, _f(v.data), g, want[id(bad)]), "assigns" if assigns else "")

    def walk(self, definite=False):
        """backward()'s walk, watched: every rule logged as it runs (where the engine lets the oracle
        wrap `_backward`), then the seed, each rule once, in reverse topological order, and no two
        distinct nodes merged. definite: only what the watching shows for sure, None otherwise (it
        is cheap, so it goes before the rules are checked one by one); else, when nothing shows, the
        walk is blamed as the one thing left."""
        out = self.out  # only what the output depends on: a dead node's rule is rightly never run
        everything = graph.nodes(out) if graph.has_graph(out) else self.keep
        backward = graph.place_of(getattr(type(out), "backward", None))
        inner = [v for v in everything if graph.children(v)]
        calls, rules = [], {}
        logged = all(_log(v, calls, rules) for v in inner)
        _zero(everything)
        orders = topo.Orders(everything, self.root)
        try:
            orders.run(out.backward)
        except Exception:
            return None
        finally:
            for v in inner:  # the engine's own rules back in place
                if id(v) in rules:
                    v._backward = rules[id(v)]
        cls = klass(*self.point)
        seed = _f(out.grad)
        if seed is not None and seed != 1.0 and (not calls or calls[0] is out or not logged):
            return cause("traversal", "backward", backward,
                         f"backward() leaves the output's grad at {seed!r} instead of seeding it with 1.0", cls, "seed")
        built = orders.fault(out, inner, backward, lambda v: _expr(graph.semantics(v)) if graph.semantics(v)
                             else "a node")
        if built is not None and not (built.detail == "visited" and _merged(inner, everything)):
            # the order is wrong as built: the function that builds it is at fault, not backward()'s loop
            return cause("traversal", built.place.function, built.place, built.summary, cls, built.detail)
        if not logged:
            return None if definite else cause(
                "traversal", "backward", backward, "every op's value and backward rule agree with torch, yet the "
                "gradients do not: backward()'s walk over the graph is at fault", cls, "walk")
        counts = {}
        for v in calls:
            counts[id(v)] = counts.get(id(v), 0) + 1
        for v in inner:
            if counts.get(id(v), 0) > 1:
                return cause("traversal", "backward", backward,
                             f"the rule of {_expr(graph.semantics(v)) if graph.semantics(v) else 'a node'} runs "
                             f"{counts[id(v)]} times in one backward(): the walk visits a node again", cls, "visited")
        never = [v for v in inner if counts.get(id(v), 0) == 0]
        for v in never:  # one merged node is enough: its whole subgraph is then never reached
            if _twin(v, everything) is not None:
                eq = graph.place_of(_own(type(v), "__hash__") or _own(type(v), "__eq__"))
                return cause("traversal", eq.function if eq else "__eq__", eq or backward,
                             f"two distinct nodes with equal data ({_f(v.data)!r}) compare equal, so backward()'s "
                             f"visited set takes them for one and one of them never passes on its gradient",
                             cls, "merged")
        if never:
            return cause("traversal", "backward", backward,
                         "backward() never runs the rule of a node the output depends on", cls, "visited")
        ran = {}
        for n, v in enumerate(calls):
            ran.setdefault(id(v), n)
        for v in inner:
            for c in graph.children(v):
                if id(c) in ran and ran[id(c)] < ran[id(v)]:
                    return cause("traversal", "backward", backward,
                                 "backward() runs a node's rule before the rule of a node that uses it: the order "
                                 "is not reverse topological, so a gradient is passed on before it is complete",
                                 cls, "order")
        return None if definite else cause(
            "traversal", "backward", backward, "every op's value and backward rule agree with torch, and each rule "
            "runs once in order, yet the gradients do not: backward()'s walk is at fault", cls, "walk")


_PF = ("ZeroDivisionError", "OverflowError")


def evaluate_one(program, ins, nodes):
    """Append node len(nodes) of the program (one step of program.evaluate)."""
    op = OPS[ins.op]
    nodes.append(op.apply(*(nodes[a] for a in ins.args), ins.c))


class _Creations:
    """Where each engine node is created, recorded with sys.setprofile while a forward pass runs
    (this is a worker process; the profiler is put back as it was)."""

    def __init__(self, run):
        self.run = run

    def __enter__(self):
        self.old = sys.getprofile()
        root, places = self.run.root, self.run.created

        made = self.run.made

        def hook(frame, event, arg):
            if event == "call" and frame.f_code.co_name == "__init__":
                obj = frame.f_locals.get("self")
                caller = frame.f_back
                if obj is not None and caller is not None and graph.is_engine_file(caller.f_code.co_filename, root) \
                        and id(obj) not in places:
                    places[id(obj)] = Place.of_frame(caller.f_code, caller.f_lineno)
                    made.append(obj)
            elif event == "return" and arg is not None and hasattr(arg, "data") and id(arg) not in places:
                caller = frame.f_back
                if caller is not None and graph.is_engine_file(caller.f_code.co_filename, root):
                    places[id(arg)] = Place.of_frame(caller.f_code, caller.f_lineno)
                    made.append(arg)

        sys.setprofile(hook)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self.old)


class _Trace:
    """The lines a function ran, each with what was watched just before it."""

    def __init__(self):
        self.steps = []  # (Place, watched values)

    def writer(self, j):
        """The line after which watched value j changed first, or None."""
        for (place, before), (_, after) in zip(self.steps, self.steps[1:]):
            if place is not None and repr(before[j]) != repr(after[j]):
                return place
        return None

    def callee(self):
        """The def of the first function the traced one called (a `_backward` that dispatches to a
        rule of its own per op, as this project's engine does), or None."""
        places = [p for p, _ in self.steps if p is not None]
        inner = [p for p in places if p.first != places[0].first]
        return Place(inner[0].file, inner[0].first, inner[0].function, inner[0].first) if inner else None


def _trace(fn, watch, root):
    """Run fn() under a line trace of the engine's frames (sys.settrace, put back after), reading
    watch(frame) before every line (and frame None before and after fn)."""
    trace = _Trace()

    def local(frame, event, arg):
        if event == "line":
            trace.steps.append((Place.of_frame(frame.f_code, frame.f_lineno), watch(frame)))
        elif event == "return":
            trace.steps.append((None, watch(frame)))
        return local

    def call(frame, event, arg):
        return local if graph.is_engine_file(frame.f_code.co_filename, root) else None

    old = sys.gettrace()
    trace.steps.append((None, watch(None)))
    sys.settrace(call)
    try:
        fn()
    finally:
        sys.settrace(old)
    trace.steps.append((None, watch(None)))
    return trace


def _rules_alone(out, leaves):
    """The leaves' gradients of `out` from the engine's own rules, applied by the oracle in reverse
    topological order (by identity): what backward() should give, whatever its walk does."""
    order = graph.nodes(out)
    _zero(order)
    out.grad = 1.0
    for v in reversed(order):
        rule = getattr(v, "_backward", None)
        if callable(rule):
            rule()
    return [_f(x.grad) for x in leaves]


def _returner(fn, target, root):
    """The Place (a function's def) of the innermost engine function that returned `target` while
    fn() ran (sys.setprofile, put back after), or None."""
    found = []

    def hook(frame, event, arg):
        if event == "return" and arg is target and not found and graph.is_engine_file(frame.f_code.co_filename, root):
            found.append(Place.of_frame(frame.f_code, frame.f_code.co_firstlineno))

    old = sys.getprofile()
    sys.setprofile(hook)
    try:
        fn()
    finally:
        sys.setprofile(old)
    return found[0] if found else None


def _written_by(rule, child):
    """The line of a closure rule that assigns to `child.grad`, found by the name the closure holds
    the child under (`self`, `other`): for a rule whose contribution is 0 here, so that no line
    visibly changed it."""
    import inspect
    import re

    fn = inspect.unwrap(rule)
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    names = [n for n, cell in cells.items() if _cell(cell) is child]
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    for i, text in enumerate(lines):
        if any(re.search(rf"\b{n}\.grad\s*[-+*]?=", text) for n in names):
            return Place.of_frame(fn.__code__, first + i)
    return None


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _log(v, calls, rules):
    """Wrap node v's `_backward` so that each call is logged (its own rule kept in `rules`, to be put
    back); False when the engine does not let the oracle (slots, a method)."""
    rule = v._backward

    def logged():
        calls.append(v)
        return rule()
    try:
        v._backward = logged
    except (AttributeError, TypeError):
        return False
    if not (hasattr(v, "__dict__") and v.__dict__.get("_backward") is logged):
        return False
    rules[id(v)] = rule
    return True


def _merged(inner, everything):
    """Whether some node the output depends on has a twin that the engine's == takes it for: a node
    the order leaves out for that reason is the merge's fault, not the walk's."""
    return any(_twin(v, everything) is not None for v in inner)


def _twin(v, everything):
    """Another node that the engine's == takes for v (a merge by __eq__/__hash__), or None."""
    for u in everything:
        if u is v:
            continue
        try:
            if bool(u == v) and hash(u) == hash(v):
                return u
        except Exception:
            continue
    return None


def _own(cls, name):
    """cls's own `name` (its class or a base the engine defines), not object's default."""
    for base in cls.__mro__:
        if base is object:
            return None
        if name in vars(base):
            return vars(base)[name]
    return None


def _zero(nodes):
    for v in nodes:
        try:
            v.grad = 0.0
        except Exception:
            pass


def _f(x):
    """x as a float, or None when it is not a real number."""
    if isinstance(x, numbers.Real):
        try:
            return float(x)
        except (OverflowError, ValueError):
            return None
    return None


def _rounded_at(Engine, sem, datas, got, root):
    """The engine line after which a local of the running frame first holds `got`, the op's result
    rounded to float32 (or a local's .data does: a node that stores it so), found by running the op
    again under a line trace; None when not found, or when an operand already is `got` (no line
    would tell)."""
    if got in datas:
        return None

    def holds(frame):
        values = frame.f_locals.values() if frame is not None else ()
        return [any(_f(x) == got or _f(getattr(x, "data", None)) == got for x in values if not isinstance(x, type))]

    try:
        leaves = [Engine(d) for d in datas]
        return _trace(lambda: sem.op.apply(*leaves, sem.c), holds, root).writer(0)
    except Exception:
        return None


def _float32(x):
    """x rounded to the nearest float32 (as numpy's float32 or struct's 'f' would store it)."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except (OverflowError, struct.error):
        return None


def _same(a, b):
    return repr(a) == repr(b) or a == b


def _orders(sem, datas):
    """The operand orders to try: as given, and reversed when the children came from a set."""
    datas = tuple(datas)
    return [datas] if sem.ordered or len(datas) != 2 or datas[0] == datas[1] else [datas, datas[::-1]]


def _agree(got, want, name, upstream=0.0):
    if got is None or want is None:
        return got is None and want is None
    if not (math.isfinite(got) and math.isfinite(want)):
        return bool(close(got, want))
    ulps, floor = ALLOW.get(name, ALLOW["default"])
    scale = max(abs(got), abs(want))
    upstream = abs(upstream) if math.isfinite(upstream) else 0.0
    return abs(got - want) <= max(2 * EPS * ulps * scale + 2 * EPS * floor * upstream, ATOL + RTOL * scale)


def _expr(sem):
    names = ["a", "b"][:len(sem.operands)]
    return sem.op.source(names, sem.c)


def _operands(sem, v):
    """The operands' values as `a=0.5, b=2.0` (the children's, for a node of unknown semantics)."""
    kids = sem.operands if sem is not None else graph.children(v)
    names = ["a", "b"] if len(kids) <= 2 else [f"c{i}" for i in range(len(kids))]
    return ", ".join(f"{n}={_f(getattr(c, 'data', None))!r}" for n, c in zip(names, kids))


def _datas(v):
    return [_f(getattr(c, "data", None)) for c in graph.children(v)]


def _method_name(place):
    return place.function if place is not None else ""


def _depth(out):
    """The longest path from out to a leaf, by identity, without recursion."""
    order = graph.nodes(out)
    depth = {}
    for v in order:
        depth[id(v)] = 1 + max((depth[id(c)] for c in graph.children(v)), default=0)
    return depth.get(id(out), 0)

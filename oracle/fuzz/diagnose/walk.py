"""Step 4: when every value and rule checks out and the gradients still disagree, backward()'s walk
is at fault: the seed, the order, a rule run twice or never, nodes merged by `__eq__`/`__hash__`."""
from oracle.fuzz import graph, topo
from oracle.fuzz.diagnose.cause import cause
from oracle.fuzz.diagnose.nodes import as_float, expression, zero_grads
from oracle.fuzz.diagnose.trace import line_trace
from oracle.fuzz.diagnose.way import number_class


class Walk:
    """Step 4 of a `Run` (self): backward()'s walk, watched."""

    def walk(self, definite=False):
        """backward()'s walk, watched: every rule logged as it runs (where the engine lets the oracle
        wrap `_backward`), then the seed, each rule once, in reverse topological order, and no two
        distinct nodes merged. definite: only what the watching shows for sure, None otherwise (it
        is cheap, so it goes before the rules are checked one by one); else, when nothing shows, the
        walk is blamed as the one thing left."""
        shadowed = self.shadowed()
        if shadowed is not None:
            return shadowed
        out = self.out  # only what the output depends on: a dead node's rule is rightly never run
        everything = graph.nodes(out) if graph.has_graph(out) else self.keep
        backward = graph.place_of(getattr(type(out), "backward", None))
        inner = [v for v in everything if graph.children(v)]
        calls, rules = [], {}
        logged = all(_log(v, calls, rules) for v in inner)
        zero_grads(everything)
        orders = topo.Orders(everything, self.root)
        try:
            orders.run(out.backward)
        except Exception:
            return None
        finally:
            for v in inner:  # the engine's own rules back in place
                if id(v) in rules:
                    v._backward = rules[id(v)]
        cls = number_class(everything, self.upstream, self.point)
        seed = as_float(out.grad)
        if seed is not None and seed != 1.0 and (not calls or calls[0] is out or not logged):
            return cause("traversal", "backward", backward,
                         f"backward() leaves the output's grad at {seed!r} instead of seeding it with 1.0", cls, "seed")
        for v in inner:  # a set of children that took two operands for one: the other is never reached
            lost = _lost(v)
            if lost:
                return cause("traversal", *_eq_place(v, backward),
                             f"two distinct nodes with equal data ({as_float(lost[0].data)!r}) compare equal, so the "
                             f"set that holds a node's children keeps one of them and backward() never reaches the "
                             f"other", cls, "merged")
        built = orders.fault(out, inner, backward, lambda v: expression(graph.semantics(v)) if graph.semantics(v)
                             else "a node")
        twins = _by_hash(everything)
        if built is not None and not (built.detail == "visited" and _merged(inner, twins)):
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
                             f"the rule of {expression(graph.semantics(v)) if graph.semantics(v) else 'a node'} runs "
                             f"{counts[id(v)]} times in one backward(): the walk visits a node again", cls, "visited")
        never = [v for v in inner if counts.get(id(v), 0) == 0]
        for v in never:  # one merged node is enough: its whole subgraph is then never reached
            if _twin(v, twins) is not None:
                return cause("traversal", *_eq_place(v, backward),
                             f"two distinct nodes with equal data ({as_float(v.data)!r}) compare equal, so "
                             f"backward()'s visited set takes them for one and one of them never passes on its "
                             f"gradient",
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

    def shadowed(self):
        """The output's own attribute `backward` hiding its class's backward() (`self.backward =
        lambda: None` in __init__, a typo for `_backward`): out.backward() calls it, and the walk
        never runs. Placed at the line that sets it, found by running __init__ again on a fresh node
        under a line trace; else at the class's backward()."""
        out = self.out
        own, Engine = getattr(out, "__dict__", {}).get("backward"), type(out)
        if own is None or not callable(getattr(Engine, "backward", None)):
            return None
        place = None
        try:
            fresh = Engine.__new__(Engine)
            place = line_trace(lambda: fresh.__init__(as_float(out.data) or 0.0),
                               lambda _: ["backward" in getattr(fresh, "__dict__", {})], self.root).writer(0)
        except Exception:
            place = None
        where = f" in {place.function}" if place is not None else ""
        place = place or graph.place_of(Engine.backward)
        return cause("traversal", place.function if place else "backward", place,
                     f"every node is given an attribute `backward` of its own{where}, which hides the class's "
                     f"backward(): out.backward() calls it and the walk never runs (a typo for `_backward`?)", 1,
                     "shadowed")


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


def _merged(inner, twins):
    """Whether some node the output depends on has a twin that the engine's == takes it for: a node
    the order leaves out for that reason is the merge's fault, not the walk's."""
    return any(_twin(v, twins) is not None for v in inner)


def _by_hash(everything):
    """The nodes by their hash, as the engine's __hash__ gives it: only nodes of one hash can be
    merged by a set, so each is compared with those alone (a deep graph's 6,000 nodes, not 6,000**2
    pairs)."""
    groups = {}
    for u in everything:
        try:
            groups.setdefault(hash(u), []).append(u)
        except Exception:  # noqa: S112 (an unhashable node is merged with none)
            continue
    return groups


def _twin(v, twins):
    """Another node that the engine's == takes for v (a merge by __eq__/__hash__), or None. twins:
    the nodes by hash (`_by_hash`)."""
    try:
        same = twins.get(hash(v), ())
    except Exception:
        return None
    for u in same:
        if u is v:
            continue
        try:
            if bool(u == v):
                return u
        except Exception:
            continue
    return None


def _eq_place(v, backward):
    """(method, Place) of the engine's __hash__ (or __eq__) that took two nodes for one; else backward's."""
    eq = graph.place_of(_own(type(v), "__hash__") or _own(type(v), "__eq__"))
    return (eq.function, eq) if eq else ("__eq__", backward)


def _lost(v):
    """The nodes v's rule writes to that the set holding its children lost: distinct from every child,
    yet equal to one by the engine's `==` (so the set kept only that one). [] when its children are
    not in a set, or none is lost."""
    held = graph.holder(v)
    if not isinstance(held, set | frozenset):
        return []
    kept = {id(c) for c in held}
    lost = []
    for x in graph.closure(getattr(v, "_backward", None)).values():
        if x is v or id(x) in kept or not graph.is_node(x):
            continue
        try:
            if any(bool(x == c) for c in held):
                lost.append(x)
        except Exception:  # noqa: S112 (an == that raises merges nothing)
            continue
    return lost


def _own(cls, name):
    """cls's own `name` (its class or a base the engine defines), not object's default."""
    for base in cls.__mro__:
        if base is object:
            return None
        if name in vars(base):
            return vars(base)[name]
    return None

"""The topological order an engine's backward() builds, watched as it is built, for the diagnosis.

Most engines build the order in a function of its own (the lecture's `build_topo`, nested in
backward(); this project's `_topo`) and then apply the rules in reverse. When the walk is at fault,
the mistake is in one or the other, and the learner needs to know which. `Orders.run(backward)`
runs backward() under a profiler (sys.setprofile, put back after) that notes each list of graph
nodes an engine function holds in a local when it returns: the order, as it is filled in place.
`Orders.fault()` then says whether that list is wrong in itself: a node in it twice (a missing or emptied
visited set), a node the output depends on left out, or an order neither children-first nor
parents-first. Such a fault belongs to the function that built the list. A right list (children
first) clears the builder, and the walk's fault is backward()'s own.
"""
import sys
from collections import Counter
from dataclasses import dataclass

from oracle.fuzz import graph


@dataclass(frozen=True)
class Fault:
    place: object  # graph.Place of the def of the function that built the order
    detail: str  # visited (a node twice, or left out) or order
    summary: str


class Orders:
    """The lists of graph nodes that engine functions held when they returned, by function."""

    def __init__(self, nodes, root=""):
        self.ids = {id(v) for v in nodes}
        self.root = root
        self.lists = {}  # code -> (Place of its def, the list object, filled in place)

    def run(self, fn):
        """Run fn() (backward()) watched; what it raises propagates."""
        old = sys.getprofile()
        sys.setprofile(self._hook)
        try:
            fn()
        finally:
            sys.setprofile(old)

    def _hook(self, frame, event, arg):
        if event != "return" or frame.f_code in self.lists or not graph.is_engine_file(frame.f_code.co_filename,
                                                                                        self.root):
            return
        for value in frame.f_locals.values():
            # the first time the function returns (a recursive builder: with the list still short);
            # the list object is kept, and read once backward() is done
            if type(value) is list and value and all(id(x) in self.ids for x in value):
                code = frame.f_code
                self.lists[code] = (graph.Place.of_frame(code, code.co_firstlineno), value)
                return

    def fault(self, out, inner, backward, expr):
        """A Fault of the order of `out`'s graph (a list that holds `out`) built by a function other
        than `backward` (the Place of backward's def), or None. `inner`: the nodes the output
        depends on that have children, whose rules must each run once; expr(v): a node as the
        summary names it."""
        for place, order in self.lists.values():
            mine = backward is not None and (place.file, place.first) == (backward.file, backward.first)
            if mine or not any(v is out for v in order):
                continue
            fn = f"{place.function}()"
            counts = Counter(map(id, order))
            twice = next((v for v in inner if counts[id(v)] > 1), None)
            if twice is not None:
                return Fault(place, "visited", f"the topological order {fn} builds holds {expr(twice)} "
                                               f"{counts[id(twice)]} times, so its rule runs as often in one "
                                               f"backward(): the walk places a node again once it has placed it")
            gone = next((v for v in inner if id(v) not in counts), None)
            if gone is not None:
                return Fault(place, "visited", f"the topological order {fn} builds leaves out {expr(gone)}, a node "
                                               f"the output depends on, so its rule never runs")
            at = {id(v): n for n, v in enumerate(order)}
            children_first = all(at[id(c)] < at[id(v)] for v in inner for c in graph.children(v) if id(c) in at)
            parents_first = all(at[id(c)] > at[id(v)] for v in inner for c in graph.children(v) if id(c) in at)
            if not (children_first or parents_first):
                return Fault(place, "order", f"the order {fn} builds is not topological: a node comes before one "
                                             f"it uses, and after another")
        return None

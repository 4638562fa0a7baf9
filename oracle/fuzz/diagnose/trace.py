"""Watching the engine run: where each node is created (sys.setprofile), after which line of a
function a watched value changed (sys.settrace), which function returned a node, and which line of
a rule's source writes a child's gradient. Each puts the interpreter's hook back as it was."""
import sys

from oracle.fuzz import graph
from oracle.fuzz.graph import Place


class Creations:
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
            elif event == "return" and graph.is_node(arg) and id(arg) not in places:
                caller = frame.f_back
                if caller is not None and graph.is_engine_file(caller.f_code.co_filename, root):
                    places[id(arg)] = Place.of_frame(caller.f_code, caller.f_lineno)
                    made.append(arg)

        sys.setprofile(hook)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self.old)


class Trace:
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


def line_trace(fn, watch, root):
    """Run fn() under a line trace of the engine's frames (sys.settrace, put back after), reading
    watch(frame) before every line (and frame None before and after fn)."""
    trace = Trace()

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


def returner(fn, target, root):
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


def written_by(rule, child):
    """The line of a closure rule that assigns to `child.grad`, found by the name the closure holds
    the child under (`self`, `other`): for a rule whose contribution is 0 here, so that no line
    visibly changed it."""
    import inspect
    import re

    fn = inspect.unwrap(rule)
    names = [n for n, held in graph.closure(fn).items() if held is child]
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None
    for i, text in enumerate(lines):
        if any(re.search(rf"\b{n}\.grad\s*[-+*]?=", text) for n in names):
            return Place.of_frame(fn.__code__, first + i)
    return None

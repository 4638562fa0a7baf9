"""An engine's own graph, read the way micrograd 0.1.0 and the lecture lay it out: `_prev` (the
children, or one of the names learners give them: `CHILDREN`), `_op` (what made the node: '+', '*',
'**2', 'tanh', ...) and `_backward` (its rule, called with no arguments). Engines that lack any of
these are read as far as they go.

`nodes(out)` walks the graph by identity (`id`), never by the engine's own `__eq__`/`__hash__`;
`semantics(node)` maps a node's `_op` to the op table's row (so torch can recompute it); and
`where` finds the learner's own source: the file, line and text of a method or rule, and whether
a frame belongs to the engine at all.
"""
import inspect
import linecache
import math
import os
import pathlib
import re
import sysconfig
from dataclasses import dataclass

from oracle.ops import OPS

ORACLE = str(pathlib.Path(__file__).resolve().parents[1])  # the oracle package: never the engine's code
_LIBRARY = tuple(str(pathlib.Path(p).resolve()) for p in {sysconfig.get_path(k) for k in ("stdlib", "purelib",
                                                                                             "platlib")} if p)
MUTANT_FILE = "<micrograd/engine.py"  # the pseudo-file of oracle.fuzz.mutants' engines
# The suffix of a file that holds a notebook cell's source, or the prompt's (`In [7].cell`): an engine
# defined there has no file of its own (see oracle.fuzz.interactive), and its lines are the cell's.
CELL = ".cell"

# `_op` -> (op-table op, number of operands). Names a learner might write are accepted too.
_NAMED = {"+": "add", "add": "add", "*": "mul", "mul": "mul", "/": "div", "div": "div", "relu": "relu",
          "tanh": "tanh", "exp": "exp", "log": "log", "sigmoid": "sigmoid", "abs": "abs", "neg": "neg"}
_POWER = re.compile(r"\*\*\s*\(?([-+]?[0-9.]+(?:e[-+]?[0-9]+)?)\)?", re.IGNORECASE)


# Where engines keep a node's children: micrograd's and the lecture's `_prev`, then the names learners give
# them. The first of these a node has as a tuple, list or set (of nodes) holds them.
CHILDREN = ("_prev", "_children", "children", "prev", "parents", "inputs")
_HOLDERS = (tuple, list, set, frozenset)


def is_node(x):
    """Whether x is one of an engine's nodes: it has a .data and a .grad (a numpy array or scalar has
    a .data too, its buffer, and no .grad)."""
    try:
        return hasattr(x, "data") and hasattr(x, "grad")
    except Exception:  # a property that fails with something other than AttributeError
        return False


def children_attr(v):
    """The name of the attribute in which node v keeps its children (`CHILDREN`), or None when it
    has none of them: a tuple, list or set that is empty (a leaf) or holds nodes (`is_node`)."""
    for name in CHILDREN:
        try:
            held = getattr(v, name)
        except Exception:  # noqa: S112 (not there, or a property that fails: the next name)
            continue
        if isinstance(held, _HOLDERS) and all(is_node(c) for c in held):
            return name
    return None


def holder(v):
    """The tuple, list or set in which node v keeps its children (see `children_attr`), or None."""
    name = children_attr(v)
    return None if name is None else getattr(v, name)


def children(v):
    """A node's children as a tuple (a set sorted by id, so that a walk is the same however the set
    iterates); () when it has none, or keeps them under no name of `CHILDREN`."""
    held = holder(v)
    if held is None:
        return ()
    return tuple(sorted(held, key=id)) if isinstance(held, set | frozenset) else tuple(held)


def has_graph(v):
    """Whether the engine exposes its graph: its nodes keep their children under a name of
    `CHILDREN`."""
    return children_attr(v) is not None


def nodes(*outs):
    """Every node the `outs` depend on, children before parents, by identity (an explicit stack)."""
    order, state, stack = [], {}, list(reversed(outs))
    while stack:
        v = stack[-1]
        s = state.get(id(v))
        if s is None:
            state[id(v)] = False
            stack.extend(c for c in reversed(children(v)) if id(c) not in state)
        else:
            stack.pop()
            if not s:
                state[id(v)] = True
                order.append(v)
    return order


def depth(out):
    """The number of nodes on the longest path from `out` down to a leaf, in the graph the engine
    built (by identity, without recursion): what a recursive walk of it goes as deep as."""
    deepest = {}
    for v in nodes(out):
        deepest[id(v)] = 1 + max((deepest[id(c)] for c in children(v)), default=0)
    return deepest.get(id(out), 0)


@dataclass(frozen=True)
class Semantics:
    """What an engine node computes, in the op table's terms."""
    op: object  # an ops.Op
    c: object  # its constant (an exponent), or None
    operands: tuple  # the children in operand order (a child used twice appears twice)
    ordered: bool  # False when the children came from a set (then a binary op may have them either way)


def semantics(v):
    """The Semantics of node v from its `_op` and children, or None when the oracle cannot tell what
    it computes (an unknown `_op`, an unexpected number of children, a leaf)."""
    kids = children(v)
    if not kids:
        return None
    try:
        tag = str(v._op).strip()
    except Exception:
        return None
    ordered = not isinstance(holder(v), set | frozenset)
    power = _POWER.fullmatch(tag)
    if power and len(kids) == 1:
        c = float(power[1])
        return Semantics(OPS["pow_float"], int(c) if c.is_integer() else c, kids, True)
    if tag == "**":  # x ** y; with one child (a set's) c ** x or x ** x, told by the node's value
        if len(kids) == 1 and not ordered and _own_power(v, kids[0]):
            return Semantics(OPS["pow"], None, kids * 2, True)
        return Semantics(OPS["pow"], None, kids, ordered) if len(kids) == 2 else None
    if tag == "-":
        return Semantics(OPS["sub"], None, kids * (3 - len(kids)), ordered) if len(kids) == 2 else Semantics(
            OPS["neg"], None, kids, True)
    name = _NAMED.get(tag.lower())
    if name is None:
        return None
    op = OPS[name]
    if op.arity == 2 and len(kids) == 1:  # x + x, x * x with children in a set: one child, used twice
        kids = kids * 2
    if len(kids) != op.arity:
        return None
    return Semantics(op, None, kids, ordered)


def _own_power(v, x):
    """Whether node v, a `**` whose one child x came from a set, is x ** x: its value is x's power of
    itself (Python's, to 1e-9), and its rule holds no number equal to x's data (c ** x at x = c has
    that value too)."""
    try:
        if not math.isclose(float(v.data), float(x.data) ** float(x.data), rel_tol=1e-9):
            return False
    except Exception:  # not numbers, an overflow, a complex power
        return False
    held = closure(getattr(v, "_backward", None)).values()  # what v's rule closes over
    return not any(isinstance(h, int | float) and h == x.data for h in held)


def closure(fn):
    """What a function (a node's rule) closes over, by the name it uses: {name: what its cell holds},
    empty cells left out; {} for anything that is no closure."""
    fn = inspect.unwrap(fn) if callable(fn) else None
    code, cells = getattr(fn, "__code__", None), getattr(fn, "__closure__", None) or ()
    held = {}
    for name, c in zip(code.co_freevars if code is not None else (), cells):
        try:
            held[name] = c.cell_contents
        except ValueError:  # an empty cell
            continue
    return held


# --- the learner's own code ---

@dataclass(frozen=True)
class Place:
    """A place in the engine's source: a line, and the function that holds it (its name and the
    line of its `def`, which is what the symptoms of one bug share)."""
    file: str
    line: int
    function: str
    first: int = 0  # the line of the function's def (0: not known)

    @staticmethod
    def of_frame(code, line):
        return Place(code.co_filename, line, function_name(code), code.co_firstlineno)

    @property
    def text(self):
        return linecache.getline(self.file, self.line).strip() if self.line else ""

    def show(self, root=""):
        """`file:line  text`, or `In [7], line 3  text` in a notebook's cell."""
        label = cell(self.file, root)
        where = f"{label}, line {self.line}" if label else f"{short(self.file, root)}:{self.line}"
        return where + (f"  {self.text}" if self.text else "")


def folders(root):
    """The engine's folders: `root` is the one it was imported from, or a tuple of that one and the
    others it imports from (--engine-path), every one of them the engine's own code."""
    return (root,) if isinstance(root, str) else tuple(root) or ("",)


def short(file, root=""):
    """A file as the learner names it: relative to the engine's folder that holds it (`folders`)."""
    within = next((r for r in folders(root) if r and file.startswith(r.rstrip(os.sep) + os.sep)), None)
    return os.path.relpath(file, within) if within else file


def cell(file, root=""):
    """The notebook cell (or the prompt's input) a file holds, as the notebook names it: `In [7]`;
    None for any other file (see CELL)."""
    name = short(file, root)
    return name[:-len(CELL)] if name.endswith(CELL) else None


def function_name(code):
    """A function's name as a learner knows it: a closure is named after the method that defines
    it (the `_backward` that `__mul__` defines is `__mul__`'s), where Python says so (3.11+)."""
    qualname = getattr(code, "co_qualname", code.co_name)
    if ".<locals>." in qualname:
        return qualname.split(".<locals>.")[0].rsplit(".", 1)[-1]
    return code.co_name


def is_engine_file(filename, root=""):
    """Whether code from `filename` is the engine's (the learner's), not the oracle's, Python's or a
    library's. `root`: the sys.path entry the engine was imported from, or the tuple of every folder
    it was loaded from (`folders`): a file in any of them is the engine's."""
    if filename.startswith("<"):
        return filename.startswith(MUTANT_FILE)
    path = str(pathlib.Path(filename).resolve())
    if path.startswith(ORACLE + os.sep) or path.startswith(_LIBRARY):
        return False
    return any(not r or path.startswith(r.rstrip(os.sep) + os.sep) for r in folders(root))


def place_of(fn):
    """The Place where a function (or a method, or a closure) is defined, or None."""
    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    return Place(code.co_filename, code.co_firstlineno, function_name(code), code.co_firstlineno)


def innermost(tb, root=""):
    """The innermost engine frame of a traceback as a Place, or None."""
    found = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if is_engine_file(code.co_filename, root):
            found = Place.of_frame(code, tb.tb_lineno)
        tb = tb.tb_next
    return found


def most_repeated(tb, root=""):
    """The engine frame that a traceback repeats most (for a RecursionError: the recursive call)."""
    counts = {}
    while tb is not None:
        code = tb.tb_frame.f_code
        if is_engine_file(code.co_filename, root):
            key = Place.of_frame(code, tb.tb_lineno)
            counts[key] = counts.get(key, 0) + 1
        tb = tb.tb_next
    return max(counts, key=counts.get) if counts else None


_DUNDERS = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "**": "pow"}


def method_of(op):
    """The engine method that an op-table op calls, read off its template: `{0}.tanh()` calls
    tanh, `{c} - {0}` calls __rsub__, `abs({0})` calls __abs__."""
    t = op.template
    if t.startswith("{0}."):
        return t[4:].split("(")[0]
    if t.startswith("abs("):
        return "__abs__"
    if t == "-{0}":
        return "__neg__"
    symbol = t.split()[1]
    return f"__{'r' if t.startswith('{c}') else ''}{_DUNDERS[symbol]}__"

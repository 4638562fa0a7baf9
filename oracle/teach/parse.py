"""The safe parser of `compare`: a micrograd program's text, parsed with `ast`, checked node by
node against a whitelist and lowered into the oracle's SSA `Program`. Nothing is ever executed:
anything outside the whitelist, or past a size limit, is a `CompareError` naming line and column.
"""
import ast
import io
import math
import re
from dataclasses import dataclass
from functools import cached_property

from oracle.ops import const_source
from oracle.program import Instr, Program
from oracle.teach.source import CompareError, error_at

MAX_NODES = 10_000  # leaves plus ops; the graph, table and torch code stay usable
MAX_DEPTH = 100  # AST nesting; the lowering below recurses once per level
MAX_EXPONENT = 1000  # |c| in x ** c and in constant folding: `10**10**10` is refused before it is computed
MAX_INT_BITS = 1100  # a folded integer past this could not become a float anyway (2**1024 overflows)

METHODS = ("relu", "tanh", "exp", "log", "sigmoid", "abs")
BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
# node op node, node op number, number op node
OP_NAMES = {ast.Add: ("add", "add_c", "radd_c"), ast.Sub: ("sub", "sub_c", "rsub_c"),
            ast.Mult: ("mul", "mul_c", "rmul_c"), ast.Div: ("div", "div_c", "rdiv_c"),
            ast.Pow: ("pow", None, "rpow")}
MICROGRAD_IMPORTS = {"micrograd", "micrograd.engine"}  # `from ... import Value`: inert, so README code pastes as is
RESERVED = {"torch", "print"}  # names the printed torch code needs for itself


@dataclass
class Parsed:
    program: Program
    inputs: list  # the leaves' values, one per input node
    variables: dict  # user name -> node of its final binding (names bound to Values only), in order of first assignment
    output: str  # the variable that is differentiated
    lines: list  # per node: the source line that made it
    names: list  # per node: the user names bound to it, in binding order
    labels: list  # per node: its label='..' or `X.label = '..'` ('' when none)
    sources: dict  # line number -> that statement's first source line, for comments in the torch code

    def display(self, k):
        """Node k as the table names it: a variable whose value it is, else the name the torch code gives it."""
        return self._final_names.get(k) or (self.names[k] or [self.code_names[k]])[0]

    @cached_property
    def _final_names(self):
        out = {}
        for name, k in self.variables.items():
            out.setdefault(k, name)
        return out

    @cached_property
    def code_names(self):
        """Per node, its name in the printed torch code."""
        return _code_names(self)


def parse(text):
    """A micrograd program's text as a Parsed program, or CompareError saying what and where."""
    try:
        tree = ast.parse(text, "<program>")
    except SyntaxError as e:
        raise CompareError(f"syntax error: {e.msg}", e.lineno or 1, max(e.offset or 1, 1)) from None
    except (RecursionError, MemoryError):
        # Python's parser gives up on deep nesting (5,000 parentheses, a 5,000-term sum) with no position
        line = _first_unparsable_line(text)
        msg = "nested too deeply for Python's parser; split the expression over several lines"
        raise CompareError(msg, line, 1 if line else None) from None
    lines = _lines(text)
    _check_depth(tree, lines)
    if not tree.body:
        raise CompareError("the program is empty: nothing to compare")
    return _Lowering(lines).module(tree)


def _lines(text):
    return re.split(r"\r\n|\r|\n", text)  # as Python's tokenizer counts lines (splitlines() also splits at \f)


def _first_unparsable_line(text):
    """The first line of the first statement that the parser alone cannot take, or None."""
    import tokenize

    start, lines = 1, _lines(text)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NEWLINE:  # the end of one logical line: a whole top-level statement
                chunk = "\n".join(lines[start - 1:tok.end[0]])
                try:
                    ast.parse(chunk)
                except (RecursionError, MemoryError):
                    return start
                except SyntaxError:
                    pass
                start = tok.end[0] + 1
    except (tokenize.TokenError, SyntaxError, RecursionError, MemoryError):
        pass
    return None


def _check_depth(tree, lines):
    """Refuse nesting past MAX_DEPTH before anything recurses over the tree (this walk does not)."""
    stack = [(tree, 0, None)]
    while stack:
        node, depth, where = stack.pop()
        where = node if hasattr(node, "lineno") else where
        if depth > MAX_DEPTH:
            raise error_at(lines, where, f"nested more than {MAX_DEPTH} levels deep; split the expression over "
                                         f"several lines")
        stack.extend((child, depth + 1, where) for child in ast.iter_child_nodes(node))


class _Lowering:
    """One pass over the whitelisted AST. Expressions lower to a number (folded) or a node."""

    def __init__(self, lines):
        self.lines = lines
        self.leaves = []  # (value, label, line)
        self.ops = []  # (op, args as node keys, c, line)
        self.env = {}  # name -> number or node key
        self.bindings = []  # (name, node key, line), every binding of a name to a node
        self.labels = {}  # node key -> label
        self.assigned = {}  # name -> line of its first assignment anywhere, for "used before assigned"
        self.line = 0

    def err(self, node, message):
        return error_at(self.lines, node, message)

    # statements

    def module(self, tree):
        for st in tree.body:
            for target in (st.targets if isinstance(st, ast.Assign) else [getattr(st, "target", None)]):
                if isinstance(target, ast.Name):
                    self.assigned.setdefault(target.id, target.lineno)
        output, last = None, None
        for i, st in enumerate(tree.body):
            self.line = st.lineno
            if isinstance(st, ast.Expr) and self._is_backward(st.value):
                if i != len(tree.body) - 1:
                    raise self.err(st, "backward() must be the last line")
                output, last = self._backward(st.value), st
            elif isinstance(st, ast.Assign):
                name = self.assign(st)
                if name is not None:
                    output, last = name, st
            elif isinstance(st, ast.AugAssign):
                output, last = self.augassign(st), st
            elif isinstance(st, ast.ImportFrom) and st.module in MICROGRAD_IMPORTS and st.level == 0 and [
                    (a.name, a.asname) for a in st.names] == [("Value", None)]:
                continue
            elif isinstance(st, ast.Import | ast.ImportFrom):
                raise self.err(st, "imports are not allowed (only `from micrograd.engine import Value`, which "
                                   "compare ignores)")
            elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and isinstance(
                    st.value.func, ast.Name) and st.value.func.id == "print":
                raise self.err(st, "print() is not supported: compare prints every variable itself; delete the line")
            else:
                raise self.err(st, f"{_describe_stmt(st)} is not allowed: only `name = ...`, `name += ...` and a "
                                   f"last `name.backward()`")
        if output is None:
            raise CompareError("the program assigns no Value: nothing to compare")
        return self.finish(output, last)

    def assign(self, st):
        if len(st.targets) != 1:
            raise self.err(st, "assign to one name at a time")
        target = st.targets[0]
        if isinstance(target, ast.Attribute) and target.attr == "label" and isinstance(target.value, ast.Name):
            node = self.name(target.value)
            if not isinstance(node, _Key):
                raise self.err(target, f"'{target.value.id}' is a number, not a Value: it has no label")
            if not (isinstance(st.value, ast.Constant) and isinstance(st.value.value, str)):
                raise self.err(st.value, "a label must be a string literal")
            self.labels[node] = st.value.value
            return None
        if not isinstance(target, ast.Name):
            raise self.err(target, "only a plain name can be assigned to")
        self.bind(target.id, self.expr(st.value), st)
        return target.id

    def augassign(self, st):
        if not isinstance(st.target, ast.Name):
            raise self.err(st.target, "only a plain name can be assigned to")
        if type(st.op) not in BINOPS:
            raise self.err(st, f"operator {type(st.op).__name__} is not supported: use + - * / **")
        left = self.name(st.target)  # `c += x` is `c = c + x`: a new node, as Value has no __iadd__
        self.bind(st.target.id, self.binop(st, st.op, left, self.expr(st.value)), st)
        return st.target.id

    def bind(self, name, value, st):
        self.env[name] = value
        if isinstance(value, _Key):
            self.bindings.append((name, value, st.lineno))

    def _is_backward(self, e):
        return isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "backward"

    def _backward(self, call):
        if call.args or call.keywords:
            raise self.err(call, "backward() takes no arguments")
        if not isinstance(call.func.value, ast.Name):
            raise self.err(call, "call backward() on a variable: `g.backward()`")
        if not isinstance(self.name(call.func.value), _Key):
            raise self.err(call, f"'{call.func.value.id}' is a number, not a Value: it has no backward()")
        return call.func.value.id

    # expressions

    def expr(self, e):
        if isinstance(e, ast.Constant):
            return self.constant(e)
        if isinstance(e, ast.Name):
            return self.name(e)
        if isinstance(e, ast.BinOp):
            if type(e.op) not in BINOPS:
                raise self.err(e, f"operator {type(e.op).__name__} is not supported: use + - * / **")
            return self.binop(e, e.op, self.expr(e.left), self.expr(e.right))
        if isinstance(e, ast.UnaryOp):
            return self.unary(e)
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.Attribute):
            what = "access to dunder attributes" if e.attr.startswith("__") else "attribute access"
            raise self.err(e, f"{what} is not allowed: '.{e.attr}'")
        raise self.err(e, f"{_describe_expr(e)} is not allowed: only numbers, names, Value(...), + - * / **, "
                          f"unary - and the methods {', '.join(METHODS)}")

    def constant(self, e):
        v = e.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.err(e, f"only numbers are allowed here, got {type(v).__name__} {v!r:.40}")
        return self.number(v, e)

    def number(self, v, e):
        """v, if it is a real number a float can hold."""
        try:
            ok = math.isfinite(float(v))
        except OverflowError:
            ok = False
        if not ok:
            raise self.err(e, f"the number {v!r:.40} is not finite in float64")
        return v

    def name(self, e):
        if e.id in self.env:
            return self.env[e.id]
        if e.id == "Value":
            raise self.err(e, "Value must be called: Value(number)")
        if e.id in self.assigned:
            raise self.err(e, f"'{e.id}' is used before it is assigned (first assigned on line {self.assigned[e.id]})")
        raise self.err(e, f"unknown name '{e.id}'")

    def unary(self, e):
        x = self.expr(e.operand)
        if isinstance(e.op, ast.USub):
            return self.node("neg", (x,), None, e) if isinstance(x, _Key) else -x
        if isinstance(e.op, ast.UAdd):
            if isinstance(x, _Key):  # as in micrograd itself: Value has no __pos__
                raise self.err(e, "unary + is not defined for a Value (micrograd has no __pos__)")
            return +x
        raise self.err(e, f"operator {type(e.op).__name__} is not supported: only unary -")

    def binop(self, e, op, x, y):
        nx, ny = isinstance(x, _Key), isinstance(y, _Key)
        if not nx and not ny:
            return self.fold(e, type(op), x, y)
        both, right_c, left_c = OP_NAMES[type(op)]
        if nx and ny:
            return self.node(both, (x, y), None, e)
        if isinstance(op, ast.Pow) and nx:  # x ** c: the exponent is a constant
            self.exponent(e, y)
            return self.node("pow_int" if isinstance(y, int) else "pow_float", (x,), y, e)
        return self.node(right_c, (x,), y, e) if nx else self.node(left_c, (y,), x, e)

    def exponent(self, e, c):
        if abs(c) > MAX_EXPONENT:
            raise self.err(e, f"exponent {c!r:.40} is too large (|exponent| <= {MAX_EXPONENT})")

    def fold(self, e, op, x, y):
        """x op y for two numbers, computed as Python would compute it in the user's own micrograd code,
        but only where that is cheap and gives a finite real number."""
        sym = BINOPS[op]
        try:
            if op is ast.Pow:
                self.exponent(e, y)
                if isinstance(x, int) and isinstance(y, int) and abs(x) >= 2 and y * math.log2(abs(x)) > MAX_INT_BITS:
                    raise OverflowError  # Python would compute it exactly, however long it takes
                r = x ** y
                if isinstance(r, complex):
                    raise self.err(e, f"{const_source(x)} ** {const_source(y)} is a complex number")
            else:
                r = {ast.Add: lambda: x + y, ast.Sub: lambda: x - y, ast.Mult: lambda: x * y,
                     ast.Div: lambda: x / y}[op]()
        except ZeroDivisionError:
            raise self.err(e, f"{x!r} {sym} {y!r} divides by zero") from None
        except OverflowError:
            raise self.err(e, f"{x!r:.40} {sym} {y!r:.40} overflows float64") from None
        return self.number(r, e)

    def call(self, e):
        f = e.func
        if isinstance(f, ast.Name) and f.id == "Value":
            return self.leaf(e)
        if isinstance(f, ast.Attribute):
            if f.attr not in METHODS:
                if f.attr == "backward":
                    raise self.err(e, "backward() must be a line of its own, the last one")
                if f.attr.startswith("_"):
                    raise self.err(f, f"access to '{f.attr}' is not allowed")
                raise self.err(f, f"unknown method '{f.attr}': a Value has {', '.join(METHODS)}")
            if e.args or e.keywords:
                raise self.err(e, f"{f.attr}() takes no arguments")
            x = self.expr(f.value)
            if not isinstance(x, _Key):
                raise self.err(e, f"{f.attr}() needs a Value, not the number {x!r:.40}")
            return self.node(f.attr, (x,), None, e)
        what = f"'{f.id}'" if isinstance(f, ast.Name) else "this"
        raise self.err(e, f"calling {what} is not allowed: only Value(number) and the methods {', '.join(METHODS)}")

    def leaf(self, e):
        if len(e.args) != 1 or any(isinstance(a, ast.Starred) for a in e.args):
            raise self.err(e, f"Value() takes one number, got {len(e.args)} arguments")
        label = ""
        for kw in e.keywords:
            if kw.arg != "label":
                raise self.err(kw.value if kw.arg is None else kw, f"Value() takes only label=, not "
                                                                     f"{kw.arg or '**'}")
            if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)):
                raise self.err(kw.value, "a label must be a string literal")
            label = kw.value.value
        x = self.expr(e.args[0])
        if isinstance(x, _Key):
            raise self.err(e.args[0], "Value() takes a number, not a Value")
        self.count(e)
        self.leaves.append((float(x), label, self.line))
        key = _Key("x", len(self.leaves) - 1)
        if label:
            self.labels[key] = label
        return key

    def node(self, op, args, c, e):
        if c is not None:
            self.number(c, e)
            if isinstance(c, int) and abs(c) > 2**53:
                # micrograd makes it a float anyway; torch refuses a Python int past int64
                c = float(c)
        self.count(e)
        self.ops.append((op, args, c, self.line))
        return _Key("t", len(self.ops) - 1)

    def count(self, e):
        if len(self.leaves) + len(self.ops) >= MAX_NODES:
            raise self.err(e, f"the program has more than {MAX_NODES} nodes")

    # the Program

    def finish(self, output, last):
        """Number the nodes, inputs first (a leaf's place among the ops does not matter, it computes
        nothing), and check that the output is the last node: the backends differentiate that one."""
        n0 = len(self.leaves)

        def index(key):
            return key.i if key.kind == "x" else n0 + key.i

        if not isinstance(self.env[output], _Key):
            raise self.err(last, f"'{output}' is a number, not a Value: end with the Value to differentiate")
        if not self.ops:
            raise CompareError("the program computes nothing: it has leaves but no operations")
        out = index(self.env[output])
        n = n0 + len(self.ops)
        if out < n0:
            raise self.err(last, f"'{output}' is a leaf: compare differentiates the last value computed, "
                                 f"so end with it")
        if out != n - 1:
            later = self.ops[out - n0 + 1][3]
            raise self.err(last, f"'{output}' is not the last value computed (line {later} computes after it, "
                                 f"and cannot feed it); compare differentiates the last value, so end with it")
        instrs = tuple(Instr(op, tuple(index(a) for a in args), c) for op, args, c, _ in self.ops)
        try:
            program = Program(n0, instrs)
        except ValueError as e:  # the lowering above should make this impossible
            raise CompareError(f"internal error, not a valid program: {e}") from None
        names = [[] for _ in range(n)]
        for name, key, _ in self.bindings:
            if name not in names[index(key)]:
                names[index(key)].append(name)
        order = dict.fromkeys(name for name, _, _ in self.bindings)  # first assignment first
        variables = {name: index(self.env[name]) for name in order if isinstance(self.env[name], _Key)}
        labels = [""] * n
        for key, label in self.labels.items():
            labels[index(key)] = label
        lines = [line for _, _, line in self.leaves] + [line for *_, line in self.ops]
        sources = {line: self.lines[line - 1].strip() for line in set(lines) if 0 < line <= len(self.lines)}
        return Parsed(program, [x for x, _, _ in self.leaves], variables, output, lines, names, labels, sources)


@dataclass(frozen=True)
class _Key:
    kind: str  # 'x': a leaf, 't': an op
    i: int


def _describe_stmt(st):
    kinds = {ast.For: "a for loop", ast.While: "a while loop", ast.If: "an if statement", ast.With: "a with block",
             ast.FunctionDef: "a function definition", ast.ClassDef: "a class definition", ast.Expr: "an expression",
             ast.AnnAssign: "an annotated assignment", ast.Delete: "del", ast.Global: "global",
             ast.Try: "a try block", ast.Return: "return", ast.Raise: "raise", ast.Assert: "assert"}
    return kinds.get(type(st), f"a {type(st).__name__} statement")


def _describe_expr(e):
    kinds = {ast.Compare: "a comparison", ast.BoolOp: "and/or", ast.Lambda: "lambda", ast.IfExp: "if/else",
             ast.Subscript: "indexing", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict",
             ast.JoinedStr: "an f-string", ast.ListComp: "a comprehension", ast.GeneratorExp: "a generator",
             ast.Starred: "*", ast.NamedExpr: ":="}
    return kinds.get(type(e), f"a {type(e).__name__} expression")


def _code_names(parsed):
    """A Python name for every node in the printed torch code. A node takes its user's name when that
    name still means this node wherever the code reads it (`c = c + t6` may rebind c after its last
    read); nodes printed at the end keep theirs to the end. Otherwise, and for unnamed nodes, a fresh name."""
    p = parsed.program
    n = p.n_nodes
    last_read = [-1] * n
    for k, ins in enumerate(p.instrs, start=p.n_inputs):
        for a in ins.args:
            last_read[a] = k
    kept = set(parsed.variables.values()) | {n - 1}
    taken = {name for names in parsed.names for name in names} | RESERVED
    holder, out = {}, []
    for k in range(n):
        # a name whose final value this is goes first: `x = c; c += 1` prints `x = a * b; c = x + 1`
        candidates = sorted(parsed.names[k], key=lambda name: parsed.variables.get(name) != k)
        chosen = None
        for name in candidates:
            h = holder.get(name)
            if name not in RESERVED and (h is None or (h not in kept and last_read[h] <= k)):
                chosen = name
                break
        if chosen is None:
            chosen = f"{candidates[0]}_{k}" if candidates else f"x{k}" if k < p.n_inputs else f"t{k}"
            while chosen in taken:
                chosen = "_" + chosen
            taken.add(chosen)
        holder[chosen] = k
        out.append(chosen)
    return out

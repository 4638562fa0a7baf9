"""Mutant copies of micrograd's engine, for the selftest: each plants one known bug.

A mutant is a Patch (name, description, old text, new text, class): a textual replacement in the
source of micrograd/engine.py, executed into a fresh module namespace. The old text must occur
exactly once, so an edit of the engine that breaks a patch fails loudly (tests/test_mutants.py
applies them all) instead of silently planting nothing. `expected(name)` is the root cause the
fuzzer must report for it: the function the patch lands in (read off the patched source, so it
follows the engine's edits), the lines it wrote, and the class of the bug, which is the row's own.

The spec `oracle.fuzz.mutants:<name>` names a mutant's Value class: the module-level `__getattr__` builds
it on first use, in any process, so a mutant is an engine spec like any other.
"""
import ast
import functools
import importlib.resources
import linecache
import types
from dataclasses import dataclass
from typing import NamedTuple


class Patch(NamedTuple):
    name: str
    description: str
    old: str  # text that occurs once in micrograd/engine.py
    new: str  # what replaces it
    cls: int = 1  # the class of the bug planted: 1 wrong at ordinary inputs, 2 at the edge of float64


PATCHES = [Patch(*row) for row in [
    # --- one per op's local derivative ---
    ("add_grad", "add: d(a+b)/db is -1 instead of 1",
     "        out._b.grad += out.grad\n", "        out._b.grad -= out.grad\n"),
    ("mul_grad", "mul: d(a*b)/da uses a instead of b",
     "out._a.grad += out._b.data * out.grad", "out._a.grad += out._a.data * out.grad"),
    ("div_grad_a", "div: d(a/b)/da multiplies by b instead of dividing",
     "a.grad += ieee.div(out.grad, b.data)", "a.grad += out.grad * b.data"),
    ("div_grad_b", "div: d(a/b)/db has the wrong sign",
     "b.grad += -out.grad * ieee.div(", "b.grad += out.grad * ieee.div("),
    ("pow_const_grad", "x ** c: the derivative is c * x**c instead of c * x**(c-1)",
     "(e * ieee.pow_scalar(x.data, e - 1.0))", "(e * ieee.pow_scalar(x.data, e))"),
    ("pow_base_grad", "x ** y: d/dx is (y-1) * x**(y-1) instead of y * x**(y-1)",
     "(y.data * ieee.pow(x.data, y.data - 1.0))", "((y.data - 1.0) * ieee.pow(x.data, y.data - 1.0))"),
    ("pow_exp_grad", "x ** y (and c ** x): d/dy forgets the factor log(x)",
     "else out.data * ieee.log(x.data))", "else out.data)"),
    ("relu_kink", "relu: the gradient at the kink x == 0 is 1 instead of 0",
     "0.0 if out.data <= 0.0 else out.grad", "0.0 if out._a.data < 0.0 else out.grad", 2),
    ("tanh_grad", "tanh: the derivative is 1 - t instead of 1 - t**2",
     "(1.0 - out.data * out.data)", "(1.0 - out.data)"),
    ("exp_grad", "exp: the derivative is x instead of exp(x)",
     "out._a.grad += out.grad * out.data\n", "out._a.grad += out.grad * out._a.data\n"),
    ("log_grad", "log: the derivative divides by log(x) instead of x",
     "ieee.div(out.grad, out._a.data)", "ieee.div(out.grad, out.data)"),
    ("sigmoid_grad", "sigmoid: the derivative forgets the factor s",
     "(1.0 - out.data) * out.data", "(1.0 - out.data)"),
    ("abs_kink", "abs: the gradient at the kink x == 0 is 1 instead of 0",
     "out.grad * ieee.sign(out._a.data)", "out.grad * (1.0 if out._a.data >= 0.0 else -1.0)", 2),
    # --- the classic mistakes in the mechanism ---
    ("add_assign", "add: grad = instead of += (a reused operand loses a contribution)",
     "        out._a.grad += out.grad\n        out._b.grad += out.grad\n",
     "        out._a.grad = out.grad\n        out._b.grad = out.grad\n"),
    ("mul_assign", "mul: grad = instead of += (a reused operand loses a contribution)",
     "out._a.grad += out._b.data * out.grad\n        out._b.grad += out._a.data * out.grad",
     "out._a.grad = out._b.data * out.grad\n        out._b.grad = out._a.data * out.grad"),
    ("no_topo", "backward walks the nodes breadth-first from the output, not in topological order",
     "        topo = self._topo()\n",
     "        topo, queue, seen = [], [self], {self}\n"
     "        for v in queue:  # the mutant: breadth-first order, not topological\n"
     "            topo.append(v)\n"
     "            for child in v._prev:\n"
     "                if child not in seen:\n"
     "                    seen.add(child)\n"
     "                    queue.append(child)\n"
     "        topo.reverse()\n"),
    ("topo_not_reversed", "backward applies the rules children first (topological order not reversed)",
     "        for v in reversed(topo):\n", "        for v in topo:\n"),
    ("no_visited", "the topological sort keeps no visited set: a shared node's rule runs twice",
     "                if not placed:\n                    state[v] = True\n                    topo.append(v)\n",
     "                state[v] = True\n                topo.append(v)  # the mutant: placed again when reached again\n"
     "                if v._a is not None:\n                    state.pop(v._a, None)\n"
     "                if isinstance(v._b, Value):\n                    state.pop(v._b, None)\n"),
    ("no_seed", "backward forgets the seed grad = 1 of the output",
     "        self.grad = 1.0\n", ""),
    ("rsub_swapped", "c - x computes x - c (__rsub__ with swapped operands)",
     "else other + (-self)", "else self + (-other)"),
    ("rtruediv_swapped", "c / x computes x / c (__rtruediv__ with swapped operands)",
     "else other * self._reciprocal()", "else self * other._reciprocal()"),
    ("tanh_overflow", "tanh by the lecture's formula, which overflows for x > 354",
     "math.tanh(self.data)", "(math.exp(2*self.data) - 1)/(math.exp(2*self.data) + 1)", 2),
    ("float32_data", "every op's result is rounded to float32",
     "        out = Value.__new__(Value)\n",
     "        import struct  # the mutant: data rounded through float32\n"
     "        data = struct.unpack('f', struct.pack('f', data))[0]\n"
     "        out = Value.__new__(Value)\n"),
]]
MUTANTS = {row.name: row.description for row in PATCHES}
_ROWS = {row.name: row for row in PATCHES}


@dataclass(frozen=True)
class Expected:
    """The root cause a mutant plants: what the fuzzer must name to have found it."""
    file: str  # the mutant's pseudo-file, as its tracebacks and root causes show it
    function: str  # the function of micrograd/engine.py that the mutation is in
    first: int  # the line of its def
    lines: tuple  # the lines the mutation wrote (a deletion: the line that follows it)
    cls: int  # the class of the bug

    def mismatch(self, cause):
        """How a diagnose.Cause differs from this bug, on one line; None when it names it: the
        mutated function (by its def, or at a line the mutation wrote) in the mutant's file, in the
        class the bug belongs to."""
        if cause.file != self.file or not (cause.first == self.first or cause.line in self.lines):
            named = cause.method or cause.category
            return f"it names {named}{f' at line {cause.line}' if cause.line else ''}, not {self.function}"
        if cause.cls != self.cls:
            return f"it says class {cause.cls}, not {self.cls}"
        return None

    def __str__(self):
        return f"{self.function} (line {self.lines[0]}), class {self.cls}"


def engine_source():
    """The source text of micrograd/engine.py, which every mutant patches."""
    return importlib.resources.files("micrograd").joinpath("engine.py").read_text(encoding="utf-8")


def mutant_source(name):
    """micrograd/engine.py with mutant `name` planted; ValueError if its old text is not there once."""
    if name not in _ROWS:
        raise KeyError(f"no mutant {name!r}; mutants: {', '.join(MUTANTS)}")
    old, new = _ROWS[name].old, _ROWS[name].new
    source = engine_source()
    count = source.count(old)
    if count != 1:
        raise ValueError(f"mutant {name}: its old text occurs {count} times in micrograd/engine.py, "
                         f"not once (the engine changed; update the patch): {old.strip()!r}")
    return source.replace(old, new)


def mutant_file(name):
    """The pseudo-file name mutant `name`'s code is compiled under."""
    return f"<micrograd/engine.py, mutant {name}>"


def expected(name):
    """The Expected root cause of mutant `name`: the function its patch lands in, found in the
    patched source by the lines the patch wrote."""
    row = _ROWS[name]
    line = engine_source().split(row.old)[0].count("\n") + 1
    wrote = max(1, row.new.count("\n") + (not row.new.endswith("\n")))
    lines = tuple(range(line, line + wrote))
    tree = ast.parse(mutant_source(name))
    defs = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.lineno <= line <= node.end_lineno]
    if not defs:
        raise ValueError(f"mutant {name}: its patch is not inside a function of micrograd/engine.py")
    fn = max(defs, key=lambda node: node.lineno)  # the innermost
    first = min([fn.lineno] + [d.lineno for d in fn.decorator_list])  # as code.co_firstlineno counts
    return Expected(mutant_file(name), fn.name, first, lines, row.cls)


@functools.cache  # one class per mutant per process, so that the spec names one and the same class
def mutant_engine(name):
    """The Value class of mutant `name`."""
    module = types.ModuleType(f"{__name__}.{name}", MUTANTS[name] if name in MUTANTS else None)
    # Our own engine's source with our own patch applied: never user input. Its lines go into
    # linecache under the pseudo-file name, so that tracebacks and root causes can show them.
    source, filename = mutant_source(name), mutant_file(name)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102
    Value = module.Value
    # Named as this module's attribute, so that pickle finds the class again through __getattr__
    # (a worker process can receive a mutant engine), and reprs say which mutant it is.
    Value.__module__, Value.__qualname__ = __name__, name
    return Value


def __getattr__(name):
    if name in MUTANTS:
        return mutant_engine(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

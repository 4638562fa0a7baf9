"""A zoo of learner-style engines, each with exactly one classic mistake, and the manifest of what the fuzzer
should report for each.

`lecture.Value` is a correct lecture-style engine (Python float semantics: it raises where torch gives inf or
nan). Every other module here is a few lines that subclass it and override one method, written the way a
learner gets it wrong after the lecture; the line holding the mistake ends with `MARKER`. `learner_pkg/` is a
learner's self-contained package named `micrograd` (a sys.path root, like a learner's project folder: put it
first on sys.path, in a process of its own, since the project's own package is also called `micrograd`).

`ZOO[name]` is what the fuzzer should report for the engine `engine_args(name)` names; `FIXED` is the mistake
fixed, on which every zoo reproducer must pass; `mistake_line(name)` is the (path, line number) of the marked
line. `second_folder/engine.py` subclasses the lecture's engine imported as `lecture`, from this folder given as
a second engine folder.
"""
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Expect:
    """What the fuzzer should report for a zoo engine."""
    cause: str  # "rule" (a local backward rule is wrong), "value" (an op's forward value is wrong, .data not a number
                #  included), "traversal" (backward()'s walk: order, visited set, merged nodes, seed, recursion depth),
                #  "raise" (an op or rule raises where torch gives a number, not by float arithmetic), "recursion",
                #  "no-graph" (an op builds no node / changes its operand), "python-float" (class 3: Python float
                #  semantics where torch answers inf or nan), or "none" (a correct engine); two joined by "/" when the
                #  mistake shows as either, whichever its campaign meets first ("value/raise": wrong at one input,
                #  raising at another)
    method: str  # the engine method at fault as Python names it: "__mul__", "tanh", "__radd__", "backward", ...;
                 # "" for none
    classes: tuple  # acceptable classes: 1 wrong at ordinary inputs, 2 at the edge of float64 (0, inf, nan, overflow,
                    # underflow, subnormal), 3 Python float semantics; e.g. (1,), (2,), (3,), (2, 3); () for none
    detail: str = ""  # traversal: "order" | "visited" | "merged" | "seed" | "recursion" | "slow"; raise: the exception
                      # type; "" when it may show as more than one (a walk that visits a node again is also slow)
    also: tuple = ()  # the methods of the engine's other root causes, each a mistake of its own that it has on
                      # purpose (the one a deep case must see past); () for most
    kind: str = "all"  # the kind of case its test campaign runs (--kind): deep for a mistake only deep cases show
                       # as such (a small case shows a walk without a visited set too, as a rule run twice)
    facts: tuple = ()  # the methods whose Python float facts (class 3, not mistakes) the summary must show apart
    cases: int = 80  # the cases its test campaign runs: more for a mistake that needs a rare input to show


ZOO = {
    # backward()'s visited set merges x.tanh() and another x.tanh(): one of them never runs its _backward
    "eq_hash_by_data": Expect("traversal", "__hash__", (1,), "merged"),
    # the same, with children in a set as in the lecture: x + y with equal data keeps only x in _prev
    "eq_hash_set_children": Expect("traversal", "__hash__", (1,), "merged"),
    # RecursionError from build_topo on a chain deeper than ~1000
    "recursive_topo": Expect("traversal", "backward", (1,), "recursion"),
    # 2 + x calls __radd__, which computes 2 + x again
    "radd_recursion": Expect("recursion", "__radd__", (1,)),
    # ZeroDivisionError when an operand is 0 (edge: torch's derivative is a number), inf when the product
    # overflows (edge)
    "mul_grad_out_over_self": Expect("raise/rule", "__mul__", (2,)),
    # x ** y: y.grad stays 0
    "pow_value_exponent_no_grad": Expect("rule", "__pow__", (1,)),
    # the same, with children in a set: base and exponent told apart by the node's value, x ** x one rule too
    "pow_exponent_no_grad_set_children": Expect("rule", "__pow__", (1,)),
    # math.exp(-x) raises OverflowError for x < -709.78 where torch's sigmoid is 0: the formula fails on the way
    # to an ordinary answer (class 2), where IEEE floats would give 1 / inf = 0
    "naive_sigmoid": Expect("raise", "sigmoid", (2,), "OverflowError"),
    # x.tanh().data is a Value
    "tanh_data_is_value": Expect("value", "tanh", (1,)),
    # backward() calls exp's _backward() without the argument it asks for
    "exp_backward_signature": Expect("raise", "exp", (1,), "TypeError"),
    # math is never imported
    "tanh_missing_import": Expect("raise", "tanh", (1,), "NameError"),
    # x * y: x.grad is y.grad * out.grad (0 while y's gradient is not yet known)
    "mul_uses_other_grad": Expect("rule", "__mul__", (1,)),
    # relu'(0) = 1 where torch gives 0: only at the edge input 0
    "relu_grad_at_zero": Expect("rule", "relu", (2,)),
    # build_topo's visited set holds data, not nodes: a node with the same data as another is left out
    "visited_by_data": Expect("traversal", "backward", (1,), "visited"),
    # no self.grad = 1.0: every gradient is 0
    "no_seed": Expect("traversal", "backward", (1,), "seed"),
    # a * b**-1: the gradient of x / x at x = 1.85e224 is 5.4e-225 where torch's is 0, as b ** -2 underflows
    # in pow's rule (class 2); b ** -2 overflowing for |b| < 1e-154, where torch's derivative of b ** -1 is
    # -inf, is a Python float fact of pow's, shown apart (class 3)
    "div_through_pow": Expect("value", "__truediv__", (2,), facts=("__pow__",), cases=300),
    # tanh' = 1 - x**2 instead of 1 - tanh(x)**2: right only at x = 0
    "tanh_grad_uses_input": Expect("rule", "tanh", (1,)),
    # abs(x) returns x itself, its data overwritten: wrong for every negative x
    "abs_mutates_self": Expect("no-graph", "__abs__", (1,)),
    # x ** c: the local derivative without * out.grad
    "pow_forgets_chain": Expect("rule", "__pow__", (1,)),
    # log10(x) where torch's log is ln(x): right only at x = 1
    "log_base10": Expect("value", "log", (1,)),
    # self.grad = ... instead of +=: x * x gets half its gradient
    "mul_assigns_grad": Expect("rule", "__mul__", (1,)),
    # the control: correct, _prev a set as in the lecture
    "set_children": Expect("none", "", ()),
    # the learner's own package: tanh' = 1 - t instead of 1 - t**2
    "learner_pkg": Expect("rule", "tanh", (1,)),
    # the same mistake in an engine whose base class is in a second folder (--engine-path): the base's lines
    # are the engine's too, so its Python float facts are class 3 (not six class-1/2 root causes)
    "second_folder": Expect("rule", "tanh", (1,)),
    # a topological sort with no visited set: a shared node's rule runs twice, and a graph of diamonds takes
    # exponentially long (its test runs deep cases, to see the latter)
    "walk_no_visited": Expect("traversal", "backward", (1,), "slow", kind="deep"),
    # a visited set, but each node is put in the order before its children (a pre-order)
    "walk_preorder": Expect("traversal", "backward", (1,), "order"),
    # a recursive build_topo, in an engine whose + and * do not wrap numbers (x + 1.0 is a form it does not
    # take, and so is x - 1.0's x * -1: not mistakes)
    "no_wrapping_recursive_topo": Expect("traversal", "backward", (1,), "recursion"),
    # tanh as 1 - 2/(exp(2x) + 1): 0 for |x| < 1e-16, where torch's is x (the edge input 1e-300, then a log:
    # class 2); its cancellation already costs 0.2% at 9e-14, which a longer campaign finds as class 1; and
    # math.exp raises above x = 355, where torch's tanh is 1 (class 2)
    "tanh_tiny_zero": Expect("value/raise", "tanh", (1, 2)),
    # tanh is nan for |x| > 3: at ordinary inputs, and in an MLP after the SGD step that takes it past 3
    "tanh_nan_past_3": Expect("value", "tanh", (1, 2)),
    # a recursive build_topo, with children in a set and a tanh that raises NameError (a mistake of its own)
    "set_children_recursive_topo": Expect("traversal", "backward", (1,), "recursion", also=("tanh",)),
    # correct: ** converts its exponent with float(), so x ** y is a form it does not take (not a mistake)
    "pow_numbers_only": Expect("none", "", ()),
    # correct: + and * for two Values only, as the lecture first writes them (x + 1.0, -x: forms not taken)
    "add_mul_no_wrapping": Expect("none", "", ()),
    # x ** y takes the Value exponent, then its rule calls a log that was never imported
    "pow_value_name_error": Expect("raise", "__pow__", (1,), "NameError"),
    # an assert copied from __pow__ into /, after the wrapping: every division fails (broken, not "not defined")
    "truediv_assert_after_wrap": Expect("raise", "__truediv__", (1,), "AssertionError"),
    # correct: self.data = float(data) refuses the complex number of (-1.0) ** 0.3 (torch: nan), a Python float
    # fact of the ** that made it (class 3), not a bug of the constructor
    "float_data": Expect("none", "", (), facts=("__pow__", "__rpow__")),
    # correct: each node's .data is a 0-d numpy array, read with float() as any number is; the lecture's math
    # functions still raise where torch gives inf or nan (class 3)
    "numpy_data": Expect("none", "", (), facts=("log",)),
    # correct: log asserts x > 0, where torch's log is -inf or nan: a Python float fact (class 3)
    "log_assert": Expect("none", "", (), facts=("log",)),
    # tanh as (exp(2x) - 1) / (exp(2x) + 1) with math.exp: OverflowError above x = 355 where torch gives 1
    # (class 2), and a cancellation near 0 (2e-7 too large at x = 1e-13: class 1); one formula, one root cause
    "tanh_exp_formula": Expect("raise/value", "tanh", (1, 2)),
    # tanh as (e - 1) * (e + 1) ** -1: at x = 200 the rule of ** -1 underflows, and the gradient is 2 where
    # torch's is 0 (class 2: an ordinary input, an underflow on the way)
    "tanh_pow_underflow": Expect("value", "tanh", (2,)),
    # a recursive build_topo in an engine that keeps its children in .parents, a list: the depth of the
    # graph it really built is measured there
    "parents_recursive_topo": Expect("traversal", "backward", (1,), "recursion"),
    # exp forgets `return out`: x.exp() is None, and the ops that use it then fail (not their fault)
    "exp_returns_none": Expect("no-graph", "exp", (1,)),
    # __init__ sets self.backward (a typo for _backward): each node's own attribute hides backward()
    "backward_shadowed": Expect("traversal", "__init__", (1,), "shadowed"),
}
FIXED = "tests.zoo.lecture:Value"  # the mistake fixed: every zoo reproducer must pass on it
MARKER = "# <- the mistake"

ZOO_DIR = Path(__file__).resolve().parent
LEARNER_ROOT = ZOO_DIR / "learner_pkg"  # the sys.path root for learner_pkg (not a package itself)


def engine_args(name):
    """The `python -m oracle fuzz` arguments that name zoo engine `name`, as a learner gives them:
    learner_pkg's package by its module, with its folder; second_folder's file, with the folder its
    base class is imported from; any other by its file."""
    if name == "learner_pkg":
        return ["--engine", "micrograd.engine:Value", "--engine-path", str(LEARNER_ROOT)]
    if name == "second_folder":
        return ["--engine", f"{source_path(name)}:Value", "--engine-path", str(ZOO_DIR)]
    return ["--engine", f"{source_path(name)}:Value"]


def source_path(name):
    """The source file that holds zoo engine `name`'s mistake."""
    if name not in ZOO:
        raise KeyError(f"no zoo engine {name!r}")
    if name == "learner_pkg":
        return LEARNER_ROOT / "micrograd" / "engine.py"
    if name == "second_folder":
        return ZOO_DIR / "second_folder" / "engine.py"
    return ZOO_DIR / f"{name}.py"


def marked_lines(path):
    """The 1-based numbers of the lines of `path` that end with MARKER."""
    return [i for i, line in enumerate(path.read_text().splitlines(), 1) if line.rstrip().endswith(MARKER)]


def mistake_line(name):
    """(absolute path, 1-based line number) of the line ending with MARKER in zoo engine `name`'s source; None for
    an engine without a mistake (ZOO[name].cause == "none"). Exactly one line carries the marker."""
    path = source_path(name)
    lines = marked_lines(path)
    if ZOO[name].cause == "none":
        if lines:
            raise ValueError(f"{path} is a control but has a mistake marker on line {lines[0]}")
        return None
    if len(lines) != 1:
        raise ValueError(f"{path}: expected one line marked {MARKER!r}, found {len(lines)}")
    return path, lines[0]

"""The selftest's mutants: every patch still applies to micrograd/engine.py, every mutant is a real
bug that a small Value-level case shows, and `oracle.fuzz.mutants:<name>` is an engine spec like any other."""
import subprocess
import sys

import pytest

pytest.importorskip("mpmath", reason="the oracle needs its extra: pip install -e '.[oracle]'")

from micrograd.engine import Value  # noqa: E402
from oracle.fuzz import mutants  # noqa: E402
from oracle.fuzz.diagnose import Cause  # noqa: E402
from oracle.fuzz.engines import load  # noqa: E402
from oracle.fuzz.mutants import MUTANTS, PATCHES, engine_source, expected, mutant_engine, mutant_source  # noqa: E402


def breadth_first_trap(a):  # t feeds the output directly and, two ops deeper, through u
    t = a.exp()
    u = t.tanh().exp()
    return t * u


# mutant -> a case it gets wrong: (f, inputs). Each runs on both engines; value and grads are compared.
CASES = {
    "add_grad": (lambda a, b: a + b, (1.0, 2.0)),
    "mul_grad": (lambda a, b: a * b, (2.0, 3.0)),
    "div_grad_a": (lambda a, b: a / b, (1.0, 4.0)),
    "div_grad_b": (lambda a, b: a / b, (1.0, 4.0)),
    "pow_const_grad": (lambda a: a ** 3, (2.0,)),
    "pow_base_grad": (lambda a, b: a ** b, (2.0, 3.0)),
    "pow_exp_grad": (lambda b: 2.0 ** b, (3.0,)),
    "relu_kink": (lambda a: a.relu(), (0.0,)),
    "tanh_grad": (lambda a: a.tanh(), (0.5,)),
    "exp_grad": (lambda a: a.exp(), (0.5,)),
    "log_grad": (lambda a: a.log(), (2.0,)),
    "sigmoid_grad": (lambda a: a.sigmoid(), (0.5,)),
    "abs_kink": (lambda a: a.abs(), (0.0,)),
    "add_assign": (lambda a: a + a, (1.0,)),
    "mul_assign": (lambda a: a * a, (3.0,)),
    "no_topo": (breadth_first_trap, (0.5,)),
    "topo_not_reversed": (lambda a: (a * 2.0).tanh(), (0.5,)),
    "no_visited": (lambda a: (lambda t: t * t)(a * 2.0), (1.0,)),
    "no_seed": (lambda a: a * 2.0, (1.0,)),
    "rsub_swapped": (lambda a: 1.0 - a, (3.0,)),
    "rtruediv_swapped": (lambda a: 1.0 / a, (4.0,)),
    "tanh_overflow": (lambda a: a.tanh(), (400.0,)),
    "float32_data": (lambda a: a * 0.1, (1.0,)),
}


def run(Engine, f, xs):
    """f's value and each input's gradient on Engine, as reprs (so -0.0 and nan compare), or the
    exception it raised."""
    try:
        vs = [Engine(x) for x in xs]
        out = f(*vs)
        out.backward()
    except Exception as e:
        return f"raised {type(e).__name__}"
    return [repr(out.data)] + [repr(v.grad) for v in vs]


def test_every_patch_applies_exactly_once():
    source = engine_source()
    for row in PATCHES:
        assert source.count(row.old) == 1, row.name
        assert row.new in mutant_source(row.name) and mutant_source(row.name) != source


def test_a_patch_whose_text_is_gone_fails_loudly(monkeypatch):
    monkeypatch.setattr(mutants, "engine_source", lambda: "import math\n")
    with pytest.raises(ValueError, match="occurs 0 times"):
        mutant_source("relu_kink")


def test_mutant_names_are_specs_that_shadow_nothing():
    assert list(MUTANTS) == [row.name for row in PATCHES] and len(set(MUTANTS)) == len(PATCHES)
    for name in MUTANTS:
        assert name.isidentifier() and name not in vars(mutants), name


def test_every_mutant_has_a_case():
    assert set(CASES) == set(MUTANTS)


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_differs_from_micrograd_on_its_case(name):
    f, xs = CASES[name]
    assert run(Value, f, xs) != run(mutant_engine(name), f, xs), MUTANTS[name]


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_agrees_with_micrograd_where_its_bug_does_not_reach(name):
    # A mutant is micrograd plus one bug, not a broken module: this case uses add, mul, exp and log
    # and the backward pass on a graph without shared interior nodes; only mutants of those may differ.
    f, xs = (lambda a, b: (a * b).exp() + b.log()), (0.7, 1.3)
    touched = {"add_grad", "mul_grad", "exp_grad", "log_grad", "add_assign", "mul_assign", "no_topo",
               "topo_not_reversed", "no_seed", "float32_data"}
    if name not in touched:
        assert run(Value, f, xs) == run(mutant_engine(name), f, xs)


def test_mutant_spec_loads_through_probe_and_is_one_class():
    for name in MUTANTS:
        Engine, _ = load(f"oracle.fuzz.mutants:{name}", sandboxed=False)
        assert Engine is mutant_engine(name) is getattr(mutants, name)
        assert Engine is not Value and Engine.__qualname__ == name


def test_mutant_spec_loads_in_a_fresh_process():
    code = ("from oracle.fuzz.engines import load; V, _ = load('oracle.fuzz.mutants:mul_grad'); "
            "a, b = V(2.0), V(3.0); (a * b).backward(); print(a.grad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.0"  # a's own data, not b's: the planted bug


def test_unknown_mutant_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        mutants.nosuch  # noqa: B018


# mutant -> the function of micrograd/engine.py its patch is in, read off the engine by hand
FUNCTIONS = {
    "add_grad": "_add_backward", "mul_grad": "_mul_backward", "div_grad_a": "_div_backward",
    "div_grad_b": "_div_backward", "pow_const_grad": "_pow_scalar_backward", "pow_base_grad": "_pow_backward",
    "pow_exp_grad": "_pow_backward", "relu_kink": "_relu_backward", "tanh_grad": "_tanh_backward",
    "exp_grad": "_exp_backward", "log_grad": "_log_backward", "sigmoid_grad": "_sigmoid_backward",
    "abs_kink": "_abs_backward", "add_assign": "_add_backward", "mul_assign": "_mul_backward",
    "no_topo": "backward", "topo_not_reversed": "backward", "no_visited": "_topo", "no_seed": "backward",
    "rsub_swapped": "__rsub__", "rtruediv_swapped": "__rtruediv__", "tanh_overflow": "tanh",
    "float32_data": "_result",
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_the_expected_root_cause_is_the_function_the_patch_wrote_into(name):
    want = expected(name)
    lines = mutant_source(name).splitlines()
    assert want.function == FUNCTIONS[name]
    head = [line.strip() for line in lines[want.first - 1:]]  # as co_firstlineno: its decorators, then its def
    decorators = next(i for i, line in enumerate(head) if not line.startswith("@"))
    assert head[decorators].startswith(f"def {want.function}("), head[:decorators + 1]
    new = next(row.new for row in PATCHES if row.name == name)
    if new.strip():  # the lines it names are the ones it wrote
        assert new.strip().splitlines()[0] in lines[want.lines[0] - 1]
    assert want.file in mutant_engine(name).backward.__code__.co_filename


def _cause(want, **change):
    fields = dict(category="rule", method=want.function, file=want.file, line=want.lines[0], source="",
                  first=want.first, summary="", cls=want.cls)
    return Cause(**{**fields, **change})


def test_a_cause_matches_only_the_mutated_function_in_the_bugs_class():
    want = expected("no_visited")  # in _topo, which backward calls
    assert want.mismatch(_cause(want)) is None
    assert want.mismatch(_cause(want, line=want.first, first=want.first)) is None  # named by its def
    backward = mutant_engine("no_visited").backward.__code__.co_firstlineno
    assert want.mismatch(_cause(want, method="backward", line=backward, first=backward)) \
        == f"it names backward at line {backward}, not _topo"
    assert want.mismatch(_cause(want, cls=2)) == "it says class 2, not 1"
    assert want.mismatch(_cause(want, file=expected("no_seed").file)) is not None  # another mutant's file
    assert want.mismatch(_cause(want, method="", line=0, first=0, category="value")) == "it names value, not _topo"

"""The selftest's mutants: every patch still applies to micrograd/engine.py, every mutant is a real
bug that a small Value-level case shows, and `oracle.fuzz.mutants:<name>` is an engine spec like any other."""
import subprocess
import sys

import pytest

pytest.importorskip("mpmath", reason="the oracle needs its extra: pip install -e '.[oracle]'")

from micrograd.engine import Value  # noqa: E402
from oracle.fuzz import mutants  # noqa: E402
from oracle.fuzz.engines import load  # noqa: E402
from oracle.fuzz.mutants import MUTANTS, PATCHES, engine_source, mutant_engine, mutant_source  # noqa: E402


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
    for name, _, old, new in PATCHES:
        assert source.count(old) == 1, name
        assert new in mutant_source(name) and mutant_source(name) != source


def test_a_patch_whose_text_is_gone_fails_loudly(monkeypatch):
    monkeypatch.setattr(mutants, "engine_source", lambda: "import math\n")
    with pytest.raises(ValueError, match="occurs 0 times"):
        mutant_source("relu_kink")


def test_mutant_names_are_specs_that_shadow_nothing():
    assert list(MUTANTS) == [row[0] for row in PATCHES] and len(set(MUTANTS)) == len(PATCHES)
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

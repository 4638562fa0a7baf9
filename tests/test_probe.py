"""Probing which ops an engine defines: absent only when Python's own dispatch fails at the call
site (or the method declines at once); anything the engine's own code does wrong is broken, a
finding of its kind."""
import math

import pytest

pytest.importorskip("mpmath", reason="the oracle needs its extra: pip install -e '.[oracle]'")

from micrograd.engine import Value  # noqa: E402
from oracle.fuzz.probe import drivable, probe_op  # noqa: E402
from oracle.ops import OPS, TABLE  # noqa: E402
from tests.engines import Value010  # noqa: E402
from tests.zoo.lecture import Value as Lecture  # noqa: E402

BASE = ("add", "sub", "mul", "div", "add_c", "radd_c", "sub_c", "rsub_c", "mul_c", "rmul_c", "div_c", "rdiv_c",
        "neg", "pow_int", "pow_float")


def probe(Engine):
    return {op.name: probe_op(Engine, op) for op in TABLE}


def test_micrograd_defines_every_op_and_none_is_broken():
    assert {n: p.status for n, p in probe(Value).items()} == {op.name: "ok" for op in TABLE}


def test_micrograd_010_has_its_four_primitives_and_what_derives_from_them():
    found = probe(Value010)
    assert tuple(n for n, p in found.items() if p.status == "ok") == BASE + ("relu",)
    absent = {n for n, p in found.items() if p.status == "absent"}
    assert absent == {"tanh", "exp", "log", "sigmoid", "abs", "abs_fn", "rpow", "pow"}
    assert "AttributeError" in found["tanh"].reason  # no method: Python's own AttributeError
    assert "unsupported operand" in found["rpow"].reason  # no __rpow__
    assert "AssertionError" in found["pow"].reason  # 0.1.0's `assert isinstance(other, (int, float))` declines


class Learner(Lecture):
    """The zoo's correct lecture-style engine, for the broken variants below."""


def broken(name, method):
    """A Learner engine whose `name` method is `method`."""
    return type("Broken", (Learner,), {name: method})


def radd_recursion(self, other):  # other + self
    return other + self


def tanh_name_error(self):
    return Learner(undefined_math.tanh(self.data), (self,), "tanh")  # noqa: F821


def exp_wrong_signature(self):
    out = Learner(math.exp(self.data), (self,), "exp")

    def _backward(grad):
        self.grad += out.data * grad
    out._backward = _backward
    return out


def add_no_wrapping(self, other):  # `x + 1.0` reaches `other.data` on a float: broken, not absent
    return Learner(self.data + other.data, (self, other), "+")


def neg_mutates(self):  # changes its operand and returns it: no node (at any point)
    self.data = -self.data
    return self


def abs_returns_float(self):
    return abs(self.data)


def tanh_value_in_data(self):
    return Learner(Learner(math.tanh(self.data)), (self,), "tanh")


def log_complex(self):
    return Learner(complex(0, 1), (self,), "log")


def relu_declines(self):
    raise NotImplementedError("relu is not written yet")


@pytest.mark.parametrize("name, method, op, kind, words", [
    ("__radd__", radd_recursion, "radd_c", "recursion", "RecursionError"),
    ("tanh", tanh_name_error, "tanh", "raise", "NameError"),
    ("exp", exp_wrong_signature, "exp", "raise", "missing 1 required positional argument"),
    ("__add__", add_no_wrapping, "add_c", "raise", "'float' object has no attribute 'data'"),
    ("__neg__", neg_mutates, "neg", "no-graph", "changes its operand"),
    ("__abs__", abs_returns_float, "abs_fn", "no-graph", "the result is a float, not a graph node"),
    ("tanh", tanh_value_in_data, "tanh", "not-a-number", ".data is a Learner"),
    ("log", log_complex, "log", "complex", "complex number"),
])
def test_an_op_that_is_defined_but_broken_is_a_finding_of_its_kind(name, method, op, kind, words):
    found = probe_op(broken(name, method), OPS[op])
    assert (found.status, found.kind) == ("broken", kind), found
    assert words in found.reason
    program, point = found.finding_case()
    assert len(program) == 1 and program.instrs[0].op == op and len(point) == OPS[op].arity


def test_a_method_that_declines_at_once_is_absent():
    found = probe_op(broken("relu", relu_declines), OPS["relu"])
    assert found.status == "absent" and "NotImplementedError" in found.reason


def test_an_op_that_works_at_one_point_only_is_defined():
    def log_of_positives(self):
        if self.data < 0.0:
            raise ValueError("math domain error")  # at -1.3: a difference for the fuzzer to report, not a missing op
        return Lecture.log(self)

    def abs_mutates(self):  # right at 0.7, wrong at -1.3: the campaign finds it (see test_zoo)
        self.data = abs(self.data)
        return self

    assert probe_op(broken("log", log_of_positives), OPS["log"]).status == "ok"
    assert probe_op(broken("__abs__", abs_mutates), OPS["abs_fn"]).status == "ok"


def test_an_op_that_fails_everywhere_at_the_call_site_and_in_the_engine_is_broken():
    def neg_raises(self):
        raise RuntimeError("no")

    found = probe_op(broken("__neg__", neg_raises), OPS["neg"])
    assert (found.status, found.kind, found.reason) == ("broken", "raise", "RuntimeError: no")


class NumpyData:
    def __init__(self, x):
        import numpy
        self.data, self.grad = numpy.array([x]), 0.0

    def backward(self):
        pass


class NoBackward:
    def __init__(self, x):
        self.data, self.grad = x, 0.0


@pytest.mark.parametrize("Engine, words", [
    (NumpyData, "Engine(0.7).data is a numpy.ndarray, not a number"),
    (NoBackward, "Engine(0.7) has no backward() method"),
    (len, "Engine(0.7) raises TypeError"),
])
def test_an_engine_that_cannot_be_driven_says_why(Engine, words):
    pytest.importorskip("numpy")
    assert words in drivable(Engine)


def test_engines_that_can_be_driven_pass():
    assert drivable(Value) is None and drivable(Lecture) is None and drivable(Value010) is None

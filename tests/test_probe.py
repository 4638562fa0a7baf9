"""Probing which ops an engine defines: absent only when Python's own dispatch fails at the call
site, the method says NotImplementedError, or a method refuses an operand's form while it takes
another form of its op; anything else the engine's own code does wrong is broken, a finding of its
kind."""
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


def radd_unwraps(self, other):  # `2.0 + x` reaches `other.data` on a float, and __radd__ has no other form
    return self.__add__(other.data)


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
    ("__radd__", radd_unwraps, "radd_c", "raise", "'float' object has no attribute 'data'"),
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


def add_no_wrapping(self, other):  # as the lecture first writes it: Values only
    return Learner(self.data + other.data, (self, other), "+")


def mul_no_wrapping(self, other):
    return Learner(self.data * other.data, (self, other), "*")


def test_an_operand_form_the_method_does_not_take_is_absent_and_so_is_an_op_that_needs_it():
    Engine = type("Value", (Learner,), {"__add__": add_no_wrapping, "__mul__": mul_no_wrapping})
    found = {op: probe_op(Engine, OPS[op]) for op in ("add", "mul", "add_c", "mul_c", "neg", "sub", "radd_c")}
    assert {op: p.status for op, p in found.items()} == {"add": "ok", "mul": "ok", "add_c": "absent",
                                                         "mul_c": "absent", "neg": "absent", "sub": "absent",
                                                         "radd_c": "absent"}
    assert found["add_c"].reason.startswith("__add__ does not take a number operand (AttributeError: 'float'")
    assert found["neg"].reason.startswith("__mul__ does not take a number operand")  # -x is x * -1


class NumbersOnly:
    """`**` for a number exponent only, with no __rpow__: `x ** y` fails in Python's own `**` inside it."""

    def __init__(self, data, _children=()):
        self.data, self.grad, self._prev, self._backward = data, 0.0, _children, lambda: None

    def __pow__(self, other):
        out = NumbersOnly(self.data ** other, (self,))

        def _backward():
            self.grad += other * self.data ** (other - 1) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        self.grad = 1.0
        for v in [self, *self._prev]:
            v._backward()


def test_a_value_exponent_where_pow_wants_a_number_is_absent():
    found = probe_op(NumbersOnly, OPS["pow"])
    assert found.status == "absent", found
    assert "unsupported operand type(s) for ** or pow(): 'float' and 'NumbersOnly'" in found.reason
    assert probe_op(NumbersOnly, OPS["pow_int"]).status == "ok"


def test_an_assert_that_no_operand_form_passes_is_broken_and_one_that_refuses_a_form_is_absent():
    def div_assert_after_wrapping(self, other):  # copied from __pow__, after the wrapping: fails on every input
        other = other if isinstance(other, Learner) else Learner(other)
        assert isinstance(other, (int, float)), "only numbers"
        return Lecture.__truediv__(self, other)

    def div_numbers_only(self, other):  # refuses a Value divisor only
        assert isinstance(other, (int, float)), "only numbers"
        return Lecture.__truediv__(self, other)

    for op in ("div", "div_c"):
        found = probe_op(broken("__truediv__", div_assert_after_wrapping), OPS[op])
        assert (found.status, found.kind) == ("broken", "raise") and found.reason.startswith("AssertionError: only")
    Engine = broken("__truediv__", div_numbers_only)
    assert probe_op(Engine, OPS["div_c"]).status == "ok"
    found = probe_op(Engine, OPS["div"])
    assert found.status == "absent" and "AssertionError: only numbers" in found.reason


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
    """.data: what `make` makes of the number (a numpy array of three, a 0-d array, a numpy float)."""
    make = None

    def __init__(self, x):
        self.data, self.grad = type(self).make(x), 0.0

    def backward(self):
        pass


def numpy_data(make):
    return type("NumpyData", (NumpyData,), {"make": staticmethod(make)})


class NoBackward:
    def __init__(self, x):
        self.data, self.grad = x, 0.0


@pytest.mark.parametrize("Engine, words", [
    (lambda x: numpy_data(lambda x: __import__("numpy").full(3, x))(x),
     "Engine(0.7).data is a numpy.ndarray of shape (3,) (array([0.7, 0.7, 0.7])), not a number: the oracle drives"),
    (NoBackward, "Engine(0.7) has no backward() method"),
    (len, "Engine(0.7) raises TypeError"),
])
def test_an_engine_that_cannot_be_driven_says_why(Engine, words):
    pytest.importorskip("numpy")
    assert words in drivable(Engine)


def test_engines_that_can_be_driven_pass():
    assert drivable(Value) is None and drivable(Lecture) is None and drivable(Value010) is None


def test_an_engine_whose_data_is_a_numpy_scalar_is_driven_through_float():
    np = pytest.importorskip("numpy")
    for make in (np.array, np.float64, np.float32, lambda x: np.array(x, dtype=np.float32)):
        assert drivable(numpy_data(make)) is None
    for make in (np.array, np.float64):  # every node's .data made so: probed as any engine is
        Engine = type("Value", (Lecture,), {"__init__": lambda self, x, *rest, make=make: Lecture.__init__(
            self, make(x), *rest)})
        assert [probe_op(Engine, OPS[op]).status for op in ("add", "tanh", "pow", "log")] == ["ok"] * 4

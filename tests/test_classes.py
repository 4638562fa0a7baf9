"""Classes that mean what they say, decided by what the difference is: a failure of the engine is
class 3 when torch's answer for the op it failed in is inf or nan (placed at that op's line, wherever
the engine raised afterwards), class 2 when torch's answer is a number that the engine's formula
overflowed on the way to; a wrong number is class 2 when a value on its way is an edge value, even
at an ordinary input. Each case is one op, diagnosed on a zoo engine (tests/zoo/)."""
import math

import pytest

torch = pytest.importorskip("torch")

from oracle.check import Finding, check_program, python_float  # noqa: E402
from oracle.fuzz.diagnose import diagnose  # noqa: E402
from oracle.program import Instr, Program  # noqa: E402
from tests.zoo import ZOO_DIR, mistake_line  # noqa: E402
from tests.zoo.lecture import Value as Lecture  # noqa: E402

LECTURE = ZOO_DIR / "lecture.py"


def one_op(op, c=None, arity=1):
    return Program(arity, (Instr(op, tuple(range(arity)), c),))


def cause_of(Engine, program, point):
    report = check_program(program, [point], Engine)
    assert report.findings, "the engine agrees with torch here"
    return diagnose(report.findings[0], Engine)


def line_of(path, text):
    """The 1-based number of the line of `path` that holds `text`."""
    (n,) = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return n


def engine(name):
    import importlib
    return importlib.import_module(f"tests.zoo.{name}").Value


def test_a_complex_number_refused_by_float_in_init_is_class_3_at_the_power_that_made_it():
    c = cause_of(engine("float_data"), one_op("pow_float", 0.3), [-1.0])
    assert (c.cls, c.category, c.method, c.file) == (3, "python-float", "__pow__", str(LECTURE)), c
    assert c.line == line_of(LECTURE, "out = type(self)(_pow(self.data, other)"), c  # not __init__'s float()
    assert "where torch gives nan" in c.summary


def test_the_lectures_exp_formula_tanh_overflowing_where_torch_gives_1_is_class_2():
    c = cause_of(engine("tanh_exp_formula"), one_op("tanh"), [400.0])
    assert (c.cls, c.category, c.method, c.detail) == (2, "raise", "tanh", "OverflowError"), c
    path, line = mistake_line("tanh_exp_formula")
    assert (c.file, c.line) == (str(path), line), c
    assert "where torch gives 1.0" in c.summary


def test_an_overflow_in_an_op_whose_own_answer_is_inf_is_class_3_at_that_op():
    """The composite tanh at 400 fails in the engine's exp(800), whose answer is inf: a Python float
    fact of exp's, not of the tanh that called it."""
    c = cause_of(engine("tanh_pow_underflow"), one_op("tanh"), [400.0])
    assert (c.cls, c.method, c.line) == (3, "exp", line_of(LECTURE, "math.exp(self.data)")), c


def test_an_underflow_on_the_way_makes_a_wrong_gradient_at_an_ordinary_input_class_2():
    c = cause_of(engine("tanh_pow_underflow"), one_op("tanh"), [200.0])
    assert (c.cls, c.category, c.method) == (2, "value", "tanh"), c
    assert "is 2.0 where torch gives 0.0" in c.summary


def test_a_division_through_a_power_whose_rule_underflows_is_class_2_at_the_division():
    # t = 0.5 ** x is 1.85e224 at x = -745; t / t is t * t ** -1, whose rule's t ** -2 underflows to 0
    program = Program(1, (Instr("rpow", (0,), 0.5), Instr("div", (1, 1), None)))
    c = cause_of(engine("div_through_pow"), program, [-745.0])
    assert (c.cls, c.method, c.file) == (2, "__truediv__", str(mistake_line("div_through_pow")[0])), c


def test_an_assert_where_torch_gives_nan_or_minus_inf_is_class_3():
    for x in (-1.0, 0.0):
        c = cause_of(engine("log_assert"), one_op("log"), [x])
        assert (c.cls, c.category, c.method, c.detail) == (3, "python-float", "log", "AssertionError"), c


def test_a_formula_that_overflows_where_torch_gives_0_is_class_2():
    c = cause_of(engine("naive_sigmoid"), one_op("sigmoid"), [-800.0])
    assert (c.cls, c.category, c.method) == (2, "raise", "sigmoid"), c


class RpowLogOfZero(Lecture):
    """c ** x's rule takes math.log(c), which raises at c = 0 where torch's derivative is 0."""

    def __rpow__(self, other):
        out = type(self)(other ** self.data, (self,), '**')

        def _backward():
            self.grad += out.data * math.log(other) * out.grad
        out._backward = _backward
        return out


def test_a_rule_that_raises_where_torch_gives_a_number_is_not_python_float_semantics():
    c = cause_of(RpowLogOfZero, one_op("rpow", 0.0), [1.0])
    assert (c.cls, c.category, c.method) == (2, "raise", "__rpow__"), c
    assert "where torch's local derivative is 0.0" in c.summary
    c = cause_of(RpowLogOfZero, one_op("rpow", -2.0), [1.0])  # torch: log(-2) is nan
    assert (c.cls, c.category) == (3, "python-float"), c


def test_a_name_error_at_an_ordinary_input_stays_class_1():
    c = cause_of(engine("pow_value_name_error"), Program(2, (Instr("pow", (0, 1), None),)), [0.7, 1.3])
    assert (c.cls, c.category, c.method, c.detail) == (1, "raise", "__pow__", "NameError"), c


@pytest.mark.parametrize("torch_value, detail, waits", [
    (math.nan, "AssertionError: log of a number <= 0", True),  # may be Python float semantics: waits
    (-math.inf, "TypeError: float() argument must be a string or a real number, not 'complex'", True),
    (1.0, "OverflowError: math range error", True),  # float arithmetic: the diagnosis decides (class 2)
    (1.0, "NameError: name 'log' is not defined", False),  # a bug: reported at once
])
def test_a_failure_waits_behind_other_points_of_its_batch_when_it_may_be_python_float_semantics(
        torch_value, detail, waits):
    assert python_float(Finding("raise", 1, "log", [0.5], None, torch_value, detail)) is waits

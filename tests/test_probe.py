"""Loading an engine from a "module:attr" spec, and probing which ops it supports."""
import sys
import types

import pytest

pytest.importorskip("mpmath", reason="the oracle needs its extra: pip install -e '.[oracle]'")

from micrograd.engine import Value  # noqa: E402
from oracle.fuzz.probe import EngineSpecError, load_engine, probe_ops, supported_ops  # noqa: E402
from oracle.generate import ALL_OPS  # noqa: E402
from tests.engines import Value010  # noqa: E402

BASE = ("add", "sub", "mul", "div", "add_c", "radd_c", "sub_c", "rsub_c", "mul_c", "rmul_c", "div_c", "rdiv_c",
        "neg", "pow_int", "pow_float")


def test_micrograd_supports_every_op():
    assert supported_ops(Value) == ALL_OPS
    assert all(reason is None for reason in probe_ops(Value).values())


def test_micrograd_010_supports_its_four_primitives_and_what_derives_from_them():
    ops = supported_ops(Value010)
    assert ops == BASE + ("relu",)
    reasons = probe_ops(Value010)
    for name in ("tanh", "exp", "log", "sigmoid", "abs", "rpow", "pow"):
        assert reasons[name], name
    assert "AttributeError" in reasons["tanh"] and "AssertionError" in reasons["pow"]


def test_probe_survives_weird_engines():
    class Raises:
        def __init__(self, x):
            raise RuntimeError("no")

    class Recurses:
        def __init__(self, x):
            self.data, self.grad = x, 0.0

        def __add__(self, other):
            return self + other

        def backward(self):
            pass

    class NoBackward:
        def __init__(self, x):
            self.data, self.grad = x, 0.0

        def __mul__(self, other):
            return NoBackward(self.data * getattr(other, "data", other))

    class ComplexData(NoBackward):
        def __mul__(self, other):
            return ComplexData(1j)

    class BadGrad(NoBackward):
        def __mul__(self, other):
            out = BadGrad(1.0)
            out.backward = lambda: setattr(self, "grad", "a string")
            return out

    for Engine in (Raises, Recurses, NoBackward, ComplexData, BadGrad, int, len, lambda x: None):
        assert supported_ops(Engine) == (), Engine
    assert probe_ops(Recurses)["add"].startswith("RecursionError")
    assert probe_ops(Raises)["add"] == "RuntimeError: no"
    assert probe_ops(NoBackward)["mul"] == "the result has no backward()"
    assert "complex" in probe_ops(ComplexData)["mul"]


def test_op_that_works_at_one_point_only_is_supported():
    class LogAboveOne(Value):
        __slots__ = ()

        def log(self):
            if self.data < 1.0:
                raise ValueError("math domain error")  # a bug for the fuzzer to report, not a missing op
            return Value.log(self)

    assert "log" in supported_ops(LogAboveOne)


def test_load_engine_default_and_dotted_attribute(monkeypatch):
    assert load_engine() is Value
    assert load_engine("micrograd.engine:Value") is Value
    module = types.ModuleType("fake_engines")
    module.Outer = types.SimpleNamespace(Value=Value010)
    monkeypatch.setitem(sys.modules, "fake_engines", module)
    assert load_engine("fake_engines:Outer.Value") is Value010


@pytest.mark.parametrize("spec, message", [
    ("micrograd.engine", r"is not of the form module:attr \(for example micrograd.engine:Value\)"),
    ("micrograd.engine:", "is not of the form module:attr"),
    (":Value", "is not of the form module:attr"),
    ("micrograd.engine:Value:x", "is not of the form module:attr"),
    ("micrograd/engine.py:Value", "is not of the form module:attr"),
    ("no_such_engine_mod:Value", "cannot import 'no_such_engine_mod': ModuleNotFoundError: No module named"),
    ("micrograd.engine:Valu", "micrograd.engine:Valu does not exist"),
    ("micrograd.engine:Value.nosuch", "micrograd.engine:Value.nosuch does not exist"),
    ("micrograd.engine:math.pi", "micrograd.engine:math.pi is a float, not a class or callable"),
])
def test_load_engine_errors_say_what_is_wrong(spec, message):
    with pytest.raises(EngineSpecError, match=message) as e:
        load_engine(spec)
    assert "\n" not in str(e.value) and repr(spec) in str(e.value)


def test_load_engine_reports_a_module_that_fails_to_import(tmp_path, monkeypatch):
    (tmp_path / "broken_engine.py").write_text("import math\nraise RuntimeError('half written\\nengine')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(EngineSpecError, match="cannot import 'broken_engine': RuntimeError: half written engine"):
        load_engine("broken_engine:Value")
    assert "broken_engine" not in sys.modules  # importlib does not leave it half-imported

"""Checking an engine from one's own tests: `oracle.testing.assert_matches_torch` passes on a correct
engine and fails on a buggy one with the root cause, its line and a reproducer that runs; a class
from a test file or from `__main__` works; bad input is one sentence. `compare_nodes` node by
node, the strategies, and the documentation's property test, run as its page prints it.

Each campaign is a few cases over a few ops from seed 0 (ops where the lecture engine's Python
floats raise nowhere, unless class 3 is the point), in sandboxed workers."""
import ast
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402

import micrograd.engine  # noqa: E402
from oracle import strategies  # noqa: E402
from oracle.program import Instr, Program  # noqa: E402
from oracle.testing import ACTIVE, assert_matches_torch, check_engine, compare_nodes, engine_spec  # noqa: E402
from tests.campaigns import reproducer_in  # noqa: E402
from tests.doc_blocks import doc_block  # noqa: E402
from tests.zoo import FIXED, ZOO_DIR, mistake_line  # noqa: E402
from tests.zoo.lecture import Value as Lecture  # noqa: E402
from tests.zoo.mul_uses_other_grad import Value as MulUsesOtherGrad  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
FEW = "add,mul,tanh"  # no class 3 in the lecture engine: nothing but the bug to reduce and confirm


class InThisFile(Lecture):
    """A learner's engine defined in a test file."""


def reproducer_of(message):
    """The reproducer a failure message names, and the folder it says it kept."""
    folder = re.search(r"The reproducers are kept in (\S+)", message)
    assert folder, message
    return str(reproducer_in(message)), folder[1]


def run(*args, cwd=ROOT):
    """`python ARGS` as a learner runs a script: nothing on PYTHONPATH, the script's folder first on
    sys.path (tox's full env sets PYTHONSAFEPATH, which would leave it out)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


# --- assert_matches_torch ---

def test_this_projects_micrograd_matches_torch():
    summary = assert_matches_torch(micrograd.engine.Value, cases=24)
    assert summary["findings"] == 0 and summary["strict"]  # strict: micrograd promises torch's results at edges
    assert [(stage["kind"], stage["cases"]) for stage in summary["stages"]] == [("expr", 22), ("train", 2), ("deep", 2)]
    assert summary["cases"] == 26 and summary["out"] is None  # the temporary folder is gone


def test_a_correct_learner_engine_passes_and_class_3_alone_does_not_fail_it(tmp_path):
    check = dict(cases=30, ops="add,mul,exp", kind="expr", out=tmp_path)  # math.exp(710) raises OverflowError
    summary = assert_matches_torch(Lecture, **check)
    assert summary["findings"] == 0 and summary["classes"]["python_float"], summary
    with pytest.raises(AssertionError) as e:  # the same campaign, its reproducers already saved in out
        assert_matches_torch(Lecture, **check, strict=True)
    assert "class 3 (Python float semantics where torch answers inf or nan): OverflowError" in \
        str(e.value)
    assert str(e.value).endswith(f"The reproducers are saved in {tmp_path}") and list(tmp_path.glob("class3-*.py"))


def test_a_check_that_finished_no_case_fails_with_no_verdict_never_passes():
    # The budget is gone before any program or MLP case runs (the two deep cases run whatever it is):
    # those kinds were not checked, so there is no verdict.
    result = check_engine(Lecture, seconds=0.01, ops=FEW)
    assert not result.passed and result.summary["kinds"].get("expr", 0) == 0, result.message
    assert "no verdict within the budget (seconds=0.01): expr cases: no case finished" in result.message
    with pytest.raises(AssertionError, match="no verdict"):
        assert_matches_torch(Lecture, seconds=0.01, ops=FEW)


def test_a_buggy_engine_fails_with_its_root_cause_its_line_and_a_reproducer_that_runs():
    with pytest.raises(AssertionError) as e:
        assert_matches_torch(MulUsesOtherGrad, cases=30, ops=FEW)
    message = str(e.value)
    path, line = mistake_line("mul_uses_other_grad")
    assert message.startswith("tests.zoo.mul_uses_other_grad.Value does not match PyTorch float64: 1 root cause")
    assert "1. class 1 (wrong at ordinary inputs): the backward rule of a * b" in message
    assert f"at tests/zoo/mul_uses_other_grad.py:{line}  self.grad += other.grad * out.grad" in message
    assert re.search(r"reduced to 1 op:\n\n +def f\(x0, x1\):\n +t2 = x\d \* x\d\n", message), message  # f, inline
    assert re.search(r"Mismatched gradient of the output with respect to input x\d, at x0=\S+, x1=\S+", message)
    assert "expected (torch float64): " in message and "actual (the engine):     0.0" in message
    script, folder = reproducer_of(message)
    assert run(script).returncode == 1
    fixed = run(script, FIXED)
    assert fixed.returncode == 0 and fixed.stdout.startswith("OK: tests.zoo.lecture:Value agrees"), fixed.stdout
    shutil.rmtree(folder)


def test_a_relative_out_is_where_the_reproducers_are_confirmed_and_saved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError) as e:
        assert_matches_torch(MulUsesOtherGrad, cases=30, ops=FEW, out="rel/found")
    message = str(e.value)
    assert message.endswith(f"The reproducers are saved in {tmp_path / 'rel' / 'found'}"), message
    (script,) = (tmp_path / "rel" / "found").glob("class1-*.py")
    assert f"reproducer: python {script}" in message and "could not confirm" not in message, message
    assert run(script, cwd=tmp_path).returncode == 1 and not (tmp_path / "rel" / "found" / "rel").exists()


def test_an_engine_defined_in_a_test_file_is_imported_from_that_file():
    assert engine_spec(InThisFile)[0] == f"{pathlib.Path(__file__).resolve()}:InThisFile"
    summary = assert_matches_torch(InThisFile, cases=5, ops=FEW, kind="expr")
    assert summary["engine_file"] == str(pathlib.Path(__file__).resolve()) and summary["findings"] == 0


# the zoo's mistake in mul (`other.grad` for `other.data`), as a class of the script's own
WRONG_MUL = "\n\nclass Wrong(Value):" + (ZOO_DIR / "mul_uses_other_grad.py").read_text(encoding="utf-8").split(
    "class Value(Lecture):", 1)[1]


def test_a_learners_script_needs_no_main_guard(tmp_path):
    # check.py as a learner writes it: the lecture engine imported from engine.py beside it, a class
    # with a bug of the script's own, and two checks at its top level, with no __main__ guard. The
    # workers import engine.py and get the script's class by value: the script itself runs once.
    (tmp_path / "engine.py").write_text((ZOO_DIR / "lecture.py").read_text(encoding="utf-8"), encoding="utf-8")
    script = tmp_path / "check.py"
    script.write_text("import os\n\nfrom oracle.testing import assert_matches_torch\n\nfrom engine import Value\n\n"
                      "with open('runs.txt', 'a') as f:\n    f.write(f'{os.getpid()}\\n')\n"
                      + WRONG_MUL +
                      f"\nassert_matches_torch(Value, cases=30, seed=0, ops={FEW!r})\nprint('Value: passed')\n"
                      f"assert_matches_torch(Wrong, cases=30, seed=0, ops={FEW!r})\n", encoding="utf-8")
    done = run(script, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == "Value: passed\n", done.stdout + done.stderr
    line = next(n for n, text in enumerate(script.read_text().splitlines(), 1) if "other.grad * out.grad" in text)
    assert "AssertionError: Wrong (check.py) does not match PyTorch float64: 1 root cause" in done.stderr, done.stderr
    assert f"at check.py:{line}  self.grad += other.grad * out.grad" in done.stderr, done.stderr
    assert len((tmp_path / "runs.txt").read_text().splitlines()) == 1  # never again in a worker
    # its reproducer defines Wrong itself (importing engine.py's Value): it runs no check of the script
    reproducer = reproducer_in(done.stderr)
    assert run(reproducer, cwd=ROOT).returncode == 1
    assert run(reproducer, "engine:Value", cwd=ROOT).returncode == 0
    assert len((tmp_path / "runs.txt").read_text().splitlines()) == 1
    shutil.rmtree(reproducer.parent)


def test_inside_a_process_the_oracle_started_a_check_does_nothing(monkeypatch):
    monkeypatch.setenv(ACTIVE, "1")  # a reproducer check importing a file that calls it at its top level
    assert assert_matches_torch(MulUsesOtherGrad) is None and check_engine("not even a spec") is None


def test_a_class_is_named_by_its_source_file_and_a_spec_is_taken_as_it_is():
    assert engine_spec(Lecture) == (f"{ZOO_DIR / 'lecture.py'}:Value", (), "tests.zoo.lecture.Value")
    assert engine_spec("my_engine:Value") == ("my_engine:Value", (os.getcwd(),), "my_engine:Value")
    assert engine_spec("micrograd.engine:Value", [ROOT])[1] == (str(ROOT),)


def local_class():
    class Value(Lecture):
        pass
    return Value


@pytest.mark.parametrize("engine, kw, error, words", [
    (Lecture(1.0), {}, TypeError, "the engine must be its class (your Value) or a 'module:attr' spec, not Value"),
    (42, {}, TypeError, "not int 42"),
    (local_class(), {}, ValueError, "is defined inside a function"),
    ("not a spec", {}, ValueError, "is not of the form module:attr"),
    ("no_such_module:Value", {}, ValueError, "cannot import 'no_such_module': ModuleNotFoundError"),
    (str(ROOT / "tests/hostile/numpy_data.py") + ":Value", {}, ValueError,
     "cannot be driven: Engine(0.7).data is a numpy.ndarray of shape (3,)"),
    ("tests.engines:Value010", {"ops": "tanh"}, ValueError, "defines none of the ops tanh"),
    (Lecture, {"ops": "add,frobnicate"}, ValueError, "unknown op(s) 'frobnicate'"),
    (Lecture, {"seconds": 0}, ValueError, "seconds must be a positive number, not 0"),
    (Lecture, {"kind": "everything"}, ValueError, "kind must be one of expr, deep, mlp, train or all"),
    (Lecture, {"workers": 0}, ValueError, "workers must be a whole number of at least 1"),
])
def test_bad_input_is_one_sentence_not_a_traceback(engine, kw, error, words, tmp_path):
    with pytest.raises(error) as e:
        assert_matches_torch(engine, cases=1, out=tmp_path / "out", **kw)
    text = str(e.value)
    assert words in text and "\n" not in text and "Traceback" not in text, text
    assert e.value.__cause__ is None and (e.value.__context__ is None or e.value.__suppress_context__)


# --- compare_nodes ---

PROGRAM = Program(2, (Instr("mul", (0, 1)), Instr("tanh", (2,))))  # t3 = (x0 * x1).tanh()


def test_compare_nodes_gives_every_nodes_value_and_gradient_on_both_sides():
    nodes = compare_nodes(PROGRAM, [0.5, 2.0], micrograd.engine.Value)
    assert [(n.name, n.line) for n in nodes] == [("x0", "x0"), ("x1", "x1"), ("t2", "t2 = x0 * x1"),
                                                 ("t3", "t3 = t2.tanh()")]
    assert all(n.ok and n.close and not n.noise for n in nodes)
    assert nodes[3].engine_value == nodes[3].torch_value == math.tanh(1.0) and nodes[3].engine_grad == 1.0
    assert nodes[0].engine_grad == pytest.approx(2.0 * (1 - math.tanh(1.0) ** 2), rel=1e-15)


def test_compare_nodes_points_at_the_node_a_buggy_engine_gets_wrong():
    nodes = compare_nodes(PROGRAM, [0.5, 2.0], MulUsesOtherGrad)
    assert [n.name for n in nodes if not n.ok] == ["x0"] and nodes[0].value_close and not nodes[0].grad_close
    assert str(nodes[0]).startswith("x0") and str(nodes[0]).endswith("MISMATCH")


class ExpFourUlpsHigh(Lecture):
    """exp 4 ulps off: within a transcendental's allowance, but `exp(x) - exp(30)` shows it."""

    def exp(self):
        out = super().exp()
        out.data = math.exp(self.data) * (1 + 4 * 2.0 ** -52)
        return out


def test_compare_nodes_tells_inherited_float64_noise_from_a_bug():
    cancel = Program(1, (Instr("exp", (0,)), Instr("sub_c", (1,), math.exp(30.0))))  # t2 = x0.exp() - exp(30)
    nodes = compare_nodes(cancel, [30.0], ExpFourUlpsHigh)
    assert not nodes[2].close and nodes[2].noise and all(n.ok for n in nodes), "\n".join(map(str, nodes))
    with pytest.raises(ValueError, match="the program has 1 input"):
        compare_nodes(cancel, [1.0, 2.0], ExpFourUlpsHigh)


# --- the strategies ---

@settings(max_examples=20)
@given(strategies.mlps(acts=("tanh",), losses=("mse",)))
def test_mlps_draws_specs_with_the_given_activations_and_losses(spec):
    assert spec.act == "tanh" and spec.loss == "mse"


@settings(max_examples=20)
@given(strategies.points(3, strategies.GenConfig(p_edge=0.0)))
def test_points_draws_one_point_of_ordinary_floats(point):
    assert len(point) == 3 and all(-3.0 <= x <= 3.0 for x in point)


def test_the_docs_property_test_runs_as_printed():
    source = doc_block("<!-- tests/test_testing.py runs this block as it is -->")
    namespace = {"__name__": "readme_property_test"}
    exec(compile(source, "docs/testing/strategies.md", "exec"), namespace)  # noqa: S102  (this project's own docs)
    tests = [name for name, node in ((n.name, n) for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))
             if name.startswith("test_")]
    assert tests == ["test_every_node_matches_torch", "test_mlps_match_torch"]
    for name in tests:
        namespace[name]()

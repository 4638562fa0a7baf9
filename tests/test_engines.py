"""Which engine is under test: specs (module:attr or a file), where it loads from, and the order of
the places looked in, so that a learner's package called micrograd wins over this project's."""
import os
import pathlib
import sys
import textwrap

import pytest

pytest.importorskip("mpmath", reason="the oracle needs its extra: pip install -e '.[oracle]'")

from micrograd.engine import Value  # noqa: E402
from oracle.fuzz import engines  # noqa: E402
from oracle.fuzz.engines import EngineSpecError, parse_spec  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("spec, message", [
    ("", "is empty"),
    ("   ", "is empty"),
    ("micrograd.engine", r"is not of the form module:attr or path/to/engine.py:attr"),
    ("micrograd.engine:", "is not of the form"),
    (":Value", "is not of the form"),
    ("micrograd.engine:Value:x", "is not a module name"),
    ("no/such/engine.py:Value", "no such file no/such/engine.py"),
    ("tests/zoo/README:Value", "is not a .py file"),
    ("1bad.name:Value", "is not a module name"),
])
def test_a_bad_spec_says_what_is_wrong_on_one_line(spec, message):
    with pytest.raises(EngineSpecError, match=message) as e:
        parse_spec(spec)
    assert "\n" not in str(e.value)


def test_a_file_spec_is_resolved(monkeypatch):
    monkeypatch.chdir(ROOT)  # a relative path is the current directory's
    spec = parse_spec("tests/zoo/lecture.py:Value")
    assert spec.file == str(ROOT / "tests/zoo/lecture.py") and spec.attr == "Value" and not spec.module


def test_a_file_is_imported_under_its_package_name():
    Engine, origin = engines.load(str(ROOT / "tests/zoo/mul_uses_other_grad.py") + ":Value", sandboxed=False)
    assert Engine.__module__ == "tests.zoo.mul_uses_other_grad"
    assert origin.importable == "tests.zoo.mul_uses_other_grad:Value" and origin.root == str(ROOT)
    assert origin.file == str(ROOT / "tests/zoo/mul_uses_other_grad.py") and not origin.ours


def test_this_projects_micrograd_is_told_by_its_file():
    Engine, origin = engines.load("micrograd.engine:Value", sandboxed=False)
    assert Engine is Value and origin.ours and origin.micrograd
    assert "this project's own micrograd" in origin.describe()
    assert not engines.is_ours(type("Value", (), {"__module__": "tests.zoo.lecture"}))


def test_a_mutant_is_micrograd_but_not_ours():
    Engine, origin = engines.load("oracle.fuzz.mutants:tanh_grad", sandboxed=False)
    assert origin.micrograd and not origin.ours


@pytest.mark.parametrize("spec, message", [
    ("no_such_engine_mod:Value", "cannot import 'no_such_engine_mod': ModuleNotFoundError"),
    ("micrograd.engine:Valu", "micrograd.engine:Valu does not exist"),
    ("micrograd.engine:Value.nosuch", "micrograd.engine:Value.nosuch does not exist"),
    ("micrograd.engine:math.pi", "micrograd.engine:math.pi is a float, not a class or callable"),
])
def test_load_errors_say_what_is_wrong(spec, message):
    with pytest.raises(EngineSpecError, match=message) as e:
        engines.load(spec, sandboxed=False)
    assert "\n" not in str(e.value) and repr(spec) in str(e.value)


def test_a_module_that_fails_to_import_is_reported_whatever_it_raises(tmp_path, monkeypatch):
    (tmp_path / "broken_engine.py").write_text("import sys\nsys.exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(EngineSpecError, match="cannot import 'broken_engine': SystemExit: 3"):
        engines.load("broken_engine:Value", sandboxed=False)


def test_the_places_the_user_names_come_first(tmp_path):
    named, env = tmp_path / "mine", tmp_path / "env"
    named.mkdir()
    env.mkdir()
    path = engines.search_path([str(named)], {"PYTHONPATH": str(env)})
    assert path[:2] == [str(named.resolve()), str(env.resolve())]
    assert set(sys.path) - {""} <= set(path) | {os.getcwd()}


def test_a_learners_package_called_micrograd_wins_over_ours_in_a_worker(tmp_path):
    """What a worker does: its sys.path made search_path first, then the import. In a fresh
    process, run from this project's own checkout (whose micrograd python -m would find first)."""
    import subprocess
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from oracle.fuzz import engines
        Engine, origin = engines.load("micrograd.engine:Value", [{str(ROOT / 'tests/zoo/learner_pkg')!r}])
        print(origin.file, origin.ours)
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(ROOT / "tests/zoo/learner_pkg/micrograd/engine.py"), "False"]

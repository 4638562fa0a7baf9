"""The pytest plugin, run by pytest itself (pytester): installed as a pytest11 entry point, it adds
nothing without --oracle-engine and imports nothing heavy; with it, one item per op the engine
defines, one for MLPs and one for deep graphs, each passing on a correct engine, and failing on a
buggy one with the root cause and a reproducer that runs; a bad engine or option is one line."""
import importlib.metadata
import os
import pathlib
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import oracle  # noqa: E402
from oracle.testing import probe_engine  # noqa: E402
from tests.campaigns import reproducer_in  # noqa: E402
from tests.zoo import FIXED, ZOO_DIR, mistake_line  # noqa: E402

pytest_plugins = ["pytester"]

ROOT = pathlib.Path(__file__).resolve().parents[1]
INSTALLED = any(e.name == "oracle" and e.value == "oracle.pytest_plugin"
                for e in importlib.metadata.entry_points(group="pytest11"))
# The inner pytest loads the plugin from its entry point; a checkout whose install predates it names it.
PLUGIN = () if INSTALLED else ("-p", "oracle.pytest_plugin")
FAST = ("-p", "no:cacheprovider", "--oracle-cases", "20")


@pytest.fixture(scope="module", autouse=True)
def campaign_modules_imported():
    """pytester's inline runs forget the modules first imported in them, and an object of a module
    imported again is not the one multiprocessing pickles by name: a probe imports them all first."""
    probe_engine(FIXED)


def outcomes(reprec):
    """{item nodeid: outcome} of an inline run's test items."""
    return {r.nodeid: r.outcome for r in reprec.getreports("pytest_runtest_logreport") if r.when == "call"
            or r.outcome != "passed"}


def test_the_plugin_is_installed_as_a_pytest11_entry_point():
    assert INSTALLED, "reinstall the package (pip install -e .): its pytest11 entry point is missing"


def test_without_the_option_it_adds_nothing_and_imports_nothing_heavy(pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(*PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    said = [line for line in result.outlines if "oracle" in line and not line.startswith("plugins: ")]
    assert said == [], said  # pytest's header names the distribution, micrograd-oracle; nothing else may
    heavy = ("torch", "numpy", "mpmath", "hypothesis", "oracle.fuzz", "oracle.check")
    probe = f"import sys, oracle.pytest_plugin; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout == "[]\n", done.stderr


def test_the_package_imports_under_pytest_as_it_does_anywhere(pytester, monkeypatch):
    """pytest marks a plugin's packages for assertion rewriting (those of a wheel's files; of an
    editable install, the one it finds on sys.path: so it is put there); the plugin takes that
    back, so micrograd and oracle are loaded by Python's own loader (runpy needs its get_code)."""
    monkeypatch.setenv("PYTHONPATH", str(pathlib.Path(oracle.__file__).resolve().parents[1]))
    pytester.makepyfile("""
        import runpy

        import micrograd.losses
        import oracle.generate

        def test_loaded_by_pythons_own_loader():
            for module in (micrograd.losses, oracle.generate):
                assert type(module.__loader__).__name__ != "AssertionRewritingHook", module.__name__
            assert runpy.run_module("oracle.teach.examples.neuron")["o"].data > 0.7
    """)
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_correct_engine_passes_every_item(pytester):
    spec = f"{ZOO_DIR / 'lecture.py'}:Value"
    reprec = pytester.inline_run(*PLUGIN, *FAST, "--oracle-engine", spec, "--oracle-ops", "add,mul,tanh")
    assert outcomes(reprec) == {"oracle::add": "passed", "oracle::mul": "passed", "oracle::tanh": "passed",
                                "oracle::mlp": "passed", "oracle::deep": "passed"}


def test_a_buggy_engine_fails_its_items_with_the_root_cause_and_a_reproducer_that_runs(pytester):
    spec = f"{ZOO_DIR / 'mul_uses_other_grad.py'}:Value"
    reprec = pytester.inline_run(*PLUGIN, *FAST, "--oracle-engine", spec, "--oracle-ops", "add,mul",
                                 "--oracle-out", "found",  # relative: to where pytest runs
                                 "-k", "add or mul")  # not the MLP and deep items: they fail the same way, slowly
    assert outcomes(reprec) == {"oracle::add": "passed", "oracle::mul": "failed"}
    (failed,) = reprec.getfailures()
    text = failed.longreprtext
    assert "Traceback" not in text and "class 1 (wrong at ordinary inputs): the backward rule of a * b" in text
    assert f"mul_uses_other_grad.py:{mistake_line('mul_uses_other_grad')[1]}  self.grad += other.grad" in text
    script = str(reproducer_in(text))
    assert pathlib.Path(script).is_relative_to(pytester.path / "found") and "could not confirm" not in text, text
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    assert subprocess.run([sys.executable, script], capture_output=True, env=env, timeout=120).returncode == 1
    fixed = subprocess.run([sys.executable, script, FIXED], capture_output=True, env=env, timeout=120)
    assert fixed.returncode == 0, fixed.stdout


def test_an_engine_that_cannot_be_driven_is_one_collection_error(pytester):
    result = pytester.runpytest(*PLUGIN, "-p", "no:cacheprovider", "--oracle-engine",
                                f"{ROOT / 'tests/hostile/numpy_data.py'}:Value")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting oracle*", "--oracle-engine: engine * cannot be driven: "
                                 "Engine(0.7).data is a numpy.ndarray of shape (3,)*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("args, words", [
    (["--oracle-engine", "not a spec"], "--oracle-engine: engine spec 'not a spec' is not of the form module:attr"),
    (["--oracle-engine", "x:Value", "--oracle-ops", "add,frobnicate"], "--oracle-ops: unknown op(s) frobnicate"),
    (["--oracle-engine", "x:Value", "--oracle-seconds", "0"], "--oracle-seconds must be positive, not 0"),
    (["--oracle-engine", "x:Value", "--oracle-cases", "0"], "--oracle-cases must be at least 1, not 0"),
])
def test_a_bad_option_is_a_one_line_usage_error(pytester, args, words):
    result = pytester.runpytest(*PLUGIN, "-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert words in result.stderr.str() and "Traceback" not in result.stderr.str(), result.stderr.str()

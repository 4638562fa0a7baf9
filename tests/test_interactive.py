"""An engine with no file of its own: written in a notebook's cells, or in a script read from
standard input. The test API sends it to its workers by value and runs the same campaign as for
a file; the root cause names the cell, its line and the line's text; the reproducer carries the
class's source (or, when Python kept none, its pickle) and runs anywhere.

The notebook is tests/data/notebook_engines.ipynb, run in a real IPython kernel by nbclient; the
cells are otherwise made here as IPython makes them: compiled under a file name of their own, their
source kept in linecache."""
import json
import linecache
import pathlib
import pickle
import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from oracle.fuzz import graph, interactive  # noqa: E402
from oracle.fuzz.engines import Origin  # noqa: E402
from oracle.fuzz.reproducer import reproducer_source  # noqa: E402
from oracle.program import Instr, Program  # noqa: E402
from oracle.testing import check_engine  # noqa: E402
from tests.campaigns import reproduce, reproducer_in  # noqa: E402
from tests.kernel import run_notebook  # noqa: E402
from tests.zoo import ZOO_DIR  # noqa: E402

NOTEBOOK = pathlib.Path(__file__).parent / "data" / "notebook_engines.ipynb"
LECTURE = (ZOO_DIR / "lecture.py").read_text(encoding="utf-8").split('"""', 2)[2].lstrip("\n")
RIGHT, WRONG = "self.grad += (1 - t**2) * out.grad", "self.grad += (1 + t**2) * out.grad"


def line_of(source, text):
    """The 1-based line of `text` in `source`."""
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


# --- end to end: a notebook in a kernel, a script read from standard input ---

def test_a_notebooks_two_engines_one_right_one_wrong_in_a_real_kernel(tmp_path):
    nb = run_notebook(NOTEBOOK, tmp_path, allow_errors=True)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source for c in code[::2]] == [LECTURE.rstrip(), LECTURE.replace(RIGHT, WRONG).rstrip()]
    checked = code[1].outputs
    assert [o.output_type for o in checked] == ["stream"] and checked[0].text.endswith(" cases, no root cause\n")
    (error,) = code[3].outputs
    assert error.output_type == "error" and error.ename == "AssertionError"
    report = error.evalue
    assert report.startswith("Value (In [3]) does not match PyTorch float64: 1 root cause"), report
    assert "1. class 1 (wrong at ordinary inputs): the backward rule of a.tanh()" in report
    assert f"at In [3], line {line_of(code[2].source, WRONG)}  {WRONG}\n" in report
    # the report is the error's text: what the notebook shows first is the call, then the report
    frames = [re.sub(r"\x1b\[[0-9;]*m", "", t) for t in error.traceback]
    assert "assert_matches_torch(Value, seconds=5, seed=0)" in frames[2], frames  # after the banner
    assert len([f for f in frames if "oracle" + "/" in f]) == 1, frames  # the one that raises
    script = reproducer_in(report)
    assert script.name.startswith("class1-tanh-In__3_-") and f"saved in {script.parent}" in report.replace(
        "kept", "saved")
    assert reproduce(script)[0] == 1
    fixed = tmp_path / "fixed.py"
    fixed.write_text(script.read_text(encoding="utf-8").replace(WRONG, RIGHT), encoding="utf-8")
    code, said = reproduce(fixed)
    assert code == 0 and said.endswith("verdict: pass\n"), said


def python_stdin(script, cwd):
    return subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_a_script_read_from_standard_input_is_checked_without_running_it_again(tmp_path):
    # the three calls of the test API; the workers would die if they tried to run this script again
    first = ("\nfrom oracle.testing import assert_matches_torch, check_engine, probe_engine\n"
             "print(probe_engine(Value).ops['tanh'].status, check_engine(Value, seconds=3, seed=0).passed)\n")
    second = "\nassert_matches_torch(Value, seconds=3, seed=0)\n"
    done = python_stdin(LECTURE + first + LECTURE.replace(RIGHT, WRONG) + second, tmp_path)
    assert done.returncode == 1 and done.stdout == "ok True\n", done.stdout + done.stderr
    report = done.stderr.split("AssertionError: ", 1)[1]
    assert report.startswith("Value (<stdin>) does not match PyTorch float64: 1 root cause"), report
    wrong = len(LECTURE.splitlines()) + len(first.splitlines()) + line_of(LECTURE, RIGHT)
    assert f"   at <stdin>, line {wrong}\n" in report  # Python keeps no source of standard input: no text
    reproducer = reproducer_in(report)
    assert "replay:" not in report  # there is no file a replay could load the class from
    replay = subprocess.run([sys.executable, "-m", "oracle", "fuzz", "--replay", str(reproducer.with_suffix(".json"))],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert replay.returncode == 2 and "was sent by value, not loaded from a file" in replay.stderr, replay.stderr
    text = reproducer.read_text(encoding="utf-8")
    assert "because Python keeps no source of <stdin>, where Value was defined" in " ".join(
        text.replace("#", "").split())
    assert reproduce(reproducer)[0] == 1


def as_typed_at_the_prompt(source):
    """`source` as one types it at Python's interactive prompt: no blank line inside a block, one
    after each block."""
    lines, indented = [], False
    for line in filter(str.strip, source.splitlines()):
        if indented and not line[0].isspace():
            lines.append("")
        lines.append(line)
        indented = line[0].isspace()
    return "\n".join(lines) + "\n\n"


def test_a_class_typed_at_the_interactive_prompt_is_checked_too(tmp_path):
    typed = as_typed_at_the_prompt(LECTURE.replace(RIGHT, WRONG)) + (
        "from oracle.testing import check_engine\n"
        "print(check_engine(Value, seconds=3, seed=0).message.splitlines()[2])\n")
    done = subprocess.run([sys.executable, "-i"], input=typed, capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert done.stdout.startswith("1. class 1 (wrong at ordinary inputs): the backward rule of a.tanh()"), (
        done.stdout + done.stderr[-2000:])


def verdicts(summary):
    """Each root cause of a campaign: its class, its words and its line."""
    return sorted((r["class"], r["summary"], re.findall(r"(?::|, line )(\d+)", r["where"])[:1])
                  for rows in summary["classes"].values() for r in rows)


def test_the_same_class_from_standard_input_and_from_a_file_gets_the_same_verdicts(tmp_path):
    wrong = LECTURE.replace(RIGHT, WRONG)
    (tmp_path / "engine.py").write_text(wrong, encoding="utf-8")  # the same lines as the script's
    check = dict(cases=120, seed=0, kind="expr")
    done = python_stdin(wrong + f"\nimport json\nfrom oracle.testing import check_engine\n"
                                f"print(json.dumps(check_engine(Value, **{check!r}).summary))\n", tmp_path)
    from_stdin = json.loads(done.stdout)
    from_file = check_engine(f"{tmp_path / 'engine.py'}:Value", **check).summary
    assert from_stdin["cases"] == from_file["cases"] == 120 and from_stdin["findings"] == from_file["findings"] == 1
    assert verdicts(from_stdin) == verdicts(from_file) and len(verdicts(from_file)) > 1, verdicts(from_file)


# --- what capture keeps, and what a worker loads ---

def cell(namespace, n, source, monkeypatch):
    """Run `source` as IPython runs cell In [n]: compiled under a file name of its own, the source in
    linecache."""
    name = f"<ipython-input-{n}-0123456789ab>"
    monkeypatch.setitem(linecache.cache, name, (len(source), None, source.splitlines(True), name))
    exec(compile(source, name, "exec"), namespace)  # noqa: S102 (this test's own source)


def notebook(monkeypatch, *cells):
    namespace = {"__name__": "__main__"}
    for n, source in enumerate(cells, 1):
        cell(namespace, n, source, monkeypatch)
    return namespace


HELPERS = '''\
import math as m
from fractions import Fraction
SCALE = 2.0

def double(x):
    return SCALE * x

class Node:
    def __init__(self, data):
        self.data = data
'''
ENGINE = '''\
class Value(Node):
    def pad(self):
        pass

    def scaled(self):
        return Value(double(self.data) + m.pi * 0 + float(Fraction(0)))
'''
LATER = "def shout(self):\n    return str(self.data).upper()\n\nValue.shout = shout\n"


def test_the_source_of_a_class_and_of_what_it_uses_from_other_cells(monkeypatch, tmp_path):
    ns = notebook(monkeypatch, HELPERS, ENGINE, LATER)
    got = interactive.capture(ns["Value"], tmp_path)
    assert got.display == "Value (In [2])" and len(got.inline) == 2
    source = got.inline[0]
    assert source.startswith("# --- The engine: Value, as In [2] defined it, with what its code uses from In [1], "
                             "In [3]. ---\n")
    for text in ("import math as m", "from fractions import Fraction", "SCALE = 2.0", "def double(x):",
                 "class Node:", ENGINE, "Value.shout = shout"):
        assert text in source, text
    assert "pickled by cloudpickle" in got.inline[1]
    # the source defines the class as the notebook did: a fresh Python runs it
    check = source + "\nprint(Value(1.5).scaled().data, Value(2).shout())\n"
    done = subprocess.run([sys.executable, "-I", "-c", check], capture_output=True, text=True, timeout=60)
    assert done.stdout == "3.0 2\n", done.stderr
    assert {pathlib.Path(w).name for _, w in got.files} == {"In [1].cell", "In [2].cell", "In [3].cell"}


def test_a_global_that_is_not_source_leaves_the_pickle_and_says_why(monkeypatch, tmp_path):
    engine = "class Value:\n    def __init__(self, data):\n        self.data = data\n        registry.append(self)\n"
    ns = notebook(monkeypatch, "registry = [object()]\n", engine)
    (only,) = interactive.capture(ns["Value"], tmp_path).inline
    assert "because its code uses the global registry, a list, which cannot be written as source" in " ".join(
        only.replace("#", "").split())


def test_a_class_that_cannot_be_pickled_is_one_sentence(monkeypatch, tmp_path):
    engine = "class Value:\n    def __init__(self, data):\n        with lock:\n            self.data = data\n"
    ns = notebook(monkeypatch, "import threading\nlock = threading.Lock()\n", engine)
    with pytest.raises(ValueError) as e:
        interactive.capture(ns["Value"], tmp_path)
    assert str(e.value) == ("Value cannot be sent to the worker processes: cloudpickle says TypeError: cannot "
                            "pickle '_thread.lock' object") and e.value.__cause__ is None


WORKER = """
import pickle, sys
from oracle.fuzz import graph, interactive
Engine, origin = interactive.load(pickle.load(sys.stdin.buffer))
print(Engine(1.5).scaled().data, graph.place_of(Engine.scaled).show(origin.root), origin.root, sep="|")
"""


def test_a_worker_loads_the_class_with_its_lines_in_the_cells_it_was_written_in(monkeypatch, tmp_path):
    ns = notebook(monkeypatch, HELPERS, ENGINE)
    got = interactive.capture(ns["Value"], tmp_path)
    # in a process of its own, as a worker: in the caller's, cloudpickle would give back the class itself
    done = subprocess.run([sys.executable, "-c", WORKER], input=pickle.dumps(got), capture_output=True, timeout=120)
    assert done.stdout.decode() == f"3.0|In [2], line 5  def scaled(self):|{tmp_path}\n", done.stderr.decode()
    assert graph.place_of(ns["Value"].scaled).file.startswith("<ipython-input-2-")  # the caller's is untouched


def test_a_reproducer_takes_the_pickle_when_the_source_would_rebind_one_of_its_names():
    program = Program(1, (Instr("tanh", (0,)),))
    pickled = "import pickle\n\nValue = None  # the pickle section\n"
    for source, used in (("import math\n\n\nclass Value:\n    pass\n", "source"),
                         ("from time import time\n\n\nclass Value:\n    pass\n", "pickle")):  # it uses `time`
        origin = Origin("Value (In [2])", "__main__", "Value", "", "", False, False, inline=(source, pickled))
        script = reproducer_source(program, [0.5], origin)
        engine = script.rsplit('\nif __name__ == "__main__":', 1)[0].rstrip()
        assert engine.endswith(source.rstrip() if used == "source" else pickled.rstrip()), engine[-300:]
        assert "ENGINE = '__main__:Value'" in script and "ENGINE_ROOT = None" in script

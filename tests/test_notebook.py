"""docs/micrograd_vs_torch.ipynb is saved as it should be read on a code host without running it:
every code cell executed in order with its outputs, the pictures inline, and nothing of the machine
it ran on. (Running it is `tox -e notebook`, with nbmake, which .ci/run runs.)"""
import json
import pathlib
import re

from tests.zoo import mistake_line

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "docs" / "micrograd_vs_torch.ipynb"
MACHINE_PATH = re.compile(r"(?<![\w.])/(tmp|work|home|root|usr|opt|var)/")


def cells():
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def text(value):
    return "".join(value) if isinstance(value, list) else value


def test_every_code_cell_ran_in_order_and_the_pictures_are_inline():
    code = [c for c in cells() if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    kinds = [kind for c in code for o in c["outputs"] for kind in o.get("data", {})]
    assert kinds.count("image/svg+xml") == 2 and kinds.count("image/png") == 1, kinds
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert all(c["outputs"] for c in code[1:]), "a cell after the imports was saved without its output"


def test_the_saved_outputs_name_no_path_of_the_machine_they_ran_on():
    for c in cells():
        for o in c.get("outputs", []):
            for value in [o.get("text", "")] + [v for k, v in o.get("data", {}).items() if k.startswith("text/")]:
                assert not MACHINE_PATH.search(text(value)), text(value)[:500]


def test_the_fuzzed_engine_shows_its_own_mistake_and_the_reproducer_its_exit_statuses():
    printed = "".join(text(o.get("text", "")) for c in cells() for o in c.get("outputs", []))
    marked, n = mistake_line("mul_assigns_grad")
    line = marked.read_text(encoding="utf-8").splitlines()[n - 1]
    # the learner's own line, as the engine is now: an edited engine needs the notebook saved again
    assert f"tests/zoo/mul_assigns_grad.py:{n}  {line.strip()}" in printed
    assert "sets a.grad = -1.0 where it should add (+=) torch's local derivative -1.0 to what a.grad held" in printed
    assert "exit status 1" in printed and "exit status 0" in printed


def test_the_value_written_in_a_cell_is_checked_and_its_mistake_named_at_its_cell_and_line():
    code = [c for c in cells() if c["cell_type"] == "code"]
    (engine,) = [c for c in code if text(c["source"]).lstrip().startswith("import math\n\n\nclass Value:")]
    wrong = "self.grad += (1 + t**2) * out.grad"
    line = next(n for n, s in enumerate(text(engine["source"]).splitlines(), 1) if wrong in s)
    checks = [text(o.get("text", "")) for c in code[code.index(engine) + 1:] for o in c["outputs"]]
    assert f"Value (In [{engine['execution_count']}]) does not match PyTorch float64: 1 root cause" in checks[0]
    assert f"at In [{engine['execution_count']}], line {line}  {wrong}\n" in checks[0]
    assert checks[1].endswith(" cases, no root cause\n"), checks[1]  # tanh fixed in a cell of its own

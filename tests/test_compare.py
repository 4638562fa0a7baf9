"""`python -m oracle compare`: the README program gives Karpathy's numbers in both engines, a planted
wrong derivative is marked and exits 1, bad input is refused in one line, the graph renders, and the
printed PyTorch code runs and gives the table's numbers."""
import contextlib
import io
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import oracle.teach.examples  # noqa: E402
from micrograd.engine import Value  # noqa: E402
from micrograd.viz import HIGHLIGHT_COLOR  # noqa: E402
from oracle.__main__ import main  # noqa: E402
from oracle.teach.compare import EXAMPLE, compare  # noqa: E402
from oracle.teach.examples import EXAMPLES  # noqa: E402
from oracle.teach.parse import MAX_NODES, parse  # noqa: E402
from oracle.teach.source import MAX_BYTES, CompareError  # noqa: E402
from oracle.teach.table import report, run  # noqa: E402
from oracle.teach.torch_code import torch_source  # noqa: E402
from tests.graphs import NEURON, README  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot program is not installed (apt-get install graphviz)")

# Rebinding, aliases, a name torch's code needs, a leaf inside an expression, values that do not
# feed the output, every method and every place a constant can stand.
TANGLED = """\
torch = Value(1.5)
x = torch
torch += 1
z = Value(3.0)
w = x * 2
t5 = x.tanh()
c = torch * t5 + x.exp() - (x / 3).log() + x.sigmoid() - (-x).abs() + Value(0.25) * x + (x - 4).relu()
x = c
c += 1
c -= 2 - x ** 2 - 2 ** x - x ** x + 1 / x
c *= 0.5
c /= 3
c = c ** 0.5
"""


# A child process imports oracle from where this suite does (the checkout, or the installed wheel
# when the suite runs from an unpacked sdist), never from its working directory.
CHILD_ENV = {**os.environ, "PYTHONPATH": str(Path(oracle.__file__).resolve().parents[1])}


def run_cli(stdin, *args, command=(sys.executable, "-m", "oracle"), env=None):
    return subprocess.run([*command, "compare", *args], input=stdin, cwd=ROOT.parent,
                          capture_output=True, timeout=120, env=env or CHILD_ENV)


def table(text):
    """The table's rows: variable -> the numbers in its row."""
    rows, lines = {}, text.splitlines()
    for line in lines[lines.index(next(x for x in lines if x.startswith("variable"))) + 1:]:
        if not line:
            break
        name, _, data, tdata, _, grad, tgrad = line.split()[:7]
        rows[name] = [float(data), float(tdata), float(grad), float(tgrad)]
    return rows


def run_printed_code(code):
    """Exec the printed torch code (here in the test only) and read back its prints: name -> (data, grad)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(code, {})  # noqa: S102
    out = {}
    for line in buf.getvalue().splitlines():
        name, data, grad = line.split()
        out[name] = (float(data), None if grad == "None" else float(grad))
    return out


def micrograd_itself(source, output):
    """The program run as the Python it is, on micrograd (test only): every variable's data and grad."""
    ns = {"Value": Value}
    exec(source, ns)  # noqa: S102
    if ".backward()" not in source:
        ns[output].backward()
    return {k: (v.data, v.grad) for k, v in ns.items() if isinstance(v, Value)}


# --- a correct engine agrees ---

def test_readme_example_from_stdin_exits_0_with_karpathys_numbers():
    r = run_cli(README.encode(), "-")
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    rows = table(out)
    for name, data, grad in (("g", 24.7041, 1.0), ("a", -4.0, 138.8338), ("b", 2.0, 645.5773)):
        mg_data, t_data, mg_grad, t_grad = rows[name]
        assert mg_data == pytest.approx(data, abs=5e-5) and t_data == pytest.approx(data, abs=5e-5)
        assert mg_grad == pytest.approx(grad, abs=5e-5) and t_grad == pytest.approx(grad, abs=5e-5)
    assert "All 27 nodes agree" in out and "not close" not in out
    assert "import torch" in out and r.stderr == b""


def test_file_argument_reads_the_file(tmp_path, capsys):
    path = tmp_path / "readme.py"
    path.write_text(README)
    assert main(["compare", str(path)]) == 0
    assert table(capsys.readouterr().out)["g"][0] == pytest.approx(24.70408163265306)


def test_example_readme_exits_0_with_the_readme_numbers(capsys):
    assert main(["compare", "--example", "readme"]) == 0
    out = capsys.readouterr().out
    assert table(out)["g"][0] == pytest.approx(24.70408163265306) and "All 27 nodes agree" in out


def test_list_examples_lists_every_shipped_example(capsys):
    assert main(["compare", "--list-examples"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == list(EXAMPLES)
    shipped = sorted(p.stem for p in Path(oracle.teach.examples.__file__).parent.glob("*.py") if p.stem != "__init__")
    assert shipped == sorted(EXAMPLES)


@pytest.mark.parametrize("argv, says", [
    (["--example", "nope"], "argument --example: invalid choice: 'nope' (choose from 'neuron', 'readme')"),
    (["--example", "neuron", "prog.py"], "argument FILE: not allowed with argument --example"),
    (["--list-examples", "-"], "argument FILE: not allowed with argument --list-examples"),
    ([], "one of the arguments FILE --example --list-examples is required"),
])
def test_example_usage_errors_exit_2_with_one_line(capsys, argv, says):
    with pytest.raises(SystemExit) as e:
        main(["compare", *argv])
    assert e.value.code == 2
    assert capsys.readouterr().err == f"python -m oracle compare: error: {says}\n"


@needs_dot
def test_every_help_example_works_in_an_empty_directory(tmp_path):
    pytest.importorskip("graphviz")
    lines = [line.split("$ ", 1)[1].split("  #")[0] for line in EXAMPLE.splitlines() if line.strip().startswith("$ ")]
    assert len(lines) == 3
    for line in lines:
        r = subprocess.run(line.replace("python -m oracle", f"{shlex.quote(sys.executable)} -m oracle"), shell=True,
                           cwd=tmp_path, capture_output=True, text=True, timeout=120, env=CHILD_ENV)
        assert r.returncode == 0 and r.stderr == "", (line, r.stderr)
    ET.fromstring((tmp_path / "readme.svg").read_text())


def test_lecture_neuron_agrees_with_its_numbers():
    out = io.StringIO()
    assert compare(NEURON, out=out) == 0
    rows = table(out.getvalue())
    assert rows["o"][0] == pytest.approx(0.7071067811865476, rel=1e-9)
    for name, grad in (("x1", -1.5), ("w1", 1.0), ("x2", 0.5), ("w2", 0.0), ("n", 0.5)):
        assert rows[name][2] == pytest.approx(grad, abs=1e-9) and rows[name][3] == pytest.approx(grad, abs=1e-9)


@pytest.mark.parametrize("source", [README, NEURON, TANGLED], ids=["readme", "neuron", "tangled"])
def test_lowering_computes_what_the_source_computes_in_micrograd(source):
    parsed = parse(source)
    cmp = run(parsed)
    assert cmp.ok
    truth = micrograd_itself(source, parsed.output)
    for name, k in parsed.variables.items():
        assert (cmp.data[k], cmp.grad[k]) == truth[name], name


@pytest.mark.parametrize("source", [README, NEURON, TANGLED], ids=["readme", "neuron", "tangled"])
def test_printed_torch_code_runs_and_gives_the_tables_numbers(source):
    parsed = parse(source)
    cmp = run(parsed)
    printed = run_printed_code(torch_source(parsed))
    assert list(printed) == list(parsed.variables)
    for name, k in parsed.variables.items():
        data, grad = printed[name]
        assert data == cmp.tdata[k]
        assert grad == cmp.tgrad[k] if grad is not None else cmp.tgrad[k] == 0.0  # None: it does not feed the output


def test_printed_code_rebinds_names_and_never_updates_in_place():
    code = "\n".join(line for line in torch_source(parse(TANGLED)).splitlines() if not line.startswith("#"))
    assert "+=" not in code and "torch = " not in code  # the module name stays torch's
    assert "\nc = x + 1\n" in code and "\nc = c * 0.5\n" in code


@pytest.mark.parametrize("expr, op, c", [
    ("a + b", "add", None), ("a - b", "sub", None), ("a * b", "mul", None), ("a / b", "div", None),
    ("a ** b", "pow", None), ("a + 2", "add_c", 2), ("2 + a", "radd_c", 2), ("a - 2", "sub_c", 2),
    ("2 - a", "rsub_c", 2), ("a * 2.5", "mul_c", 2.5), ("2.5 * a", "rmul_c", 2.5), ("a / 2", "div_c", 2),
    ("2 / a", "rdiv_c", 2), ("-a", "neg", None), ("a ** 3", "pow_int", 3), ("a ** -0.5", "pow_float", -0.5),
    ("2 ** a", "rpow", 2), ("a * (1 + 2 * 3)", "mul_c", 7), ("a * -(2 ** -1)", "mul_c", -0.5),
    ("a.relu()", "relu", None), ("a.log()", "log", None), ("a.abs()", "abs", None),
])
def test_each_expression_lowers_to_its_op(expr, op, c):
    last = parse(f"a = Value(1.5)\nb = Value(-2.0)\nout = {expr}\n").program.instrs[-1]
    assert (last.op, last.c) == (op, c) and type(last.c) is type(c)


def test_on_a_terminal_the_table_is_rich_and_the_code_stays_pasteable():
    rich_console = pytest.importorskip("rich.console")
    for width in (140, 60):
        buf = io.StringIO()
        console = rich_console.Console(file=buf, force_terminal=True, no_color=True, width=width)
        assert compare(README, rich_console=console) == 0
        text = buf.getvalue()
        assert "┃" in text and "variable" in text
        if width == 140:
            assert re.search(r"│ g +│ +14 │ +24\.70408163 │ +24\.70408163 │", text)  # line 14 of the readme example
        code = text[text.index("# The program in PyTorch"):]
        assert run_printed_code(code)["g"] == (24.70408163265306, 1.0)  # even 60 columns wrapped no line


@pytest.mark.parametrize("script", ["compare.py", "train_compare.py"])
def test_scripts_are_the_commands(script):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--help"], capture_output=True, timeout=60,
                       cwd=ROOT.parent)
    assert r.returncode == 0 and b"example" in r.stdout


# --- a wrong engine disagrees ---

class WrongTanhBackward(Value):
    """tanh's derivative without the square: 1 - t instead of 1 - t*t."""
    __slots__ = ()

    def tanh(self):
        return Value._result(math.tanh(self.data), 'tanh', WrongTanhBackward._wrong, self)

    def _wrong(out):
        out._a.grad += out.grad * (1.0 - out.data)


class WrongExp(Value):
    """exp off by a relative 1e-9: invisible to the eye, not to the table."""
    __slots__ = ()

    def exp(self):
        return Value._result(math.exp(self.data) * (1 + 1e-9), 'exp', Value._exp_backward, self)


def test_wrong_tanh_backward_exits_1_and_marks_the_gradient():
    out = io.StringIO()
    assert compare("x = Value(0.5)\ny = x * 2\nz = x.tanh() + y\n", Engine=WrongTanhBackward, out=out) == 1
    text = out.getvalue()
    row = next(line for line in text.splitlines() if line.startswith("x "))
    assert row.endswith("<- grad not close")
    t = math.tanh(0.5)
    assert table(text)["x"][2:] == [pytest.approx(2 + (1 - t)), pytest.approx(2 + (1 - t * t))]
    assert "1 of 4 nodes disagree" in text and "wrong on its own is the gradient of x" in text


def test_wrong_exp_value_exits_1_and_marks_the_data_of_every_node_it_reaches():
    parsed = parse("x = Value(2.0)\ny = x.exp()\nz = y * 3\n")
    cmp = run(parsed, WrongExp)
    assert not cmp.ok and cmp.bad_data == [False, True, True] and "value of y" in cmp.verdict
    out = io.StringIO()
    report(parsed, cmp, out)
    assert "<- data not close" in out.getvalue()


# --- bad input: exit 2, one line, never a traceback ---

TOO_DEEP_SUM = "a = Value(1)\nb = " + " + ".join(["a"] * 5000) + "\n"
BAD = {  # name: (stdin bytes, what the message says, its line or None)
    "dunder": (b"a = Value(1.0)\nb = a.__class__\n", "'.__class__'", 2),
    "dunder call": (b"a = Value(1.0)\nb = a.__add__(a)\n", "'__add__'", 2),
    "import": (b"import os\n", "imports are not allowed", 1),
    "from import": (b"a = Value(1.0)\nfrom os import system\n", "imports are not allowed", 2),
    "unknown name": (b"a = Value(1.0)\nb = foo * a\n", "unknown name 'foo'", 2),
    "unknown method": (b"a = Value(1.0)\nb = a.sqrt()\n", "unknown method 'sqrt'", 2),
    "huge power": (b"a = Value(1.0)\nb = a * 10**10**10\n", "exponent 10000000000 is too large", 2),
    "huge exponent": (b"a = Value(1.0)\nb = a ** 5000\n", "exponent 5000 is too large", 2),
    "5000 parentheses": (b"a = Value(1)\nb = " + b"(" * 5000 + b"a" + b")" * 5000 + b"\n", "parentheses", 2),
    "5000-term sum": (TOO_DEEP_SUM.encode(), "nested too deeply", 2),
    "syntax error": (b"a = Value(1)\nb = a +* 2\n", "syntax error", 2),
    "binary garbage": (b"a = Value(1)\n\xff\xfe\x00\x81garbage\n", "NUL byte", 2),
    "not UTF-8": (b"a = Value(1)\nb = a * 2 # caf\xe9\n", "not UTF-8", 2),
    "empty file": (b"", "empty", None),
    "only comments": (b"# nothing here\n\n", "empty", None),
    "use before assignment": (b"b = a * 2\na = Value(1)\n", "'a' is used before it is assigned", 1),
    "Value with two numbers": (b"a = Value(1, 2)\n", "Value() takes one number", 1),
    "Value of a string": (b"a = Value('1')\n", "only numbers", 1),
    "Value of a Value": (b"a = Value(1)\nb = Value(a)\n", "takes a number, not a Value", 2),
    "method with an argument": (b"a = Value(1)\nb = a.tanh(2)\n", "tanh() takes no arguments", 2),
    "backward with an argument": (b"a = Value(1)\nb = a * 2\nb.backward(1)\n", "backward() takes no arguments", 3),
    "backward not last": (b"a = Value(1)\nb = a * 2\nb.backward()\nc = b\n", "must be the last line", 3),
    "print": (b"a = Value(1)\nprint(a)\n", "print()", 2),
    "eval": (b"a = Value(1)\nb = eval('a') * a\n", "calling 'eval' is not allowed", 2),
    "attribute": (b"a = Value(1)\nb = a.data * 2\n", "'.data'", 2),
    "attribute assignment": (b"a = Value(1)\na.grad = 3.0\nb = a * 2\n", "only a plain name", 2),
    "loop": (b"a = Value(1)\nfor i in range(3):\n    a = a * 2\n", "a for loop is not allowed", 2),
    "unary plus": (b"a = Value(1)\nb = +a\n", "unary +", 2),
    "division by zero": (b"a = Value(1)\nb = a * (1 / 0)\n", "divides by zero", 2),
    "infinite constant": (b"a = Value(1)\nb = a * 1e999\n", "not finite", 2),
    "no operations": (b"a = Value(1)\n", "computes nothing", None),
    "too big": (b"a = Value(1)\n" + b"#" * MAX_BYTES + b"\n", "larger than 100 kB", None),
}


# The brief's list goes through a real `python -m oracle compare -`, to see no traceback can escape;
# the rest through main() in this process, which is faster and reads the same stdin bytes.
THROUGH_SUBPROCESS = ("dunder", "import", "unknown name", "unknown method", "huge power", "5000 parentheses",
                      "5000-term sum", "syntax error", "binary garbage", "not UTF-8", "empty file",
                      "use before assignment", "Value with two numbers", "method with an argument")


@pytest.fixture(scope="module")
def subprocess_runs():
    """The bad inputs above through `python -m oracle compare -`, side by side: one interpreter each."""
    with ThreadPoolExecutor(4) as pool:
        return dict(zip(THROUGH_SUBPROCESS, pool.map(lambda name: run_cli(BAD[name][0], "-"), THROUGH_SUBPROCESS)))


class _Stdin(io.TextIOWrapper):
    """sys.stdin with these bytes underneath, as a pipe gives them."""

    def __init__(self, data):
        super().__init__(io.BytesIO(data))


@pytest.mark.parametrize("name", BAD)
def test_bad_input_exits_2_with_one_line_naming_where(name, subprocess_runs, monkeypatch, capsys):
    source, says, line = BAD[name]
    if name in subprocess_runs:
        r = subprocess_runs[name]
        code, out, err = r.returncode, r.stdout.decode(), r.stderr.decode()
    else:
        monkeypatch.setattr(sys, "stdin", _Stdin(source))
        code = main(["compare", "-"])
        out, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err and out == ""
    assert err.endswith("\n") and err.count("\n") == 1 and err.startswith("compare: "), err
    assert says in err
    if line is not None:
        assert re.match(rf"compare: line {line}, col \d+: ", err), err


def test_columns_count_characters_not_bytes():
    with pytest.raises(CompareError) as e:
        parse("a = Value(1, label='αβγ'); b = foo\n")
    assert (e.value.line, e.value.col) == (1, 32)


def test_limits_on_nodes_and_nesting():
    with pytest.raises(CompareError, match="more than 10000 nodes"):
        parse("a = Value(1)\n" + "a += a\n" * MAX_NODES)
    with pytest.raises(CompareError, match="nested more than 100 levels"):
        parse("a = Value(1)\nb = " + " + ".join(["a"] * 150))
    assert parse("a = Value(1)\nb = " + " + ".join(["a"] * 50)).program.n_nodes == 50


def test_output_must_be_the_last_value_computed():
    with pytest.raises(CompareError, match="'b' is not the last value computed") as e:
        parse("a = Value(1)\nb = a * 2\nc = a * 3\nb.backward()\n")
    assert e.value.line == 4


def test_bad_graph_suffix_exits_2(capsys):
    assert main(["compare", "-", "--graph", "out.pdf"]) == 2
    err = capsys.readouterr().err
    assert err == "compare: --graph out.pdf: the file name must end in .svg or .png\n"


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "nope.py")]) == 2
    assert capsys.readouterr().err.startswith("compare: cannot read ")


def test_closed_stdin_exits_2_with_one_line():
    r = subprocess.run(["sh", "-c", 'exec "$0" -m oracle compare - <&-', sys.executable], cwd=ROOT.parent,
                       capture_output=True, text=True, timeout=120, env=CHILD_ENV)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "compare: cannot read stdin: it is closed; give FILE, or pipe the program in\n"


# `python -m oracle`, but with the graphviz Python package unimportable
WITHOUT_GRAPHVIZ = (sys.executable, "-c", "import sys; sys.modules['graphviz'] = None; "
                                          "from oracle.__main__ import main; sys.exit(main(sys.argv[1:]))")
PACKAGE = "the graphviz Python package"
DOT = "Graphviz's dot program"
PIP, APT = "pip install 'micrograd-oracle[viz]'", "apt-get install graphviz (or your OS's Graphviz package)"


@pytest.mark.parametrize("package, dot, says", [
    (False, True, f"needs {PACKAGE}, which is not installed: {PIP}"),
    (True, False, f"needs {DOT}, which is not installed: {APT}"),
    (False, False, f"needs {PACKAGE} and {DOT}, which are not installed: {PIP} and {APT}"),
], ids=["no package", "no dot", "neither"])
def test_graph_without_what_it_needs_exits_2_before_any_work(tmp_path, package, dot, says):
    if package:
        pytest.importorskip("graphviz")
    if dot and shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed (apt-get install graphviz)")
    env = CHILD_ENV if dot else {**CHILD_ENV, "PATH": str(tmp_path)}  # an empty PATH: no dot on it
    out = tmp_path / "g.svg"
    r = run_cli(README.encode(), "-", "--graph", str(out), env=env,
                **({} if package else {"command": WITHOUT_GRAPHVIZ}))
    assert (r.returncode, r.stdout) == (2, b""), r.stderr  # no table printed before the error
    assert r.stderr.decode() == f"compare: --graph {says}\n"
    assert not out.exists()


# A graphviz package that is there but does not import, as a broken install or a missing system library
# leaves it: failing in its own import (found before any work), or importing without what draw_dot takes
# from it (found when the graph is drawn, after the table)
BROKEN_GRAPHVIZ = {
    "own ImportError": ({"__init__.py": "from graphviz._backend import Digraph\n",
                         "_backend.py": "raise ImportError('libgvc.so.6: cannot open shared object file')\n"},
                        "compare: --graph needs graphviz, which fails to import (ImportError: libgvc.so.6: cannot "
                        "open shared object file): " + PIP),
    "no Digraph": ({"__init__.py": ""}, "python -m oracle compare: needs graphviz, which fails to import "
                                        "(ImportError: cannot import name 'Digraph' from 'graphviz'"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_GRAPHVIZ))
def test_a_graphviz_that_does_not_import_is_the_missing_extra_line_not_an_internal_error(tmp_path, name):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed (apt-get install graphviz)")
    files, says = BROKEN_GRAPHVIZ[name]
    (tmp_path / "graphviz").mkdir()
    for file, text in files.items():
        (tmp_path / "graphviz" / file).write_text(text, encoding="utf-8")
    env = {**CHILD_ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path), CHILD_ENV["PYTHONPATH"]])}
    r = run_cli(README.encode(), "-", "--graph", str(tmp_path / "g.svg"), env=env)
    err = r.stderr.decode()
    assert r.returncode == 2 and len(err.splitlines()) == 1 and err.startswith(says), err
    assert err.rstrip().endswith(PIP) and "internal error" not in err
    assert (r.stdout == b"") == (name == "own ImportError")  # before any work, when it can be known then


# --- the graph ---

@needs_dot
def test_graph_renders_svg_with_both_gradients(tmp_path, capsys):
    path = tmp_path / "readme.svg"
    path_in = tmp_path / "readme.py"
    path_in.write_text(README)
    assert main(["compare", str(path_in), "--graph", str(path)]) == 0
    svg = path.read_text()
    ET.fromstring(svg)
    assert "torch grad 138.8338" in svg and "grad 645.5773" in svg and HIGHLIGHT_COLOR not in svg


@needs_dot
def test_graph_renders_png_and_highlights_disagreement(tmp_path):
    png, svg = tmp_path / "bad.png", tmp_path / "bad.svg"
    source = "x = Value(0.5, label='x')\nz = x.tanh() + x\n"
    assert compare(source, Engine=WrongTanhBackward, out=io.StringIO(), graph=str(png)) == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    compare(source, Engine=WrongTanhBackward, out=io.StringIO(), graph=str(svg))
    assert HIGHLIGHT_COLOR in svg.read_text()

"""Each command needs one extra, and says so: the table of what each extra holds agrees with
pyproject.toml, and in a fresh virtual environment with only the plain install (no torch, no
numpy, ...), every `--help` works and every command run says in one line what to install, exit 2."""
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import micrograd
import oracle
from oracle.__main__ import COMMANDS
from oracle.cli import DISTRIBUTION, EXTRAS, failed_import, missing_extra, not_installed, pip_install

ROOT = Path(__file__).resolve().parent.parent


def pyproject():
    """pyproject.toml's [project] table."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def pyproject_extras():
    """pyproject.toml's extras, each expanded to the distribution names it installs (micrograd-oracle[x] included)."""
    project = pyproject()
    declared = project["optional-dependencies"]

    def expand(extra):
        names = set()
        for requirement in declared[extra]:
            name, extras = re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[([^\]]*)\])?\s*(?:[<>=!~].*)?", requirement).groups()
            if name == project["name"]:
                names |= {d for e in extras.split(",") for d in expand(e.strip())}
            else:
                names.add(name)
        return names

    return {extra: expand(extra) for extra in declared}


def test_the_distribution_is_pyprojects_and_not_karpathys():
    name = pyproject()["name"]
    assert name == micrograd.DISTRIBUTION == DISTRIBUTION != "micrograd"  # micrograd 0.1.0 on PyPI is Karpathy's
    assert pip_install("viz") == f"pip install '{name}[viz]'"


def test_the_extras_table_is_pyprojects():
    declared = pyproject_extras()
    for extra, distributions in EXTRAS.items():
        assert set(distributions) == declared[extra], extra


def test_every_command_needs_an_extra_that_exists():
    assert {extra for _, extra, _ in COMMANDS.values()} <= set(EXTRAS) | {None}
    assert {name: extra for name, (_, extra, _) in COMMANDS.items()} == {
        "fuzz": "oracle", "selftest": "oracle", "compare": "oracle", "train-compare": "train", "report": None}


def test_the_test_extra_holds_every_commands_extra():
    declared = pyproject_extras()
    assert all(declared[extra] <= declared["test"] for extra in EXTRAS)


def test_missing_extra_names_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # find_spec then says: not importable
    assert missing_extra("viz") == "needs graphviz, which is not installed: pip install 'micrograd-oracle[viz]'"
    assert not_installed(["a", "b", "c"], "do it") == "needs a, b and c, which are not installed: do it"


def raised(code, folder=None, hide=()):
    """The exception `code` raises, run with `folder` first on sys.path and the packages `hide` not yet
    imported (put back after, and what it imported forgotten)."""
    before = dict(sys.modules)
    for name in [n for n in sys.modules if n.split(".")[0] in hide]:
        del sys.modules[name]
    sys.path.insert(0, str(folder)) if folder else None
    try:
        exec(code, {})  # noqa: S102 (the test's own code)
    except Exception as e:
        return e
    finally:
        sys.path.remove(str(folder)) if folder else None
        sys.modules.clear()
        sys.modules.update(before)
    raise AssertionError(f"{code!r} raised nothing")


def test_a_failure_to_import_an_extras_package_is_named_with_its_pip_command(tmp_path):
    (tmp_path / "mpmath").mkdir()  # there, but failing in its own import: a broken install
    (tmp_path / "mpmath" / "__init__.py").write_text("from mpmath import _missing_part\n", encoding="utf-8")
    said = failed_import(raised("import mpmath", tmp_path, hide=["mpmath"]))
    assert said.startswith("needs mpmath, which fails to import (ImportError: cannot import name '_missing_part'")
    assert said.endswith(")): pip install 'micrograd-oracle[oracle]'"), said
    (tmp_path / "mpmath" / "__init__.py").write_text("import no_such_dependency\n", encoding="utf-8")
    assert failed_import(raised("import mpmath", tmp_path, hide=["mpmath"])).startswith(
        "needs mpmath, which fails to import (ModuleNotFoundError: No module named 'no_such_dependency')")
    assert failed_import(raised("import graphviz_not_there as graphviz")) is None  # not an extra's
    assert failed_import(raised("raise ValueError('a bug')")) is None
    gone = ModuleNotFoundError("No module named 'sklearn'", name="sklearn")
    assert failed_import(gone) == "needs scikit-learn, which is not installed: pip install 'micrograd-oracle[train]'"
    assert failed_import(gone, "train") == failed_import(gone)
    torch_gone = ModuleNotFoundError("No module named 'torch'", name="torch")
    assert failed_import(torch_gone, "train").endswith("pip install 'micrograd-oracle[train]'")  # the command's extra
    assert failed_import(torch_gone, "oracle").endswith("pip install 'micrograd-oracle[oracle]'")
    try:  # raised from it, as draw_dot raises its own ImportError from graphviz's
        try:
            raise ModuleNotFoundError("No module named 'graphviz'", name="graphviz")
        except ImportError:
            raise ImportError("draw_dot needs the graphviz Python package") from None
    except ImportError as e:
        assert failed_import(e) == "needs graphviz, which is not installed: pip install 'micrograd-oracle[viz]'"


def test_any_other_error_of_a_command_is_one_line_that_says_internal_error(monkeypatch, capsys):
    from oracle import __main__ as cli_main
    from oracle.fuzz import report

    def broken(args):
        raise RuntimeError("a bug\nover two lines")
    monkeypatch.setattr(report, "main", broken)
    monkeypatch.delenv("ORACLE_DEBUG", raising=False)
    assert cli_main.main(["report", "."]) == 2
    assert capsys.readouterr().err == ("python -m oracle report: internal error, please report it: RuntimeError: a bug "
                                       "over two lines (ORACLE_DEBUG=1 shows the traceback)\n")
    monkeypatch.setenv("ORACLE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli_main.main(["report", "."])


# --- the plain install, for real ---

HELP = [[], ["fuzz"], ["selftest"], ["compare"], ["train-compare"], ["report"]]
RUN = {  # argv -> the extra its one line must name
    ("compare", "--example", "readme"): "oracle",
    ("fuzz", "--seconds", "1"): "oracle",
    ("selftest",): "oracle",
    ("train-compare",): "train",
}


@pytest.fixture(scope="module")
def plain_python(tmp_path_factory):
    """The python of a fresh virtual environment that holds micrograd and oracle and nothing else: the
    two packages copied, as `pip install micrograd-oracle` lays them out, into its site-packages (from where
    this suite imports them, so it checks the code under test). No pip, no system site-packages."""
    venv = tmp_path_factory.mktemp("plain") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    for package in (micrograd, oracle):
        source = Path(package.__file__).parent
        shutil.copytree(source, Path(site) / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    return python


def run_plain(python, cwd, argv):
    return subprocess.run([python, "-m", "oracle", *argv], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})  # no PYTHONPATH, nothing of this environment's


def test_plain_install_has_none_of_the_extras(plain_python, tmp_path):
    r = subprocess.run([plain_python, "-c", "import importlib.util as u; "
                        "print([m for m in ('torch', 'numpy', 'mpmath', 'hypothesis', 'rich', 'cloudpickle', "
                        "'graphviz', 'sklearn', 'matplotlib') if u.find_spec(m)])"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == "[]\n", r.stderr


def test_plain_install_every_help_works(plain_python, tmp_path):
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda argv: run_plain(plain_python, tmp_path, [*argv, "--help"]), HELP))
    for argv, r in zip(HELP, runs):
        assert r.returncode == 0 and r.stderr == "", (argv, r.stderr)
        assert r.stdout.startswith("usage: python -m oracle"), argv


def test_plain_install_every_command_says_which_extra_to_install(plain_python, tmp_path):
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda argv: run_plain(plain_python, tmp_path, argv), RUN))
    for (argv, extra), r in zip(RUN.items(), runs):
        assert r.returncode == 2 and r.stdout == "", (argv, r.stderr)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.startswith(f"python -m oracle {argv[0]}: needs torch, ")
        assert r.stderr.endswith(f"which are not installed: pip install 'micrograd-oracle[{extra}]'\n"), r.stderr


def test_plain_install_reports_a_shared_findings_folder_with_no_extra(plain_python, tmp_path):
    r = run_plain(plain_python, tmp_path, ["report", str(tmp_path)])
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "holds no campaign's summary" in r.stderr, r.stderr

"""What is shipped is what is tested: run from an unpacked sdist (tox -e full), the suite imports
micrograd and oracle from the installed wheel, never the sdist's own copy of the sources; the sdist
holds what the suite needs; and CI runs the README's test command."""
import importlib.metadata
import sys
from email.parser import HeaderParser
from pathlib import Path

import pytest

import micrograd
import oracle

ROOT = Path(__file__).resolve().parent.parent
PKG_INFO = ROOT / "PKG-INFO"  # at the top of an unpacked sdist, never in a checkout
from_sdist = pytest.mark.skipif(not PKG_INFO.exists(), reason="run from a checkout, not from an unpacked sdist")


@from_sdist
def test_from_an_sdist_the_packages_are_the_installed_wheels():
    for package in (micrograd, oracle):
        where = Path(package.__file__).resolve()
        assert ROOT not in where.parents, f"{package.__name__} imported from the sdist's sources, {where}"
    # and a child started from this process (the fuzzer's forkserver takes its sys.path) finds them first too
    entries = [Path(p or ".").resolve() for p in sys.path]
    site = entries.index(Path(micrograd.__file__).resolve().parents[1])
    assert all(i > site for i, p in enumerate(entries) if p == ROOT), sys.path
    version = HeaderParser().parsestr(PKG_INFO.read_text(encoding="utf-8"))["Version"]
    assert importlib.metadata.version(micrograd.DISTRIBUTION) == version == micrograd.__version__


@from_sdist
def test_the_sdist_holds_the_license_and_what_the_suite_needs():
    for name in ("LICENSE", "tox.ini", "constraints.txt", ".ci/run", "tests/data/diverging_linear_mlp.json",
                 "scripts/demo.py", "docs/neuron.svg"):
        assert (ROOT / name).is_file(), name
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Copyright (c) 2020 Andrej Karpathy" in license_text and "the micrograd-oracle authors" in license_text


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    command = readme[readme.index("# the test suite (what CI runs, through .ci/run)") + 1]
    assert command.startswith("python3 -m pip install -q tox && python3 -m tox ")
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()

"""`python -m oracle selftest` can fail: a mutant counts as found only when its own planted bug is
the one root cause reported (the mutated function, in the bug's class, with a reproducer that fails
on the mutant and passes on micrograd), and a control campaign on micrograd itself must find
nothing. Each breakage below is planted in this process, where the selftest's campaigns run."""
import pytest

pytest.importorskip("torch")

from oracle.fuzz import cases, mutants, selftest, workers  # noqa: E402
from oracle.fuzz.diagnose import Cause  # noqa: E402
from tests.campaigns import oracle, oracle_here  # noqa: E402

QUICK = ("--only", "relu_kink", "--seconds-per-mutant", 10, "--control-seconds", 1)


def test_a_planted_mutant_is_found_with_its_own_cause_and_a_clean_control(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative --out is where the user stands, as an absolute one is
    code, out, err = oracle_here("selftest", *QUICK, "--out", "rel", "--json", "table.json")
    assert code == 0, out + err
    assert "control (micrograd): clean" in out and "1/1 mutants found" in out, out
    want = str(mutants.expected("relu_kink"))
    assert out.count(want) == 2, out  # expected, and got
    assert f"root causes saved in {tmp_path / 'rel'}" in out
    assert list((tmp_path / "rel" / "relu_kink").glob("class2-_relu_backward-*.py"))
    assert not list((tmp_path / "rel" / "control").glob("*.py"))


def test_without_out_it_leaves_nothing_behind(tmp_path):
    code, out, err = oracle("selftest", "--only", "no_seed", "--seconds-per-mutant", 10, "--control-seconds", 1,
                            env={"TMPDIR": str(tmp_path)})
    assert code == 0, out + err
    assert "1/1 mutants found" in out and list(tmp_path.iterdir()) == [] and "saved in" not in out


def _raise(*args, **kwargs):
    raise RuntimeError("the oracle is broken")


def _wrong_method(finding, Engine, *args, **kwargs):
    return Cause("rule", "__add__", "", 0, "", 0, "the rule of a + b is wrong", 1)


BREAKAGES = {
    # every case raises inside the oracle itself: crashes everywhere, on micrograd too
    "check raises": (cases, "check_program", _raise, "NOT CLEAN"),
    # every finding blamed on the same wrong method
    "wrong method": (workers, "diagnose", _wrong_method, "not the planted bug: it names __add__, not _relu_backward"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_broken_fuzzer_fails_the_selftest(breakage, monkeypatch, tmp_path):
    module, name, broken, says = BREAKAGES[breakage]
    monkeypatch.setattr(module, name, broken)
    code, out, err = oracle_here("selftest", *QUICK, "--out", tmp_path)
    assert code == 1, out + err
    assert "0/1 mutants found" in out and says in out, out


def test_a_mutant_found_in_another_class_is_not_found(monkeypatch, tmp_path):
    row = mutants._ROWS["relu_kink"]
    monkeypatch.setitem(mutants._ROWS, "relu_kink", row._replace(cls=1))  # as if the bug were wrong everywhere
    code, out, err = oracle_here("selftest", *QUICK, "--out", tmp_path)
    assert code == 1 and "0/1 mutants found" in out and "it says class 2, not 1" in out, out + err


def test_a_control_that_finds_something_fails_the_selftest(monkeypatch, tmp_path):
    # micrograd replaced by a mutant: the control finds its bug, and the mutant's reproducer fails on
    # the "fixed" engine too
    monkeypatch.setattr(selftest, "CONTROL", "oracle.fuzz.mutants:relu_kink")
    code, out, err = oracle_here("selftest", *QUICK, "--out", tmp_path)
    assert code == 1, out + err
    assert "control (micrograd): NOT CLEAN: 1 root cause(s) on the unmutated engine" in out, out
    assert "its reproducer fails on micrograd too" in out, out

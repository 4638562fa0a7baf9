"""Confirmation can fail: a root cause is confirmed only when its reproducer, run where it was
written with the engine's limits, itself reports the failure it was written for (its verdict line
and exit 1). A reproducer that could not run (no file, no torch, a syntax error, an engine it
cannot import, a traceback of its own, no time) is "could not confirm", never "confirmed"; one that
passes is noise. And it is run wherever --out points: relative (the default `findings` too),
absolute, `~`, through a symlink, from any working directory."""
import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from oracle.check import check_program  # noqa: E402
from oracle.fuzz import confirm  # noqa: E402
from oracle.fuzz.engines import load  # noqa: E402
from oracle.fuzz.mutants import mutant_engine  # noqa: E402
from oracle.fuzz.reproducer import reproducer_source  # noqa: E402
from oracle.fuzz.store import FindingStore  # noqa: E402
from oracle.program import Instr, Program  # noqa: E402
from tests.campaigns import ROOT, causes, oracle_here, reproduce  # noqa: E402

MUL = Program(2, (Instr("mul", (0, 1)),))
MUTANT = "oracle.fuzz.mutants:mul_grad"


def mul_grad_finding():
    return check_program(MUL, [[2.0, 3.0]], mutant_engine("mul_grad")).findings[0]


def written(tmp_path, spec=MUTANT, paths=()):
    """A reproducer of mul_grad's finding for engine `spec` (loaded with --engine-path `paths`),
    written to tmp_path/repro.py."""
    finding = mul_grad_finding()
    script = tmp_path / "repro.py"
    script.write_text(reproducer_source(MUL, finding.point, load(spec, paths, sandboxed=False)[1], finding))
    return script


def broken_torch(tmp_path):
    """A folder holding a torch package whose import fails: on PYTHONPATH, no reproducer can run."""
    broken = tmp_path / "broken"
    (broken / "torch").mkdir(parents=True)
    (broken / "torch" / "__init__.py").write_text("raise ImportError('planted: this torch does not import')\n")
    return broken


def mul_grad_ledger(tmp_path):
    """(a Ledger saving to tmp_path, mul_grad's finding, its cause) for mutant mul_grad."""
    from oracle.fuzz.causes import Ledger
    from oracle.fuzz.diagnose import diagnose

    real = mul_grad_finding()
    found = load(MUTANT, sandboxed=False)[1]
    return Ledger(tmp_path, {}, found), real, diagnose(real, mutant_engine("mul_grad"), found.root)


def test_a_reproducer_that_reports_its_mismatch_confirms_and_one_that_passes_is_noise(tmp_path):
    script = written(tmp_path)
    ran = confirm.confirm(script, "grad", 60.0)
    assert (ran.state, ran.exit) == ("confirmed", 1) and ran.output.rstrip().endswith("verdict: mismatch"), ran
    script.write_text(reproducer_source(MUL, [2.0, 3.0], load("micrograd.engine:Value", sandboxed=False)[1],
                                        mul_grad_finding()))
    ran = confirm.confirm(script, "grad", 60.0)
    assert (ran.state, ran.exit) == ("noise", 0) and "agrees with torch" in ran.output, ran


def test_a_reproducer_that_fails_another_way_than_it_was_written_for_confirms_nothing(tmp_path):
    ran = confirm.confirm(written(tmp_path), "crash", 60.0)  # a mismatch is not the crash it was written for
    assert ran.state == "could-not-confirm" and ran.reason == (
        "the reproducer reported mismatch, not the crash it was written for"), ran


def test_a_missing_reproducer_confirms_nothing(tmp_path):
    script = written(tmp_path)
    script.unlink()
    ran = confirm.confirm(script, "grad", 60.0)
    assert ran.state == "could-not-confirm" and ran.reason == f"no reproducer at {script}", ran


def test_a_reproducer_that_does_not_compile_confirms_nothing(tmp_path):
    script = tmp_path / "repro.py"
    script.write_text("def f(:\n    pass\nprint('verdict: mismatch')\n")
    ran = confirm.confirm(script, "grad", 60.0)
    assert ran.state == "could-not-confirm" and ran.reason.startswith("SyntaxError"), ran


def test_a_reproducer_whose_python_cannot_import_torch_confirms_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(broken_torch(tmp_path)))
    ran = confirm.confirm(written(tmp_path), "grad", 60.0)
    assert ran.state == "could-not-confirm" and ran.reason == "ImportError: planted: this torch does not import", ran


def test_a_reproducer_that_cannot_import_the_engines_second_folder_confirms_nothing(tmp_path, monkeypatch):
    """An engine that imports a helper from a second --engine-path folder: with that folder gone, its
    reproducer cannot import the engine, which is not the mismatch it was written for."""
    (tmp_path / "engine").mkdir()
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "planted_helper.py").write_text("from oracle.fuzz.mutants import mul_grad as Value\n")
    (tmp_path / "engine" / "planted_engine.py").write_text("from planted_helper import Value\n")
    monkeypatch.syspath_prepend(str(tmp_path / "helpers"))
    script = written(tmp_path, f"{tmp_path / 'engine' / 'planted_engine.py'}:Value", [tmp_path / "helpers"])
    assert confirm.confirm(script, "grad", 60.0).state == "confirmed"  # with the folder there: it runs
    (tmp_path / "helpers" / "planted_helper.py").unlink()  # the second folder's module is gone
    ran = confirm.confirm(script, "grad", 60.0)
    assert ran.state == "could-not-confirm" and ran.reason == "ModuleNotFoundError: No module named 'planted_helper'"


def test_a_reproducer_that_outruns_its_time_could_not_confirm_or_had_no_time(tmp_path):
    script = tmp_path / "repro.py"
    script.write_text("import time\ntime.sleep(60)\n")
    ran = confirm.confirm(script, "timeout", 0.5)
    assert ran.state == "could-not-confirm" and ran.reason == "the reproducer did not finish within 0.5 s", ran
    assert confirm.confirm(script, "timeout", 0.5, cut=True).state == "unconfirmed"  # the campaign's end cut it


@pytest.mark.parametrize("kind, verdict", [("value", "mismatch"), ("mlp-grad", "mismatch"), ("raise", "raise"),
                                           ("complex", "raise"), ("recursion", "raise"), ("timeout", "timeout"),
                                           ("crash", "crash"), ("memory", "memory"), ("tamper", "tamper")])
def test_a_run_counts_only_with_the_verdict_its_kind_expects_and_exit_1(kind, verdict):
    said = f"The engine failed\nverdict: {verdict}\n"
    assert confirm.judge(kind, 1, said).state == "confirmed"
    assert confirm.judge(kind, 0, said).state == "could-not-confirm"  # a verdict with the wrong exit status
    assert confirm.judge(kind, 1, said.replace("verdict: ", "")).state == "could-not-confirm"  # no verdict at all
    other = "pass" if verdict != "mismatch" else "raise"
    assert confirm.judge(kind, 1, f"verdict: {other}\n").state == "could-not-confirm"


def test_the_first_line_of_the_error_is_what_the_traceback_ends_with():
    output = ('Traceback (most recent call last):\n  File "x.py", line 3, in <module>\n    import torch\n'
              "ModuleNotFoundError: No module named 'torch'\n")
    assert confirm.judge("grad", 1, output).reason == "ModuleNotFoundError: No module named 'torch'"
    assert confirm.judge("grad", -11, "").reason == "the reproducer printed nothing and was killed by SIGSEGV"


def test_a_store_given_a_relative_folder_runs_the_reproducer_it_wrote(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    finding = mul_grad_finding()
    saved = FindingStore("findings").record("mul", finding, MUL, finding.point, {},
                                            load(MUTANT, sandboxed=False)[1])
    assert (saved.state, saved.path) == ("confirmed", tmp_path / "findings" / "mul.json"), saved
    assert not (tmp_path / "findings" / "findings").exists()


@pytest.mark.parametrize("how", ["default", "relative", "home", "absolute", "symlink"])
def test_a_campaign_confirms_by_the_reproducer_it_wrote_wherever_out_points(how, tmp_path, monkeypatch):
    cwd = tmp_path / "here"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(tmp_path))
    out, folder = {"default": ((), cwd / "findings"), "relative": (("--out", "sub/found"), cwd / "sub" / "found"),
                   "home": (("--out=~/found",), tmp_path / "found"),
                   "absolute": (("--out", tmp_path / "abs"), tmp_path / "abs"),
                   "symlink": (("--out", tmp_path / "link"), tmp_path / "real")}[how]
    if how == "symlink":
        folder.mkdir()
        (tmp_path / "link").symlink_to(folder)
    code, stdout, stderr = oracle_here("fuzz", "--engine", MUTANT, "--kind", "expr", "--workers", 1, "--seed", 1,
                                       "--cases", 200, "--max-findings", 1, "--summary-json", tmp_path / "s.json",
                                       *out)
    assert code == 1, stdout + stderr
    (row,) = causes(json.loads((tmp_path / "s.json").read_text()))
    assert row["state"] == "confirmed" and row["reproducer_output"].rstrip().endswith("verdict: mismatch"), stdout
    script = pathlib.Path(row["reproducer"])
    assert script.is_absolute() and script.exists() and script.resolve().parent == folder.resolve(), row
    assert not list(folder.glob("**/findings")) and not list(folder.glob("**/found"))  # no doubled path
    if how == "relative":  # the file it names runs as the learner runs it
        assert reproduce(script)[0] == 1 and reproduce(script, "micrograd.engine:Value")[0] == 0


def test_the_campaign_says_so_and_exits_2_when_no_reproducer_could_run(tmp_path):
    """torch that does not import in a reproducer's Python (PYTHONPATH reaches the reproducers, not
    the campaign, whose workers were forked before): nothing is confirmed, and the verdict is none."""
    broken = broken_torch(tmp_path)
    script = tmp_path / "run.py"
    script.write_text(
        "import os, sys\n"
        "from oracle.fuzz import forkserver\n"
        "if __name__ == '__main__':\n"
        "    forkserver.context().Process(target=print).start()\n"  # the workers' forkserver: the good torch
        f"    os.environ['PYTHONPATH'] = {str(broken)!r}\n"
        "    from oracle.__main__ import main\n"
        "    sys.exit(main(sys.argv[1:]))\n")
    summary = tmp_path / "summary.json"
    done = subprocess.run([sys.executable, str(script), "fuzz", "--engine", MUTANT, "--kind", "expr", "--workers", "1",
                           "--seed", "1", "--cases", "60", "--out", str(tmp_path / "out"), "--summary-json",
                           str(summary)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert re.search(r"no verdict: \d+ root causes? found and none could be confirmed", done.stderr), done.stderr
    data = json.loads(summary.read_text())
    assert data["findings"] == 0 and data["could_not_confirm"] >= 1
    assert "could not confirm: ImportError: planted: this torch does not import" in done.stdout, done.stdout
    assert not list((tmp_path / "out").glob("*.py")), "nothing unconfirmed is published"
    assert os.path.isdir(tmp_path / "out" / "campaigns")


def test_one_point_that_passes_never_clears_a_root_cause_that_another_case_still_shows(tmp_path):
    """mul_grad's mistake (d(a*b)/da = a) is invisible where a == b: a case there is cleared by its
    reproducer, and the next case that shows the root cause is run in turn, and confirms it."""
    from oracle.fuzz.causes import ATTEMPTS

    ledger, real, cause = mul_grad_ledger(tmp_path)

    def seen(point, case):
        rc = ledger.symptom(dataclasses.replace(real, point=point), cause, case, 0.0, reducing=False)
        ledger.finish()
        return rc.state

    assert seen([2.0, 2.0], 0) == "noise"
    assert seen([2.0, 2.0], 1) == "noise"  # the same case again is not run again
    assert seen([3.0, 3.0], 2) == "noise"
    assert seen([2.0, 3.0], 3) == "confirmed"
    (rc,) = ledger
    assert rc.symptoms == 4 and rc.reproducer.exists() and len(rc.tried) == 2 < ATTEMPTS


def test_a_root_cause_stays_cleared_after_its_attempts(tmp_path):
    from oracle.fuzz.causes import ATTEMPTS

    ledger, real, cause = mul_grad_ledger(tmp_path)
    for k in range(ATTEMPTS + 1):
        rc = ledger.symptom(dataclasses.replace(real, point=[k + 1.0, k + 1.0]), cause, k, 0.0, reducing=False)
        ledger.finish()
    assert rc.state == "noise" and len(rc.tried) == ATTEMPTS
    ledger.symptom(real, cause, 9, 0.0, reducing=False)
    ledger.finish()
    assert rc.state == "noise" and not list(tmp_path.glob("*.py"))


def test_a_root_causes_reproducer_is_named_for_the_class_of_its_case_after_a_better_case_replaces_it(tmp_path):
    """A root cause first saved with a class-2 case, then with a class-1 one: its one reproducer is the
    class-1 case's, named so, and the class-2 file is gone; the row's class, words and reproducer's run
    are those of the file it names."""
    ledger, real, cause = mul_grad_ledger(tmp_path)
    edge = dataclasses.replace(cause, cls=2, summary="at the edge")
    ledger.symptom(dataclasses.replace(real, point=[0.0, 3.0]), edge, 0, 0.0, reducing=False)
    ledger.finish()
    (rc,) = ledger
    assert (rc.state, rc.shown.cls, rc.reproducer.name.startswith("class2-")) == ("confirmed", 2, True)
    ledger.symptom(real, cause, 1, 0.0, reducing=False)
    ledger.finish()
    assert (rc.state, rc.shown.cls, rc.shown.summary) == ("confirmed", 1, cause.summary)
    assert [p.name for p in sorted(tmp_path.glob("*.py"))] == [rc.reproducer.name]
    assert rc.reproducer.name.startswith("class1-") and sorted(p.stem for p in tmp_path.glob("*.json")) == [
        rc.reproducer.stem]
    assert "x0=2.0" in rc.reproducer_output and "x0=0.0" not in rc.reproducer_output  # the class-1 case's run


def test_two_root_causes_never_share_a_reproducer(tmp_path):
    """Two Python-float facts told apart by the op that got there (one key each) at one line: each row
    has a reproducer of its own, of its class."""
    ledger, real, cause = mul_grad_ledger(tmp_path)
    facts = [dataclasses.replace(cause, cls=3, entry=entry) for entry in ("__mul__", "__rmul__")]
    assert facts[0].key() != facts[1].key()
    for k, fact in enumerate(facts):
        ledger.symptom(real, fact, k, 0.0, reducing=False)
    ledger.finish()
    rows = list(ledger)
    assert [rc.state for rc in rows] == ["written", "written"]
    assert len({rc.reproducer for rc in rows}) == 2 and all(rc.reproducer.name.startswith("class3-") for rc in rows)
    assert all(rc.reproducer.exists() for rc in rows)


def test_a_run_with_no_time_left_is_not_started_and_is_unconfirmed_only_when_the_campaign_cut_it(tmp_path):
    script = tmp_path / "repro.py"
    script.write_text("import time\ntime.sleep(30)\n")  # it would outlast any test, were it started
    assert confirm.confirm(script, "grad", 0.0, cut=True).state == "unconfirmed"
    assert confirm.confirm(script, "grad", -0.5, cut=False).state == "could-not-confirm"

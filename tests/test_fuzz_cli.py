"""`python -m oracle fuzz` and `selftest` as a user runs them: exit codes, one-line errors, the
summary, shards, replay, and isolation from engines that hang, raise, overflow the stack or crash
(the toy engines of tests/engines.py). Each campaign is a few cases with a fixed seed.

Usage errors and one campaign run as real subprocesses; the other campaigns run the same entry
point in this process (its workers are still processes), which saves the ~2 s a fresh Python
takes to import torch, and shares one forkserver among them."""
import io
import json
import os
import pathlib
import subprocess
import sys
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout

import pytest

torch = pytest.importorskip("torch")

from oracle.__main__ import main as oracle_main  # noqa: E402
from oracle.fuzz import cases  # noqa: E402
from oracle.generate import ALL_OPS  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def oracle(*args, timeout=120):
    """Run `python -m oracle ARGS` in a fresh Python from the repository's root: (exit code, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ORACLE_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "oracle", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def oracle_here(*args):
    """The same entry point in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = oracle_main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def fuzz(tmp_path, *args, run=oracle_here):
    """A short campaign saving to tmp_path: (exit code, stdout, stderr, summary dict)."""
    summary = tmp_path / "summary.json"
    code, out, err = run("fuzz", "--workers", 1, "--seed", 1, "--out", tmp_path / "findings",
                         "--summary-json", summary, *args)
    assert "Traceback" not in err, err
    return code, out, err, json.loads(summary.read_text()) if summary.exists() else None


def test_micrograd_passes_a_short_campaign_with_exit_0_and_a_full_summary(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--cases", 20, run=oracle)
    assert code == 0, out + err
    assert out.startswith("seed 1 ")
    for key in ("cases", "nodes", "seconds", "cases_per_second", "findings", "op_checks_per_second",
                "coverage", "findings_by_kind", "domain_differences", "noise", "seed", "shard", "engine"):
        assert key in summary, key
    assert summary["cases"] == 20 and summary["findings"] == 0 and summary["findings_by_kind"] == {}
    assert summary["nodes"] > 0 and summary["seed"] == 1 and summary["shard"] == "1/1"
    assert summary["engine"] == "micrograd.engine:Value"
    assert summary["coverage"]["ops_enabled"] == 23 and 0 < summary["coverage"]["ops_seen"] <= 23
    assert not (tmp_path / "findings").exists()  # nothing found, nothing written


@pytest.mark.parametrize("args", [
    ["--seconds", "abc"],
    ["--cases", "0"],
    ["--workers", "-1"],
    ["--shard", "3/2"],
    ["--shard", "x/y"],
    ["--shard", "0/2"],
    ["--ops", "add,frobnicate"],
    ["--ops", ","],
    ["--kind", "everything"],
    ["--no-such-flag"],
    ["--engine", "no_such_module:Value"],
    ["--engine", "micrograd.engine:NoSuchClass"],
    ["--engine", "not a spec"],
    ["--replay", "no/such/finding.json"],
])
def test_bad_usage_exits_2_with_a_one_line_reason(args):
    code, out, err = oracle("fuzz", *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "error" in err, err
    assert "Traceback" not in err


def test_kind_choices_are_the_case_kinds_and_all():
    from oracle.fuzz.command import KIND_CHOICES  # spelled out there, so that bad usage fails before torch loads
    assert KIND_CHOICES == (*cases.KINDS, "all")


def test_shards_are_disjoint_and_together_are_the_whole_campaign():
    whole = list(cases.plan(seed=7, count=300))
    shards = [list(cases.plan(seed=7, shard=(k, 3), count=100)) for k in (1, 2, 3)]
    seeds = [{cseed for _, cseed, _ in shard} for shard in shards]
    assert all(not (a & b) for i, a in enumerate(seeds) for b in seeds[i + 1:])
    assert sorted(c for shard in shards for c in shard) == sorted(whole)
    assert [i for i, _, _ in shards[1]][:3] == [1, 4, 7]


def test_shard_flag_runs_exactly_that_shards_cases(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--shard", "2/3", "--cases", 30, "--workers", 0)
    assert code == 0 and summary["shard"] == "2/3" and summary["cases"] == 30, out + err
    assert summary["kinds"] == dict(Counter(kind for _, _, kind in cases.plan(1, (2, 3), 30)))


def test_a_case_is_a_function_of_the_seed_and_its_index_alone():
    (i, cseed, kind), = cases.plan(seed=3, shard=(5, 9), count=1)
    assert i == 4 and list(cases.plan(seed=3, count=5))[4] == (i, cseed, kind)
    assert cases.build_case(cseed, "expr", ALL_OPS) == cases.build_case(cseed, "expr", ALL_OPS)
    assert cases.case_seed(3, 4) != cases.case_seed(4, 3)


@pytest.fixture(scope="module")
def mutant_finding(tmp_path_factory):
    """A campaign against a mutant (tanh's derivative is 1 - t): its exit code and saved finding."""
    tmp = tmp_path_factory.mktemp("mutant")
    code, out, err, summary = fuzz(tmp, "--engine", "oracle.fuzz.mutants:tanh_grad", "--kind", "expr", "--cases", 200,
                                   "--max-findings", 1)
    return code, out + err, summary


def test_a_mutant_is_found_with_exit_1_and_the_finding_is_on_disk(mutant_finding):
    code, output, summary = mutant_finding
    assert code == 1, output
    assert summary["findings"] == 1 and summary["findings_by_kind"] == {"grad": 1}
    saved = summary["finding_files"][0]
    assert saved["signature"] == "grad-tanh" and saved["ops"] <= 4
    assert pathlib.Path(saved["path"]).exists() and pathlib.Path(saved["path"]).with_suffix(".py").exists()
    assert saved["path"] in output


def test_replay_exits_1_while_the_bug_is_there_and_0_on_a_correct_engine(mutant_finding):
    path = mutant_finding[2]["finding_files"][0]["path"]
    code, out, err = oracle_here("fuzz", "--replay", path)  # the finding's own engine: the mutant
    assert code == 1 and "still failing (grad-tanh)" in out and "Gradients are not close!" in out, out + err
    code, out, err = oracle_here("fuzz", "--replay", path, "--engine", "micrograd.engine:Value")
    assert code == 0 and "fixed" in out, out + err


def test_an_mlp_finding_is_saved_with_a_failing_reproducer_and_replays(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "oracle.fuzz.mutants:tanh_grad", "--kind", "mlp",
                                   "--cases", 30, "--max-findings", 1)
    assert code == 1, out + err
    saved = summary["finding_files"][0]
    assert saved["kind"] == "mlp-grad" and saved["ops"] is None
    json_path = pathlib.Path(saved["path"])
    assert json_path.with_suffix(".py").exists() and json.loads(json_path.read_text())["reproducer_fails"] is True
    code, out, err = oracle_here("fuzz", "--replay", json_path)
    assert code == 1 and f"still failing ({saved['signature']})" in out, out + err


def test_planted_bug_is_found_reduced_and_written_as_a_runnable_reproducer(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "tests.engines:WrongTanhGradValue",
                                   "--ops", "add,mul,tanh,add_c,mul_c", "--kind", "expr", "--cases", 100,
                                   "--max-findings", 1)
    assert code == 1, out + err
    saved = summary["finding_files"][0]
    assert saved["kind"] == "grad" and "tanh" in saved["signature"] and saved["ops"] <= 4
    json_path = pathlib.Path(saved["path"])
    py_path = json_path.with_suffix(".py")
    assert json.loads(json_path.read_text())["reproducer_fails"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Both at once: each is a fresh Python importing torch.
    runs = [subprocess.Popen([sys.executable, str(py_path), *engine], cwd=ROOT, env=env, stdout=subprocess.PIPE)
            for engine in ([], ["micrograd.engine:Value"])]
    (planted, _), (fixed, _) = [(r.wait(120), r.stdout.read()) for r in runs]
    for r in runs:
        r.stdout.close()
    assert (planted, fixed) == (1, 0)


def test_engine_that_hangs_is_a_timeout_finding_and_the_campaign_still_ends(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "tests.engines:HangingValue", "--ops", "add,mul,tanh",
                                   "--kind", "expr", "--cases", 3, "--timeout", 1, "--max-findings", 1)
    assert code == 1 and summary["findings_by_kind"] == {"timeout": 1}, out + err
    message = json.loads(pathlib.Path(summary["finding_files"][0]["path"]).read_text())["message"]
    assert "backward pass" in message


def test_engine_deaf_to_the_alarm_is_killed_and_its_worker_replaced(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "tests.engines:DeafHangingValue", "--ops", "add,mul",
                                   "--kind", "expr", "--cases", 2, "--timeout", 0.5)
    assert code == 1 and summary["findings_by_kind"] == {"timeout": 1}, out + err
    assert summary["cases"] == 2 and summary["worker_restarts"] >= 1


def test_engine_that_raises_in_tanh_is_a_raise_finding(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "tests.engines:RaisingTanhValue", "--ops", "add,mul,tanh",
                                   "--kind", "expr", "--cases", 20)
    assert code == 1 and summary["findings_by_kind"] == {"raise": 1}, out + err
    assert summary["finding_files"][0]["signature"] == "raise-tanh"


def test_recursive_topological_sort_overflows_on_a_deep_chain(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "tests.engines:RecursiveValue", "--kind", "deep",
                                   "--cases", 1)
    assert code == 1 and summary["findings_by_kind"] == {"recursion": 1}, out + err


def test_engine_that_crashes_its_process_is_a_crash_finding_not_a_crashed_campaign(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "tests.engines:CrashingExpValue", "--ops", "add,mul,exp",
                                   "--kind", "expr", "--cases", 10)
    assert code == 1 and summary["findings_by_kind"] == {"crash": 1}, out + err
    assert summary["cases"] == 10  # the cases after the crash ran in a new worker
    assert "SIGSEGV" in json.loads(pathlib.Path(summary["finding_files"][0]["path"]).read_text())["message"]


def test_python_float_engine_raising_where_torch_gives_inf_is_a_domain_difference_unless_strict(tmp_path):
    # math.exp(710) raises OverflowError where torch.exp gives inf
    args = ("--engine", "tests.engines:Value", "--ops", "add,mul,exp", "--kind", "expr", "--cases", 40)
    code, out, err, summary = fuzz(tmp_path, *args)
    assert code == 0 and summary["domain_differences"] > 0, out + err
    assert "skipped ops the engine does not support" not in out  # every op asked for is there
    code, out, err, summary = fuzz(tmp_path, *args, "--strict")
    assert code == 1 and summary["findings_by_kind"] == {"raise": 1}, out + err
    assert summary["finding_files"][0]["signature"] == "raise-exp"


def test_probe_skips_ops_the_engine_does_not_have_and_says_so(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "tests.engines:Value010", "--ops", "add,tanh,exp",
                                   "--kind", "expr", "--cases", 5)
    assert "skipped ops the engine does not support: tanh, exp" in out
    assert summary["ops"] == ["add"] and summary["skipped_ops"] == ["tanh", "exp"]


def test_selftest_finds_a_planted_mutant_and_exits_0(tmp_path):
    code, out, err = oracle_here("selftest", "--only", "relu_kink", "--seconds-per-mutant", 10, "--out", tmp_path)
    assert code == 0, out + err
    assert "1/1 mutants found" in out and "relu_kink" in out


@pytest.mark.parametrize("args", [["--only", "no_such_mutant"], ["--only", ","], ["--seconds-per-mutant", "0"],
                                  ["--timeout", "-1"], ["--kind", "everything"]])
def test_selftest_bad_usage_exits_2_with_a_one_line_reason(args):
    code, out, err = oracle("selftest", *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "error" in err and "Traceback" not in err, err

"""`python -m oracle fuzz` and `selftest` as a user runs them (the selftest's verdicts are in
test_selftest.py): exit codes, one-line errors, the summary by root cause and class, shards,
replay, and engines loaded from files and from a package of the same name as this project's. Each
campaign is a few cases with a fixed seed.

Usage errors and a few campaigns run as real subprocesses; the others run the same entry point in
this process (its workers are still sandboxed processes), which saves the ~2 s a fresh Python takes
to import torch, and shares one forkserver among them."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import uuid
from collections import Counter

import pytest

torch = pytest.importorskip("torch")

from oracle.fuzz import cases  # noqa: E402
from oracle.ops import OPS  # noqa: E402
from tests.campaigns import ROOT, TAG, causes, fuzz, oracle, oracle_here, survivors  # noqa: E402
from tests.zoo import LEARNER_ROOT, mistake_line  # noqa: E402


def test_micrograd_passes_a_short_campaign_with_exit_0_and_a_full_summary(tmp_path):
    import micrograd.engine
    code, out, err, summary = fuzz(tmp_path, "--cases", 20, run=oracle)
    assert code == 0, out + err
    assert out.startswith("seed 1 ")
    assert f"engine micrograd.engine:Value from {micrograd.engine.__file__} (this project's own micrograd)" in out
    for key in ("cases", "nodes", "seconds", "cases_per_second", "findings", "op_checks_per_second", "classes",
                "coverage", "python_float_points", "noise", "seed", "shard", "engine", "engine_file"):
        assert key in summary, key
    assert summary["cases"] == 20 and summary["findings"] == 0 and causes(summary) == []
    assert summary["nodes"] > 0 and summary["seed"] == 1 and summary["shard"] == "1/1" and summary["strict"]
    assert summary["kinds"]["deep"] == 2  # the deep chain and the deep net come first in every campaign
    assert summary["coverage"]["ops_enabled"] == len(OPS) and 0 < summary["coverage"]["ops_seen"] <= len(OPS)
    written = [p.name for p in (tmp_path / "findings").iterdir()]
    assert written == ["campaigns"]  # nothing found, no finding written: only the campaign's summary, for report


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
    ["--memory-mb", "0"],
    ["--no-such-flag"],
    ["--engine", ""],
    ["--engine", "not a spec"],
    ["--engine", "no/such/engine.py:Value"],
    ["--engine-path", "no/such/folder"],
    ["--out", "pyproject.toml"],
    ["--replay", "no/such/finding.json"],
    ["--engine", "no_such_module:Value", "--cases", "1"],
    ["--engine", "micrograd.engine:NoSuchClass", "--cases", "1"],
    ["--engine", "tests/hostile/exits_at_import.py:Value", "--cases", "1"],
    ["--engine", "tests/hostile/no_backward.py:Value", "--cases", "1"],
])
def test_bad_usage_exits_2_with_a_one_line_reason(args, tmp_path):
    out_dir = [] if "--out" in args else ["--out", tmp_path]
    code, out, err = oracle("fuzz", *args, *out_dir)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "error" in err, err
    assert "Traceback" not in err


def test_an_engine_that_cannot_be_driven_says_why_and_writes_a_summary_that_says_so(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "tests.hostile.numpy_data:Value", "--cases", 5)
    assert code == 2 and "cannot be driven: Engine(0.7).data is a numpy.ndarray of shape (3,)" in err, out + err
    assert "cannot be driven" in summary["error"] and summary["engine_file"].endswith("numpy_data.py")
    assert not any((tmp_path / "findings").glob("*.py"))


def test_a_campaign_that_finished_no_case_has_no_verdict_and_exits_2(tmp_path):
    # The budget is gone before the first case starts (while the engine is loaded and probed, or
    # just after): nothing was checked, so nothing may be called right.
    code, out, err, summary = fuzz(tmp_path, "--engine", f"{ROOT}/tests/zoo/lecture.py:Value", "--seconds", 0.01)
    assert code == 2, out + err
    assert "no verdict: " in err and err.count("\n") == 1, err
    assert summary["cases"] == 0 and summary["findings"] == 0
    assert summary["no_verdict"] and summary["no_verdict"] in err
    assert "0 that count" not in out


def test_a_campaign_that_finished_cases_has_a_verdict():
    from oracle.fuzz.records import Stats
    from oracle.fuzz.summary import no_verdict
    found = {"findings": 1, "could_not_confirm": 0}
    clean = {"findings": 0, "could_not_confirm": 0}
    assert no_verdict(found, 0, {}) is None and no_verdict(clean, 12, {}) is None
    stats = Stats(started=3, seconds=10.0)
    assert "still on the first case" in no_verdict(clean, 0, {}, stats.idle())
    assert "interrupted" in no_verdict(clean, 0, {}, Stats(stopped="interrupted").idle())


def test_kind_choices_are_the_case_kinds_and_all():
    from oracle.fuzz.command import KIND_CHOICES  # spelled out there, so that bad usage fails before torch loads
    assert KIND_CHOICES == (*cases.KINDS, "all")


def test_shards_are_disjoint_and_together_are_the_whole_campaign():
    mix = cases.kind_mix("expr", OPS)
    whole = list(cases.plan(seed=7, count=300, mix=mix))
    shards = [list(cases.plan(seed=7, shard=(k, 3), count=100, mix=mix)) for k in (1, 2, 3)]
    seeds = [{cseed for _, cseed, _ in shard} for shard in shards]
    assert all(not (a & b) for i, a in enumerate(seeds) for b in seeds[i + 1:])
    assert sorted(c for shard in shards for c in shard) == sorted(whole)
    assert [i for i, _, _ in shards[1]][:3] == [1, 4, 7]


def test_every_shard_with_deep_cases_runs_the_deep_chain_and_the_deep_net_after_a_first_batch():
    deep = ["deep-chain", "deep-net"]
    for shard in ((1, 1), (2, 3)):
        kinds = [kind for _, _, kind in cases.plan(seed=9, shard=shard, count=40)]
        assert kinds[cases.DEEP_AT:cases.DEEP_AT + 2] == deep and not set(deep) & set(kinds[:cases.DEEP_AT])
        endless = [kind for _, (_, _, kind) in zip(range(40), cases.plan(seed=9, shard=shard))]
        assert endless == kinds  # a seconds budget runs the same sequence
        assert [kind for _, _, kind in cases.plan(seed=9, shard=shard, count=3)][-2:] == deep  # a small budget too
        only = [kind for _, _, kind in cases.plan(seed=9, shard=shard, count=3, mix=cases.kind_mix("deep", OPS))]
        assert only[:2] == deep  # deep cases alone: they come first
    chain, _ = cases.build_case(cases.case_seed(9, 0), "deep-chain", tuple(OPS))
    net, _ = cases.build_case(cases.case_seed(9, 1), "deep-net", tuple(OPS))
    assert len(chain) >= 5000 and len(net) >= 5000
    assert [kind for _, _, kind in cases.plan(seed=9, count=3, mix=cases.kind_mix("expr", OPS))] == ["expr"] * 3


def test_shard_flag_runs_exactly_that_shards_cases(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--shard", "2/3", "--cases", 30, "--workers", 0, "--kind", "expr")
    assert code == 0 and summary["shard"] == "2/3" and summary["cases"] == 30, out + err
    mix = cases.kind_mix("expr", OPS)
    assert summary["kinds"] == dict(Counter(cases.base_kind(k) for _, _, k in cases.plan(1, (2, 3), 30, mix)))


def test_shard_auto_takes_k_of_n_from_a_slurm_array_or_a_kubernetes_indexed_job():
    from oracle.cli import UsageError
    from oracle.fuzz.command import scheduler_shard
    slurm = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "4"}
    assert scheduler_shard(slurm)[:2] == (3, 4) and "Slurm" in scheduler_shard(slurm)[2]
    assert scheduler_shard({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "2"})[:2] == (1, 2)
    k8s = {"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "8"}
    assert scheduler_shard(k8s)[:2] == (1, 8) and "Kubernetes" in scheduler_shard(k8s)[2]
    for bad, words in (({}, "no scheduler said"), ({"JOB_COMPLETION_INDEX": "3"}, "JOB_COMPLETIONS is not set"),
                       ({"JOB_COMPLETION_INDEX": "8", "JOB_COMPLETIONS": "8"}, "is not 1..N"),
                       ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"}, "not a number")):
        with pytest.raises(UsageError, match=words):
            scheduler_shard(bad)


def test_shard_auto_on_a_kubernetes_indexed_job_says_where_it_came_from(tmp_path):
    env = {"JOB_COMPLETION_INDEX": "1", "JOB_COMPLETIONS": "3"}
    code, out, err, summary = fuzz(tmp_path, "--shard", "auto", "--cases", 5, "--kind", "expr",
                                   run=lambda *a: oracle(*a, env=env))
    assert code == 0 and summary["shard"] == "2/3", out + err
    assert "shard 2/3 from Kubernetes' JOB_COMPLETION_INDEX and JOB_COMPLETIONS" in out


def test_two_shards_in_one_folder_report_each_root_cause_once(tmp_path):
    for k in (1, 2):
        code, out, err, _ = fuzz(tmp_path, "--engine", "oracle.fuzz.mutants:tanh_grad", "--kind", "expr",
                                 "--cases", 40, "--shard", f"{k}/2")
        assert code == 1, out + err
    shards = [json.loads(p.read_text()) for p in (tmp_path / "findings" / "campaigns").glob("*.json")]
    assert sorted(s["shard"] for s in shards) == ["1/2", "2/2"]
    code, out, err = oracle_here("report", tmp_path / "findings", "--json", tmp_path / "merged.json")
    merged = json.loads((tmp_path / "merged.json").read_text())
    assert code == 1 and merged["cases"] == 80 == sum(s["cases"] for s in shards), out + err
    assert merged["nodes"] == sum(s["nodes"] for s in shards)
    (row,) = merged["classes"]["ordinary"]
    assert row["campaigns"] == 2 and row["symptoms"] == sum(causes(s)[0]["symptoms"] for s in shards)
    assert row["method"] == "_tanh_backward" and "found by 2 campaign(s)" in out and "2 campaign(s)" in out
    assert merged["coverage"]["ops_seen"] >= max(s["coverage"]["ops_seen"] for s in shards)


def test_report_of_a_folder_with_no_campaign_is_one_line_and_exit_2(tmp_path):
    code, out, err = oracle_here("report", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "holds no campaign's summary" in err


def test_a_case_is_a_function_of_the_seed_and_its_index_alone():
    (i, cseed, kind), = cases.plan(seed=3, shard=(5, 9), count=1, mix=cases.kind_mix("expr", OPS))
    assert i == 4 and list(cases.plan(seed=3, count=5, mix=cases.kind_mix("expr", OPS)))[4] == (i, cseed, kind)
    assert cases.build_case(cseed, "expr", tuple(OPS)) == cases.build_case(cseed, "expr", tuple(OPS))
    assert cases.case_seed(3, 4) != cases.case_seed(4, 3)


@pytest.fixture(scope="module")
def mutant_campaign(tmp_path_factory):
    """A campaign against a mutant (tanh's derivative is 1 - t): its exit code, output and summary."""
    tmp = tmp_path_factory.mktemp("mutant")
    code, out, err, summary = fuzz(tmp, "--engine", "oracle.fuzz.mutants:tanh_grad", "--kind", "expr", "--cases", 200,
                                   "--max-findings", 1)
    return code, out + err, summary


def test_a_mutant_is_one_root_cause_with_exit_1_and_a_confirmed_reproducer_on_disk(mutant_campaign):
    code, output, summary = mutant_campaign
    assert code == 1, output
    (row,) = causes(summary)
    assert row["class"] == 1 and row["cause"] == "rule" and row["method"] == "_tanh_backward"
    assert row["state"] == "confirmed" and row["ops"] <= 4
    assert row["source"] == "out._a.grad += out.grad * (1.0 - out.data)"  # the mutant's own line
    assert pathlib.Path(row["json"]).exists() and pathlib.Path(row["reproducer"]).exists()
    assert row["reproducer"] in output and "class 1: wrong at ordinary inputs" in output


def test_replay_exits_1_while_the_bug_is_there_and_0_on_a_correct_engine(mutant_campaign):
    path = causes(mutant_campaign[2])[0]["json"]
    code, out, err = oracle_here("fuzz", "--replay", path)  # the finding's own engine: the mutant
    assert code == 1 and "still failing" in out and "root cause (class 1)" in out, out + err
    code, out, err = oracle_here("fuzz", "--replay", path, "--engine", "micrograd.engine:Value")
    assert code == 0 and "fixed" in out, out + err


def test_replay_finds_the_engine_where_the_finding_recorded_it_from_any_directory(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", f"{ROOT}/tests/zoo/tanh_grad_uses_input.py:Value",
                                   "--kind", "expr", "--cases", 100, "--max-findings", 1)
    assert code == 1, out + err
    path = pathlib.Path(causes(summary, 1)[0]["json"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = elsewhere / path.name
    shutil.copy(path, moved)
    code, out, err = oracle("fuzz", "--replay", moved, cwd=elsewhere)
    assert code == 1 and "tests/zoo/tanh_grad_uses_input.py" in out, out + err


def test_an_mlp_finding_is_saved_with_a_failing_reproducer_and_replays(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "oracle.fuzz.mutants:tanh_grad", "--kind", "mlp",
                                   "--cases", 30, "--max-findings", 1)
    assert code == 1, out + err
    (row,) = causes(summary)
    assert row["kinds"] and set(row["kinds"]) <= {"mlp-grad", "mlp-value", "mlp-loss", "train"}
    assert row["ops"] is None and row["state"] == "confirmed"
    code, out, err = oracle_here("fuzz", "--replay", row["json"])
    assert code == 1 and "still failing" in out, out + err


def test_a_learners_package_called_micrograd_is_the_one_tested_when_named(tmp_path):
    """Run from this project's own checkout, `--engine micrograd.engine:Value` alone loads ours; with
    the learner's folder (--engine-path or PYTHONPATH), theirs, and the header says which file."""
    learner = LEARNER_ROOT / "micrograd" / "engine.py"
    for extra in (["--engine-path", LEARNER_ROOT], []):
        env = {} if extra else {"PYTHONPATH": str(LEARNER_ROOT)}
        code, out, err, summary = fuzz(tmp_path, "--engine", "micrograd.engine:Value", *extra, "--kind", "expr",
                                       "--cases", 100, "--max-findings", 1, run=lambda *a, env=env: oracle(*a, env=env))
        assert f"engine micrograd.engine:Value from {learner}" in out and "this project's own" not in out, out + err
        assert code == 1 and summary["engine_file"] == str(learner)
        (row,) = causes(summary, 1, 2)
        assert (row["file"], row["line"]) == tuple(map(str, mistake_line("learner_pkg")))[:1] + (
            mistake_line("learner_pkg")[1],)
    code, out, err, summary = fuzz(tmp_path, "--engine", "micrograd.engine:Value", "--cases", 3, run=oracle)
    assert "(this project's own micrograd)" in out and "--engine-path DIR" in out


def test_the_fuzz_commands_own_process_never_imports_torch(tmp_path):
    """Its workers, forkserver and reproducer runs do; the process that orchestrates them, probes,
    diagnoses a stuck case, confirms and reports does not need the 2 s."""
    script = tmp_path / "run.py"
    script.write_text("import sys\nfrom oracle.__main__ import main\nif __name__ == '__main__':\n"
                      "    code = main(sys.argv[1:])\n    print('torch imported:', 'torch' in sys.modules)\n"
                      "    sys.exit(code)\n")
    args = ["fuzz", "--engine", f"{ROOT}/tests/hostile/many_bugs.py:Value", "--cases", 40, "--workers", 1, "--seed",
            1, "--out", tmp_path / "out", "--summary-json", tmp_path / "summary.json"]
    done = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert done.returncode == 1 and any(r["state"] == "confirmed" for r in causes(summary, 1, 2)), done.stdout
    assert done.stdout.rstrip().endswith("torch imported: False"), done.stdout[-2000:] + done.stderr


def test_an_engine_named_by_its_file_is_loaded_from_it(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", ROOT / "tests/zoo/relu_grad_at_zero.py:Value", "--kind",
                                   "expr", "--cases", 200, "--max-findings", 1)
    assert code == 1 and summary["engine_file"] == str(ROOT / "tests/zoo/relu_grad_at_zero.py"), out + err
    (row,) = causes(summary, 1, 2)
    assert row["class"] == 2 and row["method"] == "relu" and row["line"] == mistake_line("relu_grad_at_zero")[1]


def test_python_float_semantics_is_class_3_shown_apart_and_counted_only_when_strict(tmp_path):
    # math.exp(710) raises OverflowError where torch.exp gives inf; x / 0.0 raises ZeroDivisionError
    args = ("--engine", "tests.zoo.lecture:Value", "--ops", "add,mul,exp,div", "--kind", "expr", "--cases", 60)
    code, out, err, summary = fuzz(tmp_path, *args)
    assert code == 0 and causes(summary, 1, 2) == [] and causes(summary, 3), out + err
    assert {row["method"] for row in causes(summary, 3)} >= {"exp", "__truediv__"}
    assert "class 3: Python float semantics where torch answers inf or nan (not counted without --strict)" in out
    code, out, err, summary = fuzz(tmp_path, *args, "--strict")
    assert code == 1 and summary["findings"] == len(causes(summary, 3)) > 0, out + err


def test_probe_says_why_each_op_is_skipped_and_tests_every_op_that_is_defined(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "tests.engines:Value010", "--ops", "add,tanh,exp,pow",
                                   "--kind", "expr", "--cases", 5)
    assert "ops the engine does not define or whose operand form it does not take (not generated):" in out
    assert "  tanh     AttributeError: 'Value010' object has no attribute 'tanh'" in out
    # 0.1.0's `assert isinstance(other, (int, float))` refuses a Value exponent: a form it does not take
    assert "  pow      __pow__ refuses this operand form (AssertionError: only supporting int/float powers" in out
    assert summary["ops"] == ["add"] and set(summary["skipped_ops"]) == {"tanh", "exp", "pow"}


def test_an_op_that_is_defined_but_broken_is_tested_and_reported_not_skipped(tmp_path):
    code, out, err, summary = fuzz(tmp_path, "--engine", "tests.zoo.exp_backward_signature:Value", "--ops", "exp,log",
                                   "--kind", "expr", "--cases", 20)
    assert code == 1, out + err
    assert "ops the engine defines but that fail outright" in out and "exp      raise: TypeError" in out
    assert "exp" in summary["ops"] and "exp" in summary["broken_ops"]
    (row,) = causes(summary, 1, 2)
    assert row["cause"] == "raise" and row["method"] == "exp" and row["state"] == "confirmed"


@pytest.mark.parametrize("args", [["--only", "no_such_mutant"], ["--only", ","], ["--seconds-per-mutant", "0"],
                                  ["--timeout", "-1"], ["--kind", "everything"]])
def test_selftest_bad_usage_exits_2_with_a_one_line_reason(args):
    code, out, err = oracle("selftest", *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "error" in err and "Traceback" not in err, err


@pytest.mark.parametrize("command, lines", [
    (["report", "{findings}"], 2),
    (["compare", "--example", "neuron"], 3),
    (["fuzz", "--seconds", "30", "--workers", "2", "--seed", "1", "--out", "{out}"], 1),
], ids=["report", "compare", "fuzz"])
def test_a_command_piped_into_head_ends_quietly_and_leaves_no_worker_behind(command, lines, tmp_path):
    """`python -m oracle report DIR | head -2`, `compare --example neuron | head -3` and `fuzz ... |
    head -1`, through a real pipe into a real head: head shows its lines, and the command, whose next
    write finds the pipe closed, ends without a word on stderr (no traceback, no "internal error"); a
    campaign stopped so closes its workers."""
    if "{findings}" in command:
        assert fuzz(tmp_path, "--cases", 3, "--ops", "add,mul")[0] == 0
    args = [a.format(findings=tmp_path / "findings", out=tmp_path / "out") for a in command]
    tag = uuid.uuid4().hex
    env = {k: v for k, v in {**os.environ, TAG: tag}.items() if k != "ORACLE_DEBUG"}
    with subprocess.Popen([sys.executable, "-m", "oracle", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        head = subprocess.Popen(["head", f"-{lines}"], stdin=proc.stdout, stdout=subprocess.PIPE)
        proc.stdout.close()  # head holds the only reading end: once it exits, a write finds the pipe closed
        shown = head.communicate(timeout=120)[0].decode()
        err = proc.stderr.read().decode()
        code = proc.wait(120)
    assert len(shown.splitlines()) == lines and err == "" and code in (0, 1), (shown, err, code)
    assert survivors(tag) == [], "processes left behind by a command whose reader went away"


def test_output_piped_into_a_reader_that_is_gone_ends_quietly():
    """`python -m oracle selftest --list | head -1`: what head does not read has nowhere to go, and
    the command ends as a Unix tool does, without a traceback. Here the reader is gone before the
    command has even imported what it needs, so its first write finds the pipe closed."""
    import subprocess
    import sys
    with subprocess.Popen([sys.executable, "-m", "oracle", "selftest", "--list"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(60) == 1 and err == "", err

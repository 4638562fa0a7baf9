"""The campaign is a sandbox: hostile engines (tests/hostile/) that tamper with the interpreter at
import, hang (even deaf to alarms), crawl, fork, flood their output, eat memory or crash never hang,
flood or crash the campaign. Each runs a real campaign in a fresh Python, and each test checks the
exit status, the kind of finding, that no process of the campaign is left behind, and that --out
holds only complete findings. How long each takes is scripts/bench_sandbox.py's table (the deadline
is a promise measured there, not a timed assertion here)."""
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

torch = pytest.importorskip("torch")

from oracle.fuzz.store import load_case  # noqa: E402
from tests.campaigns import ROOT, TAG, causes, survivors  # noqa: E402


def campaign(tmp_path, engine, *args, cases=40, seconds=30, workers=2):
    """A campaign against a hostile engine in a fresh Python: (exit code, stdout, stderr, summary). It
    ends after `cases` cases, so that what it finds does not depend on how loaded the machine is; the
    `seconds` are a backstop (cases=None: the seconds are the budget)."""
    tag = uuid.uuid4().hex
    summary = tmp_path / "summary.json"
    env = {**os.environ, TAG: tag}
    spec = f"{ROOT}/tests/hostile/{engine}.py:Value"
    done = subprocess.run([sys.executable, "-m", "oracle", "fuzz", "--engine", spec, "--seconds", str(seconds),
                           *(["--cases", str(cases)] if cases is not None else []),
                           "--workers", str(workers), "--seed", "1", "--out", str(tmp_path / "out"), "--summary-json",
                           str(summary), *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert survivors(tag) == [], f"processes left behind by the campaign against {engine}"
    assert_complete(tmp_path / "out")
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr, json.loads(summary.read_text()) if summary.exists() else None


def assert_complete(out):
    """--out holds only published findings: every .json loads and has its .py, nothing else is there
    (no temporary file of a writer that was killed)."""
    if not out.exists():
        return
    names = sorted(p.name for p in out.iterdir() if p.name != "campaigns")  # each campaign's summary, for report
    assert all(n.endswith((".json", ".py")) and not n.startswith(".") for n in names), names
    for name in names:
        if name.endswith(".json"):
            assert name[:-5] + ".py" in names
            case = json.loads((out / name).read_text())
            if "program" in case:
                load_case(out / name)
            compile((out / (name[:-5] + ".py")).read_text(), name, "exec")


def kinds(summary):
    return {kind for row in causes(summary) for kind in row["kinds"]}


def test_an_engine_that_lowers_the_recursion_limit_at_import_is_a_tamper_finding(tmp_path):
    code, out, err, summary = campaign(tmp_path, "recursion_limit")
    assert code == 1, out + err
    (row,) = [r for r in causes(summary, 1) if r["cause"] == "tamper"]
    assert "sys.setrecursionlimit(" in row["summary"] and row["state"] == "confirmed"
    assert summary["tamper"] and summary["cases"] > 0  # the campaign went on, with the limit put back


def test_an_engine_that_patches_math_and_torch_at_import_is_a_tamper_finding(tmp_path):
    code, out, err, summary = campaign(tmp_path, "patches_math")
    assert code == 1, out + err
    (row,) = [r for r in causes(summary, 1) if r["cause"] == "tamper"]
    assert "math.exp replaced" in row["summary"] and "torch.tanh replaced" in row["summary"]
    assert "torch.Tensor.tanh set" in row["summary"]
    # torch, put back in the workers, stays the oracle's reference: no tanh finding from a patched torch
    assert not [r for r in causes(summary, 1, 2) if r["method"] == "tanh"], out


@pytest.mark.parametrize("engine", ["hangs_in_op", "hangs_deaf"])
def test_an_op_that_hangs_is_a_timeout_finding_and_the_other_ops_are_tested(engine, tmp_path):
    code, out, err, summary = campaign(tmp_path, engine)
    assert code == 1, out + err
    assert summary["broken_ops"]["tanh"].startswith("timeout") and summary["skipped_ops"] == {}
    (row,) = [r for r in causes(summary, 1) if r["cause"] == "timeout"]
    assert row["method"] == "tanh" and row["state"] == "confirmed"  # its reproducer fails the same way
    # its confirmation ran it on its own, as a learner does: even deaf to the alarm, it ended with its verdict
    printed = row["reproducer_output"]
    assert ("deaf to its alarm" if engine == "hangs_deaf" else "no result after") in printed, printed
    assert "tanh" not in summary["ops"] or summary["cases"] > 0
    assert summary["cases"] > 0  # the campaign went on without tanh


def test_an_engine_that_crawls_keeps_the_budget_and_its_slow_ops_are_timeout_findings(tmp_path):
    code, out, err, summary = campaign(tmp_path, "slow_add")
    assert code == 1, out + err
    assert summary["broken_ops"]["add"].startswith("timeout")
    assert any(r["cause"] == "timeout" and r["method"] == "__add__" for r in causes(summary, 1))


def test_a_deep_case_deaf_to_its_alarm_does_not_starve_the_other_kinds(tmp_path):
    # backward() on a deep graph sleeps with SIGALRM blocked: its worker is killed after the deep
    # case's own limit (seconds, not the --timeout), no other deep case is run, and in a 10 s
    # campaign on one worker every other kind of case runs too.
    code, out, err, summary = campaign(tmp_path, "hangs_deaf_on_deep", cases=None, seconds=10, workers=1)
    assert code == 1, out + err
    assert summary["kinds"]["deep"] == 1 and all(summary["kinds"].get(k) for k in ("expr", "mlp", "train")), out
    (row,) = causes(summary, 1, 2)
    assert (row["cause"], row["method"]) == ("timeout", "backward") and "backward pass" in row["summary"], out


def test_a_case_the_deadline_cuts_short_is_neither_a_case_nor_a_timeout():
    # Cases queued before a campaign stopped still run; past its deadline each gets a sliver of
    # time, and running out of that says nothing about the engine.
    from oracle.fuzz.workers import Job, load, serve
    job = Job(f"{ROOT}/tests/hostile/slow_add.py:Value", timeout=10.0, deadline=time.monotonic() - 5.0)
    state, _ = load(job)
    answers = []
    serve(state, ("setup", ("add",), ("add",)), answers.append)
    serve(state, ("cases", [(0, 7, "expr")], {}), answers.append)
    ((tag, i, result, reducing),) = answers
    assert (tag, i, reducing, result.cut, result.finding, result.checks) == ("case", 0, False, True, None, 0)


def test_an_engine_that_forks_leaves_no_process_behind(tmp_path):
    code, out, err, summary = campaign(tmp_path, "forks_child")  # campaign() checks the survivors
    assert code == 0 and summary["cases"] > 0, out + err


def test_an_engine_that_floods_its_output_does_not_reach_the_campaigns(tmp_path):
    code, out, err, summary = campaign(tmp_path, "floods_output")
    assert len(out) + len(err) < 50_000, (len(out), len(err))
    assert summary["engine_output"]["printed_characters"] > 4_000_000
    assert summary["engine_output"]["file_descriptor_bytes"] > 1_000_000
    assert "not shown" in out


def test_an_engine_that_eats_memory_is_a_memory_finding(tmp_path):
    code, out, err, summary = campaign(tmp_path, "eats_memory", "--memory-mb", 300)
    assert code == 1, out + err
    assert summary["broken_ops"]["exp"].startswith("memory")
    # its reproducer has the worker's limit (300 MB beyond what it holds with torch), and fails the same way
    assert [(r["cause"], r["method"], r["state"]) for r in causes(summary, 1)] == [("memory", "exp", "confirmed")]


def test_an_engine_that_crashes_its_process_is_a_crash_finding(tmp_path):
    code, out, err, summary = campaign(tmp_path, "segfaults_in_exp")
    assert code == 1, out + err
    assert summary["broken_ops"]["exp"].startswith("crash") and "SIGSEGV" in summary["broken_ops"]["exp"]
    assert summary["cases"] > 0 and summary["worker_restarts"] >= 1
    (row,) = causes(summary, 1)
    assert (row["method"], row["state"]) == ("exp", "confirmed") and "verdict: crash" in row["reproducer_output"]


def test_many_bugs_are_many_root_causes_within_a_short_budget(tmp_path):
    code, out, err, summary = campaign(tmp_path, "many_bugs")
    assert code == 1, out + err
    methods = {r["method"] for r in causes(summary, 1, 2)}
    assert len(methods & {"__mul__", "tanh", "relu", "exp", "__rsub__"}) >= 3, out


def test_os_system_is_never_called_by_the_campaign(tmp_path):
    marker = tmp_path / "ran"
    tag = uuid.uuid4().hex
    done = subprocess.run([sys.executable, "-m", "oracle", "fuzz", "--engine", "os:system", "--seconds", "2",
                           "--out", str(tmp_path / "out")], cwd=tmp_path, env={**os.environ, TAG: tag},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "cannot be driven: Engine(0.7) raises TypeError" in done.stderr, done.stderr
    assert not marker.exists() and survivors(tag) == []


@pytest.mark.parametrize("engine, method, kind, args", [  # programs of the op, and ops that feed it a 0
    ("segfaults_at_zero", "exp", "crash", ("--kind", "expr", "--ops", "exp,add,mul,sub")),
    ("hangs_deaf_at_zero", "tanh", "timeout", ("--kind", "expr", "--ops", "tanh,add,mul,sub", "--timeout", 1)),
    ("holds_memory", "exp", "memory", ("--memory-mb", 300)),
])
def test_an_op_that_dies_hangs_or_eats_memory_at_one_input_is_one_confirmed_root_cause_at_that_op(
        engine, method, kind, args, tmp_path):
    """The worker dies, is killed or runs out of memory at one input: the finding keeps the point
    (and the op) where it did, so its reproducer runs exactly that and fails the same way."""
    code, out, err, summary = campaign(tmp_path, engine, *args, "--max-findings", 1)
    assert code == 1, out + err
    (row,) = causes(summary, 1, 2)
    assert (row["method"], row["state"], set(row["kinds"])) == (method, "confirmed", {kind}), out
    assert row["reproducer_output"].rstrip().endswith(f"verdict: {kind}"), row["reproducer_output"]
    if kind != "memory":  # the worker died or was killed, and the summary says so
        assert summary["worker_restarts"] >= 1 and "worker restarts" in out, out
        assert (" killed by SIGSEGV" if kind == "crash" else "hung, killed after") in out, out
    if engine.endswith("_at_zero") and row["ops"] is not None:  # a program: at the point that reaches op(0)
        assert row["class"] == 2, out  # 0 is an edge input of the op, whatever the program's inputs

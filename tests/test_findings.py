"""The finding store: a standalone reproducer and a JSON case per root cause, published only once the
reproducer fails in a fresh process, deduplicated by name, written atomically (racing writers, kill
-9); the reproducer exits 1 while the bug is there and 0 once fixed."""
import concurrent.futures
import dataclasses
import inspect
import io
import json
import math
import os
import pathlib
import random
import re
import runpy
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import redirect_stdout

import pytest

torch = pytest.importorskip("torch")

from oracle.__main__ import main as oracle_main  # noqa: E402
from oracle.backends import torch_point  # noqa: E402
from oracle.check import Finding, check_program  # noqa: E402
from oracle.fuzz import confirm, deep, sandbox  # noqa: E402
from oracle.fuzz.diagnose import diagnose  # noqa: E402
from oracle.fuzz.engines import load  # noqa: E402
from oracle.fuzz.mutants import mutant_engine  # noqa: E402
from oracle.fuzz.reproducer import (  # noqa: E402
    expected_verdict,
    mlp_reproducer_source,
    mlp_torch_source,
    program_torch_source,
    reproducer_source,
)
from oracle.fuzz.store import STALE_SECONDS, FindingStore, check_out, load_case, sweep  # noqa: E402
from oracle.generate import random_inputs, random_program  # noqa: E402
from oracle.mlp import MLPFinding, MLPSpec, check_mlp, engine_loss, network, random_mlp, torch_side  # noqa: E402
from oracle.program import Instr, Program  # noqa: E402
from tests.doc_blocks import doc_block  # noqa: E402

REPO = str(pathlib.Path(__file__).resolve().parents[1])
MUL = Program(2, (Instr("mul", (0, 1)),))


def origin(spec):
    return load(spec, sandboxed=False)[1]


MICROGRAD = origin("micrograd.engine:Value")


def mul_grad_finding():
    """mutant mul_grad's bug, as check_program reports it on x0 * x1."""
    report = check_program(MUL, [[2.0, 3.0]], mutant_engine("mul_grad"))
    return report.findings[0]


def run_script(path, *args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the script finds the engine itself
    return subprocess.run([sys.executable, "-I", str(path), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def fake_finding(kind, op, point):
    return Finding(kind, 1, op, list(point), 1.0, 2.0, "planted by the test")


def bits(xs):
    return [struct.pack("<d", x) for x in xs]


def test_record_writes_case_and_a_reproducer_that_fails_until_the_engine_is_fixed(tmp_path):
    finding = mul_grad_finding()
    store = FindingStore(tmp_path / "findings")
    saved = store.record("mul", finding, MUL, finding.point, {"seed": 7, "strict": True},
                         origin("oracle.fuzz.mutants:mul_grad"))
    path = saved.path
    assert saved.state == "confirmed" and saved.exit == 1 and path == tmp_path / "findings" / "mul.json"
    script = path.with_suffix(".py")
    case = json.loads(path.read_text())
    assert case["kind"] == "grad" and case["seed"] == 7 and case["engine"] == "oracle.fuzz.mutants:mul_grad"
    assert case["strict"] is True and case["created"] and case["reproducer_fails"] is True
    assert "Gradients are not close!" in case["message"]

    bug = run_script(script, cwd=tmp_path)  # from elsewhere: the engine is not pip-installed
    assert bug.returncode == 1, bug.stderr
    assert "Gradients are not close!" in bug.stdout and "engine=" in bug.stdout and "torch=" in bug.stdout
    assert "Absolute difference:" in bug.stdout and "(up to 1e-11 allowed)" in bug.stdout
    assert "Relative difference:" in bug.stdout
    fixed = run_script(script, "micrograd.engine:Value", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_reproducer_defines_the_program_once_and_does_not_import_the_oracle(tmp_path):
    finding = mul_grad_finding()
    source = reproducer_source(MUL, finding.point, MICROGRAD, finding)
    assert source.count("def f(") == 1 and MUL.source() in source
    assert "import oracle" not in source and "from oracle" not in source
    script = tmp_path / "repro.py"
    script.write_text(source)
    code = ("import runpy, sys\nsys.argv = [sys.argv[1]]\ntry:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "except SystemExit as e:\n    print(e.code, any(m.split('.')[0] == 'oracle' for m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code, str(script)], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stdout + done.stderr


def test_a_finding_its_own_reproducer_clears_is_noise_and_not_published(tmp_path):
    # float32 rounding of x0 * 0.1, then multiplied by 0: the output and its gradient are exact again.
    program = Program(1, (Instr("mul_c", (0,), 0.1), Instr("mul_c", (1,), 0.0)))
    finding = check_program(program, [[1.0]], mutant_engine("float32_data")).findings[0]
    saved = FindingStore(tmp_path).record("f32", finding, program, finding.point, {},
                                          origin("oracle.fuzz.mutants:float32_data"))
    assert (saved.state, saved.exit, saved.path) == ("noise", 0, None) and "agrees with torch" in saved.output
    assert not any(p.name.startswith("f32") for p in tmp_path.iterdir())


def record(store, name, finding, program, point, meta=None):
    return store.record(name, finding, program, point, meta or {}, MICROGRAD)


def test_a_name_is_recorded_once(tmp_path):
    store = FindingStore(tmp_path, verify=False)
    first = record(store, "tanh", fake_finding("value", "tanh", [0.5]), Program(1, (Instr("tanh", (0,)),)), [0.5])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    other = Program(1, (Instr("exp", (0,)), Instr("tanh", (1,))))
    assert record(store, "tanh", fake_finding("value", "tanh", [0.7]), other, [0.7]).state == "taken"
    assert record(FindingStore(tmp_path), "tanh", fake_finding("value", "tanh", [0.9]), other, [0.9]).state == "taken"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert first.path.name == "tanh.json" and store.recorded() == ["tanh"]


def test_a_better_case_replaces_only_the_stores_own_name(tmp_path):
    # The campaign's ledger replaces a root cause's reproducer when a better case of it comes; a
    # name another store (another shard) published stays theirs.
    store = FindingStore(tmp_path, verify=False)
    record(store, "tanh", fake_finding("value", "tanh", [0.5]), Program(1, (Instr("exp", (0,)), Instr("tanh", (1,)))),
           [0.5])
    small = Program(1, (Instr("tanh", (0,)),))
    again = store.record("tanh", fake_finding("value", "tanh", [0.7]), small, [0.7], {}, MICROGRAD, replace=True)
    assert again.state == "written" and json.loads(again.path.read_text())["inputs"] == [0.7]
    assert "exp" not in (tmp_path / "tanh.py").read_text() and store.recorded() == ["tanh"]
    theirs = FindingStore(tmp_path, verify=False).record("tanh", fake_finding("value", "tanh", [0.9]), small, [0.9], {},
                                                         MICROGRAD, replace=True)
    assert theirs.state == "taken" and json.loads(again.path.read_text())["inputs"] == [0.7]


# MLP(2, [2, 1]) with tanh: the planted 1 - t in tanh's derivative shows in the first layer's gradients.
TANH_MLP = MLPSpec(nin=2, widths=(2, 1), act="tanh", loss="mse",
                   weights=((((0.5, -0.3), 0.1), ((0.8, 0.2), 0.0)), (((0.7, -0.4), 0.05),)),
                   X=((1.0, -0.5), (0.25, 2.0), (0.0, -1.5)), y=(0.3, -0.2, 0.9), lr=0.05)
TANH_GRAD = "oracle.fuzz.mutants:tanh_grad"


def tanh_grad_mlp_finding():
    """mutant tanh_grad's bug, as check_mlp reports it on TANH_MLP."""
    return check_mlp(TANH_MLP, mutant_engine("tanh_grad"), steps=2).findings[0]


def test_record_mlp_writes_a_reproducer_that_fails_until_the_engine_is_fixed(tmp_path):
    finding = tanh_grad_mlp_finding()
    path = FindingStore(tmp_path / "findings").record_mlp("tanh-mlp", finding, {"seed": 5}, origin(TANH_GRAD)).path
    assert path == tmp_path / "findings" / "tanh-mlp.json"
    case = json.loads(path.read_text())
    assert case["kind"] == "mlp-grad" and case["seed"] == 5 and case["engine"] == TANH_GRAD
    assert MLPSpec.from_json(case["mlp"]) == TANH_MLP and case["steps"] == finding.step
    assert case["reproducer_fails"] is True and "Gradients are not close!" in case["message"]

    bug = run_script(path.with_suffix(".py"), cwd=tmp_path)  # from elsewhere: the engine is not pip-installed
    assert bug.returncode == 1, bug.stderr
    assert f"Gradients are not close!\n\nMismatched {finding.where}\n" in bug.stdout
    assert f"engine={finding.engine!r}  torch={finding.torch!r}" in bug.stdout
    assert "Absolute difference:" in bug.stdout and "(up to 1e-11 allowed)" in bug.stdout
    fixed = run_script(path.with_suffix(".py"), "micrograd.engine:Value", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_mlp_reproducer_trains_with_the_oracles_own_neuron_code_and_does_not_import_the_oracle(tmp_path):
    finding = MLPFinding("train", TANH_MLP, "loss", step=3)  # as if step 3 had failed: train 3 steps
    source = mlp_reproducer_source(TANH_MLP, finding.step, MICROGRAD, finding)
    # the oracle's own network is the script's f, and what calls the network calls f
    assert inspect.getsource(network).replace("def network(", "def f(") in source and "STEPS = 3" in source
    assert inspect.getsource(engine_loss).replace("engine_forward(", "f(") in source
    assert "import oracle" not in source and "from oracle" not in source
    script = tmp_path / "repro.py"
    script.write_text(source)
    done = run_script(script, cwd=tmp_path)
    assert done.returncode == 0 and "through 3 SGD steps" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("engine, says", [("hangs_in_op", "TimeoutError: no result after 1 s"),
                                           ("hangs_deaf", "no result after 3 s, deaf to its alarm")])
def test_an_mlp_timeouts_reproducer_gives_the_engine_its_time_and_ends(engine, says, tmp_path):
    """A hang in an MLP: the reproducer gives the engine the seconds the oracle gave it, and then
    exits 1, deaf to the alarm or not; it does not hang."""
    spec = f"{REPO}/tests/hostile/{engine}.py:Value"
    finding = MLPFinding("timeout", TANH_MLP, "the forward or backward pass", step=2, limit=1.0)
    script = tmp_path / "repro.py"
    script.write_text(mlp_reproducer_source(TANH_MLP, finding.step, origin(spec), finding))
    done = run_script(script, cwd=tmp_path)  # a script that hangs is killed at 120 s, and the test fails
    assert done.returncode == 1 and says in done.stdout, done.stdout + done.stderr


def test_an_mlp_name_is_recorded_once(tmp_path):
    store = FindingStore(tmp_path, verify=False)
    finding = tanh_grad_mlp_finding()
    assert store.record_mlp("m", finding, {"seed": 1}, MICROGRAD).path.name == "m.json"
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == ["m.json", "m.py"]
    assert store.record_mlp("m", finding, {"seed": 2}, MICROGRAD).state == "taken"
    assert FindingStore(tmp_path, verify=False).record_mlp("m", finding, {"seed": 3}, MICROGRAD).state == "taken"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_an_mlp_reproducer_shows_the_weights_as_a_table(tmp_path):
    source = mlp_reproducer_source(TANH_MLP, 0, MICROGRAD, tanh_grad_mlp_finding())
    assert "json.loads" not in source
    assert "        [  # layer 1: 2 input(s) -> 2 neuron(s), tanh\n            ([0.5, -0.3], 0.1),\n" in source
    assert "    X = [  # one example per row\n        [1.0, -0.5],\n" in source


def test_replay_of_a_recorded_mlp_finding_fails_on_the_mutant_and_passes_on_micrograd(tmp_path):
    path = FindingStore(tmp_path, verify=False).record_mlp("m", tanh_grad_mlp_finding(), {}, origin(TANH_GRAD)).path
    for args, want in (([], 1), (["--engine", "micrograd.engine:Value"], 0)):
        out = io.StringIO()
        with redirect_stdout(out):
            code = oracle_main(["fuzz", "--replay", str(path), *args])
        assert code == want, out.getvalue()
    assert "fixed" in out.getvalue()


def test_load_case_round_trips_exactly(tmp_path):
    program = Program(3, (Instr("add", (0, 1)), Instr("mul_c", (3,), -0.0), Instr("rsub_c", (2,), 0.1),
                          Instr("pow_int", (5,), -3), Instr("add", (4, 6))))
    point = [float("inf"), float("nan"), -0.0]
    path = record(FindingStore(tmp_path, verify=False), "add", fake_finding("grad", "add", point), program, point,
                  {"seed": 3}).path
    got, got_point, meta = load_case(path)
    assert got.to_json() == program.to_json() and repr(got) == repr(program)
    assert bits(got_point) == bits(point)
    assert type(got.instrs[3].c) is int
    assert meta["seed"] == 3 and meta["signature"] == "grad-add" and "program" not in meta
    assert meta["engine"] == "micrograd.engine:Value" and meta["engine_root"] == MICROGRAD.root


@pytest.mark.parametrize("text, reason", [
    (None, "no such file"),
    ('{"program": {"n_inputs": 1, "instrs": [["tanh", [0], null]]}, "inputs": [0.5', "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "not a finding"),
    ('{"inputs": [0.5]}', "not a finding"),
    ('{"program": {"n_inputs": 1, "instrs": [["sqrt", [0], null]]}, "inputs": [0.5]}', "unknown op 'sqrt'"),
    ('{"program": {"n_inputs": 1, "instrs": [["tanh", [3], null]]}, "inputs": [0.5]}', "earlier node"),
    ('{"program": [], "inputs": [0.5]}', "not a valid program"),
    ('{"program": {"n_inputs": 1, "instrs": [["tanh", [0], null]]}, "inputs": [0.5, 1.0]}', "a list of 1 floats"),
    ('{"program": {"n_inputs": 1, "instrs": [["tanh", [0], null]]}, "inputs": ["half"]}', "bad input value"),
])
def test_load_case_rejects_a_bad_file_with_a_one_line_reason(tmp_path, text, reason):
    path = tmp_path / "case.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValueError, match=reason) as e:
        load_case(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_racing_threads_one_signature_exactly_one_wins(tmp_path):
    n = 8
    barrier = threading.Barrier(n)

    def record(i):
        store = FindingStore(tmp_path, verify=False)  # one store per worker, as separate processes have
        program = Program(1, (Instr("mul_c", (0,), float(i + 2)),))
        barrier.wait()
        return store.record("value-mul_c", fake_finding("value", "mul_c", [i + 0.5]), program, [i + 0.5],
                            {"seed": i}, MICROGRAD)

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        results = list(pool.map(record, range(n)))
    winners = [r.path for r in results if r.state == "written"]  # published, not run (verify=False)
    assert len(winners) == 1
    assert_complete_and_consistent(tmp_path, orphans_allowed=0)
    _, point, meta = load_case(winners[0])
    assert point == [meta["seed"] + 0.5]


def test_racing_processes_one_signature_exactly_one_wins(tmp_path):
    out, go = tmp_path / "findings", tmp_path / "go"
    code = textwrap.dedent(f"""
        import pathlib, sys, time
        sys.path.insert(0, {REPO!r})
        from oracle.check import Finding
        from oracle.fuzz.engines import load
        from oracle.fuzz.store import FindingStore
        from oracle.program import Instr, Program
        i, go = int(sys.argv[1]), pathlib.Path({str(go)!r})
        store = FindingStore({str(out)!r}, verify=False)
        program = Program(1, (Instr("exp", (0,)), Instr("mul_c", (1,), float(i))))
        finding = Finding("value", 2, "mul_c", [0.5], 1.0, 2.0)
        print("ready", flush=True)
        while not go.exists():
            time.sleep(0.001)
        start = float(go.read_text())
        while time.time() < start:  # all start within microseconds of each other
            pass
        origin = load("micrograd.engine:Value", sandboxed=False)[1]
        saved = store.record(finding.signature, finding, program, [0.5], dict(seed=i), origin)
        print("won" if saved.state == "written" else "lost")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i)], stdout=subprocess.PIPE, text=True)
             for i in range(4)]
    assert [p.stdout.readline().strip() for p in procs] == ["ready"] * 4
    ready = tmp_path / "go.tmp"
    ready.write_text(str(time.time() + 0.2))
    os.replace(ready, go)  # atomically: a child never reads a half-written go
    outcomes = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(outcomes) == ["lost"] * 3 + ["won"]
    assert_complete_and_consistent(out, orphans_allowed=0)


KILLED_WRITER = """
import itertools, os, sys, time
sys.path.insert(0, {repo!r})
from oracle.fuzz import store as findings
from oracle.check import Finding
from oracle.fuzz.engines import load
from oracle.program import Instr, Program

real_fsync = os.fsync

def slow_fsync(fd):  # widens the window between writing a file and publishing it
    time.sleep(0.003)
    real_fsync(fd)

os.fsync = slow_fsync
store = findings.FindingStore({out!r}, verify=False)
origin = load("micrograd.engine:Value", sandboxed=False)[1]
print("ready", flush=True)
for i in itertools.count({first}):
    program = Program(1, (Instr("tanh", (0,)), Instr("mul_c", (1,), i + 0.25)))
    finding = Finding(f"value{{i}}", 2, "mul_c", [0.5], 1.0, 2.0)
    store.record(finding.signature, finding, program, [0.5], dict(seed=i), origin)
"""


def test_kill_9_while_recording_leaves_no_incomplete_file_under_a_final_name(tmp_path):
    out = tmp_path / "findings"
    for round_, delay in enumerate((0.3, 0.6, 0.9)):
        script = tmp_path / f"writer{round_}.py"
        script.write_text(KILLED_WRITER.format(repo=REPO, out=str(out), first=round_ * 100_000))
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
    recorded = assert_complete_and_consistent(out, orphans_allowed=4)
    assert len(recorded) >= 20


def test_a_stale_orphan_reproducer_does_not_block_its_signature(tmp_path):
    store = FindingStore(tmp_path, verify=False)
    program = Program(1, (Instr("exp", (0,)),))
    orphan = tmp_path / "value-exp.py"
    orphan.write_text(reproducer_source(program, [0.1], MICROGRAD))
    # A fresh .py without its .json: a writer is between its two links, so the name is taken.
    assert record(store, "value-exp", fake_finding("value", "exp", [0.5]), program, [0.5]).state == "taken"
    old = time.time() - STALE_SECONDS - 60
    os.utime(orphan, (old, old))  # the writer was killed long ago
    path = record(store, "value-exp", fake_finding("value", "exp", [0.5]), program, [0.5]).path
    assert path is not None and load_case(path)[1] == [0.5]
    assert "POINT = [0.5]" in orphan.read_text()
    assert_complete_and_consistent(tmp_path, orphans_allowed=0)


def assert_complete_and_consistent(out, orphans_allowed):
    """Every published file is complete: each .json loads and has its .py, which compiles and holds
    the same point. Only hidden temporary files, and up to orphans_allowed .py without .json (a
    writer killed between its two links), may be anything else. Returns the recorded signatures."""
    names = [p.name for p in out.iterdir() if not p.name.startswith(".")]
    assert all(n.endswith((".json", ".py")) for n in names), names
    cases = {n[:-5] for n in names if n.endswith(".json")}
    scripts = {n[:-3] for n in names if n.endswith(".py")}
    assert cases <= scripts
    assert len(scripts - cases) <= orphans_allowed
    for sig in scripts:
        source = (out / f"{sig}.py").read_text()
        compile(source, sig, "exec")
        assert source.endswith("sys.exit(0 if verdict == \"pass\" else 1)\n")
    for sig in cases:
        program, point, meta = load_case(out / f"{sig}.json")
        assert meta["signature"] == sig, (meta["signature"], sig)
        source = (out / f"{sig}.py").read_text()
        assert program.source() in source and f"POINT = [{', '.join(map(repr, point))}]" in source
    return cases


def test_out_that_is_a_file_or_cannot_be_written_is_refused_before_anything_runs(tmp_path):
    # A file where a folder is needed: no one can write there, root included (CI runs as root).
    (tmp_path / "afile").write_text("x")
    assert check_out(tmp_path / "afile") == f"--out {tmp_path / 'afile'} is a file, not a directory"
    assert check_out(tmp_path / "afile" / "below") == f"--out {tmp_path / 'afile' / 'below'}: cannot write there " \
                                                      f"(Not a directory)"
    assert check_out(tmp_path / "new" / "dir") is None and (tmp_path / "new" / "dir").is_dir()
    done = subprocess.run([sys.executable, "-m", "oracle", "fuzz", "--seconds", "1", "--out", "afile/below"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", "python -m oracle fuzz: error: --out afile/below: cannot write there (Not a directory)\n")


def test_sweep_removes_the_temporary_files_of_dead_writers_and_keeps_a_live_ones(tmp_path):
    from oracle.fuzz.store import HOST
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = {"dead": f".x.py~{HOST}~{dead.pid}~ab.tmp", "alive": f".x.py~{HOST}~{os.getpid()}~cd.tmp",
             "other host": ".x.py~elsewhere~1~ef.tmp", "old other host": ".y.py~elsewhere~1~gh.tmp"}
    for name in names.values():
        (tmp_path / name).write_text("half written")
    old = time.time() - STALE_SECONDS - 60
    os.utime(tmp_path / names["old other host"], (old, old))
    sweep(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names["alive"], names["other host"]])


# The kinds of reproducer a learner opens, each with its bug and a fixed engine: (the engine with
# the bug, a fixed one, its finding, its program (None: an MLP) and point).
ZOO = f"{REPO}/tests/zoo"
FIXED = "tests.zoo.lecture:Value"  # the zoo's engines are the lecture's with one mistake each


def zoo_engine(name):
    return load(f"{ZOO}/{name}.py:Value", sandboxed=False)[0]


def program_case():
    program = Program(2, (Instr("mul", (0, 1)),))
    (finding,) = check_program(program, [[1.0, -1.0]], zoo_engine("mul_uses_other_grad")).findings
    return f"{ZOO}/mul_uses_other_grad.py:Value", FIXED, finding, program, finding.point


def mlp_case():
    return TANH_GRAD, "micrograd.engine:Value", tanh_grad_mlp_finding(), None, None


def hang_case():
    program = Program(1, (Instr("tanh", (0,)),))
    return f"{REPO}/tests/hostile/hangs_in_op.py:Value", FIXED, Finding("timeout", 1, "tanh", [0.7], limit=1.0), \
        program, [0.7]


def deep_walk_case():
    """The exponential walk (no visited set) on a ladder of diamonds built in a loop."""
    program = deep.ladder(Program(1, (Instr("tanh", (0,)), Instr("add", (1, 1)))))
    walk = deep.Walk(0.3, 1e-4, count=True)
    (finding,) = deep.check(program, [[0.5]], zoo_engine("walk_no_visited"), walk=walk).findings
    return f"{ZOO}/walk_no_visited.py:Value", FIXED, finding, program, [0.5]


def recursion_case():
    """A recursive build_topo on a chain of 1,000 ops, which f builds in a loop."""
    program = Program(1, tuple(Instr("mul_c", (i,), 1.0) for i in range(1000)))
    (finding,) = check_program(program, [[0.5]], zoo_engine("recursive_topo")).findings
    return f"{ZOO}/recursive_topo.py:Value", FIXED, finding, program, [0.5]


KINDS = {"program": program_case, "mlp": mlp_case, "hang": hang_case, "deep-walk": deep_walk_case,
         "recursion": recursion_case}


def opening(lines):
    """The line numbers (from 1) of a reproducer's landmarks, in the order a learner meets them."""
    def first(test):
        return next((n for n, line in enumerate(lines, 1) if test(line)), None)
    return {"docstring": first(lambda line: line.startswith('"""Reproducer: ')),
            "docstring end": first(lambda line: line == '"""'),
            "f": first(lambda line: line.startswith("def f(")),
            "point": first(lambda line: line.startswith(("POINT = [", "class SPEC:"))),
            "torch": first(lambda line: line.startswith("TORCH = [")),
            "plumbing": first(lambda line: line.startswith("# The rest of this file is plumbing that you need not")),
            "imports": first(lambda line: line.startswith(("import ", "from "))),
            "main": first(lambda line: line.startswith("def main(")),
            "run": first(lambda line: line.startswith('if __name__ == "__main__":'))}


@pytest.mark.parametrize("kind", KINDS)
def test_a_reproducer_opens_on_its_case_and_fails_until_the_bug_is_fixed(kind, tmp_path):
    """Docstring (the bug, its line, how to run the file and what it prints), f within the first 30
    lines, the point and torch's values, then the plumbing under its one comment; the file, as the
    store writes it, exits 1 with the verdict of its kind (`confirmed`), and 0 on a fixed engine."""
    spec, fixed, finding, program, point = KINDS[kind]()
    Engine, where = load(spec, sandboxed=False)
    cause = diagnose(finding, Engine, where.root)
    store = FindingStore(tmp_path)
    saved = (store.record_mlp("case", finding, {}, where, cause) if program is None
             else store.record("case", finding, program, point, {}, where, cause))
    assert (saved.state, saved.exit) == ("confirmed", 1), saved.output
    script = saved.path.with_suffix(".py")
    lines = script.read_text().splitlines()
    at = opening(lines)
    assert None not in at.values() and list(at.values()) == sorted(at.values()) and at["docstring"] == 1, at
    assert at["f"] <= 30, at
    imports = [n for n, line in enumerate(lines, 1) if line.startswith(("import ", "from "))]
    assert min(imports) > at["plumbing"], "the plumbing's imports come after the case"
    doc = "\n".join(lines[:at["docstring end"]])
    assert cause.line and f":{cause.line}  {cause.source.strip()}" in doc, doc  # the learner's own line
    assert f"    python {script.name} [module:attr]" in doc
    assert f"`verdict: {expected_verdict(finding.kind)}`, exit status 1" in doc.replace("\n", " ")
    if kind in ("deep-walk", "recursion"):
        assert "    for _ in range(" in "\n".join(lines[at["f"]:at["point"]])  # a deep graph, built in a loop
    code, output = run_warm(script, fixed, cwd=tmp_path)
    assert (code, output.splitlines()[-1]) == (0, "verdict: pass"), output


def run_warm(script, *args, cwd):
    """A script run as confirmation runs it (sandbox.run_script): (exit code, what it printed)."""
    return sandbox.run_script(script, args, timeout=120, cwd=cwd)


def test_a_reproducer_quotes_torchs_values_and_notes_a_torch_that_gives_others(tmp_path):
    """TORCH is computed where torch is imported (the fuzzing process never imports it): the case's
    value and gradients as torch float64 gives them; a torch that gives others is noted, and a file
    written without them (a store that runs nothing) computes its own."""
    spec, fixed, finding, program, point = program_case()
    script = FindingStore(tmp_path / "run").record("case", finding, program, point, {}, origin(spec)).path.with_suffix(
        ".py")
    source = script.read_text()
    torch_line = f"TORCH = [{', '.join(map(repr, torch_point(program, point)))}]"  # [-1.0, -1.0, 1.0]
    assert torch_line in source.splitlines(), source[:2000]
    code, output = run_warm(script, fixed, cwd=tmp_path)
    assert code == 0 and "note: this torch gives" not in output, output
    script.write_text(source.replace(torch_line, "TORCH = [0.5, 0.5, 0.5]"))
    code, output = run_warm(script, fixed, cwd=tmp_path)
    assert code == 0 and "not the TORCH = [0.5, 0.5, 0.5] this file was written with" in output, output

    unrun = FindingStore(tmp_path / "unrun", verify=False).record("case", finding, program, point, {}, origin(spec))
    script = unrun.path.with_suffix(".py")
    assert "TORCH = None  # torch's values were not computed" in script.read_text()
    code, output = run_warm(script, fixed, cwd=tmp_path)
    assert code == 0 and "note:" not in output, output


README_REPRODUCER = "<!-- tests/test_findings.py writes this reproducer again and compares -->"


def test_the_readmes_reproducer_is_the_file_the_fuzzer_writes(tmp_path):
    """The README shows the opening of the class-1 reproducer that its campaign on the zoo's
    mul_uses_other_grad wrote, 0.0 - x0 at x0 = 1.0; the store writes that case the same today."""
    program, point = Program(1, (Instr("rsub_c", (0,), 0.0),)), [1.0]
    Engine, where = load(f"{ZOO}/mul_uses_other_grad.py:Value", sandboxed=False)
    (finding,) = check_program(program, [point], Engine).findings
    saved = FindingStore(tmp_path).record("class1-__mul__-mul_uses_other_grad-11", finding, program, point, {}, where,
                                          diagnose(finding, Engine, where.root))
    assert saved.state == "confirmed"
    shown = doc_block(README_REPRODUCER)
    assert saved.path.with_suffix(".py").read_text().startswith(shown), shown
    # its words quote what running it shows: what the rule adds, what torch gives
    added, torch_says = re.search(r"does a.grad \+= (\S+) where torch's local derivative gives (\S+),", shown).groups()
    assert f"engine={added}  torch={torch_says}" in saved.output, saved.output
    assert shown.rstrip().endswith("# " + "-" * 98)  # down to the comment over the plumbing


def test_the_torch_run_for_a_reproducers_values_comes_out_of_its_confirmations_time(tmp_path, monkeypatch):
    """A campaign's last seconds: the reproducer's run gets what is left once its TORCH values are
    computed, so that it ends as `unconfirmed` before the campaign kills it at its hard end."""
    given = []

    def slow_torch(self, finding, source, timeout):
        time.sleep(0.5)
        return None

    def confirming(script, kind, timeout, started=None, cut=False, args=()):
        given.append((timeout, cut))
        return confirm.Outcome("unconfirmed", "no time was left to run it to its end", "timeout")
    monkeypatch.setattr(FindingStore, "_torch", slow_torch)
    monkeypatch.setattr(confirm, "confirm", confirming)
    spec, _, finding, program, point = program_case()
    saved = FindingStore(tmp_path).record("case", finding, program, point, {}, origin(spec), timeout=5.0, cut=True)
    assert saved.state == "unconfirmed" and len(given) == 1
    assert given[0][0] <= 4.5 and given[0][1] is True, given


def test_the_workers_torch_values_are_the_ones_the_reproducers_torch_side_gives(tmp_path):
    """TORCH is computed in the worker (backends.torch_point, mlp.torch_side) and, for a finding the
    campaign made itself, by the reproducer's own torch side run as a script: the two agree to the
    last bit (a nan's sign aside: the file writes float('nan')), programs printed with loops too."""

    rng = random.Random(29)
    cases = [(p, random_inputs(rng, p.n_inputs)) for p in (random_program(rng) for _ in range(20))]
    cases.append((Program(1, tuple(Instr("tanh" if i % 2 else "mul_c", (i,), None if i % 2 else 0.9)
                                   for i in range(40))), [0.3]))  # printed as a loop
    scripts = [(program_torch_source(p, x), torch_point(p, x)) for p, x in cases]
    scripts += [(mlp_torch_source(spec), torch_side(spec)) for spec in (random_mlp(rng) for _ in range(3))]
    for n, (source, want) in enumerate(scripts):
        script = tmp_path / f"torch{n}.py"
        script.write_text(source)
        printed = io.StringIO()
        with redirect_stdout(printed):
            runpy.run_path(str(script), run_name="__main__")
        same = [b"nan" if math.isnan(x) else struct.pack("<d", x) for x in json.loads(printed.getvalue())]
        assert same == [b"nan" if math.isnan(x) else struct.pack("<d", x) for x in want], source  # a nan's sign aside


def test_a_root_cause_of_many_words_is_cut_in_the_docstring_and_printed_whole(tmp_path):
    """An engine's exception message may run to pages: the docstring cuts it, so that f stays within
    the first 30 lines; the script prints it whole when the bug is there."""
    spec, _, finding, program, point = program_case()
    Engine, where = load(spec, sandboxed=False)
    words = "the engine raised ValueError: " + " ".join(f"word{i}" for i in range(2000))
    cause = dataclasses.replace(diagnose(finding, Engine, where.root), summary=words)
    saved = FindingStore(tmp_path).record("case", finding, program, point, {}, where, cause)
    lines = saved.path.with_suffix(".py").read_text().splitlines()
    assert opening(lines)["f"] <= 30 and "(run, the script says it whole)" in "\n".join(lines[:12])
    assert saved.state == "confirmed" and "word1999." in saved.output, saved.output[-300:]

"""Running the fuzzer as a user does, for the tests: `python -m oracle` in a fresh Python, or the same
entry point in this process (its workers are still sandboxed processes: this saves the ~2 s a fresh
Python takes to import torch, and shares one forkserver among the campaigns), reading what a
campaign's summary says, and finding the processes a campaign left behind."""
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout

from oracle.__main__ import main as oracle_main
from oracle.fuzz import sandbox

ROOT = pathlib.Path(__file__).resolve().parents[1]


def oracle(*args, timeout=120, cwd=ROOT, env=None):
    """Run `python -m oracle ARGS` in a fresh Python: (exit code, stdout, stderr). It imports the
    oracle as the suite does (installed, or the checkout it runs in); test engines are named by
    their files, which need nothing on PYTHONPATH."""
    env = {**os.environ, **(env or {})}
    env.pop("ORACLE_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "oracle", *map(str, args)], cwd=cwd, env=env,
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


def causes(summary, *classes):
    """The summary's root causes of the given classes (all three by default)."""
    names = [("ordinary", 1), ("edge", 2), ("python_float", 3)]
    return [row for name, c in names if c in (classes or (1, 2, 3)) for row in summary["classes"][name]]


def reproducer_in(message):
    """The reproducer a failure message names (`reproducer: python PATH.py`)."""
    found = re.search(r"reproducer: python (\S+\.py)", message)
    assert found, message
    return pathlib.Path(found[1])


def reproduce(script, *engine, path=None):
    """Run a saved reproducer as a learner does, from its own folder, on its engine or the one given
    (found on `path`, if it is not where the script's own engine is): (exit code, the tail of what
    it printed). It runs as the campaign's confirmation does, forked from the warm launcher, which
    tests/test_launcher.py shows is `python script.py` in a fresh Python."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the script finds its engine itself
    if path is not None:
        env["PYTHONPATH"] = str(path)
    return sandbox.run_script(script, engine, timeout=120, cwd=pathlib.Path(script).parent, env=env)


TAG = "ORACLE_TEST_CAMPAIGN"  # every process a campaign starts inherits it, its engine's children too


def survivors(tag, wait=3.0):
    """The processes still running, `wait` seconds at most after the campaign exited, that descend from
    the campaign tagged `tag` (multiprocessing's forkserver exits on its own once its parent has),
    as their command lines."""
    end = time.monotonic() + wait
    while True:
        found = []
        for proc in pathlib.Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if f"{TAG}={tag}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                    found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:  # gone meanwhile, or not ours to read
                continue
        if not found or time.monotonic() > end:
            return found
        time.sleep(0.1)

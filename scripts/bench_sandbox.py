"""Benchmark (not a test): does the campaign keep its budget and stay clean whatever the engine does?

Each hostile engine of tests/hostile/ (it tampers with the interpreter, hangs, crawls, forks, floods
its output, eats memory, crashes, cannot be driven...) and this project's micrograd as a baseline,
fuzzed as a user would, `python -m oracle fuzz --seconds 10 --workers 2 --memory-mb 500` in a fresh
Python, and a table:

  engine     the hostile engine
  wall       the campaign's wall time, from start to exit (the promise: within --seconds + 5 s)
  exit       its exit status (0 nothing found, 1 root causes, 2 an engine that cannot be used)
  findings   root causes of class 1 and 2 by kind of finding (class 3 apart)
  left       processes of the campaign still running once it exited (found by an environment
             variable that everything the campaign starts inherits, the engine's children too)
  files      files in --out that are not a complete finding (temporary files, a .py without .json)
  output     what the campaign itself printed, in bytes

    python scripts/bench_sandbox.py                  # every hostile engine, ~4 minutes
    python scripts/bench_sandbox.py --only slow_add,forks_child --seconds 5
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine_table import parse_args, print_table  # noqa: E402

from oracle.fuzz.summary import CAMPAIGNS  # noqa: E402
from tests.campaigns import TAG, survivors  # noqa: E402
from tests.hostile import HOSTILE  # noqa: E402

ENGINES = ["micrograd"] + sorted(HOSTILE)


def spec(name):
    return "micrograd.engine:Value" if name == "micrograd" else f"{ROOT}/tests/hostile/{name}.py:Value"


def incomplete(out):
    if not out.exists():
        return 0
    names = {p.name for p in out.iterdir() if p.name != CAMPAIGNS}  # each campaign's summary, for `report`
    return sum(1 for n in names if n.startswith(".") or not n.endswith((".json", ".py"))
               or (n.endswith(".py") and n[:-3] + ".json" not in names))


def run(name, seconds):
    tag = uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as tmp:
        out, summary = pathlib.Path(tmp) / "out", pathlib.Path(tmp) / "summary.json"
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "oracle", "fuzz", "--engine", spec(name),
                               "--seconds", str(seconds), "--workers", "2", "--seed", "1", "--memory-mb", "500",
                               "--out", str(out), "--summary-json", str(summary)], cwd=ROOT,
                              env={**os.environ, TAG: tag}, capture_output=True, timeout=seconds + 120)
        wall = time.monotonic() - start
        s = json.loads(summary.read_text()) if summary.exists() else {}
        left = len(survivors(tag, wait=1.0))
        files = incomplete(out)
    classes = s.get("classes", {})
    kinds = Counter(k for r in classes.get("ordinary", []) + classes.get("edge", []) for k in r["kinds"])
    found = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or ("cannot be driven" if s.get("error") else "-")
    if classes.get("python_float"):
        found += f" (+{len(classes['python_float'])} class 3)"
    return {"engine": name, "wall": round(wall, 1), "exit": done.returncode, "findings": found, "left": left,
            "files": files, "output": len(done.stdout) + len(done.stderr)}


def main():
    args, names = parse_args(__doc__.split("\n\n")[0], ENGINES, "engines of micrograd and tests/hostile")
    rows = []
    for name in names:
        rows.append(run(name, args.seconds))
        print(f"{name}: {rows[-1]['wall']} s, exit {rows[-1]['exit']}", file=sys.stderr, flush=True)
    late = [r["engine"] for r in rows if r["wall"] > args.seconds + 5]
    print_table(f"python -m oracle fuzz --seconds {args.seconds:g} --workers 2 --memory-mb 500 on each; "
                f"{len(rows) - len(late)}/{len(rows)} within --seconds + 5 s",
                ("engine", "wall", "exit", "findings", "left", "files", "output"), rows, args.json)
    return 0 if not late and not any(r["left"] or r["files"] for r in rows) else 1

if __name__ == "__main__":
    sys.exit(main())

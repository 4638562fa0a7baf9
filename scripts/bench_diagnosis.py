"""Benchmark (not a test): how well and how fast the fuzzer diagnoses learners' engines.

For every engine of the zoo (tests/zoo/: learner-style engines, one classic mistake each, and two
correct controls), a full campaign on one core, `--seconds 10 --workers 1 --seed 1`, run as a user
runs it (`python -m oracle fuzz` in a fresh Python), and a table:

  engine     the zoo engine
  expected   the root cause the manifest (tests/zoo/__init__.py) names: cause, method, classes
  reported   the root causes of class 1 and 2 the campaign reported (and how many of class 3)
  right      whether exactly the expected one was reported, besides the other mistakes the manifest
             says the engine has on purpose (or, for a Python-float mistake, none of class 1 or 2 and
             the expected class-3 line)
  first      seconds from the campaign's start to that root cause (start-up included)
  size       ops of its reduced reproducer
  wall       the campaign's wall time

    python scripts/bench_diagnosis.py                     # every zoo engine, ~5 minutes
    python scripts/bench_diagnosis.py --only no_seed,radd_recursion --json diagnosis.json
"""
import json
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine_table import parse_args, print_table  # noqa: E402

from tests.zoo import ZOO, engine_args  # noqa: E402


def campaign(name, seconds, out):
    engine = engine_args(name)
    summary = pathlib.Path(out) / "summary.json"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "oracle", "fuzz", *engine, "--seconds", str(seconds), "--workers", "1",
                    "--seed", "1", "--out", str(pathlib.Path(out) / "findings"), "--summary-json", str(summary)],
                   cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120)
    return json.loads(summary.read_text()), time.monotonic() - start


def row(name, summary, wall):
    expect = ZOO[name]
    classes = summary["classes"]
    counted = classes["ordinary"] + classes["edge"]
    others = sorted(r["method"] for r in counted if r["method"] in expect.also)
    counted = [r for r in counted if r["method"] not in expect.also]  # the engine's other mistakes, on purpose
    class3 = classes["python_float"]
    facts = set(expect.facts) <= {r["method"] for r in class3}  # the Python float facts it must show apart
    if expect.cause == "none":
        right, hit = not counted and facts, None
    elif not counted and 3 in expect.classes:
        hits = [r for r in class3 if r["method"] == expect.method and (
            expect.cause != "python-float" or r["detail"] == expect.detail)]
        right, hit = bool(hits), (hits[0] if hits else None)
    else:
        hit = counted[0] if len(counted) == 1 else None
        right = hit is not None and hit["cause"] in expect.cause.split("/") and hit["method"] == expect.method and (
            hit["class"] in expect.classes) and others == sorted(expect.also) and facts
    classes_ = "/".join(map(str, expect.classes))
    expected = "none" if expect.cause == "none" else f"{expect.cause} {expect.method} (class {classes_})"
    reported = ", ".join(f"{r['cause']} {r['method']} (class {r['class']})" for r in counted) or "none"
    reported += f" + {', '.join(others)} (on purpose)" if others else ""
    reported += f" + {len(class3)} class 3" if class3 else ""
    return {"engine": name, "expected": expected, "reported": reported,
            "right": right, "first": round(hit["seconds"], 2) if hit else None,
            "size": hit["ops"] if hit else None, "wall": round(wall, 1)}


def main():
    args, names = parse_args(__doc__.split("\n\n")[0], sorted(ZOO), "zoo engines")
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory() as out:
            rows.append(row(name, *campaign(name, args.seconds, out)))
        print(f"{name}: {'right' if rows[-1]['right'] else 'WRONG'} ({rows[-1]['reported']})", file=sys.stderr,
              flush=True)
    print_table(f"{sum(r['right'] for r in rows)}/{len(rows)} engines diagnosed right "
                f"(python -m oracle fuzz --seconds {args.seconds:g} --workers 1 --seed 1 on each)",
                ("engine", "expected", "reported", "right", "first", "size", "wall"), rows, args.json)
    return 0 if all(r["right"] for r in rows) else 1

if __name__ == "__main__":
    sys.exit(main())

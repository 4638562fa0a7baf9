"""Benchmark (not a test): what the oracle's pytest plugin costs pytest's start-up when it is not used.

pip installs the plugin with the package (entry point `oracle`, group pytest11), so every pytest
run loads it, whether or not the oracle extra (torch, numpy, mpmath, ...) is installed. Without
--oracle-engine it should cost nothing. This times `python -m pytest -q -p no:cacheprovider
test_trivial.py` (one empty test, in a temporary folder) side by side, in rounds, each round in a
new random order (a fixed order showed a 100 ms "difference" that was only the order):

  off        this environment (the oracle extra installed), the plugin blocked (`-p no:oracle`:
             never imported)
  on         the same, the plugin loaded, no --oracle-engine
  plain-off  a fresh virtual environment with pytest and this package alone, no extra (`pip
  plain-on   install --no-deps`): the plugin blocked, and loaded (skip both with --no-plain)

and prints each one's median wall and CPU time (CPU time is the steadier on a shared machine), what
importing `oracle.pytest_plugin` imports, and how long that import takes once pytest is imported
(`python -X importtime`, the median of the runs).

    python scripts/bench_plugin.py              # 15 runs each
    python scripts/bench_plugin.py --runs 31    # the figures of docs/performance.md
    python scripts/bench_plugin.py --no-plain   # this environment only (no pip install)
"""
import argparse
import pathlib
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
HEAVY = ("torch", "numpy", "mpmath", "hypothesis", "rich", "oracle.fuzz", "oracle.check")
IMPORTS = f"import sys, oracle.pytest_plugin; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"


def import_us(python, cwd):
    """Microseconds `import oracle.pytest_plugin` takes after `import pytest` (its cumulative time)."""
    done = subprocess.run([python, "-X", "importtime", "-c", "import pytest; import oracle.pytest_plugin"],
                          cwd=cwd, capture_output=True, text=True, check=True)
    line = next(x for x in done.stderr.splitlines() if x.rstrip().endswith("| oracle.pytest_plugin"))
    return int(line.split("|")[1])


def plain_python(folder):
    """A new virtual environment's python with pytest (this one's version) and this package without
    its dependencies."""
    import pytest
    venv = pathlib.Path(folder) / "plain"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", f"pytest=={pytest.__version__}"], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(ROOT)], check=True)
    return python


def cpu():
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def once(python, args, cwd):
    """(wall seconds, CPU seconds) of one pytest run."""
    start, start_cpu = time.perf_counter(), cpu()
    done = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, "test_trivial.py"],
                          cwd=cwd, capture_output=True, text=True)
    seconds, cpu_seconds = time.perf_counter() - start, cpu() - start_cpu
    if done.returncode != 0 or "1 passed" not in done.stdout:
        raise SystemExit(f"pytest failed ({python} {' '.join(args)}):\n{done.stdout}{done.stderr}")
    return seconds, cpu_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each (default: %(default)s)")
    parser.add_argument("--no-plain", action="store_true", help="skip the environment without the extra")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        (pathlib.Path(folder) / "test_trivial.py").write_text("def test_nothing():\n    pass\n")
        setups = {"off": (sys.executable, ["-p", "no:oracle"]), "on": (sys.executable, [])}
        if not args.no_plain:
            plain = plain_python(folder)
            setups.update({"plain-off": (plain, ["-p", "no:oracle"]), "plain-on": (plain, [])})
        for name, (python, extra) in setups.items():
            if not extra:
                shown = subprocess.run([python, "-c", IMPORTS], cwd=folder, capture_output=True, text=True)
                took = statistics.median(import_us(python, folder) for _ in range(args.runs))
                print(f"{name:<9} {python}: importing oracle.pytest_plugin takes {took / 1000:.1f} ms and imports "
                      f"{shown.stdout.strip() or shown.stderr}")
        times = {name: [] for name in setups}
        for python, extra in setups.values():  # one warm-up each: the file cache
            once(python, extra, folder)
        order = list(setups)
        for _ in range(args.runs):
            random.shuffle(order)  # no setup always runs first, or right after another
            for name in order:
                times[name].append(once(*setups[name], folder))
    def median(name, k):
        return statistics.median(run[k] for run in times[name]) * 1000

    print(f"\npytest start-up, one empty test, median of {args.runs} runs: wall time (min - max), CPU time")
    for name, runs in times.items():
        low, high = min(r[0] for r in runs) * 1000, max(r[0] for r in runs) * 1000
        print(f"  {name:<9} {median(name, 0):7.0f} ms  ({low:.0f} - {high:.0f})  CPU {median(name, 1):5.0f} ms")
    for env in ("", "plain-"):
        if f"{env}on" in times:
            print(f"  {env}on - {env}off: wall {median(env + 'on', 0) - median(env + 'off', 0):+.0f} ms, "
                  f"CPU {median(env + 'on', 1) - median(env + 'off', 1):+.0f} ms")


if __name__ == "__main__":
    main()

"""Benchmark (not a test): how long one reproducer check takes, forked from the warm launcher and in
a fresh Python, side by side in one run.

A reproducer of a one-op program on this project's micrograd (it passes: `verdict: pass`) is run
`--runs` times each way, the two ways taking turns, and the table gives the median seconds of a
whole run (start to exit status, as a campaign's confirmation waits for it) and their ratio. The
first warm run starts the launcher, which imports torch once; it is counted apart.

    python scripts/bench_launcher.py              # 10 runs each way, ~30 s
    python scripts/bench_launcher.py --runs 20
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from micrograd.engine import Value  # noqa: E402
from oracle.fuzz import engines, launcher, sandbox  # noqa: E402
from oracle.fuzz.reproducer import reproducer_source  # noqa: E402
from oracle.program import Instr, Program  # noqa: E402


def timed(run):
    start = time.perf_counter()
    code = run()
    return time.perf_counter() - start, code


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs each way (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "reproducer.py"
        origin = engines.origin(Value, "micrograd.engine:Value")
        script.write_text(reproducer_source(Program(2, (Instr("mul", (0, 1)),)), [0.5, -1.5], origin))
        argv = launcher.cold_command(str(script), [])

        def cold():
            return subprocess.run(argv, cwd=tmp, capture_output=True).returncode

        def warm():
            return sandbox.run_script(script, timeout=120, cwd=tmp)[0]

        start_up, code = timed(warm)
        assert code == 0, f"the reproducer did not pass: exit {code}"
        times = {"warm": [], "cold": []}
        for _ in range(args.runs):
            for name, run in (("warm", warm), ("cold", cold)):
                took, code = timed(run)
                assert code == 0, f"the {name} run did not pass: exit {code}"
                times[name].append(took)
    warm_s, cold_s = statistics.median(times["warm"]), statistics.median(times["cold"])
    print(f"{'run':<34}{'median s':>10}")
    print(f"{'fresh Python (python script.py)':<34}{cold_s:>10.3f}")
    print(f"{'forked from the warm launcher':<34}{warm_s:>10.3f}")
    print(f"{'first warm run (starts it)':<34}{start_up:>10.3f}")
    print(f"warm is {cold_s / warm_s:.0f}x faster ({args.runs} runs each way, taking turns)")


if __name__ == "__main__":
    main()

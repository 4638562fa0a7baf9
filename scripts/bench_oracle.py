"""Benchmark (not a test): how many op-checks per second the oracle does on one core.

An op-check is one node of a program checked at one input point, value and gradient: micrograd
runs it forward and backward, torch float64 runs it (batched over the case's 32 points), and the
two are compared. Two measurements, each in this one process with a fixed seed:

  expr  programs of up to 20 ops (GenConfig(max_ops=20), every op), as the fuzzer's expr cases
  mix   the fuzzer's default mix: mostly expr, some mlp and train cases, a few deep chains

    python scripts/bench_oracle.py                  # 10 s each
    python scripts/bench_oracle.py --seconds 5 --json bench.json

Rates are per second of wall time and per CPU-second (the latter does not drop when other
processes share the core). The goal is 100,000 op-checks per second per core.
"""
import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the checkout's oracle and micrograd

import oracle.check  # noqa: E402
from micrograd.engine import Value  # noqa: E402
from oracle.cli import write_json  # noqa: E402
from oracle.fuzz.cases import kind_mix, plan, run_case  # noqa: E402
from oracle.generate import ALL_OPS  # noqa: E402

SEED = 20240601
GOAL = 100_000


class Timer:
    """Time spent inside a function of oracle.check, for the breakdown (engine, torch, the rest)."""

    def __init__(self, name):
        self.name, self.f, self.seconds = name, getattr(oracle.check, name), 0.0
        setattr(oracle.check, name, self)

    def __call__(self, *args, **kw):
        t = time.perf_counter()
        try:
            return self.f(*args, **kw)
        finally:
            self.seconds += time.perf_counter() - t


def bench(kinds, seconds):
    """Run the campaign's cases (seed SEED, one process) for `seconds`; the rates and a breakdown."""
    engine, torch_ = Timer("engine_run"), Timer("torch_run")
    cases = checks = 0
    by_kind = {}
    wall, cpu = time.perf_counter(), time.process_time()
    for _, cseed, kind in plan(SEED, mix=kind_mix(kinds, ALL_OPS)):
        result = run_case(cseed, kind, Value, ALL_OPS, through_nn=True)
        assert result.finding is None, result.finding.message()  # a benchmark of a correct engine
        cases += 1
        checks += result.checks
        by_kind[kind] = by_kind.get(kind, 0) + 1
        if time.perf_counter() - wall >= seconds:
            break
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for t in (engine, torch_):
        setattr(oracle.check, t.name, t.f)
    return {"cases": cases, "kinds": by_kind, "op_checks": checks, "seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2), "cases_per_second": round(cases / wall, 1),
            "op_checks_per_second": round(checks / wall), "op_checks_per_cpu_second": round(checks / cpu),
            "share": {"micrograd": round(engine.seconds / wall, 3), "torch": round(torch_.seconds / wall, 3),
                      "comparison and the rest": round(1 - (engine.seconds + torch_.seconds) / wall, 3)}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(1)  # one core, as a fuzz worker
    results = {"expr (20-op programs)": bench("expr", args.seconds), "mix (expr, mlp, train, deep)":
               bench("all", args.seconds)}
    for name, r in results.items():
        share = ", ".join(f"{k} {v:.0%}" for k, v in r["share"].items())
        print(f"{name}: {r['cases']:,} cases in {r['seconds']} s: {r['cases_per_second']:,} programs/s, "
              f"{r['op_checks_per_second']:,} op-checks/s ({r['op_checks_per_cpu_second']:,} per CPU-second; "
              f"goal {GOAL:,}); time in {share}")
    if args.json:
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

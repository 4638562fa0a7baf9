"""`python -m oracle fuzz`: a fuzz campaign of an engine against PyTorch float64.

    python -m oracle fuzz                          # 60 s on every core against micrograd
    python -m oracle fuzz --seconds 600 --seed 7 --shard 2/4 --out findings/
    python -m oracle fuzz --engine mypkg.engine:Value --ops add,mul,tanh --kind expr
    python -m oracle fuzz --replay findings/grad-tanh.json [--engine micrograd.engine:Value]

Exit status: 0 no findings (or, with --replay, the saved finding is fixed), 1 findings (the
saved finding still fails), 2 bad usage or an engine that cannot be loaded; the reason is one
line on stderr. Progress goes to stderr (a live display on a terminal, a line every 5 s
otherwise); the seed comes first and the summary last, on stdout.
"""
import argparse
import json
import os
import re
import sys

from oracle.cli import UsageError, name_list, one_line, positive, write_json
from oracle.fuzz import forkserver
from oracle.fuzz.probe import DEFAULT_ENGINE, EngineSpecError, load_engine, supported_ops
from oracle.fuzz.summary import Progress, print_summary
from oracle.fuzz.summary import summary as make_summary
from oracle.fuzz.timeouts import TIMEOUT, CaseTimeout, time_limit
from oracle.ops import OPS

# cases.KINDS and all, spelled out here: importing oracle.fuzz.cases imports torch, and bad usage fails fast.
KIND_CHOICES = ("expr", "deep", "mlp", "train", "all")


def _workers(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 (run in this process) or more")
    return n


def _shard(text):
    m = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not m or not 1 <= int(m[1]) <= int(m[2]):
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N with 1 <= K <= N (for example 2/4)")
    return int(m[1]), int(m[2])


def _ops(text):
    names = name_list(text, OPS, "op")
    return tuple(o for o in OPS if o in names)  # table order: the cases do not depend on how the list is typed


def configure(parser):
    parser.description = ("Fuzz an engine against PyTorch float64: random programs (expr), deep chains (deep), "
                          "random MLPs (mlp) and SGD training (train). Findings are reduced and saved as a "
                          ".json case and a runnable .py reproducer. Exit status: 0 no findings, 1 findings, "
                          "2 bad usage.")
    parser.epilog = "Replay a campaign or a shard exactly with its --seed (and --shard, --kind, --ops, --cases)."
    budget = parser.add_argument_group("budget (default: 60 s when neither is given; both: whichever ends first)")
    budget.add_argument("--seconds", type=positive(float), metavar="S", help="stop starting cases after S seconds")
    budget.add_argument("--cases", type=positive(int), metavar="N", help="run N cases (of this shard)")
    budget.add_argument("--max-findings", type=positive(int), metavar="N",
                        help="stop after N distinct findings (signatures)")
    parser.add_argument("--seed", type=int, metavar="N", help="the campaign's seed (default: random; printed first)")
    parser.add_argument("--workers", type=_workers, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes (default: %(default)s, the CPU count); 0 runs cases in this "
                             "process, without crash or hang isolation, for debugging")
    parser.add_argument("--shard", type=_shard, default=(1, 1), metavar="K/N",
                        help="run only cases i with i %% N == K-1, so N machines with shards 1/N..N/N and one "
                             "seed split one campaign without overlap (default: 1/1)")
    parser.add_argument("--kind", choices=KIND_CHOICES, default="all",
                        help="what to generate: expr programs, deep chains, mlp, train, or all: mostly expr, "
                             "some mlp and train, a few deep (default: all)")
    parser.add_argument("--engine", metavar="MODULE:ATTR",
                        help=f"the engine under test (default: {DEFAULT_ENGINE}; with --replay, the finding's)")
    parser.add_argument("--ops", type=_ops, metavar="LIST",
                        help="comma-separated ops to generate (default: every op the engine supports): "
                             + ",".join(OPS))
    parser.add_argument("--out", default="findings", metavar="DIR",
                        help="where findings are saved (default: %(default)s)")
    parser.add_argument("--timeout", type=positive(float), default=TIMEOUT, metavar="S",
                        help="seconds a case may run before it is a finding of kind timeout (default: %(default)s)")
    parser.add_argument("--summary-json", metavar="FILE", help="also write the summary as JSON to FILE")
    parser.add_argument("--replay", metavar="FILE.json",
                        help="re-check a saved finding: print its message and exit 1 if it still fails, 0 if fixed")
    parser.add_argument("--strict", action="store_true",
                        help="an engine that raises where torch gives inf or nan is a finding, not a domain "
                             "difference (always on for micrograd and its mutants)")


def main(args):
    try:
        return _main(args)
    except UsageError as e:
        print(f"python -m oracle fuzz: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the campaign started (once it runs, Ctrl-C ends it with a summary)
        print("python -m oracle fuzz: interrupted", file=sys.stderr)
        return 2
    except Exception as e:  # never a traceback: one line, and ORACLE_DEBUG=1 to see it
        if os.environ.get("ORACLE_DEBUG"):
            raise
        print(f"python -m oracle fuzz: internal error: {type(e).__name__}: {one_line(e)} (ORACLE_DEBUG=1 shows the "
              f"traceback)", file=sys.stderr)
        return 2


def _load(spec):
    try:
        return load_engine(spec)
    except EngineSpecError as e:
        raise UsageError(one_line(e)) from None


def _main(args):
    if args.replay:
        return replay(args)
    spec = args.engine or DEFAULT_ENGINE
    Engine = _load(spec)
    if args.workers > 0:
        # The forkserver imports torch (~2 s); starting it now overlaps that with this process's
        # own imports instead of adding the two.
        forkserver.context()
    from oracle.fuzz import campaign, cases  # imports torch: after the cheap checks, so bad usage fails fast
    seed = args.seed if args.seed is not None else campaign.default_seed()
    seconds = args.seconds if args.seconds or args.cases else 60.0
    strict = args.strict or cases.is_micrograd(Engine)
    k, n = args.shard
    print(f"seed {seed}  (shard {k}/{n}, engine {spec}{', strict' if strict else ''}, "
          f"{f'{args.workers} worker' + 's' * (args.workers != 1) if args.workers else 'in this process'}, "
          f"kind {args.kind}, budget {_budget(seconds, args.cases)})", flush=True)
    supported = _probe(spec, Engine, args)
    wanted = args.ops or tuple(OPS)
    ops = tuple(o for o in wanted if o in supported)
    skipped = [o for o in wanted if o not in supported]
    if not ops:
        raise UsageError(f"engine {spec} supports none of the ops {','.join(wanted)}")
    if skipped:
        print(f"skipped ops the engine does not support: {', '.join(skipped)}", flush=True)
    try:
        cases.kind_mix(args.kind, ops)
    except ValueError as e:
        raise UsageError(str(e)) from None
    config = campaign.Config(engine=spec, ops=ops, seed=seed, kind=args.kind, shard=args.shard,
                             workers=args.workers, strict=strict, cases=args.cases, seconds=seconds,
                             max_findings=args.max_findings, out=args.out, timeout=args.timeout)

    run = campaign.Campaign(config, Engine)
    try:
        with Progress(args.workers) as progress:
            stats = run.run(progress.update)
    except campaign.CampaignError as e:
        raise UsageError(one_line(e)) from None
    summary = make_summary(stats, config, skipped, campaign.coverage_summary(stats, ops))
    print_summary(summary, stats)
    if args.summary_json:
        write_json(args.summary_json, summary)
    return 1 if stats.found else 0


def _probe(spec, Engine, args):
    """The ops the engine supports. Probing runs the engine, which may hang or crash: with workers,
    in a process of its own; in this process, under the case timeout."""
    if args.workers > 0:
        from oracle.fuzz.workers import probe_isolated
        supported = probe_isolated(spec, args.timeout)
    else:
        try:
            with time_limit(args.timeout):
                supported = supported_ops(Engine)
        except CaseTimeout:
            supported = None
    if supported is None:
        print("probing the engine hung or crashed: generating every op (the campaign will find where it fails)",
              flush=True)
        return tuple(OPS)
    return supported


def _budget(seconds, cases):
    parts = ([f"{seconds:g} s"] if seconds else []) + ([f"{cases} cases"] if cases else [])
    return " or ".join(parts)


# --- replay ---

def replay(args):
    """Re-check a saved finding on --engine (default: the finding's engine): 1 if it still fails."""
    path = args.replay
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read a finding: {one_line(e)}") from None
    if not isinstance(saved, dict):
        raise UsageError(f"{path}: not a finding")
    spec = args.engine or saved.get("engine") or DEFAULT_ENGINE
    Engine = _load(spec)
    from oracle.check import check_program
    from oracle.fuzz.cases import is_micrograd  # torch, after the cheap checks
    from oracle.mlp import MLPSpec, check_mlp
    strict = args.strict or bool(saved.get("strict")) or is_micrograd(Engine)
    if "mlp" in saved:
        try:
            mlp = MLPSpec.from_json(saved["mlp"])
        except ValueError as e:
            raise UsageError(f"{path}: {e}") from None
        steps = int(saved.get("steps") or 0)
        what = f"{mlp.describe()}, {steps} SGD steps"

        def check():
            return check_mlp(mlp, Engine, steps=steps)
    else:
        from oracle.fuzz.store import load_case
        try:
            program, point, _ = load_case(path)
        except ValueError as e:
            raise UsageError(one_line(e)) from None
        what = f"{len(program)} ops at ({', '.join(map(repr, point))})"

        def check():
            return check_program(program, [point], Engine, strict)
    print(f"replaying {saved.get('signature', path)} on {spec}: {what}")
    try:
        with time_limit(args.timeout):
            report = check()
    except CaseTimeout:
        print(f"still failing: no result after {args.timeout:g} s (timeout)")
        return 1
    if report.findings:
        f = report.findings[0]
        print(f"still failing ({f.signature}):\n")
        print(f.message())
        return 1
    print(f"fixed: {spec} agrees with torch float64 on this case")
    return 0

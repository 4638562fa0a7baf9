"""`python -m oracle fuzz`: a fuzz campaign of an engine against PyTorch float64.

    python -m oracle fuzz                          # 60 s on every core against micrograd
    python -m oracle fuzz --engine my_engine.py:Value --seconds 30
    python -m oracle fuzz --engine micrograd.engine:Value --engine-path ~/my-micrograd
    python -m oracle fuzz --seconds 600 --seed 7 --shard 2/4 --out findings/
    python -m oracle fuzz --replay findings/class1-__mul__-engine-42.json

Exit status: 0 no root causes (or, with --replay, the saved one is fixed), 1 root causes of class
1 or 2 (and of class 3 with --strict or for micrograd; the saved one still fails), 2 bad usage, an
engine that cannot be loaded or driven, or no verdict (no case finished within the budget, or root
causes were found but none could be confirmed: their reproducers did not run); the reason is one
line on stderr. Progress goes to
stderr (a live display on a terminal, a line every 5 s otherwise); the seed comes first and the
summary last, on stdout. The engine is only ever imported and run in sandboxed worker processes.
"""
import argparse
import json
import os
import re
import sys
import time

from oracle.cli import UsageError, name_list, one_line, positive, write_json
from oracle.fuzz import forkserver
from oracle.fuzz.engines import DEFAULT_ENGINE, EngineSpecError, parse_spec
from oracle.fuzz.sandbox import default_memory_mb
from oracle.fuzz.summary import Progress, print_summary, probe_lines, record
from oracle.fuzz.summary import summary as make_summary
from oracle.fuzz.timeouts import TIMEOUT
from oracle.ops import OPS

# cases.KINDS and all, spelled out here: importing oracle.fuzz.cases takes numpy and mpmath, and bad usage fails fast.
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
    if text.strip() == "auto":
        return "auto"
    m = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not m or not 1 <= int(m[1]) <= int(m[2]):
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N with 1 <= K <= N (for example 2/4), nor auto")
    return int(m[1]), int(m[2])


def scheduler_shard(environ=None):
    """(K, N, where they came from) for --shard auto: a Slurm job array's task (SLURM_ARRAY_TASK_ID
    among SLURM_ARRAY_TASK_COUNT, counted from SLURM_ARRAY_TASK_MIN) or a Kubernetes Indexed Job's
    pod (JOB_COMPLETION_INDEX, from 0, among JOB_COMPLETIONS, which the Job's pod template sets from
    its .spec.completions). UsageError when neither is there."""
    env = os.environ if environ is None else environ
    try:
        if "SLURM_ARRAY_TASK_ID" in env:
            k = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", "0")) + 1
            n = int(env["SLURM_ARRAY_TASK_COUNT"])
            where = "Slurm's SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT"
        elif "JOB_COMPLETION_INDEX" in env:
            k, n = int(env["JOB_COMPLETION_INDEX"]) + 1, int(env["JOB_COMPLETIONS"])
            where = "Kubernetes' JOB_COMPLETION_INDEX and JOB_COMPLETIONS"
        else:
            raise UsageError("--shard auto: no scheduler said which shard this is (a Slurm job array sets "
                             "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT; for a Kubernetes Indexed Job set "
                             "JOB_COMPLETIONS to its completions, beside the JOB_COMPLETION_INDEX it sets)")
    except KeyError as e:
        raise UsageError(f"--shard auto: {e.args[0]} is not set") from None
    except ValueError as e:
        raise UsageError(f"--shard auto: not a number: {one_line(e)}") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard auto: shard {k} of {n} from {where} is not 1..N")
    return k, n, where


def _ops(text):
    names = name_list(text, OPS, "op")
    return tuple(o for o in OPS if o in names)  # table order: the cases do not depend on how the list is typed


def _folder(text):
    if not os.path.isdir(os.path.expanduser(text)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    return text


def configure(parser):
    parser.description = ("Fuzz an engine against PyTorch float64: random programs (expr), deep graphs (deep), "
                          "random MLPs (mlp) and SGD training (train). Every finding is diagnosed to its root cause "
                          "at the engine's own line; each root cause is reduced, saved as a runnable .py reproducer "
                          "and a .json case, and reported only once its reproducer fails in a fresh process. The "
                          "engine runs only in sandboxed worker processes (their own process group, a memory limit, "
                          "their output captured).")
    parser.epilog = ("Root causes come in three classes: 1 wrong at ordinary inputs, 2 wrong at the edge of "
                     "float64 (0, inf, nan, overflow or underflow on the way), 3 Python float semantics where torch "
                     "answers inf or nan (shown apart; it counts only with --strict or for micrograd). Replay a "
                     "campaign or a shard exactly with its --seed (and --shard, --kind, --ops, --cases).")
    budget = parser.add_argument_group("budget (default: 60 s when neither is given; both: whichever ends first)")
    budget.add_argument("--seconds", type=positive(float), metavar="S",
                        help="the campaign ends within S + 5 seconds, whatever the engine does")
    budget.add_argument("--cases", type=positive(int), metavar="N", help="run N cases (of this shard)")
    budget.add_argument("--max-findings", type=positive(int), metavar="N",
                        help="stop after N root causes of class 1 or 2")
    parser.add_argument("--seed", type=int, metavar="N", help="the campaign's seed (default: random; printed first)")
    parser.add_argument("--workers", type=_workers, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes (default: %(default)s, the CPU count); 0 runs the engine in this "
                             "process, with no sandbox, for debugging")
    parser.add_argument("--shard", type=_shard, default=(1, 1), metavar="K/N",
                        help="run only cases i with i %% N == K-1, so N machines with shards 1/N..N/N and one "
                             "seed split one campaign without overlap (default: 1/1); auto takes K/N from a "
                             "Slurm job array or a Kubernetes Indexed Job (see docs/scale-out.md)")
    parser.add_argument("--kind", choices=KIND_CHOICES, default="all",
                        help="what to generate: expr programs, deep graphs, mlp, train, or all: mostly expr, "
                             "some mlp and train, a few deep; every campaign of kind all or deep runs a "
                             "5,000-node chain and a deep MLP-like net early, after a first batch of 8 small "
                             "cases (default: all)")
    parser.add_argument("--engine", metavar="SPEC",
                        help=f"the engine under test: module:attr or path/to/engine.py:attr (default: "
                             f"{DEFAULT_ENGINE}; with --replay, the finding's)")
    parser.add_argument("--engine-path", action="append", type=_folder, default=[], metavar="DIR",
                        help="a folder to import the engine from, before anything else on sys.path (and before "
                             "this project's own micrograd); repeatable. PYTHONPATH comes next")
    parser.add_argument("--ops", type=_ops, metavar="LIST",
                        help="comma-separated ops to generate (default: every op the engine defines): "
                             + ",".join(OPS))
    parser.add_argument("--out", default="findings", metavar="DIR",
                        help="where root causes are saved (default: %(default)s)")
    parser.add_argument("--timeout", type=positive(float), default=TIMEOUT, metavar="S",
                        help="seconds a case may run before it is a finding of kind timeout (default: %(default)s)")
    parser.add_argument("--memory-mb", type=positive(int), metavar="MB",
                        help="memory the engine may allocate per worker before it is a finding of kind memory "
                             "(default: half the machine's memory shared among the workers, at most 4096)")
    parser.add_argument("--summary-json", metavar="FILE", help="also write the summary as JSON to FILE")
    parser.add_argument("--replay", metavar="FILE.json",
                        help="re-check a saved finding: print its message and exit 1 if it still fails, 0 if fixed")
    parser.add_argument("--strict", action="store_true",
                        help="class 3 (Python float semantics where torch answers inf or nan) counts like classes "
                             "1 and 2: in --max-findings and the exit status (always on for micrograd and its "
                             "mutants)")


def main(args):
    start = time.monotonic()
    try:
        return _main(args, start)
    except UsageError as e:
        print(f"python -m oracle fuzz: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the campaign started (once it runs, Ctrl-C ends it with a summary)
        print("python -m oracle fuzz: interrupted", file=sys.stderr)
        return 2


def _spec(text):
    try:
        parse_spec(text)
    except EngineSpecError as e:
        raise UsageError(one_line(e)) from None
    return text


def _main(args, start):
    if args.replay:
        return replay(args)
    spec = _spec(args.engine if args.engine is not None else DEFAULT_ENGINE)
    shard_from = ""
    if args.shard == "auto":
        *args.shard, shard_from = scheduler_shard()
        args.shard = tuple(args.shard)
        shard_from = f" from {shard_from}"
    if args.seed is None and args.shard != (1, 1):
        raise UsageError("--shard needs --seed: the shards of one campaign split the cases of one seed")
    from oracle.fuzz.store import check_out, sweep
    problem = check_out(args.out)
    if problem:
        raise UsageError(problem)
    sweep(args.out)  # temporary files of writers that died (kill -9) in an earlier campaign
    if args.workers > 0:
        # The forkserver imports torch (~2 s); starting it now overlaps that with this process's
        # own imports. This process never imports torch (tests/test_fuzz_cli.py checks it).
        forkserver.context()
    from oracle.fuzz import campaign, cases, records  # numpy, mpmath: after the cheap checks, so bad usage fails fast
    seed = args.seed if args.seed is not None else campaign.default_seed()
    seconds = args.seconds if args.seconds or args.cases else 60.0
    memory_mb = args.memory_mb or default_memory_mb(args.workers)
    k, n = args.shard
    where = f"{args.workers} worker" + "s" * (args.workers != 1) if args.workers else "in this process, no sandbox"
    print(f"seed {seed}  (shard {k}/{n}{shard_from}, {where}, kind {args.kind}, budget {_budget(seconds, args.cases)}, "
          f"memory {memory_mb:,} MB per worker)", flush=True)
    config = records.Config(engine=spec, engine_paths=tuple(args.engine_path), seed=seed, kind=args.kind,
                            shard=args.shard, workers=args.workers, strict=args.strict, cases=args.cases,
                            seconds=seconds, max_findings=args.max_findings, out=args.out, timeout=args.timeout,
                            memory_mb=memory_mb, start=start)
    run = campaign.Campaign(config)
    wanted = args.ops or tuple(OPS)
    try:
        with Progress(args.workers, "loading and probing the engine in a worker...") as progress:
            probe = run.probe(wanted, progress.update)
        origin = probe.origin
        config.strict = args.strict or origin.micrograd
        for line in probe_lines(probe, spec, args.engine is not None, config.strict):
            print(line, flush=True)
        if probe.undrivable:
            if args.summary_json:
                write_json(args.summary_json, {"engine": spec, "engine_file": origin.file,
                                               "error": f"the engine cannot be driven: {probe.undrivable}"})
            raise UsageError(f"engine {spec} cannot be driven: {probe.undrivable}")
        ops = tuple(o for o in wanted if o in probe.generated())
        if not ops and any(probe.ops[o].status == "unprobed" for o in wanted if o in probe.ops):
            run.stats.probed = run.elapsed()
            why = f"no case finished: {run.stats.idle()}"
            if args.summary_json:
                write_json(args.summary_json, {"engine": spec, "engine_file": origin.file, "cases": 0,
                                               "findings": 0, "no_verdict": why})
            raise UsageError(f"no verdict: {why}")
        if not ops:
            raise UsageError(f"engine {spec} defines none of the ops {','.join(wanted)}")
        try:
            cases.kind_mix(args.kind, ops)
        except ValueError as e:
            raise UsageError(str(e)) from None
        with Progress(args.workers) as progress:
            stats = run.run(ops, progress.update)
    except campaign.CampaignError as e:
        raise UsageError(one_line(e)) from None
    finally:
        run.close()
    summary = make_summary(stats, config, probe, ops)
    record(summary)
    print_summary(summary)
    if args.summary_json:
        write_json(args.summary_json, summary)
    if summary["findings"]:
        return 1
    if summary["no_verdict"]:
        print(f"python -m oracle fuzz: no verdict: {summary['no_verdict']}", file=sys.stderr)
        return 2
    return 0


def _budget(seconds, cases):
    parts = ([f"{seconds:g} s"] if seconds else []) + ([f"{cases} cases"] if cases else [])
    return " or ".join(parts)


# --- replay ---

def replay(args):
    """Re-check a saved finding on --engine (default: the finding's engine, from where the finding
    says it was loaded), in a sandboxed worker: 1 if it still fails."""
    path = args.replay
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read a finding: {one_line(e)}") from None
    if not isinstance(saved, dict):
        raise UsageError(f"{path}: not a finding")
    if args.engine is None and saved.get("engine_has_file") is False:
        raise UsageError(f"{path}: its engine, {saved.get('engine_spec')}, was sent by value, not loaded from a "
                         f"file (it was defined in __main__: a notebook, the prompt, a script): give "
                         f"--engine path/to/engine.py:Value")
    spec = _spec(args.engine if args.engine is not None else saved.get("engine") or DEFAULT_ENGINE)
    paths = list(args.engine_path)
    if args.engine is None and saved.get("engine_root") and os.path.isdir(saved["engine_root"]):
        paths.append(saved["engine_root"])
    from oracle.fuzz.store import load_case
    from oracle.mlp import MLPSpec
    if "mlp" in saved:
        try:
            case, point, steps = MLPSpec.from_json(saved["mlp"]), None, int(saved.get("steps") or 0)
        except (ValueError, TypeError) as e:
            raise UsageError(f"{path}: {one_line(e)}") from None
        what = f"{case.describe()}, {steps} SGD steps"
    else:
        try:
            case, point, _ = load_case(path)
        except ValueError as e:
            raise UsageError(one_line(e)) from None
        steps = 0
        what = f"{len(case)} ops at ({', '.join(map(repr, point))})"
    from oracle.fuzz.pool import one_shot
    from oracle.fuzz.workers import Job
    job = Job(spec, tuple(paths), args.timeout, None, 0.0, args.memory_mb or default_memory_mb(1))
    try:
        ready, answer = one_shot(job, ("replay", case, point, steps), args.timeout + 60.0, here=args.workers == 0)
    except EngineSpecError as e:
        raise UsageError(one_line(e)) from None
    print(f"replaying {saved.get('root_cause_key') or saved.get('signature', path)} on {ready[1].describe()}: {what}")
    status, finding, cause = answer[1:] if answer else ("timeout", None, None)
    if status == "timeout":
        print(f"still failing: no result after {args.timeout:g} s (timeout)")
        return 1
    if status == "fixed":
        print(f"fixed: {spec} agrees with torch float64 on this case")
        return 0
    print("still failing:\n")
    if cause is not None:
        print(f"root cause (class {cause.cls}): {cause.summary}")
        if cause.line:
            print(f"  at {cause.where()}")
        print()
    print(finding.message())
    return 1

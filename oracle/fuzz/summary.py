"""What a fuzz campaign shows: a progress line while it runs (rich on a terminal, a plain line
every few seconds otherwise, on stderr) and its summary at the end (a table on stdout, and the
same as a dict for --summary-json).
"""
import sys
import time

from oracle.fuzz.probe import DEFAULT_ENGINE
from oracle.ops import OPS

PLAIN_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal


class Progress:
    """A rich live line on a terminal; a plain line every few seconds otherwise; on stderr."""

    def __init__(self, workers):
        self.workers = max(workers, 1)
        self.live = None
        self.last = time.monotonic()

    def __enter__(self):
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.live import Live
            self.live = Live("starting workers...", console=Console(stderr=True), refresh_per_second=4,
                             transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, stats):
        line = _progress_line(stats)
        if self.live is not None:
            self.live.update(line)
        elif time.monotonic() - self.last >= PLAIN_EVERY:
            self.last = time.monotonic()
            print(line, file=sys.stderr, flush=True)


def _progress_line(stats):
    s = max(stats.seconds, 1e-9)
    return (f"{stats.seconds:6.1f} s  {stats.cases:,} cases ({stats.cases / s:,.0f}/s)  "
            f"{stats.checks:,} op-checks ({stats.checks / s:,.0f}/s)  findings {len(stats.found)}")


def summary(stats, config, skipped, cov):
    s = max(stats.seconds, 1e-9)
    return {
        "cases": stats.cases,
        "nodes": stats.checks,  # node checks: one per node per input point, value and gradient
        "seconds": round(stats.seconds, 3),
        "cases_per_second": round(stats.cases / s, 1),
        "op_checks_per_second": round(stats.checks / s),
        "op_checks_per_second_per_worker": round(stats.checks / s / max(config.workers, 1)),
        # per CPU-second of the workers' cases: what one core does, however loaded the machine is
        "op_checks_per_cpu_second": round(stats.checks / max(stats.cpu, 1e-9)),
        "cpu_seconds": round(stats.cpu, 3),
        "findings": len(stats.found),
        "findings_by_kind": stats.findings_by_kind(),
        "finding_files": [{"signature": f.signature, "kind": f.kind, "path": str(f.path) if f.path else None,
                           "ops": f.size, "case": f.case, "seconds": round(f.seconds, 3), "count": f.count,
                           "already_saved": f.duplicate} for f in stats.found.values()],
        "domain_differences": stats.domain,
        "noise": stats.noise,
        "coverage": cov,
        "kinds": dict(stats.by_kind),
        "points": stats.points,
        "seed": config.seed,
        "shard": f"{config.shard[0]}/{config.shard[1]}",
        "engine": config.engine,
        "ops": list(config.ops),
        "skipped_ops": skipped,
        "strict": config.strict,
        "kind": config.kind,
        "workers": config.workers,
        "worker_restarts": stats.respawns,
        "stopped": stats.stopped,
    }


def _summary_rows(summary, stats):
    cov = summary["coverage"]
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(summary["kinds"].items()))
    rows = [
        ("cases", f"{summary['cases']:,} in {summary['seconds']:.1f} s ({summary['cases_per_second']:,.0f}/s)"
                  + (f": {kinds}" if kinds else "")),
        ("nodes checked", f"{summary['nodes']:,} ({summary['op_checks_per_second']:,} op-checks/s, "
                          f"{summary['op_checks_per_second_per_worker']:,} per worker, "
                          f"{summary['op_checks_per_cpu_second']:,} per CPU-second of cases)"),
        ("op coverage", f"{cov['ops_seen']}/{cov['ops_enabled']} ops; rarest: "
                        + ", ".join(f"{o} {n:,}" for o, n in cov["rarest"].items())),
        ("op-pair coverage", f"{cov['pairs_seen']}/{cov['pairs_possible']} (parent op, child op) pairs"),
        ("domain differences", f"{summary['domain_differences']:,} points (the engine raised where torch "
                               f"gives inf or nan)" + ("" if not summary["strict"] else "; strict: none counted")),
        ("noise", f"{summary['noise']:,} points flagged by the batch comparison, cleared by the local re-check"),
        ("findings", f"{summary['findings']}" + (": " + ", ".join(f"{k} {n}" for k, n in
                                                                  summary["findings_by_kind"].items())
                                                 if summary["findings"] else "")),
    ]
    for f in stats.found.values():
        size = f", {f.size} ops" if f.size is not None else ""
        note = " (already saved)" if f.duplicate else ""
        rows.append((f"  {f.signature}", f"{f.path}{note}  [case {f.case}, {f.count} case(s){size}]"))
    # What decides the cases: seed, shard, kind, ops (and the engine, which the ops depend on).
    same = f"--seed {summary['seed']} --shard {summary['shard']}"
    if summary["kind"] != "all":
        same += f" --kind {summary['kind']}"
    if summary["engine"] != DEFAULT_ENGINE:
        same += f" --engine {summary['engine']}"
    if len(summary["ops"]) + len(summary["skipped_ops"]) != len(OPS):  # --ops was given
        same += f" --ops {','.join(summary['ops'] + summary['skipped_ops'])}"
    replay = f"{same} --cases {summary['cases']}"
    if summary["stopped"] == "interrupted":  # cases still running were dropped: not quite a prefix
        rows.append(("stopped", f"interrupted; the same cases again: python -m oracle fuzz {same}"))
    else:
        rows.append(("stopped", f"{summary['stopped']}; this run again: python -m oracle fuzz {replay}"))
    return rows


def print_summary(summary, stats):
    rows = _summary_rows(summary, stats)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        table = Table(title="fuzz summary", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for name, value in rows:
            table.add_row(name, value)
        Console().print(table)
    else:
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"{name:<{width}}  {value}")

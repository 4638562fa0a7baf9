"""What a fuzz campaign shows: the engine it loaded and what probing found, a progress line while it
runs (rich on a terminal, a plain line every few seconds otherwise, on stderr), and its summary at
the end (on stdout, and the same as a dict for --summary-json).

The summary lists root causes, not symptoms, in the order that matters to a learner: class 1
(wrong at ordinary inputs), then class 2 (wrong at the edge of float64), then, in a section of its
own, class 3 (Python float semantics where torch answers inf or nan). Each with its line of the
engine's code, how many cases showed it, and its one best reproducer. A root cause whose
reproducer could not run is listed with the reason and not counted: with nothing else found, the
campaign's verdict could not be reached (the fuzz command exits 2).
"""
import datetime
import json
import os
import pathlib
import socket
import sys
import time
from collections import Counter

from oracle.fuzz.engines import DEFAULT_ENGINE
from oracle.ops import OPS

PLAIN_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal
# Each class in words (what decides it: oracle.fuzz.diagnose.cause)
CLASSES = {1: "wrong at ordinary inputs",
           2: "wrong at the edge of float64: 0, inf, nan, overflow or underflow on the way",
           3: "Python float semantics where torch answers inf or nan"}
SECTIONS = {1: "ordinary", 2: "edge", 3: "python_float"}  # the summary JSON's names for the classes


class Progress:
    """A rich live line on a terminal; a plain line every few seconds otherwise; on stderr."""

    def __init__(self, workers, first="starting workers..."):
        self.workers = max(workers, 1)
        self.first = first
        self.live = None
        self.last = time.monotonic()

    def __enter__(self):
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.live import Live
            self.live = Live(self.first, console=Console(stderr=True), refresh_per_second=4, transient=True)
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
    causes = list(stats.causes) if stats.causes is not None else []
    counted = len(stats.causes.counted(False)) if stats.causes is not None else 0
    return (f"{stats.seconds:6.1f} s  {stats.cases:,} cases ({stats.cases / s:,.0f}/s)  "
            f"{stats.checks:,} op-checks ({stats.checks / s:,.0f}/s)  root causes {counted}"
            + (f" (+{len(causes) - counted} class 3)" if len(causes) > counted else ""))


def coverage(op_counts, pair_counts, ops):
    """Op coverage (ops seen of those enabled, rarest first) and op-pair coverage of programs, from
    how often each op and each (parent op, child op) pair occurred."""
    seen = {o: op_counts.get(o, 0) for o in ops}
    rarest = sorted(seen, key=lambda o: (seen[o], o))[:3]
    pairs = sum(1 for (a, b) in pair_counts if a in seen and b in seen)
    return {"ops_seen": sum(1 for n in seen.values() if n), "ops_enabled": len(ops),
            "rarest": {o: seen[o] for o in rarest}, "pairs_seen": pairs, "pairs_possible": len(ops) ** 2}


def probe_lines(probe, spec, named, strict):
    """The header lines that say which engine was loaded from where, and what probing found."""
    o = probe.origin
    lines = [f"engine {o.describe()}" + (", strict" if strict else "")]
    if o.ours and named:
        lines.append("  (to fuzz another package called micrograd, give its file, --engine path/to/engine.py:Value, "
                     "or its folder, --engine-path DIR)")
    for change in probe.tamper:
        lines.append(f"  the engine changed the interpreter when imported: {change} (put back for the oracle's own "
                     f"use; a finding of kind tamper)")
    absent = {n: p.reason for n, p in probe.ops.items() if p.status in ("absent", "unprobed")}
    broken = {n: p for n, p in probe.ops.items() if p.status == "broken"}
    if absent:
        lines.append("ops the engine does not define or whose operand form it does not take (not generated):")
        lines += [f"  {n:<8} {reason}" for n, reason in absent.items()]
    if broken:
        lines.append("ops the engine defines but that fail outright (each a finding; "
                     + "hangs, crashes and memory are not generated further):")
        lines += [f"  {n:<8} {p.kind}: {p.reason}" for n, p in broken.items()]
    return lines


def summary(stats, config, probe, ops):
    """The campaign's summary as a dict (the --summary-json, and what `report` merges)."""
    s = max(stats.seconds, 1e-9)
    cov = coverage(stats.ops, stats.pairs, ops)
    causes = list(stats.causes) if stats.causes is not None else []
    reported = [rc for rc in causes if rc.state != "noise"]
    root = probe.origin.folders
    classes = {SECTIONS[c]: [_row(rc, root) for rc in reported if rc.shown.cls == c] for c in (1, 2, 3)}
    counted = counts(classes, config.strict)
    return {
        **counted,
        # why there is no verdict, in one line, or None: the fuzz command then exits 2
        "no_verdict": no_verdict(counted, stats.cases, classes, stats.idle()),
        "classes": classes,
        "cleared_by_reproducer": [_row(rc, root) for rc in causes if rc.state == "noise"],
        "cases": stats.cases,
        "nodes": stats.checks,  # node checks: one per node per input point, value and gradient
        "seconds": round(stats.seconds, 3),
        "cases_per_second": round(stats.cases / s, 1),
        "op_checks_per_second": round(stats.checks / s),
        "op_checks_per_second_per_worker": round(stats.checks / s / max(config.workers, 1)),
        # per CPU-second of the workers' cases: what one core does, however loaded the machine is
        "op_checks_per_cpu_second": round(stats.checks / max(stats.cpu, 1e-9)),
        "cpu_seconds": round(stats.cpu, 3),
        "python_float_points": stats.domain,
        "noise": stats.noise,
        "coverage": cov,
        "op_counts": dict(stats.ops),  # what `report` sums over shards
        "pair_counts": {f"{a}<{b}": n for (a, b), n in stats.pairs.items()},  # parent<child
        "kinds": dict(stats.by_kind),
        "points": stats.points,
        "engine_output": {"printed_characters": stats.printed, "file_descriptor_bytes": stats.dropped},
        "seed": config.seed,
        "shard": f"{config.shard[0]}/{config.shard[1]}",
        "engine": config.engine,
        "engine_file": probe.origin.file,
        "engine_is_this_projects_micrograd": probe.origin.ours,
        "ops": [o for o, p in probe.ops.items() if p.status in ("ok", "broken")],
        "skipped_ops": {o: p.reason for o, p in probe.ops.items() if p.status in ("absent", "unprobed")},
        "broken_ops": {o: f"{p.kind}: {p.reason}" for o, p in probe.ops.items() if p.status == "broken"},
        "tamper": probe.tamper,
        "strict": config.strict,
        "kind": config.kind,
        "workers": config.workers,
        "worker_restarts": stats.respawns,
        "restarts": dict(stats.restarts),  # why each worker was replaced: how it died, or why it was killed
        "stopped": stats.stopped,
        "out": str(config.out),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


CAMPAIGNS = "campaigns"  # the folder of --out where each campaign leaves its summary, for `report`


def record(summary):
    """Leave the summary in its --out, atomically (many shards or machines may share --out):
    OUT/campaigns/<host>-<pid>-seed<seed>-shard<K>of<N>.json."""
    folder = pathlib.Path(summary["out"]) / CAMPAIGNS
    folder.mkdir(parents=True, exist_ok=True)
    k, n = summary["shard"].split("/")
    final = folder / f"{summary['host']}-{summary['pid']}-seed{summary['seed']}-shard{k}of{n}.json"
    tmp = folder / f".{final.name}.tmp"
    tmp.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, final)
    return final


def counts(classes, strict):
    """{"findings": the root causes that count, "could_not_confirm": those that would, but whose
    reproducer could not run} of a summary's classes. A root cause counts when it is of class 1 or
    2 (3 too when strict) and confirmed by its reproducer, or saved by an earlier run, or shown as
    found when no time was left to run its reproducer."""
    rows = [r for c, name in SECTIONS.items() if c < 3 or strict for r in classes[name]]
    failed = sum(r["state"] == "could-not-confirm" for r in rows)
    return {"findings": len(rows) - failed, "could_not_confirm": failed}


def no_verdict(counted, cases, classes, idle=""):
    """Why a campaign (or a report of several) reached no verdict, in one line, or None. Root causes
    that count are a verdict; so are finished cases that found none. A campaign that finished no case
    has not shown the engine right, and one whose root causes could not be confirmed has not shown
    it wrong. idle: why no case finished, when the caller knows."""
    if counted["findings"]:
        return None
    if not cases:
        return f"no case finished: {idle}" if idle else "no case finished"
    if counted["could_not_confirm"]:
        rows = [r for rows in classes.values() for r in rows if r["state"] == "could-not-confirm"]
        n = len(rows)
        return (f"{n} root cause{'s' * (n != 1)} found and none could be confirmed: its reproducer did not run "
                f"({rows[0]['reason']})")
    return None


def merged_classes(summaries):
    """The root causes of several campaigns' summaries, each once ({section: rows}, most symptoms
    first): its symptoms and kinds summed, its best class, its best reproducer (the best class,
    then a confirmed one, then the smallest, then the first found); "campaigns": how many found it."""
    found = {}
    for s in summaries:
        for section in SECTIONS.values():
            for row in s["classes"][section]:
                found.setdefault(row["key"], []).append(row)

    def rank(r):
        return (r["class"], r["state"] not in ("confirmed", "taken"), r["ops"] if r["ops"] is not None else 1e9,
                r["seconds"])
    rows = []
    for same in found.values():
        best = dict(min(same, key=rank))
        best["symptoms"] = sum(r["symptoms"] for r in same)
        best["kinds"] = dict(sum((Counter(r["kinds"]) for r in same), Counter()))
        best["campaigns"] = len(same)
        rows.append(best)
    return {name: sorted((r for r in rows if r["class"] == c), key=lambda r: -r["symptoms"])
            for c, name in SECTIONS.items()}


def _row(rc, root):
    c = rc.shown
    return {"class": c.cls, "cause": c.category, "detail": c.detail, "method": c.method, "file": c.file,
            "line": c.line, "source": c.source, "where": c.where(root), "summary": c.summary, "symptoms": rc.symptoms,
            "kinds": dict(rc.kinds), "state": rc.state, "case": rc.case, "seconds": round(rc.seconds, 3),
            "reproducer": str(rc.reproducer) if rc.reproducer else None, "json": str(rc.path) if rc.path else None,
            "ops": rc.shown_size,  # the published case's, which the row describes
            "key": rc.key, "output": rc.output, "reproducer_output": rc.reproducer_output, "reason": rc.reason}


def _cause_lines(row):
    c = row
    lines = [f"  {c['summary']}"]
    if c["where"]:
        lines.append(f"    at {c['where']}")
    state = {"confirmed": "", "taken": " (already saved by an earlier run)",
             "written": " (class 3: written, not run; --strict runs it)",
             "unconfirmed": " (not confirmed: no time was left to run its reproducer)",
             "saving": " (not confirmed: no time was left to run its reproducer)",
             "could-not-confirm": f" (could not confirm: {c.get('reason') or 'its reproducer did not run'}; "
                                  f"not counted)"}.get(c["state"], "")
    size = f", {c['ops']} op{'s' * (c['ops'] != 1)}" if c["ops"] is not None else ""
    repro = f"reproducer {c['reproducer']}{size}" if c["reproducer"] else "no reproducer saved"
    lines.append(f"    {c['symptoms']:,} case{'s' * (c['symptoms'] != 1)}; {repro}{state}")
    return lines


def print_summary(summary):
    """The summary as a learner reads it: what was run, then the root causes by class."""
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
        ("noise", f"{summary['noise']:,} points flagged by the batch comparison, cleared by the local re-check; "
                  f"{len(summary['cleared_by_reproducer'])} root cause(s) cleared by their own reproducer"),
    ]
    out = summary["engine_output"]
    if out["printed_characters"] or out["file_descriptor_bytes"]:
        rows.append(("engine output", f"{out['printed_characters']:,} characters printed and "
                                      f"{out['file_descriptor_bytes']:,} bytes written by the engine, not shown "
                                      f"(the tail of a finding's case is in its .json)"))
    if summary["worker_restarts"]:
        why = ", ".join(f"{n:,} {reason}" for reason, n in sorted(summary.get("restarts", {}).items(),
                                                                   key=lambda item: -item[1]))
        rows.append(("worker restarts", f"{summary['worker_restarts']:,}" + (f": {why}" if why else "")))
    classes = summary["classes"]
    counted = summary["findings"]
    by_class = [sum(r["state"] != "could-not-confirm" for r in classes[name]) for name in ("ordinary", "edge")]
    rows.append(("root causes", (f"none, and no verdict: {summary['no_verdict']}" if not summary["cases"] else
                                 f"{counted} that count") + (f" ({by_class[0]} class 1, {by_class[1]} class 2)"
                                                              if counted else "")
                 + (f"; {len(classes['python_float'])} of class 3" + ("" if summary["strict"] else " (shown apart)")
                    if classes["python_float"] else "")
                 + (f"; {summary['could_not_confirm']} could not be confirmed (its reproducer did not run: not "
                    f"counted)" if summary.get("could_not_confirm") else "")))
    same = f"--seed {summary['seed']} --shard {summary['shard']}"
    if summary["kind"] != "all":
        same += f" --kind {summary['kind']}"
    if summary["engine"] != DEFAULT_ENGINE:
        same += f" --engine {summary['engine']}"
    if len(summary["ops"]) + len(summary["skipped_ops"]) != len(OPS):  # --ops was given
        same += f" --ops {','.join(summary['ops'] + list(summary['skipped_ops']))}"
    if not summary["cases"]:
        rows.append(("stopped", summary["stopped"]))  # nothing to run again
    elif summary["stopped"] == "interrupted":  # cases still running were dropped: not quite a prefix
        rows.append(("stopped", f"interrupted; the same cases again: python -m oracle fuzz {same}"))
    else:
        rows.append(("stopped", f"{summary['stopped']}; this run again: python -m oracle fuzz {same} "
                                f"--cases {summary['cases']}"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for c, section in ((1, "ordinary"), (2, "edge"), (3, "python_float")):
        if classes[section]:
            print(f"\nclass {c}: {CLASSES[c]}" + (" (not counted without --strict)" if c == 3 and not
                                                  summary["strict"] else ""))
            for row in classes[section]:
                for line in _cause_lines(row):
                    print(line)

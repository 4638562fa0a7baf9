"""`python -m oracle report DIR`: one summary of the campaigns that shared a findings folder.

Shards of one campaign on many machines (a CI matrix, a Slurm job array, a Kubernetes Indexed Job)
write their findings to one shared --out, and each leaves its summary in DIR/campaigns/. This reads
them and prints the merged summary: cases, node checks and CPU time summed, op coverage recomputed
from the summed counts, and each root cause counted once however many shards found it, with its
symptoms summed, its best class, and its best reproducer (the best class, then a confirmed one,
then the smallest).
Exit status: 0 no root cause that counts, 1 some, 2 a folder with no campaign in it, or no verdict (no
case finished in any campaign, or root causes found, none of which a reproducer could confirm).
"""
import json
import pathlib
import sys
from collections import Counter

from oracle.cli import UsageError, write_json
from oracle.fuzz.summary import CAMPAIGNS, SECTIONS, _cause_lines, counts, coverage, merged_classes, no_verdict


def configure(parser):
    parser.description = __doc__.split("\n\n", 1)[1].rsplit("\n", 2)[0]
    parser.add_argument("dir", metavar="DIR", help="the --out that the campaigns shared")
    parser.add_argument("--json", metavar="FILE", help="also write the merged summary as JSON to FILE (- for stdout)")


def main(args):
    try:
        merged = merge(load(args.dir))
    except UsageError as e:
        print(f"python -m oracle report: error: {e}", file=sys.stderr)
        return 2
    if args.json == "-":
        json.dump(merged, sys.stdout, indent=1)
        print()
    else:
        print_report(merged)
        if args.json:
            write_json(args.json, merged)
    if merged["findings"]:
        return 1
    if merged["no_verdict"]:
        print(f"python -m oracle report: no verdict: {merged['no_verdict']}", file=sys.stderr)
        return 2
    return 0


def load(folder):
    """The summaries the campaigns left in folder/campaigns/; UsageError when there are none."""
    where = pathlib.Path(folder) / CAMPAIGNS
    if not pathlib.Path(folder).is_dir():
        raise UsageError(f"{folder} is not a folder")
    summaries = []
    for path in sorted(where.glob("*.json")) if where.is_dir() else []:
        try:
            summaries.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise UsageError(f"{path}: not a campaign's summary ({e})") from None
    if not summaries:
        raise UsageError(f"{folder} holds no campaign's summary ({where} is empty or missing): give the --out "
                         f"that the campaigns wrote to")
    return summaries


def merge(summaries):
    """One summary from many campaigns' (see the module docstring)."""
    engines = sorted({s["engine"] for s in summaries})
    if len(engines) > 1:
        raise UsageError(f"the campaigns tested different engines ({', '.join(engines)}): report them apart")
    strict = any(s["strict"] for s in summaries)
    ops = sorted({o for s in summaries for o in s["ops"]})
    op_counts = sum((Counter(s.get("op_counts", {})) for s in summaries), Counter())
    pairs = sum((Counter(s.get("pair_counts", {})) for s in summaries), Counter())
    classes = merged_classes(summaries)
    total = {key: sum(s[key] for s in summaries) for key in ("cases", "nodes", "points", "noise", "cpu_seconds",
                                                            "python_float_points")}
    counted = counts(classes, strict)
    return {
        **counted,
        "no_verdict": no_verdict(counted, total["cases"], classes),
        "classes": classes,
        **total,
        "seconds": max(s["seconds"] for s in summaries),  # the shards ran side by side
        "op_checks_per_cpu_second": round(total["nodes"] / max(total["cpu_seconds"], 1e-9)),
        "coverage": coverage(op_counts, [tuple(p.split("<")) for p in pairs], ops),
        "engine": engines[0],
        "strict": strict,
        "campaigns": [{"host": s.get("host"), "seed": s["seed"], "shard": s["shard"], "cases": s["cases"],
                       "stopped": s["stopped"]} for s in summaries],
    }


def print_report(merged):
    cov = merged["coverage"]
    shards = ", ".join(sorted({c["shard"] for c in merged["campaigns"]}))
    seeds = ", ".join(str(s) for s in sorted({c["seed"] for c in merged["campaigns"]}))
    print(f"{len(merged['campaigns'])} campaign(s) of engine {merged['engine']} (seed {seeds}; shards {shards})")
    print(f"cases             {merged['cases']:,}; {merged['nodes']:,} nodes checked "
          f"({merged['op_checks_per_cpu_second']:,} per CPU-second of cases)")
    print(f"op coverage       {cov['ops_seen']}/{cov['ops_enabled']} ops; op pairs {cov['pairs_seen']}/"
          f"{cov['pairs_possible']}")
    classes = merged["classes"]
    print(f"root causes       {merged['findings']} that count"
          + (f"; {len(classes['python_float'])} of class 3" if classes["python_float"] else "")
          + (f"; {merged['could_not_confirm']} could not be confirmed (not counted)" if merged["could_not_confirm"]
             else ""))
    for c, name in SECTIONS.items():
        if classes[name]:
            print(f"\nclass {c}:")
            for row in classes[name]:
                for line in _cause_lines(row):
                    print(line)
                print(f"    found by {row['campaigns']} campaign(s)")

"""What the per-engine benchmarks (bench_diagnosis.py, bench_sandbox.py) share: their command line
(--only, --seconds, --json) and their table, one row per engine, printed and optionally saved."""
import argparse
import json
import pathlib


def parse_args(description, engines, what):
    """(args, the engine names to run): --only picks some of `engines` (named `what` in messages)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--only", help=f"comma-separated {what} (default: all)")
    parser.add_argument("--seconds", type=float, default=10.0, help="each campaign's budget (default: 10)")
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(engines)
    unknown = [n for n in names if n not in engines]
    if unknown:
        parser.error(f"not {what}: {', '.join(unknown)}")
    return args, names


def print_table(title, header, rows, json_path=None):
    """The title, then the rows (dicts keyed by header; None shows as -) in aligned columns; the rows
    as JSON to json_path too, if given."""
    cells = [["-" if r[h] is None else str(r[h]) for h in header] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    print(title)
    for line in [header, *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    if json_path:
        pathlib.Path(json_path).write_text(json.dumps(rows, indent=1) + "\n")

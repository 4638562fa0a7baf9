"""`python -m oracle selftest`: does the fuzzer find known bugs? Each mutant of `oracle.fuzz.mutants` is
micrograd with one planted bug; the fuzzer runs against each (in this process, one core, a fixed
seed) until its first finding, and a table says which mutants were found, how fast, and how small
the reduced reproducer is.

    python -m oracle selftest                       # every mutant, up to 10 s each
    python -m oracle selftest --only tanh_grad,no_topo --seconds-per-mutant 30

Exit status: 0 when every mutant is found, 1 when one is missed, 2 on bad usage.
"""
import contextlib
import os
import sys
import tempfile
import time

from oracle.cli import name_list, positive, write_json
from oracle.fuzz.command import KIND_CHOICES

SEED = 1  # a fixed seed: the table is the same every run on the same code


def _mutants(text):
    from oracle.fuzz.mutants import MUTANTS
    return name_list(text, MUTANTS, "mutant")


def configure(parser):
    parser.description = ("Plant each known bug (oracle.fuzz.mutants) in a copy of micrograd and check that the fuzzer "
                          "finds it: one mutant after another, in this process, each with its own budget. "
                          "Exit status: 0 every mutant found, 1 one missed, 2 bad usage.")
    parser.add_argument("--only", type=_mutants, metavar="NAME,...",
                        help="comma-separated mutants to run (default: all)")
    parser.add_argument("--seconds-per-mutant", type=positive(float), default=10.0, metavar="S",
                        help="budget per mutant (default: %(default)s)")
    parser.add_argument("--out", metavar="DIR",
                        help="where root causes are saved (default: a temporary folder, removed at the end)")
    parser.add_argument("--seed", type=int, default=SEED, metavar="N",
                        help="the campaigns' seed (default: %(default)s)")
    parser.add_argument("--kind", choices=KIND_CHOICES, default="expr",
                        help="what the fuzzer generates (default: %(default)s, so that every finding is a "
                             "program with a reduced reproducer)")
    parser.add_argument("--timeout", type=positive(float), default=2.0, metavar="S",
                        help="seconds a case may run before it is a timeout finding (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON to FILE")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")


def main(args):
    from oracle.fuzz.mutants import MUTANTS
    if args.list:
        for name, description in MUTANTS.items():
            print(f"{name:<18} {description}")
        return 0
    names = args.only or list(MUTANTS)
    rows = []
    with contextlib.ExitStack() as scratch:  # without --out, the findings go with the temporary folder
        out = args.out or scratch.enter_context(tempfile.TemporaryDirectory(prefix="oracle-selftest-"))
        try:
            for name in names:
                rows.append(run_mutant(name, args.seconds_per_mutant, os.path.join(out, name), args.seed,
                                       args.timeout, args.kind))
                _progress(rows[-1])
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
        _print_table(rows, args.seconds_per_mutant)
    if args.out:
        print(f"root causes saved in {out}")
    if args.json:
        write_json(args.json, rows)
    return 0 if len(rows) == len(names) and all(r["found"] for r in rows) else 1


def run_mutant(name, seconds, out, seed=SEED, timeout=2.0, kind="expr"):
    """One campaign against mutant `name`, stopped at its first root cause: a row of the table."""
    from oracle.fuzz import campaign
    from oracle.fuzz.causes import UNCOUNTED
    from oracle.fuzz.mutants import MUTANTS
    from oracle.ops import OPS
    config = campaign.Config(engine=f"oracle.fuzz.mutants:{name}", seed=seed, kind=kind, workers=0, strict=True,
                             seconds=seconds, max_findings=1, out=out, timeout=timeout)
    start = time.monotonic()
    run = campaign.Campaign(config)
    try:
        stats = run.run(run.probe(tuple(OPS)).generated())
    finally:
        run.close()
    found = [rc for rc in stats.causes if rc.state not in UNCOUNTED]  # one its reproducer did not confirm is not found
    row = {"mutant": name, "description": MUTANTS[name], "found": bool(found), "seconds": None,
           "cases": stats.cases, "cause": None, "where": None, "ops": None, "path": None,
           "total_seconds": round(time.monotonic() - start, 2)}
    if found:
        rc = found[0]
        row.update(seconds=round(rc.seconds, 2), cause=rc.cause.summary, where=rc.cause.where(), ops=rc.size,
                   path=str(rc.path) if rc.path else None, case=rc.case, reproducer_fails=rc.state == "confirmed",
                   root_causes=len(found))
    return row


def _progress(row):
    what = f"found in {row['seconds']:.2f} s: {row['cause']}" if row["found"] else "NOT FOUND"
    print(f"{row['mutant']}: {what}", file=sys.stderr, flush=True)


def _print_table(rows, budget):
    header = ("mutant", "found", "seconds to find", "reduced size", "reproducer exits 1", "root cause at")
    yes_no = {True: "yes", False: "NO", None: "-"}
    lines = [(r["mutant"], "yes" if r["found"] else "NO",
              f"{r['seconds']:.2f}" if r["found"] else f"> {budget:g}",
              "-" if r["ops"] is None else f"{r['ops']} ops", yes_no[r.get("reproducer_fails")],
              (r["where"] or r["cause"] or "-")[:70]) for r in rows]
    found = sum(r["found"] for r in rows)
    title = f"selftest: {found}/{len(rows)} mutants found"
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        table = Table(*header, title=title, title_justify="left")
        for line in lines:
            table.add_row(*line, style=None if line[1] == "yes" else "bold red")
        Console().print(table)
        return
    widths = [max(len(x) for x in col) for col in zip(header, *lines)]
    print(title)
    for line in (header, *lines):
        print("  ".join(x.ljust(w) for x, w in zip(line, widths)).rstrip())


if __name__ == "__main__":  # python -m oracle selftest is the usual way; this runs it directly
    from oracle.cli import Parser  # bad usage as one line, as under python -m oracle
    parser = Parser(prog="python -m oracle.fuzz.selftest")
    configure(parser)
    sys.exit(main(parser.parse_args()))

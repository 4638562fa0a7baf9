"""`python -m oracle selftest`: does the fuzzer find known bugs, and only them? Each mutant of
`oracle.fuzz.mutants` is micrograd with one planted bug; the fuzzer runs against each (in this
process, one core, a fixed seed) until its first root cause.

A mutant is *found* only when the campaign reports exactly one root cause and it is the planted one:
it names the mutated function (its def, or a line the mutation wrote) in the class the bug belongs
to, its reproducer fails on the mutant (confirmed) and passes on micrograd. Before the mutants, the
same campaign runs on micrograd itself as a control: any root cause it finds (even one its own
reproducer clears) means the oracle, torch or the harness is broken, and the selftest fails.

    python -m oracle selftest                       # the control, then every mutant, up to 10 s each
    python -m oracle selftest --only tanh_grad,no_topo --seconds-per-mutant 30

Exit status: 0 when the control is clean and every mutant is found, 1 otherwise, 2 on bad usage.
"""
import contextlib
import os
import sys
import tempfile
import time

from oracle.cli import name_list, positive, write_json
from oracle.fuzz.command import KIND_CHOICES

SEED = 1  # a fixed seed: the table is the same every run on the same code
CONTROL = "micrograd.engine:Value"  # the engine every mutant is a copy of: the control, and its reproducers' fix
PASS_TIMEOUT = 60.0  # seconds a reproducer may take on the control engine


def _mutants(text):
    from oracle.fuzz.mutants import MUTANTS
    return name_list(text, MUTANTS, "mutant")


def configure(parser):
    parser.description = ("Check the fuzzer on known bugs: first a control campaign on micrograd itself, which "
                          "must report no root cause; then one campaign per mutant (oracle.fuzz.mutants: micrograd "
                          "with one planted bug), which must report that bug and no other: the mutated function, "
                          "in its class, with a reproducer that fails on the mutant and passes on micrograd. "
                          "Exit status: 0 control clean and every mutant found, 1 otherwise, 2 bad usage.")
    parser.add_argument("--only", type=_mutants, metavar="NAME,...",
                        help="comma-separated mutants to run (default: all)")
    parser.add_argument("--seconds-per-mutant", type=positive(float), default=10.0, metavar="S",
                        help="budget per mutant, and the control's unless --control-seconds (default: %(default)s)")
    parser.add_argument("--control-seconds", type=positive(float), metavar="S",
                        help="the control campaign's budget (default: --seconds-per-mutant)")
    parser.add_argument("--out", metavar="DIR",
                        help="where root causes are saved, one folder per campaign (default: a temporary "
                             "folder, removed at the end)")
    parser.add_argument("--seed", type=int, default=SEED, metavar="N",
                        help="the campaigns' seed (default: %(default)s)")
    parser.add_argument("--kind", choices=KIND_CHOICES, default="expr",
                        help="what the fuzzer generates (default: %(default)s, so that every finding is a "
                             "program with a reduced reproducer)")
    parser.add_argument("--timeout", type=positive(float), default=2.0, metavar="S",
                        help="seconds a case may run before it is a timeout finding (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write the control and the table as JSON to FILE")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")


def main(args):
    from oracle.fuzz.mutants import MUTANTS, expected
    if args.list:
        for name, description in MUTANTS.items():
            print(f"{name:<18} {description}  [{expected(name)}]")
        return 0
    names = args.only or list(MUTANTS)
    rows, control = [], None
    with contextlib.ExitStack() as scratch:  # without --out, the findings go with the temporary folder
        out = os.path.abspath(args.out or scratch.enter_context(tempfile.TemporaryDirectory(prefix="oracle-selftest-")))
        try:
            control = run_control(args.control_seconds or args.seconds_per_mutant, os.path.join(out, "control"),
                                  args.seed, args.timeout, args.kind)
            print(f"control (micrograd): {_control_line(control)}", file=sys.stderr, flush=True)
            for name in names:
                rows.append(run_mutant(name, args.seconds_per_mutant, os.path.join(out, name), args.seed,
                                       args.timeout, args.kind))
                _progress(rows[-1])
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
        _print_table(control, rows, args.seconds_per_mutant)
    if args.out:
        print(f"root causes saved in {out}")
    if args.json:
        write_json(args.json, {"control": control, "mutants": rows})
    ok = control is not None and control["clean"] and len(rows) == len(names) and all(r["found"] for r in rows)
    return 0 if ok else 1


def _campaign(engine, seconds, out, seed, timeout, kind):
    """One campaign against `engine`, stopped at its first root cause: its Stats."""
    import torch  # noqa: F401  the cases run in this process: import it before the budget's clock starts

    from oracle.fuzz import campaign, records
    from oracle.ops import OPS
    config = records.Config(engine=engine, seed=seed, kind=kind, workers=0, strict=True, seconds=seconds,
                            max_findings=1, out=out, timeout=timeout)
    run = campaign.Campaign(config)
    try:
        return run.run(run.probe(tuple(OPS)).generated())
    finally:
        run.close()


def run_control(seconds, out, seed=SEED, timeout=2.0, kind="expr"):
    """The campaign on unmutated micrograd: clean when it ran cases and found no root cause at all
    (not even one its own reproducer cleared: micrograd follows torch, so the oracle has nothing to
    flag)."""
    start = time.monotonic()
    stats = _campaign(CONTROL, seconds, out, seed, timeout, kind)
    reported = list(stats.causes)
    return {"engine": CONTROL, "clean": stats.cases > 0 and not reported, "cases": stats.cases,
            "causes": [f"{rc.state}: {rc.shown.summary}" for rc in reported],
            "total_seconds": round(time.monotonic() - start, 2)}


def run_mutant(name, seconds, out, seed=SEED, timeout=2.0, kind="expr"):
    """One campaign against mutant `name`, stopped at its first root cause: a row of the table."""
    from oracle.fuzz.causes import UNCOUNTED
    from oracle.fuzz.mutants import MUTANTS, expected
    want = expected(name)
    start = time.monotonic()
    stats = _campaign(f"oracle.fuzz.mutants:{name}", seconds, out, seed, timeout, kind)
    reported = [rc for rc in stats.causes if rc.state not in UNCOUNTED]
    row = {"mutant": name, "description": MUTANTS[name], "expected": str(want), "found": False, "got": None,
           "problem": None, "seconds": None, "cases": stats.cases, "cause": None, "where": None, "ops": None,
           "path": None, "reproducer_fails": None, "passes_on_micrograd": None, "root_causes": len(reported),
           "total_seconds": None}
    mine = [rc for rc in reported if want.mismatch(rc.shown) is None]
    rc = (mine or reported or [None])[0]
    if rc is None:
        row["problem"] = "no root cause" if stats.cases else "no case ran"
    else:
        c = rc.shown
        row.update(got=_named(c), seconds=round(rc.seconds, 2), cause=c.summary, where=c.where(), ops=rc.shown_size,
                   path=str(rc.path) if rc.path else None, case=rc.case, reproducer_fails=rc.state == "confirmed")
        on_fix = None  # why its reproducer fails on micrograd, when it does
        if rc.state == "confirmed":
            on_fix = _fails_on_control(rc)
            row["passes_on_micrograd"] = on_fix is None
        row["problem"] = _problem(rc, want, mine, reported, on_fix)
        row["found"] = row["problem"] is None
    row["total_seconds"] = round(time.monotonic() - start, 2)
    return row


def _fails_on_control(rc):
    """None when rc's confirmed reproducer passes (verdict pass, exit 0) on micrograd, the mutant's
    fix; else what its run said."""
    from oracle.fuzz.confirm import confirm
    outcome = confirm(rc.reproducer, rc.published.finding.kind, PASS_TIMEOUT, args=[CONTROL])
    if outcome.state == "noise":
        return None
    return outcome.reason or f"it exits {outcome.exit}"


def _problem(rc, want, mine, reported, on_fix):
    """Why the row is not a find, on one line; None when it is."""
    if not mine:
        return f"not the planted bug: {want.mismatch(rc.shown)}"
    if len(reported) > 1:
        return f"{len(reported) - 1} other root cause(s) reported besides it"
    if rc.state != "confirmed":
        return f"its reproducer did not confirm it ({rc.state}{': ' + rc.reason if rc.reason else ''})"
    if on_fix is not None:
        return f"its reproducer fails on micrograd too ({on_fix})"
    return None


def _named(c):
    """A cause as the table shows it, comparable with the expected one: function (line), class."""
    return f"{c.method or c.category}{f' (line {c.line})' if c.line else ''}, class {c.cls}"


def _control_line(control):
    if control["clean"]:
        return f"clean ({control['cases']} cases, no root cause)"
    if not control["cases"]:
        return "NOT CLEAN: no case ran"
    return f"NOT CLEAN: {len(control['causes'])} root cause(s) on the unmutated engine: {control['causes'][0]}"


def _progress(row):
    what = f"found in {row['seconds']:.2f} s: {row['got']}" if row["found"] else f"NOT FOUND: {row['problem']}"
    print(f"{row['mutant']}: {what}", file=sys.stderr, flush=True)


def _print_table(control, rows, budget):
    header = ("mutant", "found", "seconds to find", "reduced size", "expected root cause", "got", "problem")
    lines = [(r["mutant"], "yes" if r["found"] else "NO",
              f"{r['seconds']:.2f}" if r["seconds"] is not None else f"> {budget:g}",
              "-" if r["ops"] is None else f"{r['ops']} ops", r["expected"], r["got"] or "-",
              (r["problem"] or "")[:70]) for r in rows]
    found = sum(r["found"] for r in rows)
    control_line = "control (micrograd): " + (_control_line(control) if control else "not run")
    title = f"selftest: {found}/{len(rows)} mutants found"
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        console = Console()
        console.print(control_line, style=None if control and control["clean"] else "bold red")
        table = Table(*header, title=title, title_justify="left")
        for line in lines:
            table.add_row(*line, style=None if line[1] == "yes" else "bold red")
        console.print(table)
        return
    print(control_line)
    widths = [max(len(x) for x in col) for col in zip(header, *lines)]
    print(title)
    for line in (header, *lines):
        print("  ".join(x.ljust(w) for x, w in zip(line, widths)).rstrip())


if __name__ == "__main__":  # python -m oracle selftest is the usual way; this runs it directly
    from oracle.cli import Parser  # bad usage as one line, as under python -m oracle
    parser = Parser(prog="python -m oracle.fuzz.selftest")
    configure(parser)
    sys.exit(main(parser.parse_args()))

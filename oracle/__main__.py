"""`python -m oracle COMMAND`: the oracle's command line.

  fuzz           run a fuzz campaign against an engine (default: micrograd)
  selftest       check the fuzzer finds each mutant of micrograd as its own bug, and nothing on micrograd
  compare        run a micrograd program in micrograd and PyTorch side by side
  train-compare  train an MLP in micrograd and PyTorch from the same weights
  report         merge the summaries of the campaigns (shards, machines) that shared --out

Each command's module has `configure(parser)` and `main(args) -> exit code`, and each command needs
one extra of pyproject.toml (report, which only reads JSON, none): without it, `--help` still works,
and running it says in one line what to install (exit code 2); so does a package of an extra that is
there but fails to import. Any other error of a command is one line too, "internal error" (exit
code 2; ORACLE_DEBUG=1 shows its traceback), and output piped into a reader that stops early ends it
quietly.
"""
import importlib
import os
import sys

from oracle.cli import Parser, failed_import, missing_extra, one_line

COMMANDS = {  # command -> (module, the extra it needs, one-line help)
    "fuzz": ("oracle.fuzz.command", "oracle", "run a fuzz campaign against an engine (default: micrograd)"),
    "selftest": ("oracle.fuzz.selftest", "oracle",
                 "check the fuzzer finds each mutant of micrograd as its own bug, and nothing on micrograd"),
    "compare": ("oracle.teach.compare", "oracle", "run a micrograd program in micrograd and PyTorch side by side"),
    "train-compare": ("oracle.teach.train_compare", "train",
                      "train an MLP in micrograd and PyTorch from the same weights"),
    "report": ("oracle.fuzz.report", None,
               "merge the summaries of the campaigns (shards, machines) that shared --out"),
}


def main(argv=None):
    parser = Parser(prog="python -m oracle", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = {}
    for name, (modname, _, help_) in COMMANDS.items():
        try:
            modules[name] = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name != modname:
                raise
            continue  # a command not built yet
        modules[name].configure(sub.add_parser(name, help=help_, description=help_))
    args = parser.parse_args(argv)
    extra = COMMANDS[args.command][1]
    problem = missing_extra(extra)
    if problem:
        print(f"{parser.prog} {args.command}: {problem}", file=sys.stderr)
        return 2
    try:
        return modules[args.command].main(args)
    except BrokenPipeError:  # the reader went away (`| head`): run() ends quietly
        raise
    except Exception as e:  # never a traceback: one line, and ORACLE_DEBUG=1 to see it
        problem = failed_import(e, extra)  # an extra's package that is there but does not import
        if problem:
            print(f"{parser.prog} {args.command}: {problem}", file=sys.stderr)
            return 2
        if os.environ.get("ORACLE_DEBUG"):
            raise
        print(f"{parser.prog} {args.command}: internal error, please report it: {type(e).__name__}: "
              f"{one_line(e)} (ORACLE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 2


def run(argv=None):
    """main() as a program: its exit status; output piped into a reader that stops early (`| head`)
    ends it quietly, as it does a Unix tool."""
    try:
        code = main(argv)
        sys.stdout.flush()  # here, so that a closed pipe is caught now and not at interpreter exit
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to write, nor to flush
        return 1


if __name__ == "__main__":
    sys.exit(run())

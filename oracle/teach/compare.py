"""`python -m oracle compare FILE`: run a micrograd program in micrograd and in PyTorch float64, side by side.

FILE (`-` for stdin; `--example NAME` for one shipped with oracle) is written as micrograd's README
writes one: leaves made with `Value(number)` (an optional `label='..'`), `+ - * / **` with numbers on
either side, unary minus, `+= -= *= /=`, `.relu() .tanh() .exp() .log() .sigmoid() .abs()`, and
optionally a last line `X.backward()`. The output is X, or else the variable the last line assigns.
Lines `X.label = '..'` (names in the --graph) and `from micrograd.engine import Value` (so the
README pastes as is) are accepted too.

The text is never executed. It is parsed with `ast` and every node is checked against a whitelist,
then lowered into the oracle's SSA `Program`, which runs in micrograd and in PyTorch float64
through the same op templates. Anything outside the whitelist, or past a size limit, is refused
with exit code 2 and one line on stderr naming the line and column.

Prints every variable's data and grad from both engines and their differences (rows that are not
close are marked), then the same program as standalone PyTorch code. Exit 0 when every node agrees,
1 when one does not, 2 on bad input.
"""
import argparse
import sys

from oracle.teach.examples import EXAMPLES, example_source
from oracle.teach.graph import check_graph, render_graph
from oracle.teach.parse import parse
from oracle.teach.source import CompareError, read_source
from oracle.teach.table import report, run

EXAMPLE = """\
examples:

  $ python -m oracle compare --example readme --graph readme.svg    # the micrograd README's program
  $ python -m oracle compare --list-examples
  $ echo 'x = Value(0.5); y = (x * 2).tanh()' | python -m oracle compare -

exit status: 0 every node agrees, 1 some node does not, 2 bad input or usage
"""


def configure(parser):
    parser.description = __doc__.split("\n\n", 1)[1]
    parser.epilog = EXAMPLE
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    program = parser.add_mutually_exclusive_group(required=True)
    program.add_argument("file", metavar="FILE", nargs="?", help="the micrograd program; - reads stdin")
    program.add_argument("--example", choices=EXAMPLES, help="one of the example programs shipped with oracle")
    program.add_argument("--list-examples", action="store_true", help="list the example programs and exit")
    parser.add_argument("--graph", metavar="OUT", help="also draw the micrograd graph with torch's gradients to "
                                                       "OUT.svg or OUT.png (needs the viz extra and Graphviz's dot)")
    parser.add_argument("--all", action="store_true", help="a row for every node, not just the variables")
    parser.add_argument("--no-color", action="store_true",
                        help="no colours on a terminal (NO_COLOR in the environment works too)")


def compare(text, Engine=None, out=None, rich_console=None, show_all=False, graph=None):
    """Parse, run both engines, print the report (and draw the graph); return the exit status.
    CompareError for bad input. Engine replaces micrograd's Value, e.g. to test the tool itself."""
    out = out if out is not None else sys.stdout
    if graph:
        check_graph(graph)
    parsed = parse(text)
    cmp = run(parsed, Engine)
    report(parsed, cmp, out, rich_console, show_all)
    if graph:
        try:
            render_graph(parsed, cmp, graph, Engine)
        except (OSError, RuntimeError, ValueError) as e:  # graphviz's errors derive from these
            raise CompareError(f"--graph {graph}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return 0 if cmp.ok else 1


def main(args):
    if args.list_examples:
        for name, what in EXAMPLES.items():
            print(f"{name:<8} {what}")
        return 0
    console = None
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            console = Console(no_color=args.no_color)
        except ImportError:
            pass
    try:
        if args.graph:
            check_graph(args.graph)  # refuse a --graph that cannot be drawn before the work, not after
        text = example_source(args.example) if args.example else read_source(args.file)
        return compare(text, out=sys.stdout, rich_console=console, show_all=args.all, graph=args.graph)
    except CompareError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2

"""The side-by-side comparison of `compare`: the program run in micrograd (or a given engine) and
in PyTorch float64, every node's data and grad from both, the local check's verdict where they
differ, and the table and summary that show it.
"""
import math
from dataclasses import dataclass

from oracle.ops import OPS
from oracle.teach.torch_code import torch_source


@dataclass
class Comparison:
    data: list | None  # micrograd's value of every node (None: micrograd failed)
    grad: list | None  # micrograd's gradient of the output with respect to every node
    tdata: list  # the same from PyTorch float64
    tgrad: list
    bad_data: list  # per node: the values are not close
    bad_grad: list  # per node: the gradients are not close
    error: str = ""  # how micrograd failed, if it did
    verdict: str = ""  # when some node disagrees: the local check's conclusion

    @property
    def ok(self):
        return not self.error and not any(self.bad_data) and not any(self.bad_grad)

    @property
    def bad(self):
        return [d or g for d, g in zip(self.bad_data, self.bad_grad)]


def describe(parsed, k):
    """Node k for a person: `c (line 6: c = c + t9)`."""
    p = parsed.program
    if k < p.n_inputs:
        return f"{parsed.display(k)} (line {parsed.lines[k]}, a leaf)"
    ins = p.instrs[k - p.n_inputs]
    names = parsed.code_names
    expr = OPS[ins.op].source([names[a] for a in ins.args], ins.c)
    return f"{parsed.display(k)} (line {parsed.lines[k]}: {names[k]} = {expr})"


def run(parsed, Engine=None):
    """Forward and backward in the engine (micrograd's Value unless given) and in PyTorch float64."""
    # Imported here, not at the top: bad input is refused without waiting for torch to load.
    import numpy as np

    from oracle.backends import EngineError, engine_run, torch_run
    from oracle.check import close, local_check

    if Engine is None:
        from micrograd.engine import Value as Engine
    p, xs = parsed.program, parsed.inputs
    tv, tg = torch_run(p, np.array(xs, dtype=np.float64).reshape(-1, 1))
    tv, tg = tv[:, 0], tg[:, 0]
    n = p.n_nodes
    try:
        data, grad = engine_run(p, xs, Engine)
    except EngineError as e:
        where = "the backward pass" if e.node == "backward" else describe(parsed, e.node)
        return Comparison(None, None, tv.tolist(), tg.tolist(), [False] * n, [False] * n,
                          error=f"micrograd failed ({e.kind}) at {where}: {e.detail}")
    cmp = Comparison(data, grad, tv.tolist(), tg.tolist(), (~close(data, tv)).tolist(), (~close(grad, tg)).tolist())
    if not cmp.ok:
        finding = local_check(p, xs, data, grad, tv, tg)
        if finding is None:
            cmp.verdict = ("Every node passes the local check (each op recomputed by torch from micrograd's own "
                           "operands and upstream gradients): the differences are float64 rounding, amplified by "
                           "the program.")
        else:
            what = "value" if finding.kind == "value" else "gradient"
            cmp.verdict = (f"The first node that is wrong on its own is the {what} of "
                           f"{describe(parsed, finding.node)}: micrograd={finding.engine!r}. {finding.detail}")
    return cmp


# --- the report ---

def _fmt(x):
    return "-" if x is None else f"{x:.10g}"


def _diff(a, b):
    if a is None:
        return "-"
    if a == b or (a != a and b != b):
        return "0"
    return f"{abs(a - b):.1e}" if math.isfinite(a) and math.isfinite(b) else "-"


def _count(n, one, many=None):
    return f"{n} {one if n == 1 else many or one + 's'}"


HEADER = ("variable", "line", "micrograd data", "torch data", "diff", "micrograd grad", "torch grad", "diff", "")


def table_rows(parsed, cmp, show_all=False):
    """The table's rows as strings: every variable (or with show_all every node) and any node that
    disagrees, each with both engines' data and grad and their absolute differences."""
    if show_all:
        nodes = [(parsed.display(k), k) for k in range(parsed.program.n_nodes)]
    else:
        nodes = list(parsed.variables.items())
        shown = set(parsed.variables.values())
        nodes += [(parsed.display(k), k) for k, bad in enumerate(cmp.bad) if bad and k not in shown]
        nodes.sort(key=lambda row: (parsed.lines[row[1]], row[1]))  # top to bottom, as the source reads
    rows = []
    for name, k in nodes:
        d = None if cmp.data is None else cmp.data[k]
        g = None if cmp.grad is None else cmp.grad[k]
        mark = ", ".join(w for w, bad in (("data", cmp.bad_data[k]), ("grad", cmp.bad_grad[k])) if bad)
        rows.append((name, str(parsed.lines[k]), _fmt(d), _fmt(cmp.tdata[k]), _diff(d, cmp.tdata[k]),
                     _fmt(g), _fmt(cmp.tgrad[k]), _diff(g, cmp.tgrad[k]), f"<- {mark} not close" if mark else ""))
    return rows


def summary(parsed, cmp):
    from oracle.check import ATOL, RTOL

    p = parsed.program
    if cmp.error:
        return cmp.error
    if cmp.ok:
        same = sum(a == b or (a != a and b != b) for a, b in zip(cmp.data + cmp.grad, cmp.tdata + cmp.tgrad))
        return (f"All {p.n_nodes} nodes agree within |a-b| <= {ATOL:g} + {RTOL:g}*max(|a|,|b|) "
                f"({same} of {2 * p.n_nodes} values and gradients bitwise equal).")
    return (f"{sum(cmp.bad)} of {p.n_nodes} nodes disagree (values: {sum(cmp.bad_data)}, gradients: "
            f"{sum(cmp.bad_grad)}).\n{cmp.verdict}")


def report(parsed, cmp, out, rich_console=None, show_all=False):
    """Header, table, summary and the torch code, to out (a rich Console gets a rich table)."""
    p = parsed.program
    head = (f"micrograd vs PyTorch float64: {_count(p.n_inputs, 'leaf', 'leaves')}, {_count(len(p), 'op')}, "
            f"output {parsed.output} (line {parsed.lines[-1]})")
    rows = table_rows(parsed, cmp, show_all)
    if rich_console is not None:
        from rich.table import Table
        from rich.text import Text  # cells as Text: nothing in them is read as rich markup

        table = Table(title=head, title_justify="left")
        for i, h in enumerate(HEADER):
            table.add_column(h, justify="left" if i == 0 or i == len(HEADER) - 1 else "right")
        for row in rows:
            table.add_row(*map(Text, row), style="bold red" if row[-1] else None)
        rich_console.print(table)
        rich_console.print(summary(parsed, cmp), style=None if cmp.ok else "bold red", highlight=False, markup=False)
        rich_console.print()
        # soft_wrap: long lines stay whole, so the code pastes as it is
        rich_console.print(torch_source(parsed), end="", highlight=False, markup=False, soft_wrap=True)
        return
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    print(head, file=out)
    print(file=out)
    for row in [HEADER, *rows]:
        left = (0, len(HEADER) - 1)  # names and marks read left to right; numbers line up on the right
        cells = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        print("  ".join(cells).rstrip(), file=out)
    print(file=out)
    print(summary(parsed, cmp), file=out)
    print(file=out)
    print(torch_source(parsed), end="", file=out)

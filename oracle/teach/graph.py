"""The graph picture of `compare`: micrograd's graph (micrograd.viz.draw_dot) with torch's numbers
beside micrograd's, and the nodes that disagree highlighted.
"""
import importlib
import shutil

from oracle.cli import failed_import, missing_extra, not_installed, pip_install
from oracle.program import evaluate
from oracle.teach.source import CompareError

GRAPH_FORMATS = ("svg", "png")
PACKAGE = ("the graphviz Python package", pip_install("viz"))
DOT = ("Graphviz's dot program", "apt-get install graphviz (or your OS's Graphviz package)")


def graph_format(path):
    """svg or png, from OUT's suffix; CompareError for anything else."""
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if fmt not in GRAPH_FORMATS:
        raise CompareError(f"--graph {path}: the file name must end in .svg or .png")
    return fmt


def check_graph(path):
    """Everything --graph OUT needs, before any work: OUT's suffix, the graphviz Python package (which
    builds the graph, and must import) and Graphviz's dot program (which draws it). CompareError saying
    what is missing and how to install it; the format otherwise."""
    fmt = graph_format(path)
    missing = [piece for piece, gone in ((PACKAGE, missing_extra("viz")), (DOT, shutil.which("dot") is None)) if gone]
    if missing:
        names, installs = zip(*missing)
        raise CompareError(f"--graph {not_installed(list(names), ' and '.join(installs))}")
    try:  # there, but it may not import (a broken install, a missing system library): ~20 ms to know now
        importlib.import_module("graphviz")
    except Exception as e:
        raise CompareError(f"--graph {failed_import(e, 'viz') or f'cannot import graphviz: {e}'}") from None
    return fmt


def render_graph(parsed, cmp, path, Engine=None):
    """The micrograd graph (micrograd.viz.draw_dot) with torch's numbers beside micrograd's and the
    disagreeing nodes highlighted, written to path in the format its suffix names."""
    from micrograd.viz import draw_dot, trace

    if Engine is None:
        from micrograd.engine import Value as Engine
    p = parsed.program
    nodes = evaluate(p, [Engine(x) for x in parsed.inputs])  # again, to have the Values themselves
    nodes[-1].backward()
    for k, v in enumerate(nodes):
        try:
            v.label = parsed.labels[k] or parsed.display(k)
        except AttributeError:  # an engine whose Value has no label
            pass
    in_graph = {id(v) for v in trace(nodes[-1])[0]}  # micrograd's own inner nodes (a - b is a + b*-1) too
    extra, highlight = {}, []
    for k, v in enumerate(nodes):
        if id(v) not in in_graph:
            continue  # a leaf or a value the output does not depend on is not in the graph
        text = f"torch grad {cmp.tgrad[k]:.4f}"
        if cmp.bad_data[k]:
            text = f"torch data {cmp.tdata[k]:.4f}, " + text
        extra[v] = text
        if cmp.bad[k]:
            highlight.append(v)
    dot = draw_dot(nodes[-1], format=graph_format(path), extra=extra, highlight=highlight)
    with open(path, "wb") as f:
        f.write(dot.pipe())

"""Draw the computation graph behind a Value with Graphviz, as micrograd's trace_graph.ipynb and the
nn-zero-to-hero lecture do.

    from micrograd.viz import draw_dot
    dot = draw_dot(loss)               # a graphviz.Digraph: a notebook cell displays it
    dot.render('loss', format='png')   # or write it to loss.png

Each Value is a record `{ label | data | grad }` (no label field when the Value has none). A Value
made by an op gets a small node for the op, with an edge into the Value, and an edge from each
operand into that op node. Building the Digraph needs the `graphviz` Python package (imported only
when drawing, so this module always imports); rendering it also needs Graphviz's `dot` program.
"""
from micrograd import DISTRIBUTION

RANKDIRS = ('LR', 'TB')  # left to right, top to bottom
HIGHLIGHT_COLOR = 'orange'  # fill of the nodes passed as highlight=, e.g. where two engines disagree


def trace(root):
    """All nodes and edges of root's graph, as two lists: the nodes children first (operands in
    order, the order backward() runs in reverse), and the (child, parent) edges in that same order.

    Lists rather than the lecture's sets, so every run draws the same graph. An operand used twice
    (`a * a`) is one edge, as in the lecture. Walks with an explicit stack: deep graphs need no recursion.
    """
    if not all(hasattr(root, attr) for attr in ('data', 'grad', '_prev', '_op')):
        raise TypeError(f"trace: root must be a Value, got {type(root).__name__}")
    nodes, edges, visited, linked = [], [], set(), set()
    stack = [(root, False)]
    while stack:
        v, expanded = stack.pop()
        if expanded:
            nodes.append(v)
            for child in v._prev:
                if (id(child), id(v)) not in linked:
                    linked.add((id(child), id(v)))
                    edges.append((child, v))
        elif id(v) not in visited:  # by id: nothing here relies on how a Value defines ==
            visited.add(id(v))
            stack.append((v, True))
            for child in reversed(tuple(v._prev)):  # reversed, so the first operand is expanded first
                if id(child) not in visited:
                    stack.append((child, False))
    return nodes, edges


def _escape(text):
    """text as literal record-field text: {, }, |, < and > would otherwise split or shape the record."""
    text = str(text)
    for c in '{}|<>':
        text = text.replace(c, '\\' + c)
    return text


def draw_dot(root, format='svg', rankdir='LR', *, extra=None, highlight=()):
    """root's graph as a graphviz.Digraph.

    format: the output format for render()/pipe(): svg, png, pdf, ...
    rankdir: 'LR' (left to right) or 'TB' (top to bottom)
    extra: {Value: text}, one more field in those Values' records, e.g. {v: 'torch grad 1.0000'}
    highlight: Values to fill in HIGHLIGHT_COLOR
    With neither extra nor highlight the DOT source is the notebook's, line for line.
    """
    if not isinstance(format, str) or not format:
        raise ValueError(f"draw_dot: format must be a Graphviz output format name such as 'svg' or 'png', "
                         f"got {format!r:.60}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_dot: rankdir must be 'LR' (left to right) or 'TB' (top to bottom), got {rankdir!r:.60}")
    nodes, edges = trace(root)
    in_graph = {id(n) for n in nodes}
    # keyed by id, like trace(); a Value passed here that is not in root's graph is surely a mistake
    extra = {id(v): str(text) for v, text in (extra or {}).items()}
    highlight = {id(v) for v in highlight}
    for name, given in (('extra', extra), ('highlight', highlight)):
        strays = len(set(given) - in_graph)
        if strays:
            raise ValueError(f"draw_dot: {strays} of the Values in {name} are not in the graph of root")

    try:
        from graphviz import Digraph
    except ImportError:
        raise ImportError(f"draw_dot needs the graphviz Python package (pip install '{DISTRIBUTION}[viz]'), "
                          "and Graphviz's dot program to render (apt-get install graphviz)") from None
    try:
        dot = Digraph(format=format, graph_attr={'rankdir': rankdir})
    except ValueError as e:  # graphviz knows the format names
        raise ValueError(f"draw_dot: {e}") from None

    for n in nodes:
        uid = str(id(n))
        # for any value in the graph, create a rectangular ('record') node for it
        label = getattr(n, 'label', '')  # 0.1.0's Value has no label
        fields = ([_escape(label)] if label else []) + [f"data {n.data:.4f}", f"grad {n.grad:.4f}"]
        if id(n) in extra:
            fields.append(_escape(extra[id(n)]))
        attrs = {'style': 'filled', 'fillcolor': HIGHLIGHT_COLOR} if id(n) in highlight else {}
        dot.node(name=uid, label="{ " + " | ".join(fields) + " }", shape='record', **attrs)
        if n._op:
            # if this value is a result of some operation, create an op node for it, and connect it
            dot.node(name=uid + n._op, label=n._op)
            dot.edge(uid + n._op, uid)

    for n1, n2 in edges:
        # connect n1 to the op node of n2
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)

    return dot

"""draw_dot and trace: the notebooks' graphs node for node and edge for edge, and rendered for real by
Graphviz's dot, to SVG and PNG."""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import micrograd
from micrograd.engine import Value
from micrograd.viz import HIGHLIGHT_COLOR, draw_dot, trace
from tests.graphs import lecture_neuron, readme_graph

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's dot program is not installed (apt-get install graphviz); CI installs it, so these run there")


@pytest.fixture
def graphviz():
    return pytest.importorskip("graphviz")


GRAPHS = {'readme': readme_graph, 'lecture': lecture_neuron}


# --- the notebooks' own code, as the reference (sets, recursion, no escaping) ---

def notebook_trace(root):
    nodes, edges = set(), set()

    def build(v):
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)
    build(root)
    return nodes, edges


def notebook_draw_dot(root, format='svg', rankdir='LR'):
    """trace_graph.ipynb's draw_dot when no node has a label, the lecture's when they all do."""
    from graphviz import Digraph
    nodes, edges = notebook_trace(root)
    dot = Digraph(format=format, graph_attr={'rankdir': rankdir})
    for n in nodes:
        if n.label:
            label = f"{{ {n.label} | data {n.data:.4f} | grad {n.grad:.4f} }}"
        else:
            label = f"{{ data {n.data:.4f} | grad {n.grad:.4f} }}"
        dot.node(name=str(id(n)), label=label, shape='record')
        if n._op:
            dot.node(name=str(id(n)) + n._op, label=n._op)
            dot.edge(str(id(n)) + n._op, str(id(n)))
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


# --- trace ---

@pytest.mark.parametrize("name", GRAPHS)
def test_trace_finds_every_node_and_edge_once(name):
    root = GRAPHS[name]()
    nodes, edges = trace(root)
    want_nodes, want_edges = notebook_trace(root)
    assert len(nodes) == len(want_nodes) and set(nodes) == want_nodes
    assert len(edges) == len(want_edges) and set(edges) == want_edges


@pytest.mark.parametrize("name", GRAPHS)
def test_trace_lists_children_before_parents_and_root_last(name):
    nodes, edges = trace(GRAPHS[name]())
    position = {id(n): i for i, n in enumerate(nodes)}
    assert all(position[id(child)] < position[id(parent)] for child, parent in edges)
    assert nodes[-1]._op in ('+', 'tanh')  # the root: g += ..., o = n.tanh()


@pytest.mark.parametrize("name", GRAPHS)
def test_trace_order_is_the_same_every_run(name):
    def shape(root):
        nodes, edges = trace(root)
        index = {id(n): i for i, n in enumerate(nodes)}
        return ([(n._op, n.label, n.data) for n in nodes],
                [(index[id(child)], index[id(parent)]) for child, parent in edges])
    assert shape(GRAPHS[name]()) == shape(GRAPHS[name]())


def test_trace_draws_a_reused_operand_as_one_edge():
    a = Value(3.0)
    nodes, edges = trace(a * a)
    assert len(nodes) == 2 and len(edges) == 1


def test_trace_needs_no_recursion_on_a_deep_chain():
    x = Value(0.5)
    y = x
    depth = 5 * sys.getrecursionlimit()
    for _ in range(depth):
        y = y + 1.0
    nodes, edges = trace(y)
    assert nodes[0] is x and nodes[-1] is y
    assert len(nodes) == 1 + 2 * depth and len(edges) == 2 * depth  # each `+` adds itself and a constant


def test_trace_rejects_a_non_value():
    with pytest.raises(TypeError, match="root must be a Value, got float"):
        trace(1.0)


# --- draw_dot's DOT source ---

@pytest.mark.parametrize("name", GRAPHS)
def test_draw_dot_source_is_the_notebooks(graphviz, name):
    root = GRAPHS[name]()
    dot, want = draw_dot(root), notebook_draw_dot(root)
    assert dot.format == want.format == 'svg'
    assert dot.graph_attr == want.graph_attr == {'rankdir': 'LR'}
    assert sorted(dot.body) == sorted(want.body)  # the notebook's order comes from a set


def test_draw_dot_counts_a_record_per_value_an_op_node_per_op_and_their_edges(graphviz):
    root = readme_graph()
    nodes, edges = trace(root)
    ops = [n for n in nodes if n._op]
    body = draw_dot(root).body
    assert sum('shape=record' in line for line in body) == len(nodes)
    assert sum('->' in line for line in body) == len(edges) + len(ops)
    assert len(body) == len(nodes) + 2 * len(ops) + len(edges)


def test_draw_dot_names_the_power_op_as_the_engine_does(graphviz):
    x = Value(3.0)
    body = draw_dot(x**2).body
    assert any('[label="**2"]' in line for line in body)


def test_draw_dot_passes_format_and_rankdir_on(graphviz):
    dot = draw_dot(lecture_neuron(), format='png', rankdir='TB')
    assert dot.format == 'png' and dot.graph_attr == {'rankdir': 'TB'}


@pytest.mark.parametrize("kwargs, message", [
    ({'rankdir': 'RL'}, "rankdir must be 'LR' .* or 'TB'"),
    ({'rankdir': None}, "rankdir must be"),
    ({'format': 3}, "format must be a Graphviz output format name"),
    ({'format': ''}, "format must be"),
    ({'format': 'svgg'}, "svgg"),
])
def test_draw_dot_rejects_bad_arguments(graphviz, kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw_dot(lecture_neuron(), **kwargs)


def test_draw_dot_rejects_extra_and_highlight_outside_the_graph(graphviz):
    root, stranger = lecture_neuron(), Value(1.0)
    with pytest.raises(ValueError, match="1 of the Values in highlight are not in the graph"):
        draw_dot(root, highlight=[root, stranger])
    with pytest.raises(ValueError, match="1 of the Values in extra are not in the graph"):
        draw_dot(root, extra={stranger: 'torch grad 1.0000'})


def test_draw_dot_highlight_and_extra_change_only_their_nodes(graphviz):
    root = lecture_neuron()
    n = root._prev[0]
    plain = draw_dot(root).body
    marked = draw_dot(root, highlight=[n], extra={root: 'torch grad 1.0000'}).body
    changed = [(before, after) for before, after in zip(plain, marked, strict=True) if before != after]
    assert changed == [
        (f'\t{id(n)} [label="{{ n | data 0.8814 | grad 0.5000 }}" shape=record]\n',
         f'\t{id(n)} [label="{{ n | data 0.8814 | grad 0.5000 }}" fillcolor={HIGHLIGHT_COLOR} shape=record '
         'style=filled]\n'),
        (f'\t{id(root)} [label="{{ o | data 0.7071 | grad 1.0000 }}" shape=record]\n',
         f'\t{id(root)} [label="{{ o | data 0.7071 | grad 1.0000 | torch grad 1.0000 }}" shape=record]\n'),
    ]


def test_import_never_needs_graphviz():
    # a fresh interpreter in which `import graphviz` fails
    root = Path(micrograd.__file__).resolve().parent.parent
    code = ("import sys; sys.modules['graphviz'] = None\n"
            "import micrograd.viz as viz\n"
            "from micrograd.engine import Value\n"
            "assert len(viz.trace(Value(2.0) * 3)[0]) == 3\n"
            "try:\n"
            "    viz.draw_dot(Value(1.0))\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(root), os.environ.get('PYTHONPATH', '')])}
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "draw_dot needs the graphviz Python package (pip install 'micrograd-oracle[viz]')" in out.stdout


# --- rendered by dot ---

def svg_nodes_and_edges(dot):
    """The rendered SVG's node groups as {title: [texts]}, and how many edge groups it has."""
    svg = ET.fromstring(dot.pipe(format='svg'))
    ns = {'svg': 'http://www.w3.org/2000/svg'}
    nodes, edges = {}, 0
    for g in svg.iter('{http://www.w3.org/2000/svg}g'):
        if g.get('class') == 'node':
            nodes[g.find('svg:title', ns).text] = g
        elif g.get('class') == 'edge':
            edges += 1
    return nodes, edges


def texts(g):
    return [t.text for t in g.iter('{http://www.w3.org/2000/svg}text')]


@needs_dot
@pytest.mark.parametrize("name", GRAPHS)
def test_svg_has_a_node_per_value_and_op_and_every_edge(graphviz, name):
    root = GRAPHS[name]()
    nodes, edges = trace(root)
    ops = [n for n in nodes if n._op]
    svg_nodes, svg_edges = svg_nodes_and_edges(draw_dot(root))
    assert len(svg_nodes) == len(nodes) + len(ops)
    assert svg_edges == len(edges) + len(ops)
    for n in nodes:  # each record shows the Value's own numbers
        assert texts(svg_nodes[str(id(n))])[-2:] == [f"data {n.data:.4f}", f"grad {n.grad:.4f}"]


@needs_dot
def test_svg_shows_the_lecture_labels_and_numbers(graphviz):
    svg_nodes, _ = svg_nodes_and_edges(draw_dot(lecture_neuron()))
    records = {texts(g)[0]: texts(g)[1:] for g in svg_nodes.values() if len(texts(g)) == 3}
    assert records == {
        'x1': ['data 2.0000', 'grad -1.5000'],
        'w1': ['data -3.0000', 'grad 1.0000'],
        'x2': ['data 0.0000', 'grad 0.5000'],
        'w2': ['data 1.0000', 'grad 0.0000'],
        'x1*w1': ['data -6.0000', 'grad 0.5000'],
        'x2*w2': ['data 0.0000', 'grad 0.5000'],
        'x1*w1 + x2*w2': ['data -6.0000', 'grad 0.5000'],
        'b': ['data 6.8814', 'grad 0.5000'],
        'n': ['data 0.8814', 'grad 0.5000'],
        'o': ['data 0.7071', 'grad 1.0000'],
    }
    ops = sorted(texts(g)[0] for g in svg_nodes.values() if len(texts(g)) == 1)
    assert ops == ['*', '*', '+', '+', 'tanh']


@needs_dot
def test_svg_shows_the_readme_numbers_and_ops(graphviz):
    svg_nodes, _ = svg_nodes_and_edges(draw_dot(readme_graph()))
    shown = [t for g in svg_nodes.values() for t in texts(g)]
    for text in ['data 24.7041', 'grad 1.0000', 'data -4.0000', 'grad 138.8338', 'data 2.0000', 'grad 645.5773',
                 '**2', '**3', '**-1', 'ReLU', '/']:
        assert text in shown


@needs_dot
def test_rankdir_turns_the_picture(graphviz):
    def size(rankdir):
        svg = ET.fromstring(draw_dot(readme_graph(), rankdir=rankdir).pipe(format='svg'))
        return float(svg.get('width').removesuffix('pt')), float(svg.get('height').removesuffix('pt'))
    (w_lr, h_lr), (w_tb, h_tb) = size('LR'), size('TB')
    assert w_lr > h_lr and h_tb > w_tb


@needs_dot
def test_highlight_fills_only_the_highlighted_nodes(graphviz):
    root = lecture_neuron()
    n = root._prev[0]
    b = n._prev[1]

    def filled(dot):
        svg_nodes, _ = svg_nodes_and_edges(dot)
        return {title for title, g in svg_nodes.items()
                if any(p.get('fill') == HIGHLIGHT_COLOR for p in g.iter('{http://www.w3.org/2000/svg}polygon'))}
    assert filled(draw_dot(root)) == set()
    assert filled(draw_dot(root, highlight=[n, b])) == {str(id(n)), str(id(b))}


@needs_dot
def test_extra_text_and_special_characters_render_inside_one_field(graphviz):
    x = Value(1.5, label='a|b {c} <d>')
    y = x * 2
    svg_nodes, _ = svg_nodes_and_edges(draw_dot(y, extra={y: 'torch grad 1.0000', x: 'x|y'}))
    assert texts(svg_nodes[str(id(x))]) == ['a|b {c} <d>', 'data 1.5000', 'grad 0.0000', 'x|y']
    assert texts(svg_nodes[str(id(y))]) == ['data 3.0000', 'grad 0.0000', 'torch grad 1.0000']


@needs_dot
def test_png_renders_to_a_file(graphviz, tmp_path):
    path = draw_dot(lecture_neuron(), format='png').render(tmp_path / 'neuron')
    data = Path(path).read_bytes()
    assert Path(path).suffix == '.png'
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 1000

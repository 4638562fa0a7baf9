"""oracle.fuzz.graph reads an engine's graph wherever the engine keeps a node's children: under
`_prev` or the names learners give them, in a tuple, a list or a set; and measures how deep the
graph it built is, by identity."""
import math

import pytest

from oracle.fuzz import graph


def engine(name, holder):
    """A small engine that keeps each node's children as `name`, in a `holder` (tuple, list, set)."""

    class Node:
        def __init__(self, data, children=(), op=""):
            self.data, self.grad, self._op = data, 0.0, op
            setattr(self, name, holder(children))

        def __add__(self, other):
            return Node(self.data + other.data, (self, other), "+")

        def __mul__(self, other):
            return Node(self.data * other.data, (self, other), "*")

        def __pow__(self, other):
            return Node(self.data ** other.data, (self, other), "**")

        def tanh(self):
            return Node(math.tanh(self.data), (self,), "tanh")
    return Node


@pytest.mark.parametrize("holder", [tuple, list, set])
@pytest.mark.parametrize("name", graph.CHILDREN)
def test_children_are_found_under_every_name_in_every_container(name, holder):
    Node = engine(name, holder)
    x, y = Node(0.5), Node(-2.0)
    out = (x * y + x).tanh()
    assert graph.has_graph(out) and graph.children_attr(out) == name
    assert len(graph.nodes(out)) == 5 and graph.depth(out) == 4
    assert [graph.semantics(v).op.name for v in graph.nodes(out) if graph.children(v)] == ["mul", "add", "tanh"]
    assert graph.semantics(graph.nodes(out)[2]).ordered is (holder is not set)  # x * y


@pytest.mark.parametrize("name", ["_prev", "parents"])
def test_the_depth_is_that_of_the_longest_path_of_the_graph_the_engine_built(name):
    Node = engine(name, list)
    x = out = Node(1.0)
    for _ in range(3000):  # deeper than Python's recursion limit: measured without recursion
        out = out + x
    assert graph.depth(out) == 3001 and len(graph.nodes(out)) == 3001


def test_a_container_of_numbers_is_not_a_nodes_children():
    """An engine's `inputs` that holds numbers (not nodes) is not where its children are."""
    Node = engine("parents", tuple)
    x = Node(1.0)
    x.inputs = [1.0, 2.0]
    out = x * x
    out.inputs = (3.0,)
    assert graph.children_attr(out) == "parents" and graph.children(out) == (x, x)


def test_an_engine_that_keeps_its_children_under_no_known_name_hides_its_graph():
    Node = engine("kids", tuple)
    out = Node(1.0) * Node(2.0)
    assert (graph.has_graph(out), graph.children(out), graph.nodes(out), graph.depth(out)) == (False, (), [out], 1)


def test_a_power_of_a_node_by_itself_in_a_set_is_told_from_its_value():
    """x ** x kept in a set has one child: it is x ** x when its value says so (else c ** x, not known)."""
    Node = engine("_prev", set)
    x = Node(0.5)
    sem = graph.semantics(x ** x)
    assert (sem.op.name, sem.operands, sem.ordered) == ("pow", (x, x), True)
    other = Node(0.5 ** 2.0, (x,), "**")  # 2 ** x? x ** 2? not x ** x: not known
    assert graph.semantics(other) is None
    two = Node(2.0)
    c = 2.0
    rpow = Node(c ** two.data, (two,), "**")  # 2 ** x at x = 2 has the value of x ** x: its rule says c ** x
    rpow._backward = lambda: setattr(two, "grad", two.grad + math.log(c) * rpow.data * rpow.grad)
    assert graph.semantics(rpow) is None
    tupled = engine("_prev", tuple)(2.0)
    assert graph.semantics(tupled.__class__(4.0, (tupled,), "**")) is None  # one child of a tuple: c ** x

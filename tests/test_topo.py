"""oracle.fuzz.topo: the order a backward() builds, watched, and blamed on the function that builds it
only when the list itself is wrong."""
import pytest

pytest.importorskip("mpmath", reason="the oracle needs its extra: pip install -e '.[oracle]'")

from micrograd.engine import Value  # noqa: E402
from oracle.fuzz import graph, topo  # noqa: E402


def graph_with_a_shared_node():
    a = Value(0.5)
    t = a.exp()  # used twice
    return t * t.tanh()


def watched(builder):
    """Run a backward() that builds its order with `builder` and returns; the Fault found."""
    out = graph_with_a_shared_node()
    nodes = graph.nodes(out)

    def backward():
        order = builder(out)  # noqa: F841 (backward's own list: never the builder's fault)

    orders = topo.Orders(nodes)
    orders.run(backward)
    inner = [v for v in nodes if graph.children(v)]
    return orders.fault(out, inner, graph.place_of(backward), lambda v: "node")


def right(out):
    order = graph.nodes(out)
    return order


def parents_first(out):
    order = graph.nodes(out)[::-1]
    return order


def twice(out):
    """The shared node placed once per use."""
    order = graph.nodes(out)
    order.append(order[1])
    return order


def leaves_one_out(out):
    """The shared node left out."""
    order = [v for v in graph.nodes(out) if v._op != "exp"]
    return order


def scrambled(out):
    """Neither children first nor parents first: the output in the middle."""
    order = graph.nodes(out)
    order.insert(1, order.pop())
    return order


def test_a_right_order_blames_no_builder():
    assert watched(right) is None
    assert watched(parents_first) is None  # which way round is for backward()'s loop to know


@pytest.mark.parametrize("builder, detail, says", [(twice, "visited", "2 times"),
                                                    (leaves_one_out, "visited", "leaves out"),
                                                    (scrambled, "order", "not topological")])
def test_a_wrong_order_is_blamed_on_the_function_that_built_it(builder, detail, says):
    fault = watched(builder)
    assert fault is not None and fault.detail == detail and says in fault.summary, fault
    assert fault.place.function == builder.__name__ and fault.place.first == builder.__code__.co_firstlineno


def test_a_list_without_the_output_is_not_an_order():
    def children_only(out):
        order = [v for v in graph.nodes(out) if v is not out]
        return order

    assert watched(children_only) is None

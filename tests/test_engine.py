"""The engine on its own (no torch needed): 0.1.0's and the lecture's numbers, operand reuse,
repeated backward, determinism, the deep chain and bad input."""
import math
import random
import sys

import pytest

from micrograd.engine import Value
from tests.graphs import lecture_example, readme_example


def test_readme_example_matches_micrograd_0_1_0():
    a, b, g = readme_example()
    assert f"{g.data:.4f} {a.grad:.4f} {b.grad:.4f}" == "24.7041 138.8338 645.5773"
    assert (g.data, a.grad, b.grad) == (24.70408163265306, 138.83381924198252, 645.5772594752186)


def test_lecture_neuron():
    v = lecture_example()
    got = [v['o'].data, v['x1'].grad, v['w1'].grad, v['x2'].grad, v['w2'].grad]
    want = [0.7071067811865476, -1.5, 1.0, 0.5, 0.0]
    # math.tanh is 1 ulp above torch's value here; the lecture rounds to 4 places
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert v['o']._op == 'tanh' and v['n']._prev == (v['x1*w1 + x2*w2'], v['b'])


def test_lecture_backward_by_hand_equals_backward():
    def neuron():
        x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
        x1w1, x2w2 = x1*w1, x2*w2
        x1w1x2w2 = x1w1 + x2w2
        n = x1w1x2w2 + Value(6.8813735870195432)
        return n.tanh(), [x1, x2, w1, w2], [n, x1w1x2w2, x2w2, x1w1]
    o, leaves, interior = neuron()
    o.grad = 1.0
    o._backward()
    for node in interior:  # the lecture's order: o, n, then the products
        node._backward()
    for leaf in leaves:
        leaf._backward()  # a leaf's _backward does nothing
    o2, leaves2, _ = neuron()
    o2.backward()
    assert [v.grad for v in leaves] == [v.grad for v in leaves2]


def test_lecture_reuse_example():
    a, b = Value(-2.0), Value(3.0)
    d = a * b
    e = a + b
    f = d * e
    f.backward()
    assert (a.grad, b.grad) == (-3.0, -8.0)


@pytest.mark.parametrize("f, dfdx", [
    (lambda x: x + x, lambda x: 2.0),
    (lambda x: x * x, lambda x: 2 * x),
    (lambda x: x - x, lambda x: 0.0),
    (lambda x: x / x, lambda x: 0.0),
    (lambda x: x ** x, lambda x: x**x * (math.log(x) + 1)),
    (lambda x: (x * 2.0) * (x + 1.0), lambda x: 4 * x + 2),  # a diamond
], ids=["a+a", "a*a", "a-a", "a/a", "a**a", "diamond"])
def test_operand_reuse_accumulates_under_another_op(f, dfdx):
    x = Value(1.7)
    y = f(x).tanh()  # placed under tanh, so the reused node's upstream gradient is not 1
    y.backward()
    want = (1 - math.tanh(f(Value(1.7)).data) ** 2) * dfdx(1.7)
    assert x.grad == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_second_backward_adds_exactly_one_more_gradient():
    x, y = Value(1.5), Value(-0.5)
    z = (x * y + x).tanh() * y
    z.backward()
    once = (x.grad, y.grad)
    z.backward()
    assert (x.grad, y.grad) == (2 * once[0], 2 * once[1])


def test_same_program_gives_identical_bits_every_run():
    def run(seed):
        rng = random.Random(seed)
        xs = [Value(rng.uniform(-2, 2)) for _ in range(5)]
        nodes = list(xs)
        for _ in range(200):
            a, b = rng.choice(nodes), rng.choice(nodes)
            nodes.append(rng.choice([a + b, a * b, (a * b).tanh()]))
        out = sum(nodes[-20:])
        out.backward()
        return [v.grad.hex() for v in xs] + [out.data.hex()]
    assert run(7) == run(7)


def test_children_are_an_ordered_tuple():
    a, b = Value(1.0), Value(2.0)
    assert (a * b)._prev == (a, b)
    assert (b * a)._prev == (b, a)
    assert (a ** 2)._prev == (a,)
    assert Value(3.0)._prev == ()


def test_backward_through_a_chain_a_hundred_times_deeper_than_the_recursion_limit():
    x = Value(0.5)
    v = x
    for _ in range(100 * sys.getrecursionlimit()):  # a recursive walk would stop a hundredth of the way
        v = v + 0.0
    v.backward()
    assert x.grad == 1.0


def test_grad_starts_at_zero_and_data_is_a_float():
    v = Value(3)
    assert type(v.data) is float and v.grad == 0.0
    assert repr(v) == "Value(data=3.0, grad=0.0)"


@pytest.mark.parametrize("data", [True, 2, 2.5, -0.0, math.inf])
def test_numbers_are_accepted(data):
    assert Value(data).data == float(data)


def test_numpy_floats_are_accepted():
    np = pytest.importorskip("numpy")
    for x in (np.float64(1.5), np.float32(1.5), np.int64(3)):
        v = Value(x)
        assert type(v.data) is float and v.data == float(x)


@pytest.mark.parametrize("data, words", [
    ('abc', "got str"), (None, "got NoneType"), ([1.0], "got list"), (Value(2.0), "already a Value"),
    (1 + 2j, "got complex"), (10**400, "int of 401 digits does not fit a float64"),
    pytest.param(-(10**5000), "negative int of 5,001 digits", id="5001-digit-int"),  # past str()'s limit
])
def test_bad_data_is_a_type_error_that_names_it(data, words):
    with pytest.raises(TypeError, match=words):
        Value(data)


@pytest.mark.parametrize("op", [
    lambda v: v + 'x', lambda v: 'x' + v, lambda v: v * 'x', lambda v: v - 'x', lambda v: 'x' - v,
    lambda v: v / 'x', lambda v: 'x' / v, lambda v: v ** 'x', lambda v: 'x' ** v, lambda v: v * None,
])
def test_bad_operand_is_a_type_error(op):
    with pytest.raises(TypeError, match="unsupported operand|can't multiply|can only concatenate"):
        op(Value(2.0))


def test_hand_built_node_keeps_its_op_and_children():
    a, b = Value(1.0), Value(2.0)
    c = Value(3.0, (a, b), '+', label='c')
    assert c._prev == (a, b) and c._op == '+' and c.label == 'c'
    c.backward()  # a node built by hand has no rule, as in 0.1.0
    assert (a.grad, b.grad, c.grad) == (0.0, 0.0, 1.0)
    d = Value(6.0, (a, b, c), 'sum')  # 0.1.0 takes any number of children
    assert d._prev == (a, b, c)
    d.backward()
    assert d.grad == 1.0

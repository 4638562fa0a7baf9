"""Every op's value and gradients against PyTorch float64, at ordinary and singular points.

One helper carries every case: the same lambda runs on micrograd Values and on torch float64
tensors, and the value and every input's gradient must agree: non-finite values by class
(nan, +inf, -inf), zeros by sign, finite values within |a - b| <= 1e-12 + 1e-12 * max(|a|, |b|).
"""
import functools
import math

import pytest

from micrograd.engine import Value

torch = pytest.importorskip("torch")

inf, nan = math.inf, math.nan


def same(a, b, tol=1e-12):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b) or a == 0.0 or b == 0.0:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return abs(a - b) <= tol + tol * max(abs(a), abs(b))


def check(f, *xs):
    """Run f on Values and on torch float64 tensors; compare the value and every gradient."""
    vs = [Value(x) for x in xs]
    out = f(*vs)
    out.backward()
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    tout = f(*ts)
    tout.backward()
    got = [out.data] + [v.grad for v in vs]
    want = [tout.item()] + [0.0 if t.grad is None else t.grad.item() for t in ts]
    names = ["value"] + [f"grad wrt x{i}" for i in range(len(xs))]
    for name, g, w in zip(names, got, want):
        assert same(g, w), f"{name} at {xs!r}: micrograd={g!r} torch={w!r}"


ORDINARY = [-2.5, -0.7, 0.3, 1.9]
SINGULAR = [0.0, -0.0, inf, -inf, nan, 710.0, -710.0, 1e200, -1e-300, 6e161, 5e-157]

UNARY = {
    "neg": lambda x: -x,
    "relu": lambda x: x.relu(),
    "tanh": lambda x: x.tanh(),
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "sigmoid": lambda x: x.sigmoid(),
    "abs": lambda x: x.abs(),
    "abs()": lambda x: abs(x),  # Python's abs(x), through __abs__
    **{f"x**{e}": functools.partial(lambda x, e: x ** e, e=e) for e in [0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5, 2.5, -3,
                                                                         0.3, 4]},
    **{f"{c}**x": functools.partial(lambda x, c: c ** x, c=c) for c in [2.0, 0.5, 0.0, 1.0, -2.0]},
    **{f"x{o}c": f for o, f in [("+", lambda x: x + 1.5), ("-", lambda x: x - 1.5), ("*", lambda x: x * -1.5),
                                ("/", lambda x: x / -1.5)]},
    **{f"c{o}x": f for o, f in [("+", lambda x: 1.5 + x), ("-", lambda x: 1.5 - x), ("*", lambda x: -1.5 * x),
                                ("/", lambda x: 1.5 / x), ("/0", lambda x: 0.0 / x)]},
    "c/(c/x)": lambda x: 1.0 / (1.0 / x),  # torch's c / x is reciprocal(x) * c, not x ** -1 * c
}

BINARY = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "/": lambda x, y: x / y,
    "**": lambda x, y: x ** y,
}


@pytest.mark.parametrize("x", ORDINARY + SINGULAR)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_matches_torch(name, x):
    f = UNARY[name]
    check(lambda v: f(v) * 1.5, x)  # under another op, so the upstream gradient is not 1
    check(f, x)


PAIRS = [(a, b) for a in [-2.0, -0.0, 0.0, 0.5, 3.0, inf, nan] for b in [-2.0, -1.0, -0.0, 0.0, 1 / 3, 2.0, 3.0, inf]]


@pytest.mark.parametrize("x, y", PAIRS)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_matches_torch(name, x, y):
    f = BINARY[name]
    check(lambda a, b: f(a, b) * -0.75, x, y)
    check(f, x, y)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_with_the_same_operand_twice(name):
    f = BINARY[name]
    for x in ORDINARY + [0.0, 2.0]:
        check(lambda a: f(a, a).tanh(), x)


# SEMANTICS.md's measured sample, as explicit cases (value; gradients), independent of torch's build.
TABLE = [
    (lambda x: x.relu(), [0.0], 0.0, [0.0]),
    (lambda x: x.abs(), [0.0], 0.0, [0.0]),
    (lambda x: x ** 0, [0.0], 1.0, [0.0]),
    (lambda x: x ** 0.5, [0.0], 0.0, [inf]),
    (lambda x: x ** -1, [0.0], inf, [-inf]),
    (lambda x: x ** 0.5, [-2.0], nan, [nan]),
    (lambda x: x.log(), [0.0], -inf, [inf]),
    (lambda x: x.log(), [-1.0], nan, [-1.0]),
    (lambda x: x.exp(), [710.0], inf, [inf]),
    (lambda x: x.tanh(), [400.0], 1.0, [0.0]),
    (lambda x, y: x / y, [1.0, 0.0], inf, [inf, -inf]),
    (lambda x, y: x ** y, [0.0, 0.0], 1.0, [0.0, 0.0]),
    (lambda x, y: x ** y, [0.0, -1.0], inf, [-inf, -inf]),
    (lambda x, y: x ** y, [-2.0, 2.0], 4.0, [-4.0, nan]),
]


@pytest.mark.parametrize("f, xs, value, grads", TABLE)
def test_semantics_table(f, xs, value, grads):
    vs = [Value(x) for x in xs]
    out = f(*vs)
    out.backward()
    assert same(out.data, value)
    assert all(same(v.grad, g) for v, g in zip(vs, grads)), [v.grad for v in vs]

"""mse, hinge and cross_entropy: values and gradients against torch float64, and their input checks."""
import math
import random

import pytest

from micrograd.engine import Value
from micrograd.losses import cross_entropy, hinge, mse


def close(a, b):
    return abs(a - b) <= 1e-12 + 1e-12 * abs(b)


def assert_matches_torch(loss, torch_loss, inputs):
    """loss(*lists of Values) and torch_loss(*1-D tensors) agree on the value and on every gradient."""
    torch = pytest.importorskip("torch")
    values = [[Value(x) for x in xs] for xs in inputs]
    tensors = [torch.tensor(xs, dtype=torch.float64, requires_grad=True) for xs in inputs]
    out = loss(*values)
    out.backward()
    tout = torch_loss(*tensors)
    tout.backward()
    assert close(out.data, tout.item()), f"value: micrograd={out.data!r} torch={tout.item()!r}"
    for k, (vs, t) in enumerate(zip(values, tensors, strict=True)):
        for i, (v, want) in enumerate(zip(vs, t.grad.tolist(), strict=True)):
            assert close(v.grad, want), f"grad wrt input {k}[{i}]: micrograd={v.grad!r} torch={want!r}"


def draws(n, seed):
    rng = random.Random(seed)
    return [rng.uniform(-3, 3) for _ in range(n)]


# --- mse ---

@pytest.mark.parametrize("n", [1, 2, 5, 17])
def test_mse_matches_torch(n):
    torch = pytest.importorskip("torch")
    assert_matches_torch(mse, torch.nn.functional.mse_loss, [draws(n, n), draws(n, -n)])


def test_mse_by_hand():
    p = [Value(1.0), Value(-2.0)]
    loss = mse(p, [0.0, 1.0])
    loss.backward()
    assert loss.data == (1.0 + 9.0) / 2
    assert [v.grad for v in p] == [1.0, -3.0]  # 2 * (pred - target) / n


def test_mse_accepts_numbers_on_either_side():
    target = Value(2.0)
    loss = mse([3], [target])
    loss.backward()
    assert loss.data == 1.0 and target.grad == -2.0


# --- hinge ---

@pytest.mark.parametrize("n", [1, 4, 9])
def test_hinge_matches_torch(n):
    torch = pytest.importorskip("torch")
    rng = random.Random(n)
    ys = [rng.choice([-1.0, 1.0]) for _ in range(n)]
    scores = [y * rng.uniform(-2, 2) for y in ys]  # some inside the margin, some outside
    assert_matches_torch(hinge, lambda s, y: torch.relu(1 + -y * s).mean(), [scores, ys])


def test_hinge_is_the_demos_loss():
    scores = [Value(0.5), Value(-3.0), Value(2.0), Value(0.25)]
    ys = [1, -1, -1, 1]
    loss = hinge(scores, ys)
    demo_losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(ys, scores, strict=True)]
    demo = sum(demo_losses) * (1.0 / len(demo_losses))
    assert loss.data == demo.data == (0.5 + 0.0 + 3.0 + 0.75) / 4


def test_hinge_gradient_is_zero_outside_the_margin_and_at_it():
    scores = [Value(2.0), Value(1.0), Value(0.5)]  # margins 2, 1 (the kink) and 0.5 with y = 1
    hinge(scores, [1, 1, 1]).backward()
    assert [s.grad for s in scores] == [0.0, 0.0, -1 / 3]


# --- cross_entropy ---

@pytest.mark.parametrize("n, target", [(1, 0), (2, 1), (5, 0), (5, 3), (10, 9)])
def test_cross_entropy_matches_torch(n, target):
    torch = pytest.importorskip("torch")
    assert_matches_torch(lambda logits: cross_entropy(logits, target),
                         lambda logits: torch.nn.functional.cross_entropy(logits, torch.tensor(target)),
                         [draws(n, 10 * n + target)])


@pytest.mark.parametrize("logits", [[1000.0, 0.0, -1000.0], [-800.0, -790.0, -805.0], [50.0, 50.0, 50.0 + 1e-9]])
@pytest.mark.parametrize("target", [0, 2])
def test_cross_entropy_matches_torch_at_extreme_logits(logits, target):
    # exp(1000) overflows and exp(-800) underflows: only the shifted form stays finite
    torch = pytest.importorskip("torch")
    assert_matches_torch(lambda xs: cross_entropy(xs, target),
                         lambda xs: torch.nn.functional.cross_entropy(xs, torch.tensor(target)),
                         [logits])


def test_cross_entropy_by_hand():
    logits = [Value(0.0), Value(math.log(3.0))]  # softmax = [1/4, 3/4]
    loss = cross_entropy(logits, 1)
    loss.backward()
    assert loss.data == pytest.approx(math.log(4 / 3), rel=1e-15)
    assert [v.grad for v in logits] == pytest.approx([0.25, -0.25], rel=1e-15)  # softmax - one_hot


def test_cross_entropy_does_not_overflow_where_the_naive_softmax_does():
    loss = cross_entropy([1000.0, 0.0], 1)
    assert loss.data == 1000.0


def test_cross_entropy_accepts_a_numpy_integer_target():
    np = pytest.importorskip("numpy")
    assert cross_entropy([0.0, 0.0], np.int64(1)).data == pytest.approx(math.log(2), rel=1e-15)


# --- bad input ---

@pytest.mark.parametrize("call, error, message", [
    (lambda: mse([1.0, 2.0], [1.0]), ValueError, "mse: preds has 2 items but targets has 1"),
    (lambda: mse([], []), ValueError, "mse: preds is empty"),
    (lambda: mse([1.0], []), ValueError, "mse: targets is empty"),
    (lambda: mse(Value(1.0), Value(2.0)), TypeError, "preds must be a list of Values or numbers, got a single Value"),
    (lambda: mse([1.0, '2'], [1.0, 2.0]), TypeError, r"mse: preds\[1\] must be a Value or a real number, got str"),
    (lambda: mse(None, [1.0]), TypeError, "preds must be a list of Values or numbers, got NoneType"),
    (lambda: hinge([1.0], [1, -1]), ValueError, "hinge: scores has 1 items but ys has 2"),
    (lambda: hinge([], []), ValueError, "hinge: scores is empty"),
    (lambda: cross_entropy([], 0), ValueError, "cross_entropy: logits is empty"),
    (lambda: cross_entropy([1.0, 2.0], 2), IndexError, r"target 2 is out of range for 2 logits \(valid: 0 to 1\)"),
    (lambda: cross_entropy([1.0, 2.0], -1), IndexError, "target -1 is out of range"),
    (lambda: cross_entropy([1.0, 2.0], 1.0), TypeError, "target must be an integer class index, got float"),
    (lambda: cross_entropy([1.0, 2.0], Value(1)), TypeError, "target must be an integer class index, got Value"),
])
def test_bad_input_is_refused_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()

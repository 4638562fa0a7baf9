"""SGD and Adam against torch.optim in float64, every parameter after every step; their
hyperparameter checks; and the fused multiply-add that makes the updates agree to the bit."""
import math
import random
from fractions import Fraction

import pytest

from micrograd.engine import Value
from micrograd.optim import SGD, Adam, _fma

STEPS = 20


def close(a, b):
    return abs(a - b) <= 1e-12 + 1e-12 * abs(b)


# --- the functions to minimize: written once, run on Values and on torch tensors alike ---

def quadratic(ps):
    p0, p1, p2 = ps
    return (p0 - 1)**2 + 10 * (p1 + 2)**2 + p0 * p1 + 0.5 * p2**2 * p0**2


DATA = [(-1.5, 0.3), (-0.5, -0.2), (0.25, 0.4), (1.0, 0.9), (2.0, -0.6)]


def mlp(ps):
    """A one-hidden-unit tanh network with a skip connection, squared error over DATA."""
    w1, b1, w2, b2, w3 = ps
    loss = 0
    for x, y in DATA:
        out = w2 * (w1 * x + b1).tanh() + b2 + w3 * x
        loss = loss + (out - y)**2
    return loss / len(DATA)


FUNCTIONS = {'quadratic': (quadratic, [0.5, -0.3, 2.0]), 'mlp': (mlp, [0.8, -0.1, -0.6, 0.2, 0.1])}

CONFIGS = {  # name: (micrograd class, torch class name, hyperparameters)
    'sgd': (SGD, 'SGD', dict(lr=0.02)),
    'sgd-momentum': (SGD, 'SGD', dict(lr=0.02, momentum=0.9)),
    'sgd-weight-decay': (SGD, 'SGD', dict(lr=0.02, weight_decay=0.1)),
    'sgd-momentum-weight-decay': (SGD, 'SGD', dict(lr=0.02, momentum=0.5, weight_decay=0.1)),
    'adam': (Adam, 'Adam', dict(lr=0.05)),
    'adam-weight-decay': (Adam, 'Adam', dict(lr=0.05, weight_decay=0.1)),
    'adam-small-betas': (Adam, 'Adam', dict(lr=0.1, betas=(0.3, 0.4), eps=1e-6)),
}


def pair(torch, config, init):
    """The same parameters and optimizer on both engines."""
    cls, torch_name, hyper = CONFIGS[config]
    values = [Value(x) for x in init]
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in init]
    return values, cls(values, **hyper), tensors, getattr(torch.optim, torch_name)(tensors, foreach=False, **hyper)


def step_with_the_same_gradients(torch, rng, values, optimizer, tensors, torch_optimizer):
    """One step on both engines, after giving both the same random gradients (over six orders of
    magnitude), so only the optimizers' arithmetic can differ."""
    for v, t in zip(values, tensors, strict=True):
        v.grad = rng.uniform(-3, 3) * 10.0 ** rng.randint(-3, 2)
        t.grad = torch.tensor(v.grad, dtype=torch.float64)
    optimizer.step()
    torch_optimizer.step()


def assert_params_close(values, tensors, step):
    for i, (v, t) in enumerate(zip(values, tensors, strict=True)):
        a, b = v.data, t.item()
        assert close(a, b), (f"after step {step}, parameter {i} is not close: micrograd={a!r} torch={b!r} "
                             f"|diff|={abs(a - b):.3g} allowed={1e-12 + 1e-12 * abs(b):.3g}")


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("config", CONFIGS)
def test_training_matches_torch_optim_every_step(function, config):
    torch = pytest.importorskip("torch")
    f, init = FUNCTIONS[function]
    values, optimizer, tensors, torch_optimizer = pair(torch, config, init)
    for step in range(1, STEPS + 1):
        optimizer.zero_grad()
        f(values).backward()
        optimizer.step()
        torch_optimizer.zero_grad()
        f(tensors).backward()
        torch_optimizer.step()
        assert_params_close(values, tensors, step)
    assert any(not close(v.data, x) for v, x in zip(values, init, strict=True)), "the parameters never moved"


@pytest.mark.parametrize("config", CONFIGS)
def test_updates_match_torch_given_the_same_gradients(config):
    torch = pytest.importorskip("torch")
    rng = random.Random(config)
    values, optimizer, tensors, torch_optimizer = pair(torch, config, [rng.uniform(-1, 1) for _ in range(6)])
    for step in range(1, STEPS + 1):
        step_with_the_same_gradients(torch, rng, values, optimizer, tensors, torch_optimizer)
        assert_params_close(values, tensors, step)


def exact_fma(a, b, c):
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def torch_fuses_multiply_add(torch):
    """Whether this torch build computes a.add_(b, alpha=c) as one FMA (any x86-64 with AVX2, any arm64)."""
    a, b, c = 0.03, 0.47, 0.94  # a + c*b rounds differently fused and unfused
    fused = torch.tensor(a, dtype=torch.float64).add_(torch.tensor(b, dtype=torch.float64), alpha=c).item()
    return fused == exact_fma(c, b, a) != a + c * b


@pytest.mark.parametrize("config", [name for name in CONFIGS if name.startswith('sgd')])
def test_sgd_updates_match_torch_to_the_bit(config):
    torch = pytest.importorskip("torch")
    if not torch_fuses_multiply_add(torch):
        pytest.skip("this torch build does not fuse multiply-adds, so it rounds SGD's update twice")
    rng = random.Random(config)
    values, optimizer, tensors, torch_optimizer = pair(torch, config, [rng.uniform(-1, 1) for _ in range(6)])
    for _ in range(STEPS):
        step_with_the_same_gradients(torch, rng, values, optimizer, tensors, torch_optimizer)
        assert [v.data for v in values] == [t.item() for t in tensors]


def test_adam_updates_match_torch_within_a_few_ulps():
    # Not to the bit: torch's float64 sqrt (MKL's, on x86) is off by one ulp about 1.4% of the
    # time, and Adam divides by a square root. All the rest is the same arithmetic.
    torch = pytest.importorskip("torch")
    if not torch_fuses_multiply_add(torch):
        pytest.skip("this torch build does not fuse multiply-adds, so it rounds Adam's moments twice")
    rng = random.Random(0)
    values, optimizer, tensors, torch_optimizer = pair(torch, 'adam', [rng.uniform(-1, 1) for _ in range(6)])
    for _ in range(STEPS):
        step_with_the_same_gradients(torch, rng, values, optimizer, tensors, torch_optimizer)
        for v, t in zip(values, tensors, strict=True):
            assert abs(v.data - t.item()) <= 4 * math.ulp(t.item())
        state = [torch_optimizer.state[t] for t in tensors]  # the moments see only the gradients: exact
        assert optimizer.m == [s['exp_avg'].item() for s in state]
        assert optimizer.v == [s['exp_avg_sq'].item() for s in state]


# --- by hand, without torch ---

def test_sgd_step_is_p_minus_lr_times_grad():
    p = Value(1.0)
    p.grad = 2.0
    SGD([p], lr=0.25).step()
    assert p.data == 0.5


def test_sgd_momentum_starts_from_the_first_gradient():
    p = Value(0.0)
    optimizer = SGD([p], lr=1.0, momentum=0.5)
    p.grad = 1.0
    optimizer.step()  # buf = 1, not 0.5 * 0 + 1 * (1 - momentum)
    assert p.data == -1.0
    optimizer.step()  # buf = 0.5 * 1 + 1
    assert p.data == -2.5


def test_adam_first_step_moves_each_parameter_by_about_lr():
    # after one step m/sqrt(v), bias-corrected, is sign(grad): Adam's first step has size lr
    ps = [Value(0.0), Value(0.0)]
    ps[0].grad, ps[1].grad = 3.0, -1e-3
    Adam(ps, lr=0.1).step()
    assert ps[0].data == pytest.approx(-0.1, rel=1e-6) and ps[1].data == pytest.approx(0.1, rel=1e-4)


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_zero_grad_zeroes_every_parameter(cls):
    ps = [Value(1.0), Value(2.0)]
    for p in ps:
        p.grad = 5.0
    cls(ps, lr=0.1).zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_a_generator_of_parameters_is_kept_for_every_step(cls):
    ps = [Value(1.0), Value(2.0)]
    optimizer = cls((p for p in ps), lr=0.1)
    for _ in range(3):
        for p in ps:
            p.grad = 1.0
        optimizer.step()
    assert all(p.data < start - 0.2 for p, start in zip(ps, [1.0, 2.0], strict=True))


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_bad_parameter_lists_are_refused(cls):
    p = Value(1.0)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        cls([], lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        cls(iter([]), lr=0.1)
    with pytest.raises(ValueError, match=r"params\[1\] appears more than once"):
        cls([p, p], lr=0.1)
    with pytest.raises(TypeError, match=r"optimizer can only optimize Values .* params\[1\] is a float"):
        cls([p, 1.0], lr=0.1)
    with pytest.raises(TypeError, match="params must be an iterable of Values"):
        cls(p, lr=0.1)


@pytest.mark.parametrize("make, message", [
    (lambda ps: SGD(ps, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda ps: SGD(ps, lr=math.nan), "Invalid learning rate: nan"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1e-4), "Invalid weight_decay value: -0.0001"),
    (lambda ps: Adam(ps, lr=-1e-3), "Invalid learning rate: -0.001"),
    (lambda ps: Adam(ps, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda ps: Adam(ps, betas=(-0.1, 0.999)), "Invalid beta parameter at index 0: -0.1"),
    (lambda ps: Adam(ps, betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (lambda ps: Adam(ps, betas=(0.9,)), r"betas must be a pair \(beta1, beta2\)"),
    (lambda ps: Adam(ps, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
])
def test_bad_hyperparameters_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make([Value(1.0)])


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr='0.1'), lambda ps: Adam(ps, lr=None),
                                  lambda ps: Adam(ps, betas=(0.9, '0.999'))])
def test_hyperparameters_that_are_not_numbers_raise_type_error(make):
    with pytest.raises(TypeError, match="must be a real number"):
        make([Value(1.0)])


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.0), lambda ps: Adam(ps, lr=0, betas=(0, 0), eps=0)])
def test_zero_hyperparameters_are_allowed(make):
    p = Value(1.0)
    p.grad = 1.0
    make([p]).step()
    assert p.data == 1.0


# --- the fused multiply-add ---

def test_fma_rounds_once():
    rng = random.Random(0)
    fused_differs = 0
    for _ in range(2000):
        a, b, c = (rng.uniform(-1, 1) * 2.0 ** rng.randint(-60, 60) for _ in range(3))
        assert _fma(a, b, c) == exact_fma(a, b, c), (a, b, c)
        fused_differs += _fma(a, b, c) != a * b + c
    assert fused_differs > 100  # the cases above do tell the two apart


def test_fma_edge_cases():
    assert _fma(0.1, 10.0, -1.0) == 5.551115123125783e-17  # a*b + c rounds to 0.0: the product's rounding error
    assert _fma(1e308, 10.0, -1.7e308) == math.inf  # the exact result overflows
    assert _fma(1e300, 1e10, -math.inf) == -math.inf  # not inf + -inf: the exact product is finite
    assert _fma(math.inf, 2.0, -1.0) == math.inf
    assert _fma(1.5e308, 2.0, -1.5e308) == 1.5e308  # a*b alone overflows; the exact result does not
    assert math.copysign(1.0, _fma(-0.0, 1.0, -0.0)) == -1.0  # signed zeros as IEEE
    assert math.copysign(1.0, _fma(2.0, 3.0, -6.0)) == 1.0
    assert math.isnan(_fma(math.inf, 0.0, 1.0)) and math.isnan(_fma(1.0, 2.0, math.nan))

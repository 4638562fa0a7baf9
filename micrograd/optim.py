"""Optimizers for `Value` parameters: SGD and Adam, step for step the same as torch.optim in float64.

    model = MLP(2, [16, 16, 1])
    optimizer = Adam(model.parameters(), lr=1e-2)
    for k in range(100):
        loss = ...                 # a Value
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

Each update is torch's single-tensor path (foreach=False) written out on Python floats, in torch's
order of floating-point operations. Three of torch's CPU kernels round once where the formula on
paper rounds twice, because the compiler fuses a multiply and an add into one FMA instruction:
`a.add_(b, alpha=c)` is fma(c, b, a), `a.lerp_(b, w)` is fma(w, b - a, a) (or fma(w - 1, b - a, b)
when w >= 0.5), and `a.addcmul_(b, c, value=s)` is fma(s * b, c, a). `_fma` reproduces that, so on
a CPU with FMA (x86-64 with AVX2, arm64) SGD agrees with torch to the bit. Adam agrees to an ulp or
so: torch's float64 sqrt (MKL's vector math, on the x86 wheel) is one ulp off in about 1.4% of
cases, and Adam divides by a square root.
"""
import math
import numbers

from micrograd import ieee


def _fma(a, b, c):
    """a * b + c rounded once, as a fused multiply-add instruction computes it. (Python 3.13's
    math.fma would do, but it raises where IEEE arithmetic and torch give inf or nan.)"""
    if not (math.isfinite(a) and math.isfinite(b)):
        return a * b + c  # an infinite or nan product is exact, so fused or not is the same
    if not math.isfinite(c):
        return c  # the exact product is finite, even where a * b would overflow
    # Every finite float is an integer over a power of two, so the exact result is a ratio of
    # integers, and Python's int / int rounds correctly to the nearest float.
    (na, da), (nb, db), (nc, dc) = a.as_integer_ratio(), b.as_integer_ratio(), c.as_integer_ratio()
    num = na * nb * dc + nc * da * db
    if num == 0:  # an exact zero: a signed zero from a zero product, otherwise +0.0 as IEEE rounds
        return a * b + c if a == 0.0 or b == 0.0 else 0.0
    try:
        return num / (da * db * dc)
    except OverflowError:
        return math.inf if num > 0 else -math.inf



def _hyperparameter(name, x, ok, message):
    """x as a float, after checking it is a number and ok(x); message is torch's wording."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}: {x!r:.60}")
    x = float(x)
    if not ok(x):  # written as `not 0.0 <= x`, so nan is refused too
        raise ValueError(f"{message}: {x}")
    return x


def _parameters(params, optimizer):
    """params (a list, a generator, any iterable of Values) as a list, checked once up front."""
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{optimizer}: params must be an iterable of Values, such as model.parameters(), "
                        f"got {type(params).__name__}") from None
    if not params:
        raise ValueError(f"{optimizer}: optimizer got an empty parameter list")
    seen = set()
    for i, p in enumerate(params):
        # duck-typed, so other micrograd-style engines' Values can be optimized too
        if not (hasattr(p, 'data') and hasattr(p, 'grad')):
            raise TypeError(f"{optimizer}: optimizer can only optimize Values (objects with .data and .grad), "
                            f"but params[{i}] is a {type(p).__name__}")
        if id(p) in seen:  # it would be stepped twice per step()
            raise ValueError(f"{optimizer}: params[{i}] appears more than once in the parameter list")
        seen.add(id(p))
    return params


class Optimizer:

    def __init__(self, params):
        self.params = _parameters(params, type(self).__name__)

    def zero_grad(self):
        for p in self.params:
            p.grad = 0.0

    def step(self):
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum and L2 weight decay, as torch.optim.SGD
    with dampening=0, nesterov=False, maximize=False."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params)
        self.lr = _hyperparameter('lr', lr, lambda x: 0.0 <= x, "Invalid learning rate")
        self.momentum = _hyperparameter('momentum', momentum, lambda x: 0.0 <= x, "Invalid momentum value")
        self.weight_decay = _hyperparameter('weight_decay', weight_decay, lambda x: 0.0 <= x,
                                            "Invalid weight_decay value")
        self.buf = [None] * len(self.params)  # momentum buffers, created on the first step as in torch

    def step(self):
        for i, p in enumerate(self.params):
            g = p.grad
            if self.weight_decay != 0.0:
                g = _fma(self.weight_decay, p.data, g)  # grad.add(param, alpha=weight_decay)
            if self.momentum != 0.0:
                # buf.mul_(momentum).add_(grad); the first step takes the gradient as it is
                self.buf[i] = g if self.buf[i] is None else self.buf[i] * self.momentum + g
                g = self.buf[i]
            p.data = _fma(-self.lr, g, p.data)  # param.add_(grad, alpha=-lr)


class Adam(Optimizer):
    """Adam, as torch.optim.Adam with amsgrad=False, maximize=False. weight_decay is torch's L2 term
    added to the gradient (not AdamW's decoupled decay)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params)
        self.lr = _hyperparameter('lr', lr, lambda x: 0.0 <= x, "Invalid learning rate")
        self.eps = _hyperparameter('eps', eps, lambda x: 0.0 <= x, "Invalid epsilon value")
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r:.60}") from None
        self.beta1 = _hyperparameter('betas[0]', beta1, lambda x: 0.0 <= x < 1.0, "Invalid beta parameter at index 0")
        self.beta2 = _hyperparameter('betas[1]', beta2, lambda x: 0.0 <= x < 1.0, "Invalid beta parameter at index 1")
        self.weight_decay = _hyperparameter('weight_decay', weight_decay, lambda x: 0.0 <= x,
                                            "Invalid weight_decay value")
        self.m = [0.0] * len(self.params)  # first moment: running mean of the gradient
        self.v = [0.0] * len(self.params)  # second moment: running mean of its square
        self.t = 0  # steps taken

    def step(self):
        self.t += 1
        beta1, beta2, t = self.beta1, self.beta2, self.t
        # torch computes these in Python floats, once per parameter; the values are the same each time
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        step_size = self.lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5  # C's pow, not math.sqrt, as torch writes it
        w = 1 - beta1
        for i, p in enumerate(self.params):
            g = p.grad
            if self.weight_decay != 0.0:
                g = _fma(self.weight_decay, p.data, g)  # grad.add(param, alpha=weight_decay)
            m = self.m[i]
            # exp_avg.lerp_(grad, 1 - beta1): the running mean moves a fraction w of the way to g
            m = _fma(w, g - m, m) if abs(w) < 0.5 else _fma(w - 1, g - m, g)
            # exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            v = _fma((1 - beta2) * g, g, self.v[i] * beta2)
            self.m[i], self.v[i] = m, v
            denom = ieee.sqrt(v) / bias_correction2_sqrt + self.eps
            # param.addcdiv_(exp_avg, denom, value=-step_size) is param + (value * exp_avg) / denom
            p.data = p.data + ieee.div(-step_size * m, denom)

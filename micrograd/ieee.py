"""Float64 arithmetic with IEEE-754 / PyTorch results instead of Python exceptions.

Python's float operators and `math` raise where IEEE arithmetic (and so PyTorch float64)
returns inf or nan: `1.0 / 0.0`, `0.0 ** -1`, `math.exp(710)`, `math.log(0)`; and `**`
returns a complex number for a negative base with a fractional exponent. The engine computes
every value and every local derivative through these functions, so none of that can reach a user.
"""
import math

inf = math.inf
nan = math.nan


def div(a, b):
    """a / b with IEEE results at b == 0: ±inf, or nan for 0/0 and nan/0."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0.0:
            return nan
        return math.copysign(inf, a) * math.copysign(1.0, b)


def _is_odd_integer(y):
    return y.is_integer() and math.fmod(y, 2.0) != 0.0


def pow(x, y):
    """C99 pow(x, y): what torch does for a tensor exponent."""
    try:
        return math.pow(x, y)
    except OverflowError:  # |result| too large
        return -inf if x < 0.0 and _is_odd_integer(y) else inf
    except ValueError:  # 0 ** negative, or negative ** fractional
        if x == 0.0:
            return -inf if math.copysign(1.0, x) < 0.0 and _is_odd_integer(y) else inf
        return nan


def sqrt(x):
    """IEEE sqrt: nan below zero, sqrt(-0.0) == -0.0."""
    return math.sqrt(x) if x >= 0.0 else nan


def pow_scalar(x, e):
    """x ** e for a number e, as torch computes `tensor ** e`: it special-cases six exponents,
    which matters at -0.0 and -inf (sqrt(-0.0) is -0.0, C's pow gives +0.0)."""
    if e == 2.0:
        return x * x
    if e == 3.0:
        return x * x * x
    if e == 0.5:
        return sqrt(x)
    if e == -0.5:
        return div(1.0, sqrt(x))
    if e == -1.0:
        return div(1.0, x)
    if e == -2.0:
        return div(1.0, x * x)
    return pow(x, e)


def exp(x):
    """exp(x), inf on overflow."""
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def log(x):
    """Natural log: -inf at ±0, nan below zero."""
    if x > 0.0:
        return math.log(x)
    if x == 0.0:
        return -inf
    return nan  # negative or nan


def sigmoid(x):
    """1 / (1 + exp(-x)), torch's float64 formula: exactly 0.0 below about -709."""
    return 1.0 / (1.0 + exp(-x))


def sign(x):
    """-1.0, 0.0 or 1.0; 0.0 for nan, as torch.sign."""
    return float(x > 0.0) - float(x < 0.0)

"""How close the engine must be to PyTorch float64: the numbers every check and every reproducer use.

The global stage compares with |a - b| <= ATOL + RTOL * max(|a|, |b|), non-finite values by
class. A flagged node is then re-checked from the engine's own operands (see `oracle.check`), and
there noise is what float64 really does to one op: `locally_close` allows a few units in the last
place of the result (ALLOW, per op), however small the result is, and no absolute floor: 0 where
torch gives 1e-300 is not noise. This module imports only math, so that what needs the numbers (a
reproducer's writer, the fuzz command's own process) does not pay for importing torch.
"""
import math

RTOL = 1e-11  # global stage: float32 rounding is ~6e-8, float64 noise ~1e-16 per op
ATOL = 1e-11
EPS = 2.0 ** -52
# Local allowances, per op: (relative error of its value and local derivative, in ulps;
# absolute error of its local derivative in units of EPS * |upstream gradient|). tanh and
# sigmoid compute their derivative from their own rounded output (1 - t*t, (1 - s) * s), which
# cancels near saturation, so only an absolute bound holds there.
ALLOW = {"default": (8, 0), "pow": (64, 0), "pow_float": (64, 0), "pow_int": (16, 0), "rpow": (64, 0),
         "tanh": (8, 8), "sigmoid": (8, 8)}


def ulps(n, x):
    """n units in the last place of float64 numbers of x's size (2 * EPS * n * |x|, and at least n
    of the smallest subnormal's: the grain of float64 near 0)."""
    return n * max(2 * EPS * abs(x), math.ulp(0.0))


def locally_close(got, want, allowed=0.0):
    """Whether `got`, an engine's result for one node, is `want`, torch's from the same operands, up
    to float64 noise: equal (non-finite values by class), or apart by at most `allowed` (a few ulps
    of the op's result, see `ulps`, and what its caller can bound, such as a sum's rounding) or by
    RTOL of the larger. No absolute floor: a tiny value is judged by its own size."""
    if got == want or (math.isnan(got) and math.isnan(want)):
        return True
    if not (math.isfinite(got) and math.isfinite(want)):
        return False
    return abs(got - want) <= max(allowed, RTOL * max(abs(got), abs(want)))

"""How close the engine must be to PyTorch float64: the numbers every check and every reproducer use.

The global stage compares with |a - b| <= ATOL + RTOL * max(|a|, |b|), non-finite values by
class; a flagged node is then re-checked from the engine's own operands within ALLOW (see
`oracle.check`). This module imports nothing, so that what only needs the numbers (a reproducer's
writer, the fuzz command's own process) does not pay for importing torch.
"""
RTOL = 1e-11  # global stage: float32 rounding is ~6e-8, float64 noise ~1e-16 per op
ATOL = 1e-11
EPS = 2.0 ** -52
# Local allowances, per op: (relative error of its value and local derivative, in ulps;
# absolute error of its local derivative in units of EPS * |upstream gradient|). tanh and
# sigmoid compute their derivative from their own rounded output (1 - t*t, (1 - s) * s), which
# cancels near saturation, so only an absolute bound holds there.
ALLOW = {"default": (8, 0), "pow": (64, 0), "pow_float": (64, 0), "pow_int": (16, 0), "rpow": (64, 0),
         "tanh": (8, 8), "sigmoid": (8, 8)}

"""The op table: one row per op that a micrograd program can contain.

A row's `template` is Python source over operand names `{0}`, `{1}` and a constant `{c}`. It is
the only place an op's expression is written: the printer fills it in, and `Op.apply` is
compiled from it once at import, so the interpreted program and the printed reproducer cannot
drift apart. The same source runs on micrograd Values, on any engine with micrograd's API and
on torch tensors, which share `+ - * / **` and `.relu() .tanh() .exp() .log() .sigmoid() .abs()`.

`exact` is the op in high precision (mpmath), and `derivs` its local derivatives; the oracle
uses them only to decide which engine is wrong when micrograd and torch disagree.
"""
import importlib
from dataclasses import dataclass, field


class _Lazy:
    """A module imported when one of its names is first used. Every command's parser, and so every
    `--help`, reads this table, and must work with only the plain install, without mpmath; only the
    exact functions need it, and only once two engines disagree. A name found is kept on the proxy."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):  # called only for a name not yet kept
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value


mp = _Lazy("mpmath")


@dataclass(frozen=True)
class Op:
    name: str
    arity: int  # operands that are program nodes
    template: str
    const: str = ""  # kind of constant the op carries: "", "any", "int" or "float"
    needs: str = ""  # the engine feature it needs, for probing plug-in engines
    exact: object = field(default=None, repr=False, compare=False)
    derivs: object = field(default=None, repr=False, compare=False)

    def source(self, args, c=None):
        """The op as Python source: args are operand names, c the constant."""
        return self.template.format(*args, c=const_source(c))

    @property
    def apply(self):
        return _APPLY[self.name]


def const_source(c):
    """A constant as Python source that reads back to the same float, parenthesised when
    negative (`x ** (-1.5)`, `(-2.0) ** x`: `-2.0 ** x` would mean `-(2.0 ** x)`)."""
    if c is None:
        return ""
    s = repr(c)
    return f"({s})" if s.startswith("-") else s


def _relu(x):
    return x if x > 0 else mp.mpf(0)


def _sign(x):
    return mp.mpf((x > 0) - (x < 0))


def _sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def _log_or_nan(x):
    return mp.log(x) if x > 0 else mp.nan


# name, arity, template, const, needs, exact(*args, c), derivs(*args, c) -> d/d(each operand)
TABLE = [
    Op("add", 2, "{0} + {1}", exact=lambda a, b, c: a + b, derivs=lambda a, b, c: (1, 1)),
    Op("sub", 2, "{0} - {1}", exact=lambda a, b, c: a - b, derivs=lambda a, b, c: (1, -1)),
    Op("mul", 2, "{0} * {1}", exact=lambda a, b, c: a * b, derivs=lambda a, b, c: (b, a)),
    Op("div", 2, "{0} / {1}", exact=lambda a, b, c: a / b, derivs=lambda a, b, c: (1 / b, -a / b**2)),
    Op("add_c", 1, "{0} + {c}", "any", exact=lambda a, c: a + c, derivs=lambda a, c: (1,)),
    Op("radd_c", 1, "{c} + {0}", "any", exact=lambda a, c: c + a, derivs=lambda a, c: (1,)),
    Op("sub_c", 1, "{0} - {c}", "any", exact=lambda a, c: a - c, derivs=lambda a, c: (1,)),
    Op("rsub_c", 1, "{c} - {0}", "any", exact=lambda a, c: c - a, derivs=lambda a, c: (-1,)),
    Op("mul_c", 1, "{0} * {c}", "any", exact=lambda a, c: a * c, derivs=lambda a, c: (c,)),
    Op("rmul_c", 1, "{c} * {0}", "any", exact=lambda a, c: c * a, derivs=lambda a, c: (c,)),
    Op("div_c", 1, "{0} / {c}", "any", exact=lambda a, c: a / c, derivs=lambda a, c: (1 / c,)),
    Op("rdiv_c", 1, "{c} / {0}", "any", exact=lambda a, c: c / a, derivs=lambda a, c: (-c / a**2,)),
    Op("neg", 1, "-{0}", exact=lambda a, c: -a, derivs=lambda a, c: (-1,)),
    Op("pow_int", 1, "{0} ** {c}", "int", exact=lambda a, c: a**c, derivs=lambda a, c: (c * a ** (c - 1),)),
    Op("pow_float", 1, "{0} ** {c}", "float", exact=lambda a, c: a**c if a > 0 or c == 0 else mp.nan,
       derivs=lambda a, c: (c * a ** (c - 1),)),
    Op("rpow", 1, "{c} ** {0}", "float", needs="rpow", exact=lambda a, c: mp.mpf(c) ** a,
       derivs=lambda a, c: (mp.mpf(c) ** a * _log_or_nan(mp.mpf(c)),)),
    Op("pow", 2, "{0} ** {1}", needs="pow", exact=lambda a, b, c: a**b if a > 0 or b == int(b) else mp.nan,
       derivs=lambda a, b, c: (b * a ** (b - 1), a**b * _log_or_nan(a))),
    Op("relu", 1, "{0}.relu()", needs="relu", exact=lambda a, c: _relu(a),
       derivs=lambda a, c: (mp.mpf(a > 0),)),
    Op("tanh", 1, "{0}.tanh()", needs="tanh", exact=lambda a, c: mp.tanh(a),
       derivs=lambda a, c: (1 - mp.tanh(a) ** 2,)),
    Op("exp", 1, "{0}.exp()", needs="exp", exact=lambda a, c: mp.exp(a), derivs=lambda a, c: (mp.exp(a),)),
    Op("log", 1, "{0}.log()", needs="log", exact=lambda a, c: _log_or_nan(a), derivs=lambda a, c: (1 / a,)),
    Op("sigmoid", 1, "{0}.sigmoid()", needs="sigmoid", exact=lambda a, c: _sigmoid(a),
       derivs=lambda a, c: (_sigmoid(a) * (1 - _sigmoid(a)),)),
    Op("abs", 1, "{0}.abs()", needs="abs", exact=lambda a, c: abs(a), derivs=lambda a, c: (_sign(a),)),
    Op("abs_fn", 1, "abs({0})", needs="abs", exact=lambda a, c: abs(a), derivs=lambda a, c: (_sign(a),)),
]
OPS = {op.name: op for op in TABLE}


def _compile(op):
    # The template is this module's own constant text, never user input; compiling it is what
    # makes the printed source and the interpreter one and the same.
    names = [f"x{i}" for i in range(op.arity)]
    return eval(f"lambda {', '.join(names + ['c'])}: {op.template.format(*names, c='c')}", {})  # noqa: S307


_APPLY = {op.name: _compile(op) for op in TABLE}

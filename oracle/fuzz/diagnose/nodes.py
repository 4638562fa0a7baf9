"""An engine's nodes as the diagnosis reads them: a value as a float (None when it is not a real
number), a node's operands and expression in words, and whether a value agrees with torch's."""
import dataclasses
import math
import struct

from oracle.backends import as_float, torch_local  # as_float: also the diagnosis' other modules'
from oracle.fuzz import graph
from oracle.tolerance import ALLOW, locally_close, ulps


def zero_grads(nodes):
    for v in nodes:
        try:
            v.grad = 0.0
        except Exception:
            pass


def same(a, b):
    return repr(a) == repr(b) or a == b


def float32(x):
    """x rounded to the nearest float32 (as numpy's float32 or struct's 'f' would store it)."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except (OverflowError, struct.error):
        return None


def oriented(sem, v):
    """sem with its two operands in the order node v's value says they were used in, when they came
    from a set (a ** b and b ** a differ): the one order whose value torch agrees with; sem as it is
    when its order is known, or neither or both orders fit."""
    if sem.ordered or len(sem.operands) != 2 or sem.operands[0] is sem.operands[1]:
        return sem
    datas, got = [as_float(c.data) for c in sem.operands], as_float(v.data)
    if got is None or any(d is None for d in datas):
        return sem
    fits = [agree(got, torch_local(sem.op, list(order), sem.c, 1.0)[0], sem.op.name) for order in (datas, datas[::-1])]
    if fits.count(True) != 1:
        return sem
    return dataclasses.replace(sem, operands=sem.operands if fits[0] else sem.operands[::-1], ordered=True)


def operand_orders(sem, datas):
    """The operand orders to try: as given, and reversed when the children came from a set."""
    datas = tuple(datas)
    return [datas] if sem.ordered or len(datas) != 2 or datas[0] == datas[1] else [datas, datas[::-1]]


def agree(got, want, name, upstream=0.0):
    """Whether the engine's `got` for one node of op `name` is torch's `want` from the same operands,
    up to what float64 does to that op (as the local re-check judges it, `tolerance.locally_close`).
    upstream: the gradient that flows in, for a rule whose allowance scales with it."""
    if got is None or want is None:
        return got is None and want is None
    n, floor = ALLOW.get(name, ALLOW["default"])
    upstream = upstream if math.isfinite(upstream) else 0.0
    return locally_close(got, want, ulps(n, max(abs(got), abs(want))) + ulps(floor, upstream))


def expression(sem):
    names = ["a", "b"][:len(sem.operands)]
    return sem.op.source(names, sem.c)


def operand_values(sem, v):
    """The operands' values as `a=0.5, b=2.0` (the children's, for a node of unknown semantics)."""
    kids = sem.operands if sem is not None else graph.children(v)
    names = ["a", "b"] if len(kids) <= 2 else [f"c{i}" for i in range(len(kids))]
    return ", ".join(f"{n}={as_float(getattr(c, 'data', None))!r}" for n, c in zip(names, kids))


def child_values(v):
    return [as_float(getattr(c, "data", None)) for c in graph.children(v)]


def method_name(place):
    return place.function if place is not None else ""

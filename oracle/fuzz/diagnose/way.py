"""Whether a wrong number's way holds an edge value (then it is class 2, see `cause`): a node of the
engine's graph, its gradient, or the local derivative of its op at its children's values, in exact
arithmetic (mpmath), past 1e300 or below 1e-300 but not zero; a node that is 0 where its exact value
is not (a zero by underflow). `(e + 1) ** -1` at e = 5e173 is an ordinary 2e-174, but its local
derivative, -(e + 1) ** -2, is 4e-348: the rule that computes it gives 0."""
import mpmath as mp

from oracle.backends import _real
from oracle.fuzz import graph
from oracle.fuzz.diagnose.cause import along, klass
from oracle.fuzz.diagnose.nodes import as_float

MAX_NODES = 2000  # a larger graph (a deep case) is not searched: its class is that of its inputs
DIGITS = 30


def edge_on_way(nodes, grads=None):
    """Whether a node of `nodes` (the engine's), its gradient (grads: id(node) -> its gradient, when
    gradients are on the way), or its op's exact value or local derivatives at its children's values
    are at the edge of float64."""
    if len(nodes) > MAX_NODES:
        return False
    with mp.workdps(DIGITS):
        for v in nodes:
            data = as_float(getattr(v, "data", None))
            if data is None or along(data) or grads is not None and along(grads.get(id(v), 0.0)):
                return True
            sem = graph.semantics(v)
            if sem is None:
                continue
            datas = [as_float(getattr(c, "data", None)) for c in sem.operands]
            if any(d is None for d in datas):
                continue
            args = [mp.mpf(d) for d in datas]
            exact = _real(sem.op.exact)(*args, sem.c)
            if data == 0.0 and mp.isfinite(exact) and exact != 0:  # a zero by underflow
                return True
            derivs = _real(sem.op.derivs, len(args))(*args, sem.c)
            if any(mp.isfinite(d) and along(d) for d in derivs):
                return True
    return False


def number_class(nodes, grads, operands, results=()):  # grads: see edge_on_way
    """The class of a wrong number: 2 when an input or operand (`cause.klass`: a zero included), a
    result, the engine's or torch's (`cause.along`: an exact zero is ordinary), or a value on its way
    through `nodes` (`edge_on_way`) is an edge value, else 1."""
    edge = klass(*operands) == 2 or any(r is not None and along(r) for r in results) or edge_on_way(nodes, grads)
    return 2 if edge else 1

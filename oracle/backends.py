"""The backends that run a program: any micrograd-style engine, PyTorch float64 (batched),
central finite differences, and mpmath at high precision. Each is the shared evaluation loop
of `program.evaluate` plus how it makes leaves and reads gradients.

torch is imported by the functions that use it: a process that only orchestrates (the fuzz
command's own) then does not spend 2 s importing it. A process that runs cases imports it first
(a worker, its forkserver's preload, `oracle.fuzz.workers.load`), never under a case's alarm.
"""
import math
import numbers

import mpmath as mp

from oracle.ops import OPS
from oracle.program import evaluate


class EngineError(Exception):
    """The engine under test raised, or returned something that is not a real float."""

    def __init__(self, kind, node, detail, data=None):
        super().__init__(f"{kind} at node {node}: {detail}")
        self.kind, self.node, self.detail = kind, node, detail
        self.data = data  # a raise: the values of the nodes the engine had made, as floats


def engine_run(program, xs, Engine, watch=None, guard=None):
    """Forward and backward on one input point; every node's data and grad as float lists.
    Raises EngineError(kind in 'raise', 'complex', 'not-a-number', 'recursion', 'memory') naming
    the failing node: for a bad value, the node that first produced it. watch: see
    `program.evaluate`; its [1] is -1 while the leaves are made and program.n_nodes in backward().
    guard: called with the nodes, a context manager that backward() runs in (a time bound, say)."""
    nodes, phase = [], "forward"
    try:
        if watch is not None:
            watch[1] = -1
        nodes.extend(Engine(x) for x in xs)
        evaluate(program, nodes, watch=watch)
        phase = "backward"
        if watch is not None:
            watch[1] = program.n_nodes
        if guard is None:
            nodes[-1].backward()
        else:
            with guard(nodes):
                nodes[-1].backward()
    except RecursionError as e:
        raise EngineError("recursion", len(nodes) if phase == "forward" else "backward", repr(e)) from None
    except MemoryError as e:
        raise EngineError("memory", len(nodes) if phase == "forward" else "backward", repr(e)) from None
    except Exception as e:  # the engine under test may raise anything; that is a finding, not a crash
        # An op that raises on a complex operand (relu of (-8) ** (1/3)) is not the op at fault:
        # the node that made the complex number is.
        data = [_read(v, i, "data") for i, v in enumerate(nodes)]
        node = len(nodes) if phase == "forward" else "backward"
        raise EngineError("raise", node, f"{type(e).__name__}: {e}", data) from None
    # Every node's data before any gradient: a complex value is reported where it arose, not at
    # an earlier node whose gradient it reached.
    return [_read(v, i, "data") for i, v in enumerate(nodes)], [_read(v, i, "grad") for i, v in enumerate(nodes)]


def _read(v, node, what):
    try:
        x = getattr(v, what)
    except Exception as e:  # an engine whose nodes lack .data or .grad
        raise EngineError("raise", node, f"{type(e).__name__}: {e}") from None
    return x if type(x) is float else _as_real(x, node, what)


def _as_real(x, node, what):
    number = as_float(x)
    if number is None:
        kind, detail = refusal(x, what)
        raise EngineError(kind, node, detail)
    return number


def refusal(x, what):
    """(kind, detail) for a value `what` that is not one real number (`as_float` is None): "complex"
    for a complex number, "not-a-number" for anything else."""
    if isinstance(x, complex):
        return "complex", f"{what} is the complex number {x!r}"
    return "not-a-number", f"{what} is {not_a_number(x)}"


def as_float(x):
    """x as a float when it is one real number: a float or an int, or a scalar of another library
    that float() reads as the number (a numpy float, a 0-d numpy array); else None (a complex number,
    an array of several numbers, a string, None)."""
    if type(x) is float:
        return x
    if not isinstance(x, numbers.Real) and _shape(x) != ():
        return None
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        return None


def not_a_number(x):
    """What x is, for a message that says it is not a number: its type (with its library's name, for an array),
    its shape if it has one, its repr."""
    shape = _shape(x)
    shaped = f" of shape {shape}" if shape is not None else ""
    kind = f"{type(x).__module__}.{type(x).__name__}" if shaped else type(x).__name__  # numpy.ndarray, torch.Tensor
    return f"a {kind}{shaped} ({x!r:.60}), not a number"


def _shape(x):
    """x's shape as a tuple, when it has one (a numpy or torch array's); else None."""
    try:
        shape = getattr(x, "shape", None)
        return tuple(shape) if shape is not None and not isinstance(shape, str) else None
    except Exception:  # a shape() method, a number, an engine's property that fails
        return None


def torch_run(program, X):
    """The program on a batch: X is (n_inputs, B). Returns every node's values and the gradient
    of the output with respect to every node, both (n_nodes, B) float64 numpy arrays."""
    import torch
    leaves = [torch.tensor(row, dtype=torch.float64, requires_grad=True) for row in X]
    nodes = evaluate(program, leaves)
    values = torch.stack([n.detach() for n in nodes])
    grads = torch.autograd.grad(nodes[-1].sum(), nodes, allow_unused=True, materialize_grads=True)
    return values.numpy(), torch.stack(grads).numpy()


def torch_point(program, point):
    """What a program's reproducer computes on torch's side (its TORCH): the output's value, then
    its gradient with respect to each input, in float64 at one point, on 0-d tensors. The same ops
    in the same order as the reproducer's f, which is printed from the same op templates."""
    import torch
    leaves = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in point]
    out = evaluate(program, list(leaves))[-1]
    out.backward()
    return [out.item()] + [0.0 if t.grad is None else t.grad.item() for t in leaves]


def torch_local(op, args, c, upstream):
    """One op in torch on given operand values: its value, and upstream times the local derivative
    with respect to each operand. The reference for one node, at the engine's own operand values."""
    import torch
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
    out = op.apply(*ts, c)
    # The gradient of out * upstream, not of out with grad_outputs=upstream: the same numbers (the
    # product passes upstream * 1.0, exactly, back to out), and no lazy import. Given grad_outputs,
    # torch.autograd.grad first imports torch.fx.experimental.symbolic_shapes and sympy (half a second
    # or more); in a fuzz worker that is under a case's time limit, and an alarm in the middle of the
    # import leaves sympy half-imported, every later call failing with an AttributeError.
    grads = torch.autograd.grad(out * torch.tensor(upstream, dtype=torch.float64), ts, allow_unused=True,
                                materialize_grads=True)
    return out.item(), [g.item() for g in grads]


def fd_grads(program, xs, Engine, h=1e-6):
    """Central finite differences of the output with respect to each input: a third opinion,
    independent of any backward pass, meaningful away from kinks and singular points."""
    def f(point):
        return evaluate(program, [Engine(x) for x in point])[-1].data
    out = []
    for i, x in enumerate(xs):
        step = h * max(1.0, abs(x))
        hi, lo = list(xs), list(xs)
        hi[i], lo[i] = x + step, x - step
        out.append((f(hi) - f(lo)) / (hi[i] - lo[i]))
    return out


def mp_run(program, xs, dps=50):
    """Exact-ish values and gradients (mpmath at dps digits) for every node, by reverse mode over
    the ops' `derivs`. Results that are not real (a pole, a complex power) become nan."""
    with mp.workdps(dps):
        nodes = evaluate(program, [mp.mpf(x) for x in xs], apply=lambda op: _real(op.exact))
        grads = [mp.mpf(0)] * len(nodes)
        grads[-1] = mp.mpf(1)
        for k in reversed(range(program.n_inputs, len(nodes))):
            ins = program.instrs[k - program.n_inputs]
            derivs = _real(OPS[ins.op].derivs, len(ins.args))
            for a, d in zip(ins.args, derivs(*(nodes[a] for a in ins.args), ins.c)):
                grads[a] += grads[k] * d
        return [_to_float(v) for v in nodes], [_to_float(g) for g in grads]


def _real(f, n=None):
    """f with every result a real mpf: nan for a pole, a domain error or a complex number.
    n: f returns a tuple of n results."""
    def one(x):
        return mp.nan if isinstance(x, mp.mpc) else mp.mpf(x)

    def g(*args):
        try:
            r = f(*args)
        except (ZeroDivisionError, ValueError, OverflowError):
            return mp.nan if n is None else (mp.nan,) * n
        return one(r) if n is None else tuple(map(one, r))
    return g


def _to_float(x):
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        return math.nan



"""Hypothesis strategies over the oracle's generators: the public API for properties of your own.

    from hypothesis import given, strategies as st
    from oracle import strategies
    from oracle.testing import compare_nodes

    @given(strategies.programs(strategies.GenConfig(ops=("add", "mul", "tanh"))), st.data())
    def test_my_engine(program, data):
        point = data.draw(strategies.points(program))
        assert all(n.ok for n in compare_nodes(program, point, Value))

Each strategy hands Hypothesis's own `Random` to a plain generator function, so every random
choice is a Hypothesis draw: failing cases shrink to fewer ops, earlier operands and plainer
constants and inputs with no shrinker of our own. `GenConfig` (from `oracle.generate`) says what
programs and points look like: the ops to draw from (`ops=`, the names of `oracle.ops.OPS`),
`max_ops`, `max_inputs`, and how often an input is an edge value (`p_edge`; 0 for ordinary inputs
only, which an engine with Python float semantics needs).
"""
from hypothesis import strategies as st

from oracle.generate import DEFAULT, GenConfig, random_inputs, random_program
from oracle.mlp import ACTS, LOSSES, random_mlp

__all__ = ["GenConfig", "cases", "mlps", "points", "programs"]


def programs(cfg=DEFAULT):
    """A random program (`oracle.program.Program`) drawn by `random_program` over cfg's ops; shrinks
    toward fewer and simpler ops."""
    return st.randoms(use_true_random=False).map(lambda rng: random_program(rng, cfg))


def points(program, cfg=DEFAULT):
    """One input point for `program` (a Program, or its number of inputs): a list of floats, mostly
    uniform in [-3, 3], some (cfg.p_edge) edge values such as ±0, ±1, 710 and 1e-300; shrinks toward
    plainer values."""
    n = program if isinstance(program, int) else program.n_inputs
    return st.randoms(use_true_random=False).map(lambda rng: random_inputs(rng, n, cfg))


@st.composite
def cases(draw, cfg=DEFAULT, n_points=8):
    """A program with a batch of `n_points` input points, `(program, [point, ...])`, as
    `oracle.check.check_program` takes them; shrinks the program first, then the points."""
    program = draw(programs(cfg))
    rng = draw(st.randoms(use_true_random=False))
    return program, [random_inputs(rng, program.n_inputs, cfg) for _ in range(n_points)]


def mlps(acts=ACTS, losses=LOSSES):
    """A random MLP spec (`oracle.mlp.MLPSpec`: widths, activation, loss, weights, a batch) with a
    hidden activation of `acts` ("relu", "tanh", "sigmoid", "linear") and a loss of `losses` ("mse",
    "hinge"), as `oracle.mlp.check_mlp(spec, Value, steps)` takes it; shrinks toward smaller nets."""
    return st.randoms(use_true_random=False).map(lambda rng: random_mlp(rng, acts=acts, losses=losses))

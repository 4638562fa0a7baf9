"""Hypothesis strategies over the oracle's generators.

Each strategy hands Hypothesis's own `Random` to a plain generator function, so every random
choice is a Hypothesis draw: failing cases shrink to fewer ops, earlier operands and plainer
constants and inputs with no shrinker of our own.
"""
from hypothesis import strategies as st

from oracle.generate import DEFAULT, random_inputs, random_program
from oracle.mlp import random_mlp


def programs(cfg=DEFAULT):
    """A random program drawn by `random_program`; shrinks toward fewer and simpler ops."""
    return st.randoms(use_true_random=False).map(lambda rng: random_program(rng, cfg))


@st.composite
def cases(draw, cfg=DEFAULT, n_points=8):
    """A program with a batch of input points; shrinks the program first, then the points."""
    program = draw(programs(cfg))
    rng = draw(st.randoms(use_true_random=False))
    return program, [random_inputs(rng, program.n_inputs, cfg) for _ in range(n_points)]


def mlps():
    """A random MLP spec (widths, activation, loss, weights, batch); shrinks toward smaller nets."""
    return st.randoms(use_true_random=False).map(random_mlp)

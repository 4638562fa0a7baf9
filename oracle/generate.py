"""Random programs and input points, as plain functions of a `random.Random`.

The fuzzer passes `Random(seed)`; the tests pass Hypothesis's `st.randoms()` through the
strategies in `oracle.strategies`, so Hypothesis shrinks a failing program for free (every
choice below is a call on the rng, and smaller draws give smaller, plainer programs).
"""
from dataclasses import dataclass, field

from oracle.ops import OPS, TABLE
from oracle.program import Instr, Program

ALL_OPS = tuple(op.name for op in TABLE)

# Input values that sit on the ops' kinks, singular points and saturation: zeros of both signs
# (relu, abs, log, negative powers), ±1, and magnitudes that saturate tanh and sigmoid or
# overflow exp.
EDGE_INPUTS = (0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 30.0, -30.0, 400.0, -400.0, 710.0, -745.0, 1e-300)
EDGE_CONSTS = (0.0, 1.0, -1.0, 0.5, 2.0, -2.0)
INT_EXPONENTS = (2, 3, -1, -2, 0, 1, 4, -3)
FLOAT_EXPONENTS = (0.5, -0.5, 1.5, 2.5, -1.5, 1 / 3, 0.3, -0.7, 2.0, 0.0)
BASES = (2.0, 0.5, 3.0, 10.0, 1.0, 0.0, -2.0, 2.718281828459045)


@dataclass(frozen=True)
class GenConfig:
    max_ops: int = 20  # program size: 1..max_ops ops
    max_inputs: int = 4  # 1..max_inputs inputs
    ops: tuple = ALL_OPS  # the op set to draw from
    p_reuse: float = 0.35  # an operand is any earlier node: fan-out and diamonds
    p_same: float = 0.1  # a binary op gets the same operand twice (a+a, a-a, a*a, a/a, a**a)
    p_chain: float = 0.15  # the whole program is a deep chain: every op uses the previous node
    p_edge: float = 0.25  # an input value or constant is an edge value rather than ordinary
    max_depth: int = 0  # longest path from an input to a node; 0: no limit
    weights: dict = field(default_factory=dict)  # op name -> relative weight (default 1)

    def __post_init__(self):
        unknown = [o for o in self.ops if o not in OPS]
        if unknown or not self.ops:
            raise ValueError(f"unknown or empty op set: {', '.join(unknown) or '(empty)'}; "
                             f"known ops: {', '.join(ALL_OPS)}")
        if self.max_ops < 1 or self.max_inputs < 1 or self.max_depth < 0:
            raise ValueError("max_ops and max_inputs must be at least 1, max_depth at least 0")


DEFAULT = GenConfig()


def random_program(rng, cfg=None):
    cfg = cfg or DEFAULT
    n_in = rng.randint(1, cfg.max_inputs)
    n_ops = rng.randint(1, cfg.max_ops)
    chain = rng.random() < cfg.p_chain
    names = list(cfg.ops)
    weights = [cfg.weights.get(o, 1.0) for o in names]
    unused = list(range(n_in))  # nodes no op uses yet: preferred, so little code is dead
    depth = [0] * n_in
    instrs = []
    for k in range(n_in, n_in + n_ops):
        op = OPS[rng.choices(names, weights)[0]]
        args = []
        for pos in range(op.arity):
            if pos == 1 and rng.random() < cfg.p_same:
                a = args[0]
            elif pos == 0 and chain and k > n_in:
                a = k - 1
            elif rng.random() < cfg.p_reuse or not unused:
                a = rng.randrange(k)
            else:
                a = unused[rng.randrange(len(unused))]
            if cfg.max_depth and depth[a] >= cfg.max_depth:
                a = rng.randrange(n_in)  # an input keeps the program within its depth
            args.append(a)
            if a in unused:
                unused.remove(a)
        unused.append(k)
        depth.append(1 + max(depth[a] for a in args))
        instrs.append(Instr(op.name, tuple(args), random_const(rng, op.const, op.name, cfg)))
    return Program(n_in, tuple(instrs))


def random_const(rng, kind, name, cfg=None):
    cfg = cfg or DEFAULT
    if not kind:
        return None
    if kind == "int":
        return rng.choice(INT_EXPONENTS)
    if kind == "float":
        return rng.choice(BASES if name == "rpow" else FLOAT_EXPONENTS)
    if rng.random() < cfg.p_edge:
        return rng.choice(EDGE_CONSTS)
    return round(rng.uniform(-3.0, 3.0), rng.choice((1, 2, 17)))


def random_inputs(rng, n_inputs, cfg=None):
    """One input point: mostly ordinary values, some on purpose at edges."""
    cfg = cfg or DEFAULT
    return [rng.choice(EDGE_INPUTS) if rng.random() < cfg.p_edge else rng.uniform(-3.0, 3.0)
            for _ in range(n_inputs)]


def coverage(programs):
    """How often each op, and each (parent op, child op) pair, occurs: child feeds parent."""
    ops, pairs = {}, {}
    for p in programs:
        for ins in p.instrs:
            ops[ins.op] = ops.get(ins.op, 0) + 1
            for a in ins.args:
                if a >= p.n_inputs:
                    pair = (ins.op, p.instrs[a - p.n_inputs].op)
                    pairs[pair] = pairs.get(pair, 0) + 1
    return ops, pairs

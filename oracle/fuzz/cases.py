"""The fuzzer's cases: which case a campaign runs when, what it is, and running one.

A campaign with seed S is the sequence of cases i = 0, 1, 2, ...; case i is built from
`random.Random(case_seed(S, i))` alone, so any case (and any campaign) replays from the seed. Shard
K/N runs the cases with i % N == K-1: shards are disjoint and together they are the whole sequence.

A case is one of four kinds:
  expr   a random program of up to 20 ops, checked on a batch of 32 input points (one torch run per
         batch amortises torch's ~8 us per op)
  deep   a chain of 1,100-1,300 ops, deeper than Python's recursion limit, on 2 points: graph walks
  mlp    a random MLP's outputs, loss and parameter gradients against a torch.nn twin
  train  the same, then a few SGD steps in sync, every parameter compared after every step
Every shard of a campaign that runs deep cases (kind all or deep) runs two of them early, whatever
its seed and budget: a 5,000-op chain and a deep MLP-like net (300 layers of 3 tanh neurons), so
that a recursive topological sort, or a walk with no visited set, is found in every campaign. In
kind all they follow a first batch of DEEP_AT small cases (a first verdict in a fraction of a
second, and a campaign stopped by --max-findings before them does not run them); a cases budget
smaller than that ends with them.
Deep cases are built only from the ops that probed well (`deep_ops`), so that an op that raises
does not end them before backward() runs, and a chain is deep along its only path: each node's one
child that is not a leaf is the node before it, so that a recursive walk goes 5,000 frames deep
whatever container holds the children.
"""
import hashlib
import random
from dataclasses import dataclass, field
from functools import lru_cache

from oracle.check import Finding, Report, check_program
from oracle.fuzz import deep
from oracle.generate import GenConfig, coverage, random_const, random_inputs, random_program
from oracle.mlp import ACTS, MLPFinding, check_mlp, random_mlp
from oracle.ops import OPS
from oracle.program import Instr, Program

KINDS = ("expr", "deep", "mlp", "train")
# The default mix, by share of cases. expr cases are the bulk: cheapest per node checked and the
# widest op coverage. MLP and training cases check what programs cannot (many-input sums, optimiser
# steps) but check fewer numbers per second; deep chains cost ~0.1 s each and only need to be there.
MIX = {"expr": 0.899, "deep": 0.001, "mlp": 0.06, "train": 0.04}
POINTS = 32  # input points per expr case
DEEP_POINTS = 2
DEEP_DEPTH = (1100, 1300)  # above Python's default recursion limit of 1000
FIRST = ("deep-chain", "deep-net")  # the deep cases every shard that runs deep cases runs early
DEEP_AT = 8  # where they come in a mix of kinds: after a first batch of small cases
CHAIN_DEPTH = 5000
NET_LAYERS, NET_WIDTH = 300, 3  # about 6,300 ops, 1,500 deep
TRAIN_STEPS = (1, 4)
# The engine ops an MLP case uses: a neuron is b + w*x (add, mul_c); mse is (o - y)**2, hinge is
# relu(1 + -y*o).
MLP_NEEDS = {"neuron": {"add", "mul_c"}, "mse": {"sub_c", "pow_int"}, "hinge": {"radd_c", "rmul_c", "relu"}}
# Ops that never raise on finite floats in Python either: a deep chain of them reaches the
# backward pass even in an engine with Python float semantics, where its depth is the test.
TAME_OPS = ("add", "sub", "mul", "add_c", "radd_c", "sub_c", "rsub_c", "mul_c", "rmul_c", "neg", "relu", "tanh",
            "sigmoid", "abs")


# --- which case when ---

def case_seed(seed, i):
    """Case i's seed: a hash of (campaign seed, i), so cases are independent of each other."""
    return int.from_bytes(hashlib.blake2b(f"{seed}/{i}".encode(), digest_size=8).digest(), "big")


def case_kind(cseed, mix):
    """The kind of the case with this seed, drawn from the mix {kind: share} (shares need not sum to 1)."""
    u = random.Random(cseed ^ 0x5EED).random() * sum(mix.values())
    for kind, share in mix.items():
        u -= share
        if u < 0:
            return kind
    return kind


def shard_indices(shard, count=None):
    """The campaign's case indices that shard (K, N) runs, in order: K-1, K-1+N, ... (count of them)."""
    k, n = shard
    j = 0
    while count is None or j < count:
        yield k - 1 + j * n
        j += 1


def plan(seed, shard=(1, 1), count=None, mix=None):
    """The cases shard (K, N) of campaign `seed` runs, in order, as (i, case seed, kind): the mix,
    with the FIRST deep cases at the shard's DEEP_AT (at its start when the mix is deep cases alone,
    and at its end when `count` leaves no room) when the mix has deep cases."""
    mix = mix or MIX
    first = FIRST if "deep" in mix else ()
    at = 0 if set(mix) == {"deep"} else DEEP_AT
    if count is not None:
        at = max(0, min(at, count - len(first)))
    for j, i in enumerate(shard_indices(shard, count)):
        cseed = case_seed(seed, i)
        yield i, cseed, first[j - at] if at <= j < at + len(first) else case_kind(cseed, mix)


def base_kind(kind):
    """The kind a case counts as: deep-chain and deep-net are deep."""
    return "deep" if kind.startswith("deep") else kind


def mlp_choices(ops):
    """(activations, losses) an MLP case can use with these ops, or None when the ops miss a neuron."""
    ops = set(ops)
    if not MLP_NEEDS["neuron"] <= ops:
        return None
    losses = tuple(loss for loss in ("mse", "hinge") if MLP_NEEDS[loss] <= ops)
    return (tuple(a for a in ACTS if a == "linear" or a in ops), losses) if losses else None


def kind_mix(kind, ops):
    """The mix for --kind (one kind or "all") given the enabled ops; ValueError when a kind cannot run."""
    kinds = KINDS if kind == "all" else (kind,)
    mix = {k: MIX[k] if kind == "all" else 1.0 for k in kinds if k in ("expr", "deep") or mlp_choices(ops)}
    if not mix:
        raise ValueError(f"{kind} cases need the ops {', '.join(sorted(MLP_NEEDS['neuron']))} and those of "
                         f"a loss (mse: {', '.join(sorted(MLP_NEEDS['mse']))}; hinge: "
                         f"{', '.join(sorted(MLP_NEEDS['hinge']))})")
    return mix


# --- one case ---

@lru_cache(maxsize=16)  # one GenConfig per op set, not one per case
def _config(ops):
    return GenConfig(ops=ops)


def deep_chain(rng, ops, depth):
    """A chain of `depth` ops, each on the node before it; a binary op's other operand is the input
    x0, a leaf, so the chain's only path from the output is `depth` nodes long."""
    ops = tuple(o for o in ops if o in TAME_OPS) or ops
    n_in = rng.randint(1, 2)
    instrs = []
    for k in range(n_in, n_in + depth):
        op = OPS[rng.choice(ops)]
        args = (k - 1,) if op.arity == 1 else (k - 1, 0)
        instrs.append(Instr(op.name, args, random_const(rng, op.const, op.name)))
    return Program(n_in, tuple(instrs))


def deep_net(rng, ops, layers=NET_LAYERS, width=NET_WIDTH):
    """An MLP-like program many layers deep: each neuron sums its inputs times constants (mul_c,
    add), adds a bias (add_c) and applies an activation, and feeds every neuron of the next layer,
    so the graph is deep and full of diamonds. A chain when the ops cannot make a neuron."""
    act = next((a for a in ("tanh", "sigmoid", "relu") if a in ops), None)
    if act is None or not {"mul_c", "add", "add_c"} <= set(ops):
        return deep_chain(rng, ops, CHAIN_DEPTH)
    instrs, layer = [], list(range(width))

    def add(op, args, c=None):
        instrs.append(Instr(op, tuple(args), c))
        return width + len(instrs) - 1

    for _ in range(layers):
        out = []
        for _ in range(width):
            acc = None
            for x in layer:
                term = add("mul_c", [x], round(rng.uniform(-1.5, 1.5), 3))
                acc = term if acc is None else add("add", [acc, term])
            out.append(add(act, [add("add_c", [acc], round(rng.uniform(-0.5, 0.5), 3))]))
        layer = out
    acc = layer[0]
    for x in layer[1:]:
        acc = add("add", [acc, x])
    return Program(width, tuple(instrs))


def build_case(cseed, kind, ops, deep_ops=None):
    """The case itself: (program, points) for expr and deep, (MLPSpec, SGD steps) for mlp and train.
    deep_ops: the ops deep cases are built from (those that probed well; default: ops)."""
    rng = random.Random(cseed)
    if kind == "expr":
        cfg = _config(tuple(ops))
        program = random_program(rng, cfg)
        return program, [random_inputs(rng, program.n_inputs, cfg) for _ in range(POINTS)]
    if kind.startswith("deep"):
        deep = tuple(deep_ops or ops)
        if kind == "deep-chain":
            program = deep_chain(rng, deep, CHAIN_DEPTH)
        elif kind == "deep-net":
            program = deep_net(rng, deep)
        else:
            program = deep_chain(rng, deep, rng.randint(*DEEP_DEPTH))
        return program, [[rng.uniform(-1.0, 1.0) for _ in range(program.n_inputs)] for _ in range(DEEP_POINTS)]
    acts, losses = mlp_choices(ops)
    spec = random_mlp(rng, acts=acts, losses=losses)
    return spec, rng.randint(*TRAIN_STEPS) if kind == "train" else 0


@dataclass
class CaseResult:
    """What checking one case gave: counts for the campaign's totals, coverage, and its finding."""
    kind: str
    checks: int = 0  # node checks (Report.checks)
    points: int = 0
    noise: int = 0  # points flagged by the batch comparison and cleared by the local re-check
    domain: int = 0  # points where the engine failed by Python float semantics (check.python_float)
    ops: dict = field(default_factory=dict)  # op -> count in this case's program
    pairs: dict = field(default_factory=dict)  # (parent op, child op) -> count
    finding: object = None  # check.Finding or mlp.MLPFinding
    cause: object = None  # its diagnose.Cause
    cpu: float = 0.0  # CPU seconds the case took in its process: a rate per core that load does not skew
    printed: int = 0  # characters the engine printed during the case
    output: str = ""  # the tail of what it printed, when the case has a finding
    cut: bool = False  # the campaign's deadline cut it short: neither a case nor a finding


def run_case(cseed, kind, Engine, ops, through_nn=False, watch=None, deep_ops=None, built=None, walk=None):
    """Build case `cseed` of `kind` over `ops` (deep cases over `deep_ops`, see `build_case`) and
    check `Engine`. through_nn: check MLPs through micrograd.nn itself (for this project's own
    engine). watch: where a program's engine run is (see `check.check_program`), for a case that
    never returns. built: the case, when the caller has built it already. walk: a deep case's
    backward() bound (a `deep.Walk`; by default, one timed here)."""
    case, extra = built or build_case(cseed, kind, ops, deep_ops)
    report = Report()
    if kind.startswith("deep"):
        deep.check(case, extra, Engine, report, watch, walk or deep.Walk.timed(case, extra[0]))
        op_counts, pairs = coverage([case])
    elif kind == "expr":
        check_program(case, extra, Engine, report, watch)
        op_counts, pairs = coverage([case])
    else:
        check_mlp(case, Engine, steps=extra, report=report, through_nn=through_nn)
        op_counts, pairs = {}, {}
    return CaseResult(base_kind(kind), report.checks, report.points, report.noise, report.domain, op_counts, pairs,
                      report.findings[0] if report.findings else None)


def stuck_finding(kind, watch, cseed, case_kind_, ops, detail, limit=None, deep_ops=None):
    """A "timeout" or "crash" finding for a case that did not finish: at the input point, and the
    node or pass, where `watch` (see `check.check_program`) says the engine was when its alarm
    went off, its process died or it was killed."""
    case, extra = build_case(cseed, case_kind_, ops, deep_ops)
    if not isinstance(case, Program):
        # step: the SGD steps the case runs, so that a replay runs as many
        return MLPFinding(kind, case, "the forward or backward pass", step=extra, detail=detail, limit=limit)
    b, node = (int(watch[0]), int(watch[1])) if watch is not None else (-1, -1)
    if 0 <= b < len(extra):
        point = extra[b]
    else:
        point = extra[0]
        detail += f"; the point is one of the case's {len(extra)} (the first is shown)"
    if node >= case.n_nodes:
        where, node = " in the backward pass", None
    elif node >= case.n_inputs:
        where = " in the forward pass"
    else:
        where, node = "", None
    op = case.instrs[node - case.n_inputs].op if node is not None else ""
    return Finding(kind, node, op, list(point), detail=detail + where, program=case, limit=limit)

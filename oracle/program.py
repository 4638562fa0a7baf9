"""A scalar program as data, and the one evaluation loop every backend shares.

SSA form: nodes 0..n_inputs-1 are the inputs x0, x1, ...; each instruction appends one node
`t{i}` computed by an op of `ops.TABLE` from earlier nodes (by index) and, for some ops, a
constant. The last node is the output. `source()` prints the program as a Python function
from the same op templates the interpreter runs.
"""
import math
from dataclasses import dataclass

from oracle.ops import OPS

LOOP = 10  # a chain of this many nodes that repeat one op (or one block of ops) prints as a loop
BLOCK = 3  # the longest block a loop repeats: a ladder's rung, side(x) + side(x)


@dataclass(frozen=True)
class Instr:
    op: str
    args: tuple  # indices of earlier nodes
    c: float | int | None = None  # the constant, for ops that carry one


@dataclass(frozen=True)
class Program:
    n_inputs: int
    instrs: tuple

    def __post_init__(self):
        validate(self)

    def __len__(self):
        return len(self.instrs)

    @property
    def n_nodes(self):
        return self.n_inputs + len(self.instrs)

    def name(self, i):
        return f"x{i}" if i < self.n_inputs else f"t{i}"

    def line(self, i):
        """Node i as a line of source: `t7 = t3 * t5`."""
        ins = self.instrs[i - self.n_inputs]
        return f"{self.name(i)} = {OPS[ins.op].source([self.name(a) for a in ins.args], ins.c)}"

    def source(self, fname="f"):
        """The program as a Python function of its inputs that returns its output node. A run of
        LOOP or more nodes that repeats a block of up to BLOCK ops, each repetition on the output of
        the one before (and the same other operands), is written as a loop: a deep chain, or a
        ladder of diamonds, reads as one."""
        params = ", ".join(self.name(i) for i in range(self.n_inputs))
        body, k, users = [], self.n_inputs, self.consumers()
        while k < self.n_nodes:
            p, reps, src, back = self._loop(k, users)
            if p * reps < LOOP:
                body.append(f"    {self.line(k)}")
                k += 1
                continue
            body += self._loop_lines(k, p, reps, src, back)
            k += p * reps
        return "\n".join([f"def {fname}({params}):", *body, f"    return {self.name(self.n_nodes - 1)}"])

    def _loop_lines(self, k, p, reps, src, back):
        """The loop that computes `reps` repetitions of the block of p ops from node k, starting from
        node src, which the operands at `back` read. Inside it a node goes by its last repetition's
        name; the run's output is the loop's variable."""
        shift, last = (reps - 1) * p, k + p * reps - 1
        lines = [f"    {self.name(last)} = {self.name(src)}", f"    for _ in range({reps}):"]
        for j in range(p):
            ins = self.instrs[k + j - self.n_inputs]
            operands = [self.name(last if (j, pos) in back else a + shift if a >= k else a)
                        for pos, a in enumerate(ins.args)]
            lines.append(f"        {self.name(k + j + shift)} = {OPS[ins.op].source(operands, ins.c)}")
        return lines

    def _loop(self, k, users):
        """(block length, repetitions, source node, the operands that read it) of the longest run from
        node k that repeats one block (see `_repeats`); repetitions < 2 when there is none."""
        best = (1, 1, None, None)
        for p in range(1, BLOCK + 1):
            reps, src, back = self._repeats(k, p, users)
            if reps >= 2 and p * reps > best[0] * best[1]:
                best = (p, reps, src, back)
        return best

    def _repeats(self, k, p, users):
        """(repetitions, source node, {(op in the block, operand position)} that read it) of the
        block of p ops from node k: each repetition the same ops and constants (by repr: 2 and 2.0,
        0.0 and -0.0 print differently), reading the one before's output at the operands where the
        first reads its source node (a node before k), the same nodes before k at the others, and
        its own nodes shifted; and every node of a repetition but the last one's output used only
        within it or the next."""
        n0, src, back, reps = self.n_inputs, None, None, 1
        first = self.instrs[k - n0:k - n0 + p]
        while len(first) == p and k + (reps + 1) * p <= self.n_nodes:
            base, seen = k + reps * p, set()
            for j, want in enumerate(first):
                ins = self.instrs[base + j - n0]
                if (ins.op, repr(ins.c), len(ins.args)) != (want.op, repr(want.c), len(want.args)):
                    return reps, src, back
                for pos, (a, b) in enumerate(zip(want.args, ins.args)):
                    if a >= k:
                        same = b == a + reps * p
                    elif b == base - 1 and src in (None, a):
                        src, same = a, True
                        seen.add((j, pos))
                    else:
                        same = b == a
                    if not same:
                        return reps, src, back
            if not seen or back not in (None, seen) or any(
                    u >= base + p or u < base - p for i in range(base - p, base) for u, _ in users[i]):
                return reps, src, back
            back, reps = seen, reps + 1
        return reps, src, back

    def consumers(self):
        """For each node, the (node, operand position) pairs that use it."""
        users = [[] for _ in range(self.n_nodes)]
        for k, ins in enumerate(self.instrs, start=self.n_inputs):
            for pos, a in enumerate(ins.args):
                users[a].append((k, pos))
        return users

    def live(self):
        """For each node, whether the output depends on it (dead code gets no gradient)."""
        live = [False] * self.n_nodes
        live[-1] = True
        for k in reversed(range(self.n_inputs, self.n_nodes)):
            if live[k]:
                for a in self.instrs[k - self.n_inputs].args:
                    live[a] = True
        return live

    def to_json(self):
        return {"n_inputs": self.n_inputs, "instrs": [[i.op, list(i.args), i.c] for i in self.instrs]}

    @staticmethod
    def from_json(d):
        """A Program from `to_json()` output; ValueError names what is wrong."""
        try:
            instrs = tuple(Instr(op, tuple(args), _const_from_json(c)) for op, args, c in d["instrs"])
            return Program(d["n_inputs"], instrs)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a valid program: {e}") from None


def validate(p):
    if type(p.n_inputs) is not int or p.n_inputs < 1:
        raise ValueError(f"a program needs at least one input, got n_inputs={p.n_inputs!r}")
    if not p.instrs:
        raise ValueError("a program needs at least one op")
    for k, ins in enumerate(p.instrs, start=p.n_inputs):
        op = OPS.get(ins.op)
        if op is None:
            raise ValueError(f"node {k}: unknown op {ins.op!r}")
        if len(ins.args) != op.arity or not all(isinstance(a, int) and 0 <= a < k for a in ins.args):
            raise ValueError(f"node {k}: {ins.op} needs {op.arity} earlier node(s), got {ins.args!r}")
        if bool(op.const) != (ins.c is not None):
            raise ValueError(f"node {k}: {ins.op} {'needs' if op.const else 'takes no'} constant")
        if ins.c is not None and not (type(ins.c) in (int, float) and math.isfinite(ins.c)):
            raise ValueError(f"node {k}: constant must be a finite number, got {ins.c!r}")
        if op.const == "int" and type(ins.c) is not int:
            raise ValueError(f"node {k}: {ins.op} needs an int exponent, got {ins.c!r}")


def evaluate(program, nodes, apply=lambda op: op.apply, watch=None):
    """Run the program on a list of leaf objects of any backend, appending every node to that
    list in place (so after a failure its length is the failing node's index); return it.
    watch: a sequence (shared memory, say) whose [1] is set to each node's index before it is
    computed, so that another process sees where a run that never returns stopped."""
    for ins in program.instrs:
        if watch is not None:
            watch[1] = len(nodes)
        # evaluate_one, written out: every case's forward pass runs this loop, and the call would
        # cost 2% of the fuzzer's op-checks per second (scripts/bench_oracle.py, side by side)
        nodes.append(apply(OPS[ins.op])(*(nodes[a] for a in ins.args), ins.c))
    return nodes


def evaluate_one(ins, nodes, apply=lambda op: op.apply):
    """One step of evaluate: append the node that instruction `ins` computes from `nodes`."""
    nodes.append(apply(OPS[ins.op])(*(nodes[a] for a in ins.args), ins.c))


def float_source(x):
    """A float as Python source: repr, or float('inf') / float('nan') for non-finite values."""
    return repr(x) if math.isfinite(x) else f"float('{x!r}')"


def _const_from_json(c):
    if c is None or isinstance(c, int | float) and not isinstance(c, bool):
        return c
    raise ValueError(f"constant {c!r} is not a number")


def float_json(x):
    return x if math.isfinite(x) else repr(x)


def float_from_json(x):
    if isinstance(x, str) and x in ("inf", "-inf", "nan"):
        return float(x)
    if isinstance(x, int | float) and not isinstance(x, bool):
        return float(x)
    raise ValueError(f"{x!r} is not a float")


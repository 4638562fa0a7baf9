"""Root causes: the line of the engine's own code that a finding comes from.

A finding says where the engine and torch first disagree in the *program* (node t7's value, the
gradient with respect to x1); a learner's `x - y` may be `x + (y * -1)` inside their engine, and
the learner wants the line of their code at fault. `diagnose` runs the case again in the engine
(`run`, watched by `trace`) and reads the engine's own graph (`oracle.fuzz.graph`), one step per
module:
  1. `raised`: an exception is placed at the innermost line of engine code that raised it (a
     RecursionError at the line the traceback repeats; a rule that cannot even be called, at its
     `def`); a complex number or a non-number at the line that created the node holding it;
  2. `values`: each engine node's value is recomputed by torch from its own children (its `_op`
     says what it computes): the first wrong one names the line that created it; an op that
     returns no node (None) is placed at the last line its method ran;
  3. `rules`: each node's backward rule runs alone, with the upstream gradient it had in the case
     (then 0.75) and its children holding 0.25 already (so that a rule that assigns where it should
     add shows), against torch's local derivative; a line trace of the rule says which line wrote
     the wrong gradient;
  4. `walk`: when every value and rule checks out and the gradients still disagree, backward()'s
     walk is at fault: a `backward` attribute that hides it, the seed, the order, a rule run twice
     or never, nodes merged by `__eq__`/`__hash__` (in the visited set or in a set of children).
`program` and `mlp` ask the steps in turn for each kind of finding. Where the engine hides its
graph (its children under no name of `graph.CHILDREN`, an unknown `_op`), the cause is the program
op's method (`fallback`). `cause` holds the record and its classes; `nodes` reads a node's numbers
and words. Runs in a worker process: it calls the engine.

Each Cause has a class, decided by what the difference is (see `cause`): 1 wrong at ordinary inputs,
2 wrong at the edge of float64 (an edge value on the way, or the engine's formula overflowing on the
way to torch's number), 3 Python float semantics where torch answers inf or nan (placed, by
`answer`, at the op whose Python result caused it). `way` says whether a wrong number's way holds an
edge value.
"""
from oracle.fuzz.diagnose.cause import Cause, cause, edge, klass
from oracle.fuzz.diagnose.fallback import fallback, with_entry
from oracle.fuzz.diagnose.mlp import diagnose_mlp
from oracle.fuzz.diagnose.program import diagnose_program
from oracle.mlp import MLPFinding

__all__ = ["Cause", "cause", "diagnose", "edge", "fallback", "klass", "with_entry"]


def diagnose(finding, Engine, root="", through_nn=False):
    """The Cause of a program's Finding or an MLPFinding, diagnosed on the engine itself."""
    try:
        if isinstance(finding, MLPFinding):
            return diagnose_mlp(finding, Engine, root, through_nn)
        return with_entry(diagnose_program(finding, Engine, root), finding)
    except RecursionError:  # a graph too deep for the diagnosis's own helpers (torch, inspect)
        return with_entry(fallback(finding, root, Engine), finding)

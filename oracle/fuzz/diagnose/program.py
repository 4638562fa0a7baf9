"""A program's finding: the case runs again in the engine, and the steps are asked in the order
that the finding's kind calls for."""
from oracle.fuzz import graph
from oracle.fuzz.diagnose.cause import cause
from oracle.fuzz.diagnose.fallback import fallback
from oracle.fuzz.diagnose.run import Run


def diagnose_program(finding, Engine, root):
    program, point = finding.program, finding.point
    if finding.kind == "slow":  # backward() outran a deep case's bound (oracle.fuzz.deep), which counted its walk
        return cause("traversal", "backward", graph.place_of(getattr(Engine, "backward", None)), finding.detail, 1,
                     "slow")
    if finding.kind in ("raise", "recursion", "memory", "complex", "not-a-number", "value", "grad"):
        run = Run(Engine, root)
        failure = run.program(program, point)
        if failure is not None:
            return failure
        if run.mutated is not None:  # every later value is off once an operand changed under it
            return run.mutation(program)
        node = finding.node if isinstance(finding.node, int) else None
        if finding.kind in ("value", "not-a-number", "complex"):
            found = run.values() or run.bad_data() or run.composition(program, [node] if node is not None else [],
                                                                      "value")
            if found is not None:
                return found
        if finding.kind == "grad":  # the local check found every value right before it blamed a gradient
            users = [k for k, _ in program.consumers()[node]] if node is not None else []
            found = (run.walk(definite=True) or run.rules() or run.composition(program, users, "grad")
                     or run.walk())
            if found is not None:
                return found
    return fallback(finding, root, Engine)

"""An MLP's finding: the model is trained up to the step that first failed and runs again in the
engine; a non-number goes first, then the values, the walk's sure signs, the rules, the walk."""
from oracle.fuzz.diagnose.fallback import fallback
from oracle.fuzz.diagnose.run import Run
from oracle.mlp import trained


def diagnose_mlp(finding, Engine, root, through_nn):
    spec = finding.spec
    if finding.step and finding.kind not in ("timeout", "crash", "memory"):  # it first failed at that step
        try:
            spec = trained(spec, Engine, finding.step, through_nn)
        except Exception:
            pass  # the steps before did not fail in the campaign: an engine that differs now is looked at as it is
    run = Run(Engine, root)
    failure = run.mlp(spec, through_nn)
    if failure is not None:
        return failure
    # a node whose .data is not a number makes every gradient after it wrong too: it goes first
    return (run.bad_data() or run.values() or run.walk(definite=True) or run.rules() or run.walk()
            or fallback(finding, root, Engine))

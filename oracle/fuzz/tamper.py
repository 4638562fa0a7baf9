"""What an engine changes in the interpreter when it is imported, and putting it back.

The oracle computes its reference values in the same worker process as the engine it tests. An
engine that calls `sys.setrecursionlimit(50)` or replaces `math.exp`, `torch.tanh` or a builtin at
import would make the oracle wrong there. So a worker takes a `snapshot` before it imports the
engine, and `restore` afterwards puts back what changed (the oracle can trust its own numbers
again) and says what it was: that is a root cause of its own, kind "tamper", whose reproducer
(`reproducer.tamper_reproducer_source`) runs `snapshot` and `differences` from this very file.
"""
import sys

MISSING = object()


def watched():
    """The namespaces whose contents the oracle relies on, by name."""
    import builtins
    import math

    import numpy
    import torch
    return {"math": math, "builtins": builtins, "torch": torch, "torch.Tensor": torch.Tensor, "numpy": numpy}


def snapshot():
    """(recursion limit, {name: (namespace, a copy of its attributes)})."""
    return sys.getrecursionlimit(), {name: (obj, dict(vars(obj))) for name, obj in watched().items()}


def differences(snap):
    """What changed since `snap`: (what, namespace, attribute, its value then) for each change."""
    limit, namespaces = snap
    out = []
    if sys.getrecursionlimit() != limit:
        out.append((f"sys.setrecursionlimit({sys.getrecursionlimit()}) (it was {limit})", sys, "", limit))
    for name, (obj, before) in namespaces.items():
        now = dict(vars(obj))
        for key, value in before.items():
            if not key.startswith("__") and now.get(key, MISSING) is not value:
                out.append((f"{name}.{key} {'replaced' if key in now else 'deleted'}", obj, key, value))
        for key in now.keys() - before.keys():  # torch.Tensor.tanh set on the class hides the C method
            if not key.startswith("__"):
                out.append((f"{name}.{key} set", obj, key, None))
    return out


def restore(snap):
    """Put back what changed since `snap`; the changes, one line each (empty when none)."""
    changes = differences(snap)
    for what, obj, key, value in changes:
        try:
            if obj is sys:
                sys.setrecursionlimit(value)
            elif what.endswith(" set"):
                delattr(obj, key)
            else:
                setattr(obj, key, value)
        except (AttributeError, TypeError, ValueError):
            pass
    return [what for what, *_ in changes]

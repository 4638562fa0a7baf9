"""Reproducer scripts: a finding as a standalone Python file that exits 1 while the bug is there.

A program finding becomes `f` printed from the program itself, run on the engine and on PyTorch
float64 at the finding's point; an MLP finding becomes the oracle's own neuron and training code
(copied in with `inspect`, so the two cannot drift) with the spec's weights. The script imports
only torch and the engine, never `oracle`.
"""
import importlib.util
import inspect
import json
import os
import pathlib

from oracle.check import ATOL, RTOL
from oracle.fuzz.probe import DEFAULT_ENGINE
from oracle.program import float_source


def reproducer_source(program, point, engine_spec=DEFAULT_ENGINE, finding=None):
    """A standalone script: f defined once from the program, run on the engine and on torch
    float64 at `point`; it prints the mismatch and exits 1 while there is one, 0 once fixed."""
    what = "a program" if finding is None else f"finding {finding.signature}"
    where, node = "", None if finding is None else finding.node
    if isinstance(node, int) and 0 <= node < program.n_nodes:
        where = f", first at {program.line(node) if node >= program.n_inputs else program.name(node)}"
    kind = finding.kind if finding is not None else ""
    data = (f"POINT = [{', '.join(float_source(float(x)) for x in point)}]\n"
            f"KIND = {kind!r}  # what the oracle saw: value, grad, raise, complex, recursion or timeout")
    return _script(what + where, _PROGRAM_ABOUT, engine_spec, (), data, _PROGRAM.format(f=program.source()))


def mlp_reproducer_source(spec, steps, engine_spec=DEFAULT_ENGINE, finding=None):
    """A standalone script: the MLPSpec's network built from the engine's Value with the oracle's
    own neuron code (its source is copied in, so the two cannot drift) and as a torch float64
    twin, trained for `steps` SGD steps; it prints the first mismatch and exits 1 while there is
    one, 0 once fixed."""
    what = "an MLP" if finding is None else f"finding {finding.signature}, first at {finding.where}" + (
        f" after SGD step {finding.step}" if finding.step else "")
    fields = ",\n ".join(f"{json.dumps(k)}: {_json_rows(v)}" for k, v in spec.to_json().items())
    data = (f"SPEC = types.SimpleNamespace(**json.loads('''{{\n {fields}\n}}'''))\n"
            f"STEPS = {int(steps)}  # SGD steps to train; every step is compared\n"
            f"KIND = {finding.kind if finding is not None else ''!r}  # what the oracle saw")
    from oracle import mlp  # torch: only a store that records an MLP finding imports it
    shared = "\n\n\n".join(inspect.getsource(fn).rstrip() for fn in (
        mlp.engine_model, mlp.engine_forward, mlp.engine_loss, mlp.torch_model, mlp.torch_loss, mlp._torch_step,
        mlp._torch_params, mlp.sgd_step, mlp.resync))
    return _script(what, _MLP_ABOUT, engine_spec, ("json", "types"), data, _MLP.replace("{shared}", shared))


def _json_rows(value):
    """JSON text, a list of lists one row a line (X's rows, the weights' layers) to keep lines short."""
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        return "[\n  " + ",\n  ".join(json.dumps(row) for row in value) + "]"
    return json.dumps(value)


def _script(title, about, engine_spec, imports, data, body):
    """A reproducer: the shared header (docstring, engine loading, tolerance, close), then body."""
    imports = "\n".join(f"import {m}" for m in sorted(("importlib", "math", "sys", *imports)))
    return _HEADER.format(title=title, about=about, engine=engine_spec, root=_engine_root(engine_spec),
                          imports=imports, atol=ATOL, rtol=RTOL, data=data) + body + _FOOTER


def _engine_root(spec):
    """The sys.path entry the engine's top-level package is imported from here, or None."""
    top = spec.partition(":")[0].split(".")[0]
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    if found.submodule_search_locations:
        return str(pathlib.Path(list(found.submodule_search_locations)[0]).resolve().parent)
    if found.origin and os.path.isfile(found.origin):
        return str(pathlib.Path(found.origin).resolve().parent)
    return None


_HEADER = '''\
"""Reproducer for {title}.

{about}

    python <this file> [module:attr]    (default engine: {engine})
"""
{imports}

import torch

ENGINE = {engine!r}
# Where ENGINE's top-level package was imported from when this file was written: put on sys.path
# only if ENGINE does not import as installed (an engine in a checkout, not pip-installed).
ENGINE_ROOT = {root!r}
ATOL = {atol!r}
RTOL = {rtol!r}
{data}


def load_engine(spec):
    module, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(module)
    except ModuleNotFoundError:
        if ENGINE_ROOT is None or ENGINE_ROOT in sys.path:
            raise
        sys.path.insert(0, ENGINE_ROOT)
        obj = importlib.import_module(module)
    for name in attr.split("."):
        obj = getattr(obj, name)
    return obj


def close(a, b):
    if math.isfinite(a) and math.isfinite(b):
        return abs(a - b) <= ATOL + RTOL * max(abs(a), abs(b))
    return a == b or (math.isnan(a) and math.isnan(b))


def print_mismatch(head, name, a, b):
    print(head + " are not close!\\n")
    print(f"Mismatched {{name}}")
    print(f"micrograd={{a!r}}  torch={{b!r}}")
    if math.isfinite(a) and math.isfinite(b):
        print(f"Absolute difference: {{abs(a - b):.3g}} (up to {{ATOL:g}} allowed)")
        rel = abs(a - b) / abs(b) if b else math.inf  # against torch's value, as assert_close
        print(f"Relative difference: {{rel:.3g}} (up to {{RTOL:g}} allowed)")
    print()
'''

_FOOTER = '''

if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ENGINE))
'''

_PROGRAM_ABOUT = """Runs f on the engine under test and on PyTorch float64 at one input point, and compares the
output value and the gradient with respect to each input: |a - b| <= atol + rtol * max(|a|, |b|),
non-finite values by class (nan, +inf, -inf). Exits 1 while they disagree, 0 once they agree."""

_PROGRAM = '''

{f}


def real(x, what):
    if isinstance(x, complex):
        raise TypeError(f"{{what}} is the complex number {{x!r}}")
    return float(x)


def main(spec):
    Engine = load_engine(spec)
    at = ", ".join(f"x{{i}}={{x!r}}" for i, x in enumerate(POINT))
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in POINT]
    out = f(*ts)
    out.backward()
    want = [out.item()] + [0.0 if t.grad is None else t.grad.item() for t in ts]
    try:
        xs = [Engine(x) for x in POINT]
        out = f(*xs)
        out.backward()
        got = [real(out.data, "the output's data")] + [real(x.grad, f"x{{i}}.grad") for i, x in enumerate(xs)]
    except Exception as e:  # the engine raising where torch gives a number is the bug
        print(f"The engine failed: {{type(e).__name__}}: {{e}}\\nat {{at}}; torch={{want[0]!r}}")
        return 1
    names = ["value of the output"] + [f"gradient of the output with respect to x{{i}}" for i in range(len(xs))]
    bad = [(name, a, b) for name, a, b in zip(names, got, want) if not close(a, b)]
    for name, a, b in bad:
        print_mismatch("Values" if name.startswith("value") else "Gradients", f"{{name}}, at {{at}}", a, b)
    if bad:
        return 1
    print(f"OK: {{spec}} agrees with torch float64 at {{at}}")
    return 0
'''

_MLP_ABOUT = """Builds the MLP of SPEC from the engine's Value (per neuron, plain + and * and the activation
method; the last layer linear) and as torch.nn.Linear layers in float64 with the same weights, and
trains both for STEPS SGD steps, comparing at every step the outputs, the loss and the gradient of
every parameter: |a - b| <= atol + rtol * max(|a|, |b|), non-finite values by class (nan, +inf,
-inf). Training that diverges to non-finite values ends the comparison. Exits 1 while they
disagree, 0 once they agree."""

# Not formatted: {shared} is replaced by the oracle's own functions (see mlp_reproducer_source).
_MLP = '''

{shared}


def engine_step(params, flat):
    """Forward and backward on the engine: outputs, loss and parameter gradients as one list."""
    outs, loss = engine_loss(SPEC, params)
    for p in flat:
        p.grad = 0.0
    loss.backward()
    return [float(o.data) for row in outs for o in row] + [float(loss.data)] + [float(p.grad) for p in flat]


def first_mismatch(got, want):
    return next((i for i, (a, b) in enumerate(zip(got, want)) if not close(a, b)), None)


def main(spec):
    Engine = load_engine(spec)
    layers = torch_model(SPEC.weights)
    tparams = _torch_params(layers)
    step = 0
    try:  # the engine under test may raise anything; torch, on these floats, does not
        params = engine_model(SPEC, Engine)
        flat = [p for layer in params for ws, b in layer for p in ws + [b]]
        for step in range(STEPS + 1):
            got = engine_step(params, flat)
            tout, want = _torch_step(SPEC, layers, tparams)
            if step > 0 and not all(math.isfinite(v) for v in got + want):
                # Training diverged: a batched matmul then multiplies zeros by infinities that a
                # scalar graph never forms, so from here on the two differ by construction.
                print(f"OK: {spec} agrees with torch float64 until training diverges at SGD step {step}")
                return 0
            i = first_mismatch(got, want)
            if i is not None and step > 0:
                # As the oracle does: re-check the step from the engine's own parameters, so that
                # float64 noise amplified by training is not taken for a wrong step.
                resync(tparams, flat)
                tout, want = _torch_step(SPEC, layers, tparams)
                i = first_mismatch(got, want)
            if i is not None:
                n_out = tout.numel()
                head, name = (("Outputs", f"output {i}") if i < n_out else ("Losses", "loss") if i == n_out
                              else ("Gradients", f"gradient of parameter {i - n_out - 1}"))
                print_mismatch(head, name + (f" after SGD step {step}" if step else ""), got[i], want[i])
                return 1
            if step == STEPS:
                break
            sgd_step(SPEC.lr, flat, layers)
    except Exception as e:
        print(f"The engine failed: {type(e).__name__}: {e}\\nat SGD step {step}")
        return 1
    print(f"OK: {spec} agrees with torch float64 through {STEPS} SGD steps")
    return 0
'''

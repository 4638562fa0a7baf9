"""Findings on disk: per signature, a JSON case and a standalone reproducer script.

    DIR/<signature>.py    python DIR/<signature>.py [module:attr]  exits 1 while the bug is there
    DIR/<signature>.json  the program, its input point (floats exact), seed, engine, kind, message;
                          for an MLP finding, its MLPSpec and SGD steps instead (`record_mlp`)

Several workers, or machines sharing a file system, may write one DIR, and any of them may be
killed at any moment. So every file is written under a hidden temporary name in DIR and published
with os.link, which is atomic and fails when the final name exists: a file under a final name is
always complete, and no writer replaces another's. The .py is published first, and whoever
publishes it owns the signature; the .json is published last, so a .json means a complete finding.
"""
import dataclasses
import datetime
import importlib.util
import inspect
import json
import os
import pathlib
import re
import subprocess
import sys
import time
import uuid

from oracle.check import ATOL, RTOL
from oracle.fuzz.probe import DEFAULT_ENGINE
from oracle.program import Program, float_from_json, float_json, float_source

# A .py with no .json this much older than now was left by a writer killed between its two
# links (a window of microseconds), not published by one that is still at work.
STALE_SECONDS = 120.0


class FindingStore:
    """A directory of findings, deduplicated by signature."""

    def __init__(self, out_dir, verify=True, timeout=120.0):
        self.dir = pathlib.Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.verify = verify  # run each reproducer once to record whether it exits 1
        self.timeout = timeout  # seconds a reproducer may take (it imports torch)
        self._sweep()

    def _sweep(self):
        """Remove the hidden files of writers killed mid-write (never published, so nobody's finding)."""
        for tmp in [*self.dir.glob(".*.tmp"), *self.dir.glob(".*.stale")]:
            try:
                if time.time() - tmp.stat().st_mtime > STALE_SECONDS:
                    tmp.unlink()
            except FileNotFoundError:
                pass  # another store swept it first

    def paths(self, signature):
        """The (.json, .py) paths of a signature."""
        name = _file_name(signature)
        return self.dir / f"{name}.json", self.dir / f"{name}.py"

    def recorded(self):
        """The signatures recorded so far (those whose .json is published)."""
        return sorted(p.stem for p in self.dir.glob("*.json") if not p.name.startswith("."))

    def record(self, finding, program, point, meta=None):
        """Record a finding: `finding` is check_program's Finding on (program, point), meta holds
        at least seed, engine (a "module:attr" spec) and strict. Returns the .json path, or None
        when its signature is already recorded (or being recorded by another writer)."""
        meta = dict(meta or {})
        engine = meta.get("engine") or DEFAULT_ENGINE
        return self._publish(finding.signature, lambda: reproducer_source(program, point, engine, finding),
                             lambda exit_code: _case(finding, program, point, meta, engine, exit_code))

    def record_mlp(self, finding, meta=None):
        """Record an MLPFinding as record does a program's: a .py reproducer that trains the spec
        for the finding's SGD steps on the engine and on torch, and the .json that --replay reads.
        The .json path, or None when the signature is already recorded."""
        meta = dict(meta or {})
        engine = meta.get("engine") or DEFAULT_ENGINE
        return self._publish(
            finding.signature, lambda: mlp_reproducer_source(finding.spec, finding.step, engine, finding),
            lambda exit_code: _mlp_case(finding, meta, exit_code))

    def _publish(self, signature, source, case):
        """Publish source() as <signature>.py, then case(exit code of that script) as its .json:
        the .py first (whoever links it owns the signature), the .json last. The .json path, or
        None when the signature is taken."""
        json_path, py_path = self.paths(signature)
        if json_path.exists() or self._held(py_path):
            return None
        tmp_py = _write_temp(py_path, source())
        tmp_json = None
        try:
            # Before publishing, so that the window between the two links stays tiny.
            exit_code = self._run(tmp_py) if self.verify else None
            tmp_json = _write_temp(json_path, json.dumps(case(exit_code), indent=1, default=str) + "\n")
            if not _link(tmp_py, py_path):
                return None  # another writer owns this signature
            # Our .py may have been moved aside as stale by a writer with a badly skewed clock:
            # publish the .json only over our own .py.
            if not (py_path.exists() and os.path.samefile(tmp_py, py_path)):
                return None
            if not _link(tmp_json, json_path):
                return None
            _sync_dir(self.dir)  # the finding is reported: make its directory entries durable too
            return json_path
        finally:
            for tmp in (tmp_py, tmp_json):
                if tmp is not None:
                    tmp.unlink(missing_ok=True)

    def _held(self, py_path):
        """True when a writer holds this signature: its .py is published and its .json is not,
        yet. A stale .py (its writer was killed) is moved aside, so the signature is free again."""
        try:
            seen = os.stat(py_path)
        except FileNotFoundError:
            return False
        if time.time() - seen.st_mtime < STALE_SECONDS:
            return True
        aside = self.dir / f".{py_path.name}.{uuid.uuid4().hex}.stale"
        try:
            os.rename(py_path, aside)  # atomic: of two writers clearing it, one moves it
        except FileNotFoundError:
            return False
        moved = os.stat(aside)
        if (moved.st_ino, moved.st_mtime_ns) != (seen.st_ino, seen.st_mtime_ns):
            _link(aside, py_path)  # a fresh .py replaced the stale one meanwhile: put it back
            os.unlink(aside)
            return True
        os.unlink(aside)
        return False

    def _run(self, script):
        """The reproducer's exit code, or "timeout"."""
        try:
            done = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=self.timeout,
                                  cwd=self.dir)
        except subprocess.TimeoutExpired:
            return "timeout"
        return done.returncode


def _file_name(signature):
    # Signatures are kind-op, already safe; a plug-in op name must not reach outside DIR.
    return re.sub(r"[^A-Za-z0-9_.-]", "_", signature).lstrip(".") or "finding"


def publish(path, text):
    """Write text to path atomically and only if path does not exist yet: under a hidden temporary
    name, flushed to disk, then linked (which fails when the name exists). path, or None."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(path, text)
    try:
        return path if _link(tmp, path) else None
    finally:
        tmp.unlink(missing_ok=True)


def _write_temp(final, text):
    """text in a new hidden file next to `final`, flushed to disk; its path."""
    tmp = final.parent / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return tmp


def _link(tmp, final):
    """Publish tmp under final unless final exists; whether it was published."""
    os.utime(tmp)  # the mtime of a published file says when it was published (see _held)
    try:
        os.link(tmp, final)
    except FileExistsError:
        return False
    return True


def _sync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform and file system; kill -9 does not need it
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _case(finding, program, point, meta, engine, exit_code):
    case = {
        "signature": finding.signature,
        "kind": finding.kind,
        "op": finding.op,
        "node": finding.node,
        "program": program.to_json(),
        "inputs": [float_json(float(x)) for x in point],
        "engine": engine,
        "seed": meta.get("seed"),
        "strict": meta.get("strict"),
        "engine_value": _maybe_float(finding.engine),
        "torch_value": _maybe_float(finding.torch),
        "message": _message(finding, program),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "reproducer_fails": exit_code == 1,
        "reproducer_exit": exit_code,
        "source": program.source(),
    }
    for key, value in meta.items():
        case.setdefault(key, value)
    return case


def _mlp_case(finding, meta, exit_code):
    case = {"signature": finding.signature, "kind": finding.kind, "mlp": finding.spec.to_json(),
            "steps": finding.step, "where": finding.where, "engine_value": finding.engine,
            "torch_value": finding.torch, "message": finding.message(),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "reproducer_fails": exit_code == 1, "reproducer_exit": exit_code}
    for key, value in meta.items():
        case.setdefault(key, value)
    return case


def _maybe_float(x):
    return None if x is None else float_json(float(x))


def _message(finding, program):
    try:
        return dataclasses.replace(finding, program=program).message()
    except Exception as e:  # a finding from another program (its node is not in this one)
        return f"{finding.signature}: {finding.detail} (no message: {type(e).__name__}: {e})"


def load_case(path):
    """(program, point, meta) from a finding's .json; ValueError with a one-line reason if the
    file is missing, not JSON, or not a valid case."""
    path = pathlib.Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read: {e}") from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(d, dict) or "program" not in d or "inputs" not in d:
        raise ValueError(f"{path}: not a finding (a JSON object with 'program' and 'inputs')")
    try:
        program = Program.from_json(d["program"])
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    inputs = d["inputs"]
    if not isinstance(inputs, list) or len(inputs) != program.n_inputs:
        raise ValueError(f"{path}: 'inputs' must be a list of {program.n_inputs} floats, got {inputs!r:.80}")
    try:
        point = [float_from_json(x) for x in inputs]
    except ValueError as e:
        raise ValueError(f"{path}: bad input value: {e}") from None
    return program, point, {k: v for k, v in d.items() if k not in ("program", "inputs")}


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

"""Findings on disk: per signature, a JSON case and a standalone reproducer script.

    DIR/<signature>.py    python DIR/<signature>.py [module:attr]  exits 1 while the bug is there
    DIR/<signature>.json  the program, its input point (floats exact), seed, engine, kind, message

Several workers, or machines sharing a file system, may write one DIR, and any of them may be
killed at any moment. So every file is written under a hidden temporary name in DIR and published
with os.link, which is atomic and fails when the final name exists: a file under a final name is
always complete, and no writer replaces another's. The .py is published first, and whoever
publishes it owns the signature; the .json is published last, so a .json means a complete finding.
"""
import dataclasses
import datetime
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import time
import uuid

from oracle.check import ATOL, RTOL
from oracle.probe import DEFAULT_ENGINE
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
        json_path, py_path = self.paths(finding.signature)
        if json_path.exists() or self._held(py_path):
            return None
        engine = meta.get("engine") or DEFAULT_ENGINE
        tmp_py = _write_temp(py_path, reproducer_source(program, point, engine, finding))
        tmp_json = None
        try:
            # Before publishing, so that the window between the two links stays tiny.
            exit_code = self._run(tmp_py) if self.verify else None
            case = _case(finding, program, point, meta, engine, exit_code)
            tmp_json = _write_temp(json_path, json.dumps(case, indent=1, default=str) + "\n")
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
    return _TEMPLATE.format(
        what=what, where=where, engine=engine_spec, root=_engine_root(engine_spec),
        point=", ".join(float_source(float(x)) for x in point), atol=ATOL, rtol=RTOL, f=program.source(),
        kind=finding.kind if finding is not None else "")


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


_TEMPLATE = '''\
"""Reproducer for {what}{where}.

Runs f on the engine under test and on PyTorch float64 at one input point, and compares the
output value and the gradient with respect to each input: |a - b| <= atol + rtol * max(|a|, |b|),
non-finite values by class (nan, +inf, -inf). Exits 1 while they disagree, 0 once they agree.

    python <this file> [module:attr]    (default engine: {engine})
"""
import importlib
import math
import sys

import torch

ENGINE = {engine!r}
# Where ENGINE's top-level package was imported from when this file was written: put on sys.path
# only if ENGINE does not import as installed (an engine in a checkout, not pip-installed).
ENGINE_ROOT = {root!r}
POINT = [{point}]
ATOL = {atol!r}
RTOL = {rtol!r}
KIND = {kind!r}  # what the oracle saw: value, grad, raise, complex, recursion or timeout


{f}


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
        print(("Values" if name.startswith("value") else "Gradients") + " are not close!\\n")
        print(f"Mismatched {{name}}, at {{at}}")
        print(f"micrograd={{a!r}}  torch={{b!r}}")
        if math.isfinite(a) and math.isfinite(b):
            print(f"Absolute difference: {{abs(a - b):.3g}} (up to {{ATOL:g}} allowed)")
            rel = abs(a - b) / abs(b) if b else math.inf  # against torch's value, as assert_close
            print(f"Relative difference: {{rel:.3g}} (up to {{RTOL:g}} allowed)")
        print()
    if bad:
        return 1
    print(f"OK: {{spec}} agrees with torch float64 at {{at}}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ENGINE))
'''

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
import json
import os
import pathlib
import re
import subprocess
import sys
import time
import uuid

from oracle.fuzz.probe import DEFAULT_ENGINE
from oracle.fuzz.reproducer import mlp_reproducer_source, reproducer_source
from oracle.program import Program, float_from_json, float_json

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

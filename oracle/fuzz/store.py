"""Root causes on disk: per root cause, a standalone reproducer script and a JSON case.

    DIR/<name>.py    python DIR/<name>.py [module:attr]  exits 1 while the bug is there
    DIR/<name>.json  the root cause, the program and its input point (floats exact), seed, engine
                     and where it was loaded from; for an MLP finding, its MLPSpec and SGD steps

A root cause is published only once its reproducer, run in a fresh sandboxed process, reports the
failure it was written for (`confirm`): one that its own reproducer clears is noise, one whose
reproducer could not run is "could-not-confirm", and neither is published. DIR is made absolute
when the store is made (`~` expanded), so the reproducer is run where it was written from
whatever folder the run starts in.

Several workers, or machines sharing a file system, may write one DIR, and any of them may be
killed at any moment. So every file is written under a hidden temporary name in DIR (naming its
writer's host and process) and published with os.link, which is atomic and fails when the final
name exists: a file under a final name is always complete, and no writer replaces another's. The
.py is published first, and whoever publishes it owns the name; the .json is published last, so a
.json means a complete finding. `sweep` removes the temporary files of writers that are dead.
"""
import dataclasses
import datetime
import json
import os
import pathlib
import re
import socket
import time
import uuid
from dataclasses import dataclass

from oracle.fuzz import confirm, sandbox
from oracle.fuzz.reproducer import (
    mlp_reproducer_source,
    mlp_torch_source,
    program_torch_source,
    reproducer_source,
    tamper_reproducer_source,
)
from oracle.program import Program, float_from_json, float_json

# A .py with no .json this much older than now was left by a writer killed between its two
# links (a window of microseconds), not published by one that is still at work; and a temporary
# file of another host's writer this old is that of a dead one.
STALE_SECONDS = 120.0
TORCH_TIMEOUT = 30.0  # the longest a case's torch side may take to be computed for its reproducer
HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


@dataclass(frozen=True)
class Saved:
    """What recording a root cause did."""
    state: str  # "confirmed" (its reproducer failed as written: published), "written" (published, not run),
    #             "noise" (its reproducer passed), "could-not-confirm" (it could not run, or failed otherwise),
    #             "unconfirmed" (the campaign's end cut it short), "taken" (the name was already there)
    path: object = None  # the published .json
    exit: object = None  # the reproducer's exit code, or "timeout"
    output: str = ""  # the tail of what the reproducer printed
    reason: str = ""  # could-not-confirm: why, on one line


def check_out(out):
    """None when `out` can hold findings (created if need be), else why not, on one line."""
    path = pathlib.Path(out).expanduser()
    if path.exists() and not path.is_dir():
        return f"--out {out} is a file, not a directory"
    try:
        path.mkdir(parents=True, exist_ok=True)
        _write_temp(path / ".write-test", "").unlink()
    except OSError as e:
        return f"--out {out}: cannot write there ({e.strerror or e})"
    return None


def sweep(out):
    """Remove the hidden files of writers that died mid-write (never published, so nobody's
    finding): on this host, those whose process is gone; of other hosts, those STALE_SECONDS old."""
    folder = pathlib.Path(out).expanduser()
    for tmp in [*folder.glob(".*.tmp"), *folder.glob(".*.stale")]:
        try:
            parts = tmp.name[:-4].rsplit("~", 3)
            mine = len(parts) == 4 and parts[1] == HOST and parts[2].isdigit()
            if (mine and not _alive(int(parts[2]))) or time.time() - tmp.stat().st_mtime > STALE_SECONDS:
                tmp.unlink()
        except FileNotFoundError:
            pass  # another sweep took it first


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FindingStore:
    """A directory of root causes, one name each."""

    def __init__(self, out_dir, memory_mb=0, verify=True, started=None):
        self.dir = pathlib.Path(out_dir).expanduser().absolute()
        self.started = started  # told each reproducer process as it starts (see sandbox.run_script)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.memory_mb = memory_mb  # the engine's memory limit in a reproducer, as in the workers
        # Run each reproducer, and publish only one that fails; and run torch on its case, for the
        # TORCH values it quotes, when its worker did not (False: neither; publish it as it is).
        self.verify = verify
        self._mine = set()  # the names this store published: record(..., replace=True) may replace them

    def paths(self, name):
        """The (.json, .py) paths of a name."""
        name = file_name(name)
        return self.dir / f"{name}.json", self.dir / f"{name}.py"

    def recorded(self):
        """The names recorded so far (those whose .json is published)."""
        return sorted(p.stem for p in self.dir.glob("*.json") if not p.name.startswith("."))

    def record(self, name, finding, program, point, meta, origin, cause=None, timeout=60.0, verify=None,
               replace=False, cut=False):
        """Record a program's root cause under `name` once its reproducer reports the failure of the
        finding's kind (`confirm`). meta: seed, engine and the like. timeout: for the whole of it,
        the torch run for its TORCH values and then its reproducer's; cut: it is what the campaign
        had left (outrunning it is "unconfirmed"). verify: overrides the store's own for this one.
        replace: a name this store published is replaced (a better case of the same root cause);
        else it is "taken" like any other."""
        return self._publish(name, lambda script: reproducer_source(
            program, point, origin, finding, cause, self.memory_mb, script,
            self._torch(finding, lambda: program_torch_source(program, point), timeout)),
                             lambda code: _case(finding, program, point, meta, origin, cause, code), finding.kind,
                             timeout, verify, replace, cut)

    def record_mlp(self, name, finding, meta, origin, cause=None, timeout=60.0, verify=None, replace=False,
                   cut=False):
        """Record an MLP's root cause as record does a program's: a .py that trains the spec for the
        finding's SGD steps on the engine and on torch, and the .json that --replay reads."""
        return self._publish(name, lambda script: mlp_reproducer_source(
            finding.spec, finding.step, origin, finding, cause, self.memory_mb, script,
            self._torch(finding, lambda: mlp_torch_source(finding.spec), timeout)),
                             lambda code: _mlp_case(finding, meta, origin, cause, code), finding.kind, timeout,
                             verify, replace, cut)

    def record_tamper(self, name, finding, meta, origin, cause, timeout=60.0, cut=False):
        """Record what the engine changes in the interpreter at import: a .py that imports it
        between two snapshots."""
        return self._publish(name, lambda script: tamper_reproducer_source(origin, cause, self.memory_mb, script),
                             lambda code: _common({"kind": "tamper", "changes": finding.changes}, meta, origin, cause,
                                                  code), "tamper", timeout, cut=cut)

    def _publish(self, name, source, case, kind, timeout, verify=None, replace=False, cut=False):
        """Run source(the script's file name) in a sandbox; if it reports the failure of a finding
        of `kind`, publish it as <name>.py, then case(exit code) as its .json: the .py first
        (whoever links it owns the name), the .json last. Not verified, it is published as it is
        ("written"). replace: a name this store published already is replaced, .py then .json,
        each at once."""
        verify = self.verify if verify is None else verify
        json_path, py_path = self.paths(name)
        mine = replace and file_name(name) in self._mine
        if not mine and (json_path.exists() or self._held(py_path)):
            return Saved("taken", json_path if json_path.exists() else None)
        began = time.monotonic()
        tmp_py = _write_temp(py_path, source(py_path.name))
        timeout -= time.monotonic() - began  # what writing it took (its torch run) is out of the run's time
        tmp_json = None
        try:
            # Before publishing, so that the window between the two links stays tiny.
            code, output = None, ""
            if verify:
                ran = confirm.confirm(tmp_py, kind, timeout, self.started, cut)
                code, output = ran.exit, ran.output
                if ran.state != "confirmed":
                    return Saved(ran.state, None, code, output, ran.reason)
            tmp_json = _write_temp(json_path, json.dumps(case(code), indent=1, default=str) + "\n")
            if mine:
                os.replace(tmp_py, py_path)
                os.replace(tmp_json, json_path)
                _sync_dir(self.dir)
                return Saved("confirmed" if verify else "written", json_path, code, output)
            if not _link(tmp_py, py_path):
                return Saved("taken")  # another writer owns this name
            # Our .py may have been moved aside as stale by a writer with a badly skewed clock:
            # publish the .json only over our own .py.
            if not (py_path.exists() and os.path.samefile(tmp_py, py_path)):
                return Saved("taken")
            if not _link(tmp_json, json_path):
                return Saved("taken")
            _sync_dir(self.dir)  # the finding is reported: make its directory entries durable too
            self._mine.add(file_name(name))
            return Saved("confirmed" if verify else "written", json_path, code, output)
        finally:
            for tmp in (tmp_py, tmp_json):
                if tmp is not None:
                    tmp.unlink(missing_ok=True)

    def _torch(self, finding, source, timeout):
        """The TORCH values a finding's reproducer quotes: those the worker that found it put on it;
        else what the torch script source() (reproducer.program_torch_source, mlp_torch_source)
        prints, run as a reproducer is, forked from the warm Python that has imported torch (this
        process never does). None when it cannot say (no verify, a failed run, no numbers)."""
        if finding.torch_values is not None:
            return finding.torch_values
        if not self.verify:
            return None
        tmp = _write_temp(self.dir / "torch.py", source())
        try:
            code, output = sandbox.run_script(tmp, timeout=min(timeout, TORCH_TIMEOUT), cwd=self.dir,
                                              started=self.started)
        finally:
            tmp.unlink(missing_ok=True)
        try:
            values = json.loads(output.splitlines()[-1]) if code == 0 else None
        except (ValueError, IndexError):
            return None
        numbers = isinstance(values, list) and all(isinstance(v, int | float) for v in values)
        return [float(v) for v in values] if numbers else None

    def discard(self, name):
        """Remove a name this store published (a root cause's reproducer that one of another name
        replaced): its .json first, so that what is left is never a .json without its .py."""
        if file_name(name) not in self._mine:
            return
        json_path, py_path = self.paths(name)
        json_path.unlink(missing_ok=True)
        py_path.unlink(missing_ok=True)
        self._mine.discard(file_name(name))

    def _held(self, py_path):
        """True when a writer holds this signature: its .py is published and its .json is not,
        yet. A stale .py (its writer was killed) is moved aside, so the signature is free again."""
        try:
            seen = os.stat(py_path)
        except FileNotFoundError:
            return False
        if time.time() - seen.st_mtime < STALE_SECONDS:
            return True
        aside = self.dir / f".{py_path.name}~{HOST}~{os.getpid()}~{uuid.uuid4().hex}.stale"
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

def file_name(name):
    """A name safe as a file name in DIR: nothing in it reaches outside DIR."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "finding"


def _write_temp(final, text):
    """text in a new hidden file next to `final`, flushed to disk; its path."""
    tmp = final.parent / f".{final.name}~{HOST}~{os.getpid()}~{uuid.uuid4().hex}.tmp"  # see sweep
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


def _case(finding, program, point, meta, origin, cause, exit_code):
    case = {
        "signature": getattr(finding, "signature", ""),
        "kind": finding.kind,
        "op": finding.op,
        "node": finding.node,
        "program": program.to_json(),
        "inputs": [float_json(float(x)) for x in point],
        "engine_value": _maybe_float(finding.engine),
        "torch_value": _maybe_float(finding.torch),
        "message": _message(finding, program),
        "source": program.source(),
    }
    return _common(case, meta, origin, cause, exit_code)


def _mlp_case(finding, meta, origin, cause, exit_code):
    case = {"signature": finding.signature, "kind": finding.kind, "mlp": finding.spec.to_json(),
            "steps": finding.step, "where": finding.where, "engine_value": finding.engine,
            "torch_value": finding.torch, "message": finding.message()}
    return _common(case, meta, origin, cause, exit_code)


def _common(case, meta, origin, cause, exit_code):
    """What every finding's .json holds besides its case: the root cause, the engine and where it
    was loaded from (so that --replay finds it from anywhere), and the reproducer's exit code."""
    case.update({
        "root_cause": cause.to_json() if cause is not None else None,
        "class": cause.cls if cause is not None else None,
        "engine": origin.importable,
        "engine_spec": origin.spec,
        "engine_has_file": not origin.inline,  # False: a notebook's class; its reproducer defines it
        "engine_root": origin.root,
        "engine_file": origin.file,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "reproducer_fails": exit_code not in (0, None),
        "reproducer_exit": exit_code,
    })
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

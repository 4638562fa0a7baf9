"""The sandbox an engine under test runs in: disposable processes, as libFuzzer runs a target.

Every process that imports or calls the engine (a campaign's workers, its probe, a replay, each
reproducer check) first calls `enter` (a reproducer check gets the same through `run_script`, and
the reproducer sets its memory limit itself, as a learner running it gets it too):
  - its own session and process group, so that killing the group (`kill_group`) also ends any
    process the engine forked, and Ctrl-C on the terminal reaches only the campaign;
  - an address-space limit: `memory_mb` more than the process itself needs, after which the
    engine's allocations fail with MemoryError (a finding of kind "memory");
  - stdin from /dev/null, and stdout and stderr captured: Python-level printing goes to a
    `Capture` that counts it and keeps its tail; file-descriptor output (C code, child processes)
    goes to a file that the parent keeps short (`OutputFile`).
The campaign's own process never imports the engine.
"""
import collections
import io
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

from oracle.fuzz import launcher

TAIL = 500  # characters of an engine's output kept with a finding
FILE_LIMIT = 1 << 20  # bytes an output file may reach before the parent empties it


def default_memory_mb(workers):
    """Memory the engine may use per worker by default: half the machine shared among the
    workers, between 512 MB and 4 GB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError):
        total = 8192
    return max(512, min(4096, total // 2 // max(workers, 1)))


class Capture(io.TextIOBase):
    """A text stream that counts what is written and keeps only its last TAIL characters."""

    def __init__(self):
        super().__init__()
        self.chars = 0
        self._tail = collections.deque()
        self._kept = 0

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        self.chars += len(s)
        s = s[-TAIL:]
        self._tail.append(s)
        self._kept += len(s)
        while self._kept - len(self._tail[0]) >= TAIL:
            self._kept -= len(self._tail.popleft())
        return len(s)

    def take(self):
        """(characters written, their tail) since the last take."""
        out = self.chars, "".join(self._tail)[-TAIL:]
        self.chars, self._tail, self._kept = 0, collections.deque(), 0
        return out


def enter(memory_mb, output_path):
    """Make this process a sandbox for the engine (see the module docstring); returns the Capture
    that stands for stdout and stderr."""
    os.setsid()
    if memory_mb:
        limit = _address_space() + memory_mb * (1 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    out = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    capture = Capture()
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115  (this process's stdin for good)
    sys.stdout = sys.stderr = capture
    return capture


def _address_space():
    """This process's virtual memory size in bytes (what RLIMIT_AS counts)."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def ended(code):
    """How a process with this exit status ended, in words: "was killed by SIGSEGV", "exited with
    status 3" (a negative status is a signal's, as subprocess and multiprocessing give it)."""
    if isinstance(code, int) and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def kill_group(pgid):
    """SIGKILL every process in the group (the sandboxed process and whatever it forked)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid):
    """Whether any process of the group is still running."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputFile:
    """The file a sandboxed process's file descriptors 1 and 2 write to, kept short by its reader:
    past FILE_LIMIT it is emptied (the writer appends, so it carries on at the new end)."""

    def __init__(self, folder, name):
        self.path = os.path.join(folder, name)
        open(self.path, "wb").close()
        self.dropped = 0  # bytes emptied away

    def trim(self):
        try:
            size = os.path.getsize(self.path)
            if size > FILE_LIMIT:
                os.truncate(self.path, 0)
                self.dropped += size
        except OSError:
            pass

    def tail(self):
        """The last TAIL bytes written (as text), and the bytes written in all."""
        try:
            size = os.path.getsize(self.path)
            with open(self.path, "rb") as f:
                f.seek(max(0, size - TAIL))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "", self.dropped
        return text, self.dropped + size

    def remove(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass


def run_script(script, args=(), timeout=60.0, cwd=None, started=None, env=None):
    """Run a Python script sandboxed, as `python script.py ARGS` (forked from a warm Python that
    has imported torch, see `oracle.fuzz.launcher`; in a fresh one if that cannot): (exit code, or
    "timeout"; the tail of what it printed). `script` is made absolute first: `cwd` is where it
    runs, not where it is looked for. It has a session of its own, its output in a file (a pipe
    would wait for any grandchild holding it), and its whole process group is killed once it is
    done, so nothing it forked outlives it. The script sets the engine's memory and time limits
    itself, as a worker had them. started(pgid): told its process group as soon as it runs, so that
    a caller can kill it sooner. env: its environment (default: this process's)."""
    script = os.path.abspath(os.path.expanduser(str(script)))
    cwd = os.path.abspath(cwd if cwd is not None else os.getcwd())
    args = [str(a) for a in args]
    with tempfile.NamedTemporaryFile() as out:
        env = dict(os.environ if env is None else env)
        code = launcher.shared(env).run(script, args, out.name, cwd, env, timeout, started)
        if code is None:
            code = _run_cold(script, args, out, cwd, timeout, started, env)
        size = out.seek(0, os.SEEK_END)
        out.seek(max(0, size - 4 * TAIL))
        return code, out.read().decode("utf-8", "replace")


def _run_cold(script, args, out, cwd, timeout, started, env):
    """run_script's run in a fresh Python."""
    proc = subprocess.Popen(launcher.cold_command(script, args), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                            cwd=cwd, env=env, start_new_session=True)
    if started is not None:
        started(proc.pid)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    finally:
        kill_group(proc.pid)
        proc.wait()


def wait_until(deadline):
    """Seconds left before a time.monotonic() deadline (0 when past it; a large number for None)."""
    return 1e9 if deadline is None else max(0.0, deadline - time.monotonic())

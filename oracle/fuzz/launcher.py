"""Scripts run as `python script.py ARGS` does, forked from a warm Python.

A reproducer spends about 2 s importing torch and milliseconds running the engine, and a campaign
runs one for every root cause it confirms. So each run is forked from a `Launcher`: a Python
started as a fresh one would be for the script (this interpreter, this environment, its own
session), which imports torch and nothing of this project, then waits for scripts to run. For
each it forks a child that does what a fresh `python script.py ARGS` does (`_LAUNCH`): a session
of its own, stdin from /dev/null, stdout and stderr to a file, the script's folder as its working
directory and first on sys.path, the script run as `__main__`, and the end a Python makes
(its threads joined, its atexit functions run, SystemExit's code; a traceback and 1 for an
exception). What differs from a fresh Python: `import torch` finds torch imported, and the child
does not tear its modules down at the end (torch's teardown alone takes 0.7 s).

A launcher that cannot start or dies is not a verdict on the script: `run` then answers None and
the caller runs the script in a fresh Python (`cold_command`). A launcher ends when the process
that started it does (it reads end-of-file on its stdin).
"""
import json
import os
import select
import subprocess
import sys
import threading
import time
import weakref

# What a fresh Python does for `python script.py ARGS`: the exit status it ends with, having
# printed what SystemExit or an exception carried (a traceback of the script's own frames).
_LAUNCH = """\
def launch(script, args):
    sys.argv = [script, *args]
    if not getattr(sys.flags, "safe_path", False):  # Python 3.11's -P, PYTHONSAFEPATH
        sys.path[0] = os.path.dirname(script)  # as `python script.py` puts its folder first
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return (e.code or 0) & 0xFF
        print(e.code, file=sys.stderr)
        return 1
    except BaseException as e:
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:  # this launcher's, runpy's
            tb = tb.tb_next
        sys.excepthook(type(e), e, tb)
        return 1
    return 0
"""

_SERVER = "import atexit, json, os, runpy, sys, threading\n" + _LAUNCH + """
try:
    import torch  # noqa: F401  what a reproducer imports first
except BaseException:  # a script that needs it fails as it would in a fresh Python
    pass
os.write(1, b"ready\\n")
pending = b""
while True:
    while b"\\n" not in pending:
        chunk = os.read(0, 1 << 16)
        if not chunk:  # the process that started this one is gone
            os._exit(0)
        pending += chunk
    line, pending = pending.split(b"\\n", 1)
    run = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        null, out = os.open(os.devnull, os.O_RDONLY), os.open(run["out"], os.O_WRONLY | os.O_APPEND)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(null)
        os.close(out)
        os.chdir(run["cwd"])
        os.environ.clear()
        os.environ.update(run["env"])
        code = launch(run["script"], run["args"])
        # As a Python ends, but for the teardown of its modules (torch's takes 0.7 s): its threads
        # joined, its atexit functions run, its output flushed.
        threading._shutdown()
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)
    os.write(1, b"%d\\n" % pid)
    os.write(1, b"%d\\n" % os.waitpid(pid, 0)[1])
"""

GRACE = 5.0  # seconds to wait for the launcher to report a run it was told to kill


def cold_command(script, args):
    """The command that runs `script` in a fresh Python, as a launcher's child does."""
    return [sys.executable, "-c", "import os, runpy, sys\n" + _LAUNCH + "sys.exit(launch(sys.argv[1], sys.argv[2:]))",
            script, *args]


class Launcher:
    """A warm Python that runs one script at a time, each in a child forked from it."""

    def __init__(self, env=None):
        self._proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        self._lock = threading.Lock()
        self._pending = b""
        self._ready = False
        self.broken = False
        self._end = weakref.finalize(self, _end, self._proc)  # at the latest when this process exits

    def run(self, script, args, out, cwd, env, timeout, started=None):
        """Run `script` with `args` from `cwd` in `env`, its output appended to the file `out`: its exit
        status (negative: killed by that signal) or "timeout" after `timeout` seconds, start-up
        included. started(pgid): told the run's process group as soon as it runs. None when the
        launcher could not run it (it is then broken)."""
        with self._lock:
            if self.broken:
                return None
            end = time.monotonic() + timeout
            try:
                if not self._ready:
                    if self._line(end) is None:
                        return self._give_up("timeout")
                    self._ready = True
                request = {"script": script, "args": list(args), "out": out, "cwd": cwd, "env": dict(env)}
                self._proc.stdin.write(json.dumps(request).encode() + b"\n")
                self._proc.stdin.flush()
                pid = int(self._line(time.monotonic() + GRACE))
                if started is not None:
                    started(pid)
                status = self._line(end)
                _kill_group(pid)  # what it forked, or itself when it ran out of time
                if status is None:
                    self._line(time.monotonic() + GRACE)
                    return "timeout"
                return os.waitstatus_to_exitcode(int(status))
            except (OSError, ValueError, TypeError):  # it died, or said what it should not
                return self._give_up(None)

    def _give_up(self, answer):
        self.broken = True
        self._end()
        return answer

    def _line(self, end):
        """The launcher's next line, or None at `end`; ValueError at its end-of-file."""
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._pending:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise ValueError("the launcher ended")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode()


def _end(proc):
    proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        try:
            pipe.close()
        except OSError:
            pass


def _kill_group(pgid):
    from oracle.fuzz.sandbox import kill_group
    kill_group(pgid)


_shared = {}
_shared_lock = threading.Lock()


# What a Python reads from its environment as it starts, and torch as it is imported: launchers
# started with different values of these are different launchers. The rest of a run's environment
# is set in its child (os.environ), so that a variable that changes from run to run (pytest's
# PYTEST_CURRENT_TEST) does not start another.
STARTUP = ("PYTHON", "LANG", "LC_", "LD_", "OMP_", "MKL_", "KMP_", "TORCH", "CUDA")


def shared(env=None):
    """The launcher for runs in `env` (default: this process's environment), started the first
    time it is asked for, and again if it broke."""
    env = dict(os.environ if env is None else env)
    key = tuple(sorted((k, v) for k, v in env.items() if k.startswith(STARTUP)))
    with _shared_lock:
        launcher = _shared.get(key)
        if launcher is None or launcher.broken:
            launcher = _shared[key] = Launcher(env)
        return launcher

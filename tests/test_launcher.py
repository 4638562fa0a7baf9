"""A script forked from the warm launcher runs as `python script.py ARGS` does in a fresh Python:
the same arguments, folder, sys.path, standard input, output, exit status, threads and atexit
functions. Every reproducer check runs this way, so the comparison here is with a fresh Python
running the same script."""
import os
import pathlib
import subprocess
import textwrap
import time

import pytest

from oracle.fuzz import launcher, sandbox

SCRIPTS = {
    "what_it_sees": """
        import os, sys
        print(__name__, sys.argv[1:], os.getcwd(), sys.path[0], repr(sys.stdin.read()), os.getpgid(0) == os.getpid())
        print("to stderr", file=sys.stderr)
        sys.exit(int(sys.argv[1]))
    """,
    "raises": """
        def f():
            raise ValueError("the engine raised")
        f()
    """,
    "exits_with_text": """
        raise SystemExit("a message, and status 1")
    """,
    "ends_with_threads_and_atexit": """
        import atexit, threading, time
        atexit.register(print, "atexit ran")
        def late():
            time.sleep(0.2)
            print("thread done", flush=True)
        threading.Thread(target=late).start()
        print("main done")
    """,
    "imports_its_neighbour": """
        import neighbour
        print(neighbour.X)
    """,
}


@pytest.fixture
def scripts(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    for name, source in SCRIPTS.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    (folder / "neighbour.py").write_text("X = 'found beside the script'\n")
    (tmp_path / "elsewhere").mkdir()
    return folder


def fresh(script, args, cwd):
    done = subprocess.run(launcher.cold_command(str(script), args), cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
                          start_new_session=True)
    return done.returncode, done.stdout


@pytest.mark.parametrize("name, args", [("what_it_sees", ["3"]), ("what_it_sees", ["0"]), ("raises", []),
                                        ("exits_with_text", []), ("ends_with_threads_and_atexit", []),
                                        ("imports_its_neighbour", [])])
def test_a_script_forked_from_the_launcher_runs_as_in_a_fresh_python(name, args, scripts):
    script, cwd = scripts / f"{name}.py", scripts.parent / "elsewhere"
    warm = sandbox.run_script(script, args, timeout=60, cwd=cwd)
    assert warm == fresh(script, args, cwd)
    safe_path = bool(os.environ.get("PYTHONSAFEPATH"))  # tox's full env: no script folder on sys.path
    assert warm[0] == {"what_it_sees": int(args[0]) if args else 0, "raises": 1, "exits_with_text": 1,
                       "imports_its_neighbour": int(safe_path)}.get(name, 0)


def test_the_launcher_has_torch_imported_and_a_run_takes_milliseconds(scripts):
    pytest.importorskip("torch")
    probe = scripts / "torch_there.py"
    probe.write_text("import sys\nprint('torch' in sys.modules)\n")
    sandbox.run_script(probe, timeout=60)  # the launcher is started and warm
    start = time.monotonic()
    code, printed = sandbox.run_script(probe, timeout=60)
    took = time.monotonic() - start
    assert (code, printed) == (0, "True\n")
    assert took < 1.0, took  # a fresh Python takes about 2 s to import torch; this is a fork


def test_a_script_that_outruns_its_time_is_killed_with_what_it_forked(scripts):
    hang = scripts / "hangs.py"
    hang.write_text("import os, sys, time\nif os.fork() == 0:\n    time.sleep(100)\n"
                    "print('forked', flush=True)\ntime.sleep(100)\n")
    groups = []
    code, printed = sandbox.run_script(hang, timeout=1.0, started=groups.append)
    assert (code, printed) == ("timeout", "forked\n")
    (pgid,) = groups
    assert living(pgid) == []  # the script and its child: the whole group is gone


def living(pgid, wait=3.0):
    """The processes of group `pgid` still running (not zombies) after `wait` seconds at most."""
    end = time.monotonic() + wait
    while True:
        found = []
        for proc in pathlib.Path("/proc").iterdir():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):  # not a process, or gone meanwhile
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(proc.name)
        if not found or time.monotonic() > end:
            return found
        time.sleep(0.05)


def test_a_launcher_that_died_is_replaced_by_a_fresh_python(scripts):
    script = scripts / "what_it_sees.py"
    sandbox.run_script(script, ["0"], timeout=60)
    dead = launcher.shared()
    dead._proc.kill()
    dead._proc.wait()
    assert dead.run(str(script), ["0"], os.devnull, str(scripts), dict(os.environ), 60) is None and dead.broken
    assert sandbox.run_script(script, ["5"], timeout=60)[0] == 5  # in a fresh Python
    assert launcher.shared() is not dead and sandbox.run_script(script, ["6"], timeout=60)[0] == 6


def test_a_run_has_the_environment_it_is_given(scripts):
    script = scripts / "env.py"
    script.write_text("import os, sys\nimport neighbour_on_path\nprint(os.environ['ORACLE_TEST_VALUE'])\n")
    (scripts.parent / "elsewhere" / "neighbour_on_path.py").write_text("")
    env = {**os.environ, "ORACLE_TEST_VALUE": "given", "PYTHONPATH": str(scripts.parent / "elsewhere")}
    assert sandbox.run_script(script, timeout=60, env=env) == (0, "given\n")
    assert sandbox.run_script(script, timeout=60)[0] == 1  # this process's own environment has neither

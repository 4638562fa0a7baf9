"""Confirmation: a reproducer run in a fresh, sandboxed Python, and what its run says.

A run confirms a root cause only when the script itself reported the failure it was written for:
its last verdict line (`verdict: WHAT`, see `oracle.fuzz.reproducer`) is the one the finding's
kind expects, and its exit status is 1. `verdict: pass` with exit 0 clears it (noise). Anything
else is "could not confirm", with the first line of the error: the file is missing, Python or
torch cannot start, the script does not compile, the engine cannot be imported, the harness raised
(a traceback), the script ended without a verdict or with another one, or it outran its time.
So a reproducer that could not run is never taken for one that failed.

The script is run by its absolute path, from its own folder, in a sandbox of its own
(`sandbox.run_script`). It sets the limits the engine had in a worker itself (MEMORY_MB beyond
what it holds once torch is imported, TIME_LIMIT for the engine), so a learner who runs it gets
them too; `timeout` bounds the whole run, start-up included.
"""
import pathlib
import re
from dataclasses import dataclass

from oracle.fuzz import sandbox
from oracle.fuzz.reproducer import VERDICT, expected_verdict

VERDICT_LINE = re.compile(rf"^{re.escape(VERDICT)}(\w+)$", re.MULTILINE)
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*")


@dataclass(frozen=True)
class Outcome:
    """What one reproducer run says about its root cause."""
    state: str  # "confirmed", "noise" (it passed), "could-not-confirm" or "unconfirmed" (cut by the campaign's end)
    reason: str = ""  # could-not-confirm: why, on one line
    exit: object = None  # the script's exit status, or "timeout"
    output: str = ""  # the tail of what it printed


def confirm(script, kind, timeout, started=None, cut=False, args=()):
    """Run the reproducer `script` (of a finding of `kind`) and judge its run. cut: `timeout` is
    what the campaign had left, not what the script needs, so outrunning it is "unconfirmed".
    args: the script's own (an engine spec, to run it on another engine)."""
    script = pathlib.Path(script).expanduser().absolute()
    if not script.is_file():
        return Outcome("could-not-confirm", f"no reproducer at {script}")
    if timeout <= 0:  # nothing is left of it: the run could not even start
        return judge(kind, "timeout", "", timeout, cut)
    code, output = sandbox.run_script(script, args, timeout=timeout, cwd=script.parent, started=started)
    return judge(kind, code, output, timeout, cut)


def judge(kind, code, output, timeout=None, cut=False):
    """The Outcome of a run that exited with `code` (or "timeout") after printing `output`."""
    want = expected_verdict(kind)
    if code == "timeout":
        if cut:
            return Outcome("unconfirmed", "no time was left to run it to its end", code, output)
        return Outcome("could-not-confirm", f"the reproducer did not finish within {timeout:.3g} s", code, output)
    verdicts = VERDICT_LINE.findall(output)
    said = verdicts[-1] if verdicts else None
    if said == "pass" and code == 0:
        return Outcome("noise", "", code, output)
    if said == want and code == 1:
        return Outcome("confirmed", "", code, output)
    if said is not None and code in (0, 1):
        return Outcome("could-not-confirm", f"the reproducer reported {said}, not the {want} it was written for",
                       code, output)
    return Outcome("could-not-confirm", first_error(output, code), code, output)


def first_error(output, code):
    """The line that says why a script could not run: the exception a traceback ends with, else
    the first thing it printed, else its exit status."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    if "Traceback (most recent call last):" in output:
        tail = output[output.rindex("Traceback (most recent call last):"):].splitlines()
        errors = [line for line in tail if EXCEPTION_LINE.match(line)]
        if errors:
            return errors[-1][:300]
    if lines:
        return lines[0][:300]
    return f"the reproducer printed nothing and {sandbox.ended(code)}"


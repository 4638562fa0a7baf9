"""The failure message of `oracle.testing`'s checks: each root cause that counts, with its class,
the engine's own line, the reduced case (the short `f`, the point, expected vs actual) and how to
run its reproducer; then the class-3 root causes that did not count, one line each."""
import dataclasses
import json
import pathlib
import re
import textwrap

from oracle.cli import one_line
from oracle.fuzz.summary import CLASSES, SECTIONS
from oracle.mlp import MLPFinding, MLPSpec

SHOWN_CLASS3 = 5  # class 3 root causes listed (one line each) in a failure message
SHOWN_LINES = 30  # lines of a reproducer's f shown in a failure message (the rest is in the file)


def failure_message(display, summary, ledger, strict):
    rows = [r for section in SECTIONS.values() for r in summary["classes"][section]
            if r["class"] < 3 or strict]
    n = len(rows)
    head = (f"{display} does not match PyTorch float64: {n} root cause{'s' * (n != 1)}" if summary["findings"] else
            f"{display}: no verdict: {n} root cause{'s' * (n != 1)} found, and no reproducer could run to confirm "
            f"{'it' if n == 1 else 'them'}")
    lines = [f"{head} (seed {summary['seed']}, {summary['cases']:,} case{'s' * (summary['cases'] != 1)} in "
             f"{summary['seconds']:.1f} s)"]
    for i, row in enumerate(rows, 1):
        lines += ["", *_cause(i, row, ledger.get(row["key"]))]
    class3 = [] if strict else summary["classes"]["python_float"]
    if class3:
        lines += ["", f"Also {len(class3)} root cause{'s' * (len(class3) != 1)} of class 3 ({CLASSES[3]}), not "
                      f"counted without strict=True:"]
        lines += [f"  {r['summary']}" + (f"  (at {r['where']})" if r["where"] else "") for r in class3[:SHOWN_CLASS3]]
        if len(class3) > SHOWN_CLASS3:
            lines.append(f"  ... and {len(class3) - SHOWN_CLASS3} more")
    return "\n".join(lines)


def _cause(i, row, rc):
    """The lines for one root cause: what, where, the reduced case and its reproducer."""
    lines = [f"{i}. class {row['class']} ({CLASSES[row['class']]}): {row['summary']}"]
    if row["where"]:
        lines.append(f"   at {row['where']}")
    saved = _read_json(row["json"])
    if saved is not None:
        case = _saved_case(saved)
    else:
        case = _unsaved_case(rc)
        lines.append(f"   (could not confirm: {row['reason']}; not counted)" if row["state"] == "could-not-confirm"
                     else "   (not confirmed: no time was left to run its reproducer; shown as found)")
    lines.append(f"   {row['symptoms']:,} case{'s' * (row['symptoms'] != 1)} showed it"
                 + (f"; reduced to {row['ops']} op{'s' * (row['ops'] != 1)}:" if row["ops"] else ":"))
    lines += ["", *("      " + line if line else "" for line in _shorten(case)), ""]
    if row["reproducer"] and saved is not None:
        lines += [f"   reproducer: python {row['reproducer']}",
                  "     (exits 1 while the bug is there, 0 once it is fixed; `python that.py module:Value` runs it on "
                  "another engine)"]
        # a notebook's class has no file for a replay to load it from: its reproducer defines it
        lines += [f"   replay:     python -m oracle fuzz --replay {row['json']}"] if saved.get(
            "engine_has_file", True) else []
    return lines


def _shorten(lines):
    """At most SHOWN_LINES of a case: a long f's head and tail, and what follows it."""
    end = next((i for i, line in enumerate(lines) if not line), len(lines))  # f ends at the first blank line
    if end <= SHOWN_LINES:
        return lines
    head, tail = SHOWN_LINES * 2 // 3, SHOWN_LINES // 3
    return [*lines[:head], f"    ... ({end - head - tail:,} more lines: the whole f is in the reproducer)",
            *lines[end - tail:]]


def _read_json(path):
    if not path:
        return None
    try:
        return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _saved_case(saved):
    """The case of a saved root cause: f, the point, expected vs actual (read from its .json)."""
    if "program" in saved:
        return [*saved.get("source", "").splitlines(), "", *_mismatch(saved.get("message", ""), saved.get("source"))]
    if "mlp" in saved:
        try:
            what = MLPSpec.from_json(saved["mlp"]).describe()
        except ValueError:
            what = "an MLP"
        steps = int(saved.get("steps") or 0)
        return [f"{what}" + (f", {steps} SGD step{'s' * (steps != 1)}" if steps else ""), "",
                *_mismatch(saved.get("message", ""), what)]
    if saved.get("kind") == "tamper":
        return ["importing the engine changes:", *(f"  {c}" for c in saved.get("changes", ()))]
    return textwrap.wrap(saved.get("message", "") or "(no case)", 100)


def _unsaved_case(rc):
    finding = getattr(rc, "finding", None)
    if finding is None:
        return ["(it was still being reduced when the budget ran out: give the check more seconds)"]
    try:
        if isinstance(finding, MLPFinding):
            return _mismatch(finding.message(), finding.spec.describe())
        if getattr(finding, "program", None) is not None or getattr(rc, "program", None) is not None:
            program = rc.program if rc.program is not None else finding.program
            finding = dataclasses.replace(finding, program=program)
            return [*program.source().splitlines(), "", *_mismatch(finding.message(), program.source())]
    except Exception as e:  # a message is a nicety: never hide the failure behind a failing message
        return [f"({type(e).__name__} while describing it: {one_line(e)})"]
    return [getattr(rc.cause, "summary", "")]


_BOTH = re.compile(r"(?:engine|micrograd)=(.*)  torch=(.*)")  # micrograd=: as earlier versions saved it
_TORCH = re.compile(r"torch=(.*)")


def _mismatch(message, tail=None):
    """A finding's message without the case it ends with, its `engine=A  torch=B` line as
    expected (torch) and actual (the engine)."""
    if tail and message.rstrip().endswith(tail.rstrip()):
        message = message.rstrip()[: -len(tail.rstrip())]
    lines = []
    for line in message.strip().splitlines():
        if not line.strip():
            continue
        both, torch_only = _BOTH.fullmatch(line), _TORCH.fullmatch(line)
        if both:
            lines += [f"expected (torch float64): {both[2]}", f"actual (the engine):     {both[1]}"]
        elif torch_only:
            lines.append(f"expected (torch float64): {torch_only[1]}")
        else:
            lines.append(line)
    return lines

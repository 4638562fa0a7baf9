"""Reproducer scripts: a root cause as a standalone Python file that exits 1 while the bug is there.

A program finding becomes `f`, printed from the program itself, run on the engine and on PyTorch
float64 at the finding's point; the reducer has made the failing node the output (a value) or
an input (a gradient), so what the script compares, with the tolerance that flagged it, is the
failing node. An MLP finding becomes the oracle's own neuron and training code (copied in with
`inspect`, so the two cannot drift) and the spec's weights as a table.

A script opens on what the learner came for: the root cause in words, at the learner's own line,
how to run the file and what it prints; then the case: `f` (the MLP's network), its input point
(the MLP's SPEC) and what torch gives for it. The rest, `oracle.fuzz.harness`'s plumbing, follows
under one comment that says so. It imports only torch and the engine, never `oracle`, and imports
the engine from where the campaign found it; an engine with no file of its own (a notebook's
class, see `oracle.fuzz.interactive`) it defines itself, at its end.

Every script ends its output with one verdict line, `verdict: WHAT`, and exits 0 for `pass`, 1
for any other: `mismatch` (a value or gradient not close to torch's), `raise` (the engine raised),
`timeout` (no result within the engine's time limit), `crash` (the engine's process died: a
crash finding runs the engine in a forked child so that the script outlives it), `memory` (a
MemoryError) or `tamper` (importing the engine changed the interpreter). `expected_verdict` says
which one a finding's script was written for: a confirmation counts only when the script printed
that one (see `oracle.fuzz.confirm`).
"""
import inspect
import re
import textwrap

from oracle.fuzz import harness, inline
from oracle.fuzz.summary import CLASSES
from oracle.program import float_source
from oracle.tolerance import ATOL, RTOL

DEAF = 2.0  # a reproducer's grace past its time limit for an engine deaf to the alarm
SUMMARY_MOST = 500  # characters of a root cause's words in a reproducer's docstring: 5 lines of 100
VERDICT = "verdict: "  # the start of a script's last line
# The verdict a finding's script is written to print, by the finding's kind: a wrong number is a
# mismatch, an exception from the engine a raise; the kinds a worker cannot survive are their own.
MISMATCH_KINDS = ("value", "grad", "mlp-value", "mlp-loss", "mlp-grad", "train")
OWN_VERDICT = ("timeout", "crash", "memory", "tamper")


def expected_verdict(kind):
    """What the reproducer of a finding of this kind prints when the bug is there."""
    if kind == "slow":  # backward() outran a deep case's bound: its script gives it that long
        return "timeout"
    if kind in OWN_VERDICT:
        return kind
    return "mismatch" if kind in MISMATCH_KINDS else "raise"


def reproducer_source(program, point, origin, finding=None, cause=None, memory_mb=0, script=None, torch=None):
    """A standalone script: f defined once from the program, run on the engine and on torch
    float64 at `point`; it prints the mismatch and exits 1 while there is one, 0 once fixed.
    memory_mb: what the engine may allocate, as the oracle's worker let it (0: no limit).
    script: the file's name, for the line of its docstring that says how to run it. torch: what
    `program_torch_source` printed for the case, which the file quotes (None: not known)."""
    kind = finding.kind if finding is not None else ""
    data = (f"KIND = {kind!r}  # what the oracle saw: value, grad, raise, complex, recursion, timeout, ...\n"
            + _limits(finding))
    body = harness.PROGRAM.format(torch_side=harness.PROGRAM_TORCH, run_engine=harness.RUN_ENGINE)
    return _script(_titles(cause, "a program", origin.folders), _PROGRAM_ABOUT, kind, origin,
                   _program_case(program, point, torch), harness.RUN_IMPORTS, data, body, memory_mb, script)


def _program_case(program, point, torch):
    names = ", ".join(program.name(i) for i in range(program.n_inputs))
    return (f"{program.source()}\n\n\n"
            f"POINT = [{', '.join(float_source(float(x)) for x in point)}]  # {names}\n"
            + _torch_line(f"at POINT: f's value, then its gradient with respect to {names}", torch))


def _torch_line(what, torch, rows=None):
    """The case's TORCH: what torch float64 gives (`what`), as values or, for an MLP, as rows."""
    if torch is None:
        return "TORCH = None  # torch's values were not computed when this file was written; it computes its own"
    if rows is None:
        return f"# What torch float64 gives {what}.\nTORCH = [{', '.join(map(float_source, torch))}]"
    lines = [f"    {', '.join(map(float_source, torch[i:i + rows]))},  # example {n + 1}'s output(s)"
             for n, i in enumerate(range(0, len(torch) - 1, rows))]
    return (f"# What torch float64 gives {what}.\nTORCH = [\n" + "\n".join(lines)
            + f"\n    {float_source(torch[-1])},  # the loss\n]")


def program_torch_source(program, point):
    """A script that prints, as JSON, what torch float64 gives for the case (its reproducer's
    torch_side): the TORCH values of a case whose finding has none (one the campaign made itself,
    from a worker that died), computed where torch is imported."""
    return _torch_source(_program_case(program, point, None), harness.PROGRAM_TORCH, "torch_side()")


def mlp_torch_source(spec):
    """program_torch_source for an MLP: each example's outputs, then the loss, before training."""
    from oracle import mlp
    return _torch_source(spec.source(), "\n\n\n".join(_renamed(fn) for fn in (
        mlp.torch_model, mlp.torch_loss, mlp.torch_side)), "torch_side(SPEC)")


def _torch_source(case, torch_side, call):
    parts = ("import json\n\nimport torch", case, torch_side, f"print(json.dumps({call}))")
    return "\n\n\n".join(parts) + "\n"


def _limits(finding):
    """The lines that give the engine the time the oracle gave it: a hang's reproducer ends too."""
    return (f"TIME_LIMIT = {getattr(finding, 'limit', None)!r}  # seconds the engine is given, as the oracle gave "
            f"it (None: no limit)\n"
            f"DEAF = {DEAF!r}  # seconds more, for an engine deaf to the alarm, before the script ends itself")


def mlp_reproducer_source(spec, steps, origin, finding=None, cause=None, memory_mb=0, script=None, torch=None):
    """A standalone script: the MLPSpec's network built from the engine's Value with the oracle's
    own neuron code (its `network`, the script's f) and as a torch float64 twin, trained for
    `steps` SGD steps; it prints the first mismatch and exits 1 while there is one, 0 once fixed.
    torch: what `mlp_torch_source` printed for the spec, which the file quotes (None: not known)."""
    from oracle import mlp  # numpy: only a store that records an MLP finding imports it
    case = (f"{_renamed(mlp.network)}\n\n\n{spec.source()}\n\n\n"
            f"STEPS = {int(steps)}  # SGD steps to train; every step is compared\n"
            + _torch_line("for SPEC before any training: each example's outputs, then the loss", torch,
                          spec.widths[-1]))
    kind = finding.kind if finding is not None else ""
    data = f"KIND = {kind!r}  # what the oracle saw\n" + _limits(finding)
    shared = "\n\n\n".join(_renamed(fn) for fn in (
        mlp.engine_model, mlp.engine_loss, mlp.engine_step, mlp.torch_model, mlp.torch_loss, mlp.torch_side,
        mlp._torch_step, mlp._torch_params, mlp.engine_sgd, mlp.sgd_step, mlp.resync))
    where = "" if finding is None else f"\nWhere the oracle saw it first: {finding.where}" + (
        f", after SGD step {finding.step}." if finding.step else ".")
    body = harness.MLP.replace("{shared}", shared).replace("{run_engine}", harness.RUN_ENGINE)
    return _script(_titles(cause, "an MLP", origin.folders, where), _MLP_ABOUT, kind, origin, case,
                   harness.RUN_IMPORTS, data, body, memory_mb, script)


def _renamed(fn):
    """One of oracle.mlp's functions as the MLP reproducer holds it: the network is the script's f,
    as a program's is, and what calls the network calls f."""
    return re.sub(r"\b(network|engine_forward)\(", "f(", inspect.getsource(fn).rstrip())


def tamper_reproducer_source(origin, cause, memory_mb=0, script=None):
    """A standalone script: it imports the engine between two snapshots of the interpreter (the
    oracle's own `tamper` functions, copied in) and exits 1 while importing it changes anything."""
    from oracle.fuzz import tamper
    shared = "\n\n\n".join(inspect.getsource(fn).rstrip() for fn in (tamper.watched, tamper.snapshot,
                                                                       tamper.differences))
    return _script(_titles(cause, "an import", origin.folders), _TAMPER_ABOUT, "tamper", origin, "", (),
                   "MISSING = object()", harness.TAMPER.replace("{shared}", shared), memory_mb, script)


def _titles(cause, what, root="", where=""):
    """The root cause in words, as the script prints it when the bug is there (whole), and as its
    docstring opens on it (a summary cut at SUMMARY_MOST characters: an engine's exception message
    may run to pages, and f comes within the file's first 30 lines)."""
    return _title(cause, what, root) + where, _title(cause, what, root, SUMMARY_MOST) + where


def _title(cause, what, root="", most=None):
    if cause is None:
        return what
    summary = f"{cause.summary}."
    if most is not None and len(summary) > most:
        summary = textwrap.shorten(summary, most, placeholder=" [...] (run, the script says it whole)")
    lines = [textwrap.fill(summary, 100, subsequent_indent="    ")]
    if cause.line:
        lines.append(f"At {cause.where(root)}")  # not wrapped: the learner's line as it is
    lines.append(f"Class {cause.cls}: {CLASSES[cause.cls]}.")
    return "\n".join(lines)


# What a script prints while the bug is there, by the verdict it was written for.
_PRINTS = {"mismatch": "each value that is not close to torch's", "raise": "what the engine raised",
           "timeout": "that the engine gave no result within TIME_LIMIT seconds",
           "crash": "how the engine's process died (it runs in a child process)", "memory": "the engine's MemoryError",
           "tamper": "what importing the engine changes"}


def _doc(title, about, kind, script, default):
    """The docstring a reproducer opens on: what is wrong and where, what the file does, how to
    run it and what it prints."""
    verdict = expected_verdict(kind) if kind else "mismatch"
    prints = textwrap.fill(f"While the bug is there, it prints {_PRINTS[verdict]} and ends with the line "
                           f"`verdict:\N{NO-BREAK SPACE}{verdict}`, exit status 1; once the bug is fixed, "
                           "`verdict:\N{NO-BREAK SPACE}pass`, exit status 0.", 100).replace("\N{NO-BREAK SPACE}", " ")
    title = title.replace("\\", "\\\\").replace('"""', "'''")  # the learner's source line may hold either
    return (f'"""Reproducer: {title}\n\n{about}\n\n    python {script or "<this file>"} [module:attr]    '
            f'(default engine: {default})\n\n{prints}\n"""\n')


def _script(titles, about, kind, origin, case, imports, data, body, memory_mb=0, script=None):
    """A reproducer: its docstring and its case first, then the plumbing (`oracle.fuzz.harness`),
    then, for an engine sent by value, the engine's own source."""
    imports = "import " + ", ".join(sorted(("importlib", "math", "os", "resource", "sys", *imports)))
    fields = dict(engine=origin.importable, root=origin.root or None, paths=list(origin.paths),
                  file=origin.file or None, atol=ATOL, rtol=RTOL, data=data, cause=repr(titles[0]),
                  memory=int(memory_mb), imports=f"{imports}\n\nimport torch")
    default = origin.importable
    if origin.inline:  # an engine sent by value: the script defines it, at its end, importing what it
        # imports from its own script's folder (a notebook's cells are gone)
        default = f"the {origin.attr} class at the end of this file"
        fields.update(engine=f"__main__:{origin.attr}", root=origin.root if origin.file else None,
                      paths=list(origin.paths) if origin.file else [], file=None)
    text = (_doc(titles[1], about, kind, script, default) + (f"\n\n{case}\n" if case else "")
            + harness.PLUMBING.format(**fields) + body)
    if not origin.inline:
        return text + harness.FOOTER
    first = "folders_first()  # what the class imports from its script's folder\n" if origin.file else ""
    return f"{text}\n\n\n{first}{inline.section(text, origin.inline).rstrip()}\n{harness.FOOTER}"


_PROGRAM_ABOUT = """Runs f on your engine and on PyTorch float64 at POINT, and compares f's value and its gradient
with respect to each input: |a - b| <= atol + rtol * max(|a|, |b|); nan, inf and -inf only match
themselves."""

_MLP_ABOUT = """Builds the network of SPEC with f from your engine's Values, and as torch.nn.Linear layers in
float64 with the same weights, and trains both for STEPS SGD steps, comparing at every step the
outputs, the loss and every parameter's gradient: |a - b| <= atol + rtol * max(|a|, |b|). Torch's
training diverging to nan or inf ends the comparison (an engine that diverges alone does not)."""

_TAMPER_ABOUT = """Imports the engine between two snapshots of what the oracle relies on (the recursion limit; math,
builtins, torch, torch.Tensor and numpy), and compares them."""

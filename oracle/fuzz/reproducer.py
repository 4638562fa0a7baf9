"""Reproducer scripts: a root cause as a standalone Python file that exits 1 while the bug is there.

A program finding becomes `f`, printed from the program itself, run on the engine and on PyTorch
float64 at the finding's point; the reducer has made the failing node the output (a value) or
an input (a gradient), so what the script compares, with the tolerance that flagged it, is the
failing node. An MLP finding becomes the oracle's own neuron and training code (copied in with
`inspect`, so the two cannot drift) and the spec's weights as a table. Each script starts with
the root cause in words, at the learner's own line. It imports only torch and the engine, never
`oracle`, and imports the engine from where the campaign found it; an engine with no file of its
own (a notebook's class, see `oracle.fuzz.interactive`) it defines itself, at its end.

Every script ends its output with one verdict line, `verdict: WHAT`, and exits 0 for `pass`, 1
for any other: `mismatch` (a value or gradient not close to torch's), `raise` (the engine raised),
`timeout` (no result within the engine's time limit), `crash` (the engine's process died: a
crash finding runs the engine in a forked child so that the script outlives it), `memory` (a
MemoryError) or `tamper` (importing the engine changed the interpreter). `expected_verdict` says
which one a finding's script was written for: a confirmation counts only when the script printed
that one (see `oracle.fuzz.confirm`).
"""
import inspect
import textwrap

from oracle.fuzz import inline
from oracle.fuzz.summary import CLASSES
from oracle.program import float_source
from oracle.tolerance import ATOL, RTOL

DEAF = 2.0  # a reproducer's grace past its time limit for an engine deaf to the alarm
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


def reproducer_source(program, point, origin, finding=None, cause=None, memory_mb=0):
    """A standalone script: f defined once from the program, run on the engine and on torch
    float64 at `point`; it prints the mismatch and exits 1 while there is one, 0 once fixed.
    memory_mb: what the engine may allocate, as the oracle's worker let it (0: no limit)."""
    kind = finding.kind if finding is not None else ""
    data = (f"POINT = [{', '.join(float_source(float(x)) for x in point)}]\n"
            f"KIND = {kind!r}  # what the oracle saw: value, grad, raise, complex, recursion, timeout, ...\n"
            + _limits(finding))
    return _script(_title(cause, "a program", origin.folders), _PROGRAM_ABOUT, origin, _RUN_IMPORTS, data,
                   _PROGRAM.format(f=program.source(), run_engine=_RUN_ENGINE), memory_mb)


def _limits(finding):
    """The lines that give the engine the time the oracle gave it: a hang's reproducer ends too."""
    return (f"TIME_LIMIT = {getattr(finding, 'limit', None)!r}  # seconds the engine is given, as the oracle gave "
            f"it (None: no limit)\n"
            f"DEAF = {DEAF!r}  # seconds more, for an engine deaf to the alarm, before the script ends itself")


def mlp_reproducer_source(spec, steps, origin, finding=None, cause=None, memory_mb=0):
    """A standalone script: the MLPSpec's network built from the engine's Value with the oracle's
    own neuron code and as a torch float64 twin, trained for `steps` SGD steps; it prints the
    first mismatch and exits 1 while there is one, 0 once fixed."""
    data = f"SPEC = {spec.source()}\nSTEPS = {int(steps)}  # SGD steps to train; every step is compared\n" \
           f"KIND = {finding.kind if finding is not None else ''!r}  # what the oracle saw\n" + _limits(finding)
    from oracle import mlp  # torch: only a store that records an MLP finding imports it
    shared = "\n\n\n".join(inspect.getsource(fn).rstrip() for fn in (
        mlp.engine_model, mlp.engine_forward, mlp.engine_loss, mlp.engine_step, mlp.torch_model, mlp.torch_loss,
        mlp._torch_step, mlp._torch_params, mlp.engine_sgd, mlp.sgd_step, mlp.resync))
    where = "" if finding is None else f" (first at {finding.where}" + (
        f" after SGD step {finding.step})" if finding.step else ")")
    return _script(_title(cause, "an MLP", origin.folders) + where, _MLP_ABOUT, origin, (*_RUN_IMPORTS, "types"),
                   data, _MLP.replace("{shared}", shared).replace("{run_engine}", _RUN_ENGINE), memory_mb)


def tamper_reproducer_source(origin, cause, memory_mb=0):
    """A standalone script: it imports the engine between two snapshots of the interpreter (the
    oracle's own `tamper` functions, copied in) and exits 1 while importing it changes anything."""
    from oracle.fuzz import tamper
    shared = "\n\n\n".join(inspect.getsource(fn).rstrip() for fn in (tamper.watched, tamper.snapshot,
                                                                       tamper.differences))
    return _script(_title(cause, "an import", origin.folders), _TAMPER_ABOUT, origin, (), "MISSING = object()",
                   _TAMPER.replace("{shared}", shared), memory_mb)


def _title(cause, what, root=""):
    if cause is None:
        return what
    lines = [textwrap.fill(f"{cause.summary}.", 100, subsequent_indent="    ")]
    if cause.line:
        lines.append(f"At {cause.where(root)}")  # not wrapped: the learner's line as it is
    lines.append(f"Class {cause.cls}: {CLASSES[cause.cls]}.")
    return "\n".join(lines)


def _script(title, about, origin, imports, data, body, memory_mb=0):
    """A reproducer: the shared header (docstring, engine loading, tolerance, close), then body."""
    imports = "\n".join(f"import {m}" for m in sorted(("importlib", "math", "os", "resource", "sys", *imports)))
    doc = title.replace("\\", "\\\\").replace('"""', "'''")  # the learner's source line may hold either
    fields = dict(title=doc, about=about, engine=origin.importable, default=origin.importable,
                  root=origin.root or None, paths=list(origin.paths), file=origin.file or None, imports=imports,
                  atol=ATOL, rtol=RTOL, data=data, cause=repr(title), memory=int(memory_mb))
    if origin.inline:  # an engine sent by value: the script defines it, at its end, importing what it
        # imports from its own script's folder (a notebook's cells are gone)
        fields.update(engine=f"__main__:{origin.attr}", default=f"the {origin.attr} class at the end of this file",
                      root=origin.root if origin.file else None, paths=list(origin.paths) if origin.file else [],
                      file=None)
        script = _HEADER.format(**fields) + body
        first = "folders_first()  # what the class imports from its script's folder\n" if origin.file else ""
        return f"{script}\n\n\n{first}{inline.section(script, origin.inline).rstrip()}\n{_FOOTER}"
    return _HEADER.format(**fields) + body + _FOOTER


_HEADER = '''\
"""Reproducer: {title}

{about}

    python <this file> [module:attr]    (default engine: {default})
"""
{imports}

import torch

ENGINE = {engine!r}
# Where the fuzzer imported ENGINE from: its folder goes first on sys.path, so that this file
# imports that engine and not another module of the same name (most learners' packages are called
# micrograd, as this project's is).
ENGINE_ROOT = {root!r}
ENGINE_PATHS = {paths!r}  # the other folders it imports from (--engine-path)
ENGINE_FILE = {file!r}
# Megabytes the engine may allocate beyond what this process holds once torch is imported, as the
# oracle's worker let it (0: no limit): past it, the engine's allocations fail with MemoryError.
MEMORY_MB = {memory!r}
CAUSE = {cause}
ATOL = {atol!r}
RTOL = {rtol!r}
{data}


def limit_memory():
    if MEMORY_MB and os.path.exists("/proc/self/statm"):
        with open("/proc/self/statm") as f:
            held = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = held + MEMORY_MB * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def folders_first():
    folders = [p for p in (ENGINE_ROOT, *ENGINE_PATHS) if p is not None and os.path.isdir(p)]
    sys.path[:] = folders + [p for p in sys.path if p not in folders]


def load_engine(spec):
    limit_memory()  # before the engine is imported, as in the oracle's worker
    module, _, attr = spec.partition(":")
    folders_first()
    obj = importlib.import_module(module)
    if spec == ENGINE and ENGINE_FILE and not os.path.samefile(getattr(obj, "__file__", None) or ENGINE_FILE,
                                                               ENGINE_FILE):
        print(f"note: {{module}} is now {{obj.__file__}}, not the {{ENGINE_FILE}} this file was written for")
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
    print(f"engine={{a!r}}  torch={{b!r}}")
    if math.isfinite(a) and math.isfinite(b):
        print(f"Absolute difference: {{abs(a - b):.3g}} (up to {{ATOL:g}} allowed)")
        rel = abs(a - b) / abs(b) if b else math.inf  # against torch's value, as assert_close
        print(f"Relative difference: {{rel:.3g}} (up to {{RTOL:g}} allowed)")
    print()
'''

_FOOTER = '''

if __name__ == "__main__":
    verdict = main(sys.argv[1] if len(sys.argv) > 1 else ENGINE)
    print(f"verdict: {verdict}", flush=True)
    sys.exit(0 if verdict == "pass" else 1)
'''

_RUN_IMPORTS = ("pickle", "signal", "tempfile", "threading", "time")

# Not formatted: inserted in the program's and the MLP's reproducers.
_RUN_ENGINE = '''\
class EngineFailed(Exception):
    """The engine raised, ran out of time or memory, or killed its process; .verdict says which."""

    def __init__(self, verdict, what):
        super().__init__(what)
        self.verdict = verdict


def failure_verdict(e):
    if isinstance(e, TimeoutError):
        return "timeout"
    if isinstance(e, MemoryError):
        return "memory"
    return "raise" if isinstance(e, Exception) else "crash"  # SystemExit ends the process that runs it


def run_engine(run):
    """run(), which drives the engine, under TIME_LIMIT: in a forked child process when the oracle
    saw the engine kill its process (KIND crash), so that this script outlives it to say so. What
    the engine raises, and a death, is an EngineFailed."""
    if KIND == "crash":
        return in_child(run)
    try:
        return within_time(run)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # the engine under test may raise anything
        raise EngineFailed(failure_verdict(e), f"{type(e).__name__}: {e}") from None


def within_time(run, watchdog=True):
    """run(), interrupted with TimeoutError after TIME_LIMIT seconds when there is one. An engine
    deaf to that alarm (it blocks the signal, or sleeps in C) is ended DEAF seconds later by a
    watchdog thread: the script then says so and exits 1, where it would otherwise hang."""
    if not TIME_LIMIT:
        return run()

    def alarm(signum, frame):
        raise TimeoutError(f"no result after {TIME_LIMIT:g} s")

    def deaf():
        print(CAUSE + "\\n")
        print(f"The engine failed: no result after {TIME_LIMIT + DEAF:g} s, deaf to its alarm")
        print("verdict: timeout", flush=True)
        os._exit(1)
    timer = threading.Timer(TIME_LIMIT + DEAF, deaf)
    timer.daemon = True
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    if watchdog:
        timer.start()
    try:
        return run()
    finally:
        timer.cancel()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def in_child(run):
    """run() in a forked child process, which sends back its result (or what it raised) through a
    file: the engine may kill the process it runs in (a segfault, os._exit), and this one then
    says how it died. A child deaf to its alarm is killed DEAF seconds after TIME_LIMIT."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as box:
        pid = os.fork()
        if pid == 0:
            try:
                result = ("ok", within_time(run, watchdog=False))
            except BaseException as e:
                result = (failure_verdict(e), f"{type(e).__name__}: {e}")
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(box.fileno(), pickle.dumps(result))
            os._exit(0)
        end = time.monotonic() + TIME_LIMIT + DEAF if TIME_LIMIT else None
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if end is not None and time.monotonic() > end:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise EngineFailed("timeout", f"no result after {TIME_LIMIT + DEAF:g} s, deaf to its alarm")
            time.sleep(0.01)
        box.seek(0)
        sent = box.read()
    try:
        verdict, value = pickle.loads(sent)
    except Exception:  # nothing, or half of it: the child died first
        if os.WIFSIGNALED(status):
            how = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
        else:
            how = f"exited with status {os.WEXITSTATUS(status)}"
        raise EngineFailed("crash", f"its process was {how}") from None
    if verdict != "ok":
        raise EngineFailed(verdict, value)
    return value
'''

_PROGRAM_ABOUT = """Runs f on the engine under test and on PyTorch float64 at one input point, and compares the
output value and the gradient with respect to each input: |a - b| <= atol + rtol * max(|a|, |b|),
non-finite values by class (nan, +inf, -inf). Ends with its verdict line; exits 1 while they
disagree (or the engine fails), 0 once they agree."""

_PROGRAM = '''

{f}


def real(x, what):
    if isinstance(x, complex):
        raise TypeError(f"{{what}} is the complex number {{x!r}}")
    return float(x)


{run_engine}

def engine_side(Engine):
    xs = [Engine(x) for x in POINT]
    out = f(*xs)
    out.backward()
    return [real(out.data, "the output's data")] + [real(x.grad, f"x{{i}}.grad") for i, x in enumerate(xs)]


def main(spec):
    Engine = load_engine(spec)
    at = ", ".join(f"x{{i}}={{x!r}}" for i, x in enumerate(POINT))
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in POINT]
    out = f(*ts)
    out.backward()
    want = [out.item()] + [0.0 if t.grad is None else t.grad.item() for t in ts]
    try:
        got = run_engine(lambda: engine_side(Engine))
    except EngineFailed as e:  # the engine failing where torch gives a number is the bug
        print(CAUSE + "\\n")
        print(f"The engine failed: {{e}}\\nat {{at}}; torch={{want[0]!r}}")
        return e.verdict
    names = ["value of the output"] + [f"gradient of the output with respect to x{{i}}" for i in range(len(POINT))]
    bad = [(name, a, b) for name, a, b in zip(names, got, want) if not close(a, b)]
    if bad:
        print(CAUSE + "\\n")
    for name, a, b in bad:
        print_mismatch("Values" if name.startswith("value") else "Gradients", f"{{name}}, at {{at}}", a, b)
    if bad:
        return "mismatch"
    print(f"OK: {{spec}} agrees with torch float64 at {{at}}")
    return "pass"
'''

_MLP_ABOUT = """Builds the MLP of SPEC from the engine's Value (per neuron, plain + and * and the activation
method; the last layer linear) and as torch.nn.Linear layers in float64 with the same weights, and
trains both for STEPS SGD steps, comparing at every step the outputs, the loss and the gradient of
every parameter: |a - b| <= atol + rtol * max(|a|, |b|), non-finite values by class (nan, +inf,
-inf). Training that diverges to non-finite values on torch's side ends the comparison (an engine
that diverges alone does not). Ends with its verdict line; exits 1 while they disagree (or the
engine fails), 0 once they agree."""

# Not formatted: {shared} is replaced by the oracle's own functions (see mlp_reproducer_source).
_MLP = '''

{shared}


def first_mismatch(got, want):
    return next((i for i, (a, b) in enumerate(zip(got, want)) if not close(a, b)), None)


{run_engine}

def main(spec):
    Engine = load_engine(spec)
    try:
        return run_engine(lambda: train_both(spec, Engine))
    except EngineFailed as e:
        print(CAUSE + "\\n")
        print(f"The engine failed: {e}")
        return e.verdict


def train_both(spec, Engine):
    layers = torch_model(SPEC.weights)
    tparams = _torch_params(layers)
    step = 0
    try:  # the engine under test may raise anything; torch, on these floats, does not
        params = engine_model(SPEC, Engine)
        flat = [p for layer in params for ws, b in layer for p in ws + [b]]
        for step in range(STEPS + 1):
            got = engine_step(SPEC, params, flat)
            tout, want = _torch_step(SPEC, layers, tparams)
            if step > 0 and not all(math.isfinite(v) for v in want):
                # torch's training diverged: a batched matmul then multiplies zeros by infinities
                # that a scalar graph never forms, so from here on the two differ by construction.
                # An engine that diverges alone is compared.
                print(f"OK: {spec} agrees with torch float64 until torch's training diverges at SGD step {step}")
                return "pass"
            i = first_mismatch(got, want)
            if i is not None and step > 0:
                # As the oracle does: re-check the step from the engine's own parameters, so that
                # float64 noise amplified by training is not taken for a wrong step.
                resync(tparams, flat)
                tout, want = _torch_step(SPEC, layers, tparams)
                i = first_mismatch(got, want)
            if i is not None:
                print(CAUSE + "\\n")
                n_out = tout.numel()
                head, name = (("Outputs", f"output {i}") if i < n_out else ("Losses", "loss") if i == n_out
                              else ("Gradients", f"gradient of parameter {i - n_out - 1}"))
                print_mismatch(head, name + (f" after SGD step {step}" if step else ""), got[i], want[i])
                return "mismatch"
            if step == STEPS:
                break
            sgd_step(SPEC.lr, flat, layers)
    except Exception as e:
        print(CAUSE + "\\n")
        print(f"The engine failed: {type(e).__name__}: {e}\\nat SGD step {step}")
        return failure_verdict(e)
    print(f"OK: {spec} agrees with torch float64 through {STEPS} SGD steps")
    return "pass"
'''

_TAMPER_ABOUT = """Takes a snapshot of what the oracle relies on (the recursion limit; math, builtins, torch,
torch.Tensor and numpy), imports the engine, and compares. Ends with its verdict line; exits 1
while importing the engine changes any of it, 0 once it does not."""

# Not formatted: {shared} is replaced by the oracle's own functions (see tamper_reproducer_source).
_TAMPER = '''

{shared}


def main(spec):
    snap = snapshot()
    load_engine(spec)
    changes = differences(snap)
    if changes:
        print(CAUSE + "\\n")
        print("Importing the engine changes the interpreter:")
        for what, *_ in changes:
            print(f"  {what}")
        return "tamper"
    print(f"OK: importing {spec} changes nothing the oracle relies on")
    return "pass"
'''

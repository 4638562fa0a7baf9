"""The plumbing every reproducer carries below its case (see `oracle.fuzz.reproducer`): importing the
engine as the fuzzer did, its memory and time limits, the tolerance, and each kind's `main`.

A reproducer opens on what the learner came for, the docstring and the case (`f`, its input point
and torch's values); these texts follow it, under one comment that says the learner need not read
them. They are plain Python source, formatted by `reproducer._script`: `PLUMBING` and `PROGRAM`
with `str.format` (doubled braces), `RUN_ENGINE`, `PROGRAM_TORCH`, `MLP` and `TAMPER` inserted as
they are.
"""

PLUMBING = '''

# --------------------------------------------------------------------------------------------------
# The rest of this file is plumbing that you need not read: it imports the engine as the fuzzer did,
# gives it the fuzzer's time and memory limits, runs the case, and ends with the verdict line.
# --------------------------------------------------------------------------------------------------
{imports}

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
ATOL, RTOL = {atol!r}, {rtol!r}  # |engine - torch| <= ATOL + RTOL * max(|engine|, |torch|)
{data}


def limit_memory():
    if MEMORY_MB and os.path.exists("/proc/self/statm"):
        with open("/proc/self/statm") as statm:
            held = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
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

# The torch side of a program's case: its reproducer's main compares the engine with it (an MLP's is
# oracle.mlp.torch_side, copied in). Where the fuzzer cannot compute the TORCH values a reproducer
# quotes (backends.torch_point), a script of the case and this prints them (program_torch_source).
PROGRAM_TORCH = '''\
def torch_side():
    """f's value, then its gradient with respect to each input, in torch float64 at POINT."""
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in POINT]
    out = f(*ts)
    out.backward()
    return [out.item()] + [0.0 if t.grad is None else t.grad.item() for t in ts]'''

FOOTER = '''

if __name__ == "__main__":
    verdict = main(sys.argv[1] if len(sys.argv) > 1 else ENGINE)
    print(f"verdict: {verdict}", flush=True)
    sys.exit(0 if verdict == "pass" else 1)
'''

RUN_IMPORTS = ("pickle", "signal", "tempfile", "threading", "time")

# Not formatted: inserted in the program's and the MLP's reproducers.
RUN_ENGINE = '''\
def torch_note(want):
    """A note when this torch does not give the TORCH values that the fuzzer's gave."""
    if TORCH is not None and not all(close(a, b) for a, b in zip(want, TORCH)):
        print(f"note: this torch gives {want}, not the TORCH = {TORCH} this file was written with")


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

PROGRAM = '''

{torch_side}


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
    want = torch_side()
    torch_note(want)
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

# Not formatted: {shared} is replaced by the oracle's own functions (see reproducer.mlp_reproducer_source).
MLP = '''

{shared}


def first_mismatch(got, want):
    return next((i for i, (a, b) in enumerate(zip(got, want)) if not close(a, b)), None)


{run_engine}

def main(spec):
    Engine = load_engine(spec)
    torch_note(torch_side(SPEC))
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

# Not formatted: {shared} is replaced by the oracle's own functions (see reproducer.tamper_reproducer_source).
TAMPER = '''

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

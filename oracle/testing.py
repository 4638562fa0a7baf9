"""Check an engine from your own tests: a fuzz campaign as an assertion, and a per-node comparison.

    from oracle.testing import assert_matches_torch
    from my_engine import Value

    def test_my_engine():
        assert_matches_torch(Value, seconds=5, seed=0)

`assert_matches_torch` runs the same campaign as `python -m oracle fuzz`, on the same sandboxed
worker processes (the engine is imported there, never in the calling process; a class written in a
notebook is sent there by value, see `oracle.fuzz.interactive`), from a fixed seed;
on a mismatch it raises an AssertionError that names each root cause, its class, the engine's
own line and the reduced reproducer (the short `f`, the point, expected vs actual). `check_engine`
runs the same and returns what it found instead of raising; `probe_engine` says which ops an
engine defines (the pytest plugin, `oracle.pytest_plugin`, is built on the two). `compare_nodes`
(from `oracle.check`) runs one program at one point in any engine and in torch, a record per
node, for Hypothesis properties of your own (see `oracle.strategies`).

A front door, like `oracle.__main__`: it may import `oracle.fuzz`.
"""
from oracle.cli import missing_extra, one_line

_missing = missing_extra("oracle")
if _missing:  # one line, rather than torch's ModuleNotFoundError from deep inside
    raise ImportError(f"oracle.testing {_missing}")

import contextlib  # noqa: E402
import inspect  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import pathlib  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from oracle.check import NodeCheck, compare_nodes  # noqa: E402
from oracle.fuzz import forkserver, interactive  # noqa: E402
from oracle.fuzz.campaign import FINISH, Campaign, CampaignError  # noqa: E402
from oracle.fuzz.cases import KINDS, kind_mix  # noqa: E402
from oracle.fuzz.causes import Ledger  # noqa: E402
from oracle.fuzz.engines import EngineSpecError, parse_spec  # noqa: E402
from oracle.fuzz.failure import failure_message  # noqa: E402
from oracle.fuzz.inline import MAIN  # noqa: E402
from oracle.fuzz.records import Config  # noqa: E402
from oracle.fuzz.sandbox import default_memory_mb  # noqa: E402
from oracle.fuzz.store import check_out, sweep  # noqa: E402
from oracle.fuzz.summary import counts, merged_classes, no_verdict  # noqa: E402
from oracle.fuzz.summary import summary as make_summary  # noqa: E402
from oracle.fuzz.timeouts import TIMEOUT  # noqa: E402
from oracle.ops import OPS  # noqa: E402

__all__ = ["NodeCheck", "Result", "assert_matches_torch", "check_engine", "compare_nodes", "engine_spec",
           "probe_engine"]

SECONDS = 5.0  # the budget when neither seconds nor cases is given
ACTIVE = "ORACLE_TESTING_ACTIVE"  # set while a check runs: processes it starts inherit it
# kind "all" runs as stages, each a campaign of one kind, until one finds a root cause that counts:
# programs first, where a bug's first finding reduces to a few ops in milliseconds, then MLPs with
# training (shares of `seconds`, and of `cases` as in the fuzz command's mix), then deep graphs,
# whose 5,000-op first cases would otherwise come first and take the reducer's whole budget.
STAGES = (("expr", 0.7, 0.9), ("train", 0.3, 0.1))
DEEP_CASES = 2  # the deep stage: the 5,000-op chain and the 300-layer net every deep campaign starts with,
# with no deadline (each case still has its time limit): a case the deadline cut short would be a timeout
DEEP_REDUCE = 2.0  # seconds to reduce a deep finding: only a recursion reduces well (to a chain), quickly
LATE = ("found", "reducing", "saving", "unconfirmed")  # root cause states that are not confirmed (yet)


@dataclass
class Result:
    """What check_engine found."""
    passed: bool
    message: str  # why it failed (the AssertionError's message), or "" when it passed
    summary: dict  # the campaign's summary: the dict `python -m oracle fuzz --summary-json` writes
    out: str | None  # where the root causes are saved; None once a temporary folder is removed


def assert_matches_torch(engine, *, seconds=None, cases=None, seed=0, workers=1, ops=None, strict=False, out=None,
                         max_findings=None, kind="all", timeout=TIMEOUT, engine_paths=()):
    """Fuzz `engine` against PyTorch float64 and raise AssertionError on a root cause of class 1
    (wrong at ordinary inputs) or 2 (wrong at the edge of float64), or of class 3 (Python float
    semantics where torch answers inf or nan) too when `strict`; return the campaign's summary.

    engine: the engine's class (its `Value`), or a spec, `module:attr` or `path/to/file.py:attr`.
      A class is imported in the workers from its source file, so one defined in a test file works
      too; one defined in `__main__` (a script run as `python check.py`, a notebook's cell, the
      interactive prompt, a script read from standard input) is sent to them by value, so that the
      script never runs again, and its reproducer carries its source. One defined inside a function
      of a file does not work.
    seconds, cases: the budget, whichever ends first (default: 5 seconds). Cases start until
      `seconds` have passed; reducing and confirming what was found takes a few seconds more.
    seed: the campaign's seed (default 0: the same cases every run).
    kind: "expr" (programs), "deep" (deep graphs), "mlp", "train" (MLPs, trained) or "all": then
      programs, MLPs with training (sharing the budget 70/30) and deep graphs (the two cases every
      deep campaign starts with, a 5,000-op chain and a 300-layer net: a second or two more), in
      turn, until one of them finds a root cause that counts.
    workers: sandboxed worker processes. ops: op names to generate (default: every op the engine
      defines; see `oracle.ops.OPS`). timeout: seconds one case may take.
    strict: class 3 counts too (always on for this project's micrograd, which promises torch's
      results at singular points). max_findings: stop after this many root causes that count
      (default: run the whole budget, and report every root cause found).
    out: the folder reproducers are saved in (kept); by default a temporary folder, removed
      afterwards unless the check fails (the message says where it is).
    engine_paths: folders to import the engine from before anything else (the fuzz command's
      --engine-path); a module spec is looked for in the current directory first by default.

    A bad argument, an engine that does not load or cannot be driven is a TypeError or ValueError
    of one sentence. Called while the oracle itself imports the engine's module (a top-level call
    in the engine's own file, imported by a worker or a reproducer), it does nothing.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    result = check_engine(engine, seconds=seconds, cases=cases, seed=seed, workers=workers, ops=ops, strict=strict,
                          out=out, max_findings=max_findings, kind=kind, timeout=timeout, engine_paths=engine_paths)
    if result is None:
        return None
    if not result.passed:
        raise AssertionError(result.message)
    return result.summary


def check_engine(engine, *, seconds=None, cases=None, seed=0, workers=1, ops=None, strict=False, out=None,
                 max_findings=None, kind="all", timeout=TIMEOUT, engine_paths=()):
    """What assert_matches_torch runs, with the same arguments: a Result instead of an exception
    for a mismatch (bad arguments still raise). None inside a process the oracle started."""
    if _inside_oracle():
        return None
    with _target(engine, engine_paths) as target:
        return _check(target, ops, seconds, cases, seed, workers, strict, out, max_findings, kind, timeout)


def _check(target, ops, seconds, cases, seed, workers, strict, out, max_findings, kind, timeout):
    wanted = _ops(ops)
    seconds, cases = _budget(seconds, cases)
    if kind not in (*KINDS, "all"):
        raise ValueError(f"kind must be one of {', '.join(KINDS)} or all, not {kind!r}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, not {workers!r}")
    if max_findings is not None and not (isinstance(max_findings, int) and max_findings >= 1):
        raise ValueError(f"max_findings must be a whole number of at least 1, or None, not {max_findings!r}")
    folder, temporary = _out(out)
    before = os.environ.get(ACTIVE)
    os.environ[ACTIVE] = "1"  # what the oracle starts from here (reproducer checks) inherits it
    try:
        summary, ledger, strict = _stages(target, wanted, kind, seconds, cases, max_findings, seed=seed,
                                          workers=workers, strict=strict, out=folder, timeout=timeout)
    except BaseException:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        if before is None:
            os.environ.pop(ACTIVE, None)
        else:
            os.environ[ACTIVE] = before
    if summary["findings"] or summary["could_not_confirm"]:  # root causes found, whether confirmed or not
        where = f"The reproducers are {'kept' if temporary else 'saved'} in {folder}"
        return Result(False, f"{failure_message(target.display, summary, ledger, strict)}\n\n{where}", summary,
                      folder)
    if temporary:
        shutil.rmtree(folder, ignore_errors=True)
        summary = _forget_files(summary)
    if summary["no_verdict"]:  # a verdict that could not be reached is no pass
        return Result(False, f"{target.display}: no verdict within the budget ({_budget_words(seconds, cases)}): "
                             f"{summary['no_verdict']}", summary, None if temporary else folder)
    return Result(True, "", summary, None if temporary else folder)


def probe_engine(engine, ops=None, engine_paths=()):
    """Load `engine` (a class or spec, as for check_engine) in a sandboxed worker and probe which
    ops it defines: the campaign's Probe (`.ops`: op name -> OpProbe with `.status` "ok", "absent",
    "broken" or "unprobed" and `.reason`; `.generated()`: the ops cases may use; `.origin`: where
    it was loaded from). TypeError or ValueError when it does not load or cannot be driven."""
    wanted = _ops(ops)
    with _target(engine, engine_paths) as target:
        _warm()
        # No folder: a broken op's root cause is not saved (the checks that use the probe save it).
        run = Campaign(target.config(workers=1, out=None, memory_mb=default_memory_mb(1)))
        try:
            probe = run.probe(wanted)
        except CampaignError as e:
            raise ValueError(_not_loaded(target.spec, e)) from None
        finally:
            run.close()
    if probe.undrivable:
        raise ValueError(f"engine {target.spec} cannot be driven: {probe.undrivable}")
    return probe


# --- the engine ---

@dataclass(frozen=True)
class _Target:
    """The engine a check runs on: a spec the workers import, or a class sent by value."""
    spec: str  # what messages call it: the spec, or the class and its cell
    paths: tuple
    display: str
    interactive: object = None  # oracle.fuzz.interactive.Interactive

    def config(self, **fields):
        return Config(engine=self.spec, engine_paths=self.paths, interactive=self.interactive, **fields)


@contextlib.contextmanager
def _target(engine, engine_paths):
    """The _Target of an engine class or spec. A class of `__main__` (a script's, a notebook's, the
    prompt's, a script's read from standard input) is sent by value; a cell's source is written to
    a folder for as long as the check runs."""
    if not (inspect.isclass(engine) and interactive.by_value(engine)):
        yield _Target(*engine_spec(engine, engine_paths))
        return
    paths = _folders(engine_paths)  # where what its methods import from comes first, as for a file
    folder = tempfile.mkdtemp(prefix="oracle-cells-")
    try:
        inter = interactive.capture(engine, folder)
        yield _Target(inter.display, paths, inter.display, inter)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def engine_spec(engine, engine_paths=()):
    """(spec, engine folders, how to name it) for an engine class or spec. A class is named by its
    source file (`path/to/file.py:Qualname`, imported in the workers under its package's dotted
    name), or by its module when it has no file of its own; TypeError or ValueError otherwise."""
    paths = _folders(engine_paths)
    if isinstance(engine, str):
        try:
            parsed = parse_spec(engine)
        except EngineSpecError as e:
            raise ValueError(one_line(e)) from None
        # A module spec is looked for from the current directory first, as `python -m` would.
        return engine.strip(), paths or (() if parsed.file else (os.getcwd(),)), engine.strip()
    if not inspect.isclass(engine):
        raise TypeError(f"the engine must be its class (your Value) or a 'module:attr' spec, not "
                        f"{type(engine).__name__} {_short(engine)}")
    qualname = getattr(engine, "__qualname__", engine.__name__)
    display = f"{engine.__module__}.{qualname}"
    if "<locals>" in qualname:
        raise ValueError(f"{display} is defined inside a function; the oracle imports the engine afresh in its worker "
                         f"processes, so define the class at the top level of a module")
    try:
        file = inspect.getsourcefile(engine)
    except (TypeError, OSError):
        file = None
    if file and file.endswith(".py") and os.path.isfile(file):
        return f"{os.path.abspath(file)}:{qualname}", paths, display
    if engine.__module__ in (*MAIN, "builtins"):
        raise ValueError(f"{display} has no source file a spec can name (a notebook or the interactive prompt); "
                         f"check_engine and assert_matches_torch send such a class to their workers by value")
    return f"{engine.__module__}:{qualname}", paths, display


def _folders(engine_paths):
    paths = tuple(str(p) for p in engine_paths)
    for p in paths:
        if not os.path.isdir(p):
            raise ValueError(f"engine_paths: {p!r} is not a folder")
    return paths


def _not_loaded(spec, e):
    """A CampaignError's message, naming the engine once."""
    text = one_line(e)
    return text if text.startswith("engine ") else f"engine {spec} cannot be loaded: {text}"


def _short(x):
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _inside_oracle():
    """Whether this process was started by a check (a worker or a reproducer check importing the
    engine's module): a call at the top level of the engine's own file must not start a campaign of
    its own there."""
    return bool(os.environ.get(ACTIVE)) or multiprocessing.current_process().name == "oracle-worker"


def _ops(ops):
    if ops is None:
        return tuple(OPS)
    names = [n.strip() for n in ops.split(",")] if isinstance(ops, str) else list(ops)
    unknown = [n for n in names if n not in OPS]
    if unknown or not names:
        raise ValueError(f"unknown op(s) {', '.join(map(repr, unknown)) or '(none given)'}; the ops are "
                         f"{', '.join(OPS)}")
    return tuple(o for o in OPS if o in names)  # table order, as the fuzz command's --ops


def _budget(seconds, cases):
    for name, value in (("seconds", seconds), ("cases", cases)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
            raise ValueError(f"{name} must be a positive number, not {value!r}")
    if cases is not None and cases != int(cases):
        raise ValueError(f"cases must be a whole number, not {cases!r}")
    if seconds is None and cases is None:
        seconds = SECONDS
    return (None if seconds is None else float(seconds)), (None if cases is None else int(cases))


def _budget_words(seconds, cases):
    return " or ".join(([f"seconds={seconds:g}"] if seconds else []) + ([f"cases={cases}"] if cases else []))


def _out(out):
    if out is None:
        return tempfile.mkdtemp(prefix="oracle-testing-"), True
    problem = check_out(out)
    if problem:
        raise ValueError(problem.replace("--out", "out"))
    sweep(out)
    return str(pathlib.Path(out).expanduser().absolute()), False  # what the message names, from anywhere


# --- the campaign ---

def _stages(target, wanted, kind, seconds, cases, max_findings, **common):
    """(summary, root causes by key, whether class 3 counted) of the campaign, one stage per kind."""
    if kind == "all":
        plan = [(stage, None if seconds is None else seconds * share_s, None if cases is None else
                 max(1, round(cases * share_c))) for stage, share_s, share_c in STAGES] + [("deep", None, DEEP_CASES)]
    else:
        plan = [(kind, seconds, cases)]
    parts, ledger, strict = [], {}, common["strict"]
    for stage, stage_seconds, stage_cases in plan:
        if any(p["findings"] for p in parts):
            break  # a later stage would find the same bug again, in bigger cases
        try:
            summary, causes, strict = _campaign(target, wanted, stage, stage_seconds, stage_cases, max_findings,
                                                **common)
        except _CannotRun as e:
            if len(plan) == 1:
                raise ValueError(str(e)) from None
            continue  # kind all: an engine without what MLPs need is checked on the rest
        parts.append(summary)
        for rc in causes:
            if rc.key not in ledger or rc.cls < ledger[rc.key].cls:
                ledger[rc.key] = rc
    if not parts:
        raise ValueError(f"engine {target.spec} defines none of the ops {', '.join(wanted)}")
    return _merge(parts, strict), ledger, strict


class _CannotRun(Exception):
    """A stage's kind cannot run with the ops the engine has."""


def _campaign(target, wanted, kind, seconds, cases, max_findings, *, seed, workers, strict, out, timeout):
    """(summary, root causes, whether class 3 counted) of one campaign, as `python -m oracle fuzz`
    runs it."""
    _warm()
    spec = target.spec
    cfg = target.config(seed=seed, kind=kind, workers=workers, strict=strict, cases=cases, seconds=seconds,
                        max_findings=max_findings, out=out, timeout=timeout, memory_mb=default_memory_mb(workers),
                        start=time.monotonic())
    if kind == "deep":
        cfg.reduce_seconds = min(cfg.reduce_seconds, DEEP_REDUCE)
    run = Campaign(cfg)
    ops = ()
    try:
        probe = run.probe(wanted)
        if probe.undrivable:
            raise ValueError(f"engine {spec} cannot be driven: {probe.undrivable}")
        cfg.strict = strict or probe.origin.micrograd
        ops = tuple(o for o in wanted if o in probe.generated())
        if ops:
            try:
                kind_mix(kind, ops)
            except ValueError as e:
                raise _CannotRun(f"engine {spec}: {e}") from None
            stats = run.run(ops)
        elif run.ledger().counted(True) or any(p.status == "unprobed" for p in probe.ops.values()):
            # every op asked for hangs or crashes (the probe's findings are all), or the budget ran out
            # before the probe was done (no case: no verdict)
            stats = run.stats
            run.ledger().finish(None if cfg.deadline is None else cfg.deadline + FINISH)
            stats.seconds = stats.probed = run.elapsed()
            stats.stopped = "probe"
        else:
            raise ValueError(f"engine {spec} defines none of the ops {', '.join(wanted)}")
    except CampaignError as e:
        raise ValueError(_not_loaded(spec, e)) from None
    finally:
        run.close()
    ledger = stats.causes
    late = [rc for rc in ledger.counted(cfg.strict) if rc.state in LATE and rc.finding is not None] if ledger else []
    if late:
        _confirm(ledger, late)
    return make_summary(stats, cfg, probe, ops), list(stats.causes or ()), cfg.strict


def _confirm(ledger, late):
    """Save and confirm, past the campaign's deadline, the root causes that count and that it had
    no time to confirm (a reproducer runs in a fresh Python, which imports torch: a second or more)."""
    again = Ledger(ledger.out, ledger.meta, ledger.origin, ledger.memory_mb)  # no deadline
    for rc in late:
        again.causes[rc.key] = rc
        rc.state = "found"
        again.save(rc)
    again.finish()


def _warm():
    """Start the workers' forkserver and wait until it forks (it imports torch first, 2-3 s), so
    that the campaign's clock starts after that."""
    child = forkserver.context().Process(target=time.sleep, args=(0,), daemon=True, name="oracle-worker")
    child.start()
    child.join()


def _merge(parts, strict):
    """One summary of the stages' summaries: totals summed, each root cause once (its best class),
    the stages' own summaries under "stages"."""
    if len(parts) == 1:
        return parts[0]
    merged = dict(parts[0])
    for key in ("cases", "nodes", "points", "noise", "python_float_points", "worker_restarts"):
        merged[key] = sum(p[key] for p in parts)
    for key in ("seconds", "cpu_seconds"):
        merged[key] = round(sum(p[key] for p in parts), 3)
    s, cpu = max(merged["seconds"], 1e-9), max(merged["cpu_seconds"], 1e-9)
    merged["cases_per_second"] = round(merged["cases"] / s, 1)
    merged["op_checks_per_second"] = round(merged["nodes"] / s)
    merged["op_checks_per_second_per_worker"] = round(merged["nodes"] / s / max(merged["workers"], 1))
    merged["op_checks_per_cpu_second"] = round(merged["nodes"] / cpu)
    kinds = {}
    for p in parts:
        for k, n in p["kinds"].items():
            kinds[k] = kinds.get(k, 0) + n
    merged["classes"] = classes = merged_classes(parts)
    found = {r["key"] for rows in classes.values() for r in rows}
    merged["cleared_by_reproducer"] = [r for p in parts for r in p["cleared_by_reproducer"] if r["key"] not in found]
    merged.update(counts(classes, strict))
    # a stage that reached no verdict leaves its kind unchecked: the whole has none either
    unchecked = "; ".join(f"{p['kind']} cases: {p['no_verdict']}" for p in parts if p["no_verdict"])
    merged["no_verdict"] = no_verdict(merged, merged["cases"], classes) or (
        unchecked if unchecked and not merged["findings"] else None)
    merged.update(kinds=kinds, kind="all", stopped=parts[-1]["stopped"], stages=parts)
    return merged


def _forget_files(summary):
    """The summary once its temporary folder is gone: no paths into it."""
    summary = dict(summary, out=None)
    summary["classes"] = {k: [dict(r, reproducer=None, json=None) for r in rows]
                          for k, rows in summary["classes"].items()}
    summary["cleared_by_reproducer"] = [dict(r, reproducer=None, json=None) for r in summary["cleared_by_reproducer"]]
    return summary

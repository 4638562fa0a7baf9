"""The oracle as a pytest plugin: `pytest --oracle-engine my_engine:Value` checks an engine.

    pytest --oracle-engine my_engine:Value                      # or path/to/engine.py:Value
    pytest --oracle-engine my_engine:Value --oracle-cases 500 --oracle-seed 7 -m oracle

It adds one test item per op the engine defines (`oracle::tanh`, ...: programs of that op alone),
one for MLPs (`oracle::mlp`: random MLPs, trained a few SGD steps) and one for deep graphs
(`oracle::deep`: a 5,000-op chain and a 300-layer net), each a fuzz campaign of its own of a fixed
number of cases from a fixed seed (so the same cases on every machine), in sandboxed worker
processes (`oracle.testing.check_engine`), reported pass or fail with the root cause and its
reproducer as the failure text. The engine is probed at collection, in a worker too: an engine
that does not load or cannot be driven is a collection error.

pip installs it with the package (entry point `oracle` of group `pytest11`; `-p no:oracle` turns
it off). Without --oracle-engine it adds nothing: this module imports only pytest at import time,
and the oracle (torch, numpy, mpmath) once the option is given; it registers no hook; and it takes
back the assertion rewriting pytest marks a plugin's packages for (`_not_rewritten`). A front door, like
`oracle.__main__`: it may import `oracle.fuzz`.
"""
import os
from dataclasses import dataclass

import pytest

CASES = 50  # per op item (programs of up to 20 ops, 32 points each) and for the MLP item: under a second
DEEP_CASES = 2  # the deep item: the two cases every deep campaign starts with
OWN_PACKAGES = ("micrograd", "oracle")  # the distribution's top-level packages (pyproject.toml's packages.find)


@dataclass(frozen=True)
class Settings:
    """What the options say, checked."""
    spec: str
    cases: int
    seconds: float | None  # a cap per item, or None
    seed: int
    ops: tuple | None  # the op items asked for (None: every op the engine defines)
    workers: int
    strict: bool
    out: str | None
    folder: str  # where pytest was started: a module spec is looked for there first


def pytest_addoption(parser, pluginmanager):
    _not_rewritten(pluginmanager)
    group = parser.getgroup("oracle", "checking a micrograd-style engine against PyTorch float64")
    group.addoption("--oracle-engine", metavar="SPEC",
                    help="the engine to check, module:attr or path/to/engine.py:attr: adds one item per op it "
                         "defines, one for MLPs and one for deep graphs (needs micrograd[oracle])")
    group.addoption("--oracle-cases", type=int, default=CASES, metavar="N",
                    help="cases per op item and for the MLP item (default: %(default)s; the deep item runs its two)")
    group.addoption("--oracle-seconds", type=float, metavar="S",
                    help="at most S seconds of cases per item (default: no limit but the cases)")
    group.addoption("--oracle-seed", type=int, default=0, metavar="N", help="the campaigns' seed (default: 0)")
    group.addoption("--oracle-ops", metavar="LIST",
                    help="comma-separated ops to add items for (default: every op the engine defines)")
    group.addoption("--oracle-workers", type=int, default=1, metavar="N",
                    help="sandboxed worker processes per campaign (default: 1)")
    group.addoption("--oracle-strict", action="store_true",
                    help="class 3 (Python float semantics where torch answers inf or nan) fails an item too")
    group.addoption("--oracle-out", metavar="DIR",
                    help="keep every item's root causes in DIR/<item> (default: a temporary folder, kept only "
                         "for an item that fails)")


def _not_rewritten(pluginmanager):
    """pytest marks every package of a distribution with a pytest11 entry point for assertion
    rewriting (here micrograd and oracle; an editable install, oracle), so without this everything
    imported from them under pytest would be loaded by pytest's rewriting hook instead of Python's
    own loader (`runpy.run_module("oracle.teach.examples.neuron")` then fails: the hook has no
    get_code). The plugin's asserts need no rewriting, and it is to change nothing about how the
    package imports: the marks are taken back when pytest registers it, before anything else of
    the package is imported (a later `pytest.register_assert_rewrite` still works). The hook's set
    of marks is pytest's own attribute: when it is not there, nothing is done."""
    hook = getattr(pluginmanager, "rewrite_hook", None)
    marked, cache = getattr(hook, "_must_rewrite", None), getattr(hook, "_marked_for_rewrite_cache", None)
    if isinstance(marked, set) and isinstance(cache, dict):
        marked.difference_update(OWN_PACKAGES)
        cache.clear()


def pytest_configure(config):
    spec = config.getoption("oracle_engine")
    if spec is None:
        return  # the plugin adds nothing
    config.pluginmanager.register(Items(_settings(config, spec)), "oracle-items")
    config.addinivalue_line("markers", "oracle: an item of the oracle plugin (--oracle-engine)")


def _settings(config, spec):
    """The options, checked (pytest.UsageError, one line, for a bad one); imports no torch."""
    from oracle.cli import missing_extra, name_list, one_line
    from oracle.fuzz.engines import EngineSpecError, parse_spec
    from oracle.ops import OPS

    problem = missing_extra("oracle")
    if problem:
        raise pytest.UsageError(f"--oracle-engine {problem}")
    try:
        parse_spec(spec)
    except EngineSpecError as e:
        raise pytest.UsageError(f"--oracle-engine: {one_line(e)}") from None
    cases, seconds = config.getoption("oracle_cases"), config.getoption("oracle_seconds")
    workers = config.getoption("oracle_workers")
    if cases < 1:
        raise pytest.UsageError(f"--oracle-cases must be at least 1, not {cases}")
    if seconds is not None and not seconds > 0:
        raise pytest.UsageError(f"--oracle-seconds must be positive, not {seconds:g}")
    if workers < 1:
        raise pytest.UsageError(f"--oracle-workers must be at least 1, not {workers}")
    ops = config.getoption("oracle_ops")
    if ops is not None:
        try:
            ops = tuple(o for o in OPS if o in name_list(ops, OPS, "op"))
        except Exception as e:  # argparse's ArgumentTypeError
            raise pytest.UsageError(f"--oracle-ops: {e}") from None
    return Settings(spec.strip(), cases, seconds, config.getoption("oracle_seed"), ops, workers,
                    config.getoption("oracle_strict"), config.getoption("oracle_out"),
                    str(config.invocation_params.dir))


class Items:
    """The hooks that add the items: registered only when --oracle-engine is given."""

    def __init__(self, settings):
        self.settings = settings
        self.probe = None

    def pytest_report_header(self, config):
        s = self.settings
        cap = f" (at most {s.seconds:g} s)" if s.seconds else ""
        return [f"oracle: engine {s.spec}, {s.cases} cases per item{cap}, seed {s.seed}" + (", strict" * s.strict)]

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector):
        report = yield
        if isinstance(collector, pytest.Session) and report.passed:
            # nodeid "oracle" (not "::oracle"): the items are oracle::add, ..., oracle::mlp, oracle::deep
            report.result.append(Engine.from_parent(collector, name="oracle", nodeid="oracle", settings=self.settings,
                                                    plugin=self))
        return report

    def pytest_report_collectionfinish(self, config, start_path, items):
        if self.probe is None:
            return []
        absent = {n: p.reason for n, p in self.probe.ops.items() if p.status in ("absent", "unprobed")}
        lines = [f"oracle: {self.probe.origin.describe()}"]
        if absent:
            lines.append("oracle: ops the engine does not define (no item): " + ", ".join(absent))
        return lines


class Engine(pytest.Collector):
    """The engine under test: probed in a worker, it collects its items."""

    def __init__(self, *, settings, plugin, **kw):
        super().__init__(**kw)
        self.settings, self.plugin = settings, plugin

    def collect(self):
        from oracle import testing
        from oracle.fuzz.cases import kind_mix

        s = self.settings
        try:
            probe = testing.probe_engine(s.spec, engine_paths=(s.folder,))
        except (TypeError, ValueError) as e:
            raise self.CollectError(f"--oracle-engine: {e}") from None
        self.plugin.probe = probe
        for name, p in probe.ops.items():
            if p.status in ("ok", "broken") and (s.ops is None or name in s.ops):
                yield Item.from_parent(self, name=name, kind="expr", ops=(name,),
                                       what=f"{s.cases} programs of {name} alone")
        generated = probe.generated()
        mlp = Item.from_parent(self, name="mlp", kind="train", ops=generated,
                               what=f"{s.cases} random MLPs trained a few SGD steps")
        try:
            kind_mix("train", generated)
        except ValueError as e:
            mlp.add_marker(pytest.mark.skip(reason=f"the engine cannot build an MLP: {e}"))
        yield mlp
        yield Item.from_parent(self, name="deep", kind="deep", ops=generated,
                               what="a 5,000-op chain and a 300-layer net")


class Mismatch(Exception):
    """An item's engine does not match torch: the message is the root causes and reproducers."""


class Item(pytest.Item):
    """One campaign: programs of one op, MLPs, or deep graphs."""

    def __init__(self, *, kind, ops, what, **kw):
        super().__init__(**kw)
        self.kind, self.ops, self.what = kind, tuple(ops), what
        self.add_marker(pytest.mark.oracle)

    def runtest(self):
        from oracle import testing

        s = self.parent.settings
        budget = dict(seconds=s.seconds, cases=DEEP_CASES if self.kind == "deep" else s.cases)
        out = None if s.out is None else os.path.join(s.out, self.name)
        try:
            result = testing.check_engine(s.spec, **budget, seed=s.seed, workers=s.workers, ops=self.ops,
                                          strict=s.strict, out=out, kind=self.kind, engine_paths=(s.folder,))
        except (TypeError, ValueError) as e:  # the engine no longer loads, say: one line, as at collection
            raise Mismatch(str(e)) from None
        if result is not None and not result.passed:
            raise Mismatch(result.message)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, Mismatch):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"oracle::{self.name} ({self.what})"

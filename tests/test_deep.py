"""Deep cases' own time bound (oracle.fuzz.deep): a backward() that visits each path of a deep graph,
not each node, is stopped at a bound scaled from this project's micrograd and is a traversal root
cause of its own, whose words carry the walk's counts, reduced to a ladder of diamonds built in a
loop (that its reproducer exits 1 on the walk and 0 once it is fixed is tests/test_zoo.py's, for
zoo engine walk_no_visited)."""
import os
import random
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")

from oracle.fuzz import deep  # noqa: E402
from oracle.fuzz.cases import CHAIN_DEPTH, deep_chain, deep_net  # noqa: E402
from oracle.fuzz.timeouts import CaseTimeout, time_limit  # noqa: E402
from tests.campaigns import ROOT  # noqa: E402
from tests.zoo import LEARNER_ROOT, ZOO_DIR  # noqa: E402
from tests.zoo.lecture import Value as Lecture  # noqa: E402
from tests.zoo.set_children import Value as SetChildren  # noqa: E402
from tests.zoo.walk_no_visited import Value as NoVisited  # noqa: E402

OPS = ("tanh", "add", "mul_c", "add_c")


def test_a_walk_that_visits_each_path_is_stopped_at_its_bound_with_its_counts_as_evidence():
    program = deep.ladder(deep_chain(random.Random(1), OPS, 50))
    walk = deep.Walk(0.3, 1e-4, count=True)
    start = time.monotonic()
    (finding,) = deep.check(program, [[0.5]], NoVisited, walk=walk).findings
    assert time.monotonic() - start < 2.0  # stopped at its bound, not run to its end
    assert (finding.kind, finding.node, finding.limit) == ("slow", None, 0.3)
    assert finding.detail.startswith("backward() visits each path, not each node") and walk.nodes == len(program) + 1
    assert walk.reads > 100 * walk.nodes and f"{walk.reads:,} times" in finding.detail


@pytest.mark.parametrize("Engine", [Lecture, SetChildren])
def test_a_walk_that_visits_each_node_once_passes_and_its_graph_is_put_back(Engine):
    program = deep_net(random.Random(2), OPS, layers=40)
    walk = deep.Walk(5.0, 1e-3, count=True)
    assert deep.check(program, [[0.1, 0.2, 0.3]], Engine, walk=walk).findings == []
    assert walk.rules <= walk.nodes and walk.reads <= 2 * walk.nodes  # each node once, as the words say
    nodes = [Engine(0.5)]
    nodes.append(nodes[0].tanh())
    with walk(nodes):
        assert type(nodes[1]._prev) is not type(Engine(0.0)._prev)  # counted while it runs
    assert type(nodes[1]._prev) is type(Engine(0.0)._prev) and "_backward" in vars(nodes[1])


def test_the_bound_is_this_projects_micrograds_time_many_times_over_and_never_below_the_floor():
    program = deep_chain(random.Random(3), OPS, CHAIN_DEPTH)
    seconds, reference = deep.bound(program, [0.5, 0.25])
    assert reference > 0 and seconds == max(deep.FLOOR, deep.FACTOR * reference)


def test_the_bound_leaves_a_deep_case_within_its_timeout_and_never_goes_below_the_floor(monkeypatch):
    program = deep_chain(random.Random(3), OPS, CHAIN_DEPTH)
    monkeypatch.setattr(deep, "FACTOR", 1e6)  # what a measurement on a loaded machine could give
    assert deep.bound(program, [0.5], longest=deep.most(10.0, 2))[0] == 4.5
    assert deep.case_limit(deep.most(10.0, 2), 2) == 10.0
    assert deep.bound(program, [0.5], longest=deep.most(1.5, 2))[0] == deep.FLOOR


def test_the_bound_is_measured_on_this_projects_micrograd_even_where_a_learners_package_is_called_micrograd():
    # learner_pkg's tanh rule is 1 - t: the reference's must be torch's, 1 - t**2
    code = ("import micrograd.engine, math; from oracle.fuzz.deep import reference\n"
            "for E in (reference(), micrograd.engine.Value):\n"
            "    x = E(0.5); y = x.tanh(); y.backward(); print(abs(x.grad - (1 - math.tanh(0.5) ** 2)) < 1e-15)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(LEARNER_ROOT), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=LEARNER_ROOT,
                          timeout=120)
    assert done.stdout.split() == ["True", "False"], done.stdout + done.stderr


def test_time_limits_nest_and_the_first_to_end_fires():
    class Inner(CaseTimeout):
        pass
    start = time.monotonic()
    with pytest.raises(CaseTimeout) as outer:
        with time_limit(0.6):
            with pytest.raises(Inner):
                with time_limit(0.1, Inner):
                    while True:
                        pass
            assert time.monotonic() - start < 0.5
            while True:  # the enclosing limit still holds after the inner one ended
                pass
    assert type(outer.value) is CaseTimeout and time.monotonic() - start >= 0.55
    with pytest.raises(CaseTimeout) as first:
        with time_limit(0.1):
            with time_limit(5.0, Inner):  # ends after the enclosing one: it sets no alarm of its own
                while True:
                    pass
    assert type(first.value) is CaseTimeout


@pytest.mark.parametrize("factor, timeout", [(deep.FACTOR, 10.0), (1e6, 3.0)], ids=["measured", "loaded-machine"])
def test_a_worker_finds_the_exponential_walk_in_the_deep_net_and_reduces_it_to_a_ladder_built_in_a_loop(
        monkeypatch, factor, timeout):
    # loaded-machine: a reference measured far too slow still gives a slow walk, never a hang
    from oracle.fuzz.cases import case_seed
    from oracle.fuzz.workers import Job, load, serve
    monkeypatch.setattr(deep, "FACTOR", factor)
    state, _ = load(Job(f"{ZOO_DIR}/walk_no_visited.py:Value", timeout=timeout))
    answers = []
    serve(state, ("setup", OPS, OPS), answers.append)
    serve(state, ("cases", [(1, case_seed(1, 1), "deep-net")], {}), answers.append)
    (_, _, result, reducing), (_, _, key, finding, program, point, cause, shown) = answers
    assert (result.finding.kind, result.cause.category, result.cause.detail, result.cause.method, reducing) == (
        "slow", "traversal", "slow", "backward", True)
    assert cause.key(state.origin.root) == key and cause.summary.startswith("backward() visits each path")
    assert (finding.kind, len(program), shown) == ("slow", 3 * deep.RUNGS, True)
    assert f"for _ in range({deep.RUNGS}):" in program.source()  # what its reproducer builds

"""The reducer: a planted single-op bug in a random 20-op program reduces to a few ops that fail the
same way; reduction is deterministic, idempotent, and never yields an invalid program."""
import math
import random
import zlib

import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from oracle import strategies  # noqa: E402
from oracle.check import check_program  # noqa: E402
from oracle.fuzz.mutants import mutant_engine  # noqa: E402
from oracle.fuzz.reduce import reduce_case  # noqa: E402
from oracle.generate import GenConfig, random_inputs, random_program  # noqa: E402
from oracle.ops import OPS  # noqa: E402
from oracle.program import Instr, Program, evaluate  # noqa: E402


def same_way(Engine, finding):
    """fails() as the fuzzer means it: check_program finds the same kind at the same op."""
    def fails(program, point):
        report = check_program(program, [point], Engine)
        return any(f.kind == finding.kind and f.op == finding.op for f in report.findings)
    return fails


def planted(name, min_ops=15):
    """The first random 20-op-at-most program (of at least min_ops ops) in which the fuzzer finds
    mutant `name`'s bug: (Engine, program, finding)."""
    Engine, cfg = mutant_engine(name), GenConfig(max_ops=20)
    for seed in range(2000):
        rng = random.Random(seed)
        program = random_program(rng, cfg)
        if len(program) >= min_ops:
            report = check_program(program, [random_inputs(rng, program.n_inputs, cfg) for _ in range(8)], Engine)
            if report.findings:
                return Engine, program, report.findings[0]
    raise AssertionError(f"mutant {name} not found")


@pytest.mark.parametrize("name", ["mul_grad", "div_grad_b", "pow_const_grad", "tanh_grad", "log_grad",
                                  "relu_kink", "abs_kink", "rsub_swapped", "tanh_overflow", "float32_data"])
def test_single_op_mistake_reduces_to_at_most_four_ops_that_fail_the_same_way(name):
    Engine, program, finding = planted(name)
    fails = same_way(Engine, finding)
    small, point = reduce_case(program, finding.point, fails)
    assert len(small) <= 4, small.source()
    assert len(point) == small.n_inputs and fails(small, point)


def test_reduction_is_deterministic_and_a_fixed_point():
    Engine, program, finding = planted("mul_grad")
    fails = same_way(Engine, finding)
    calls = []

    def counted(p, x):
        calls.append((p, tuple(map(repr, x))))
        return fails(p, x)

    first = reduce_case(program, finding.point, counted)
    first_calls, calls[:] = list(calls), []
    second = reduce_case(program, finding.point, counted)
    assert first[0] == second[0] and list(map(repr, first[1])) == list(map(repr, second[1]))
    assert calls == first_calls  # the same candidates, in the same order
    assert reduce_case(*first, fails) == first


def test_replacing_an_op_by_its_operand_renumbers_the_program():
    # x0 -> exp -> (t1 * x1) -> tanh: only the tanh matters, so it ends up applied to an input.
    program = Program(2, (Instr("exp", (0,)), Instr("mul", (2, 1)), Instr("tanh", (3,))))
    small, point = reduce_case(program, [0.3, 1.7], lambda p, x: p.instrs[-1].op == "tanh")
    assert small == Program(1, (Instr("tanh", (0,)),)) and point == [0.0]


def test_an_op_is_replaced_by_a_fresh_input_holding_its_value():
    # The "bug" is a log of exactly 2.5, here of x0 * x1: the product becomes an input of value 2.5.
    program = Program(2, (Instr("mul", (0, 1)), Instr("log", (2,)), Instr("neg", (3,))))

    def fails(p, x):
        nodes = evaluate(p, [torch.tensor(v, dtype=torch.float64) for v in x])
        return any(i.op == "log" and nodes[i.args[0]].item() == 2.5 for i in p.instrs)
    small, point = reduce_case(program, [0.5, 5.0], fails)
    assert small == Program(1, (Instr("log", (0,)),)) and point == [2.5]


def test_constants_and_inputs_simplify_and_int_exponents_stay_int():
    program = Program(1, (Instr("pow_int", (0,), -3), Instr("mul_c", (1,), 1.2345678), Instr("add_c", (2,), 7.25)))

    def fails(p, x):  # needs a power and a multiplication by a constant, applied to something not 0
        return {"pow_int", "mul_c"} <= {i.op for i in p.instrs} and x[0] != 0.0
    small, point = reduce_case(program, [-1.2345], fails)
    assert [(i.op, i.c) for i in small.instrs] == [("pow_int", 0), ("mul_c", 0.0)]
    assert type(small.instrs[0].c) is int and point == [1.0]


def test_inputs_round_to_fewer_digits_when_no_simple_value_fails():
    program = Program(1, (Instr("tanh", (0,)),))
    small, point = reduce_case(program, [0.123456789], lambda p, x: 0.1 < x[0] < 0.2)
    assert point == [0.12]


def test_a_case_that_does_not_fail_comes_back_unchanged():
    program = Program(1, (Instr("exp", (0,)), Instr("tanh", (1,))))
    assert reduce_case(program, [0.5], lambda p, x: False) == (program, [0.5])


def test_max_calls_bounds_the_work():
    _, program, _ = planted("mul_grad")
    calls = []

    def fails(p, x):
        calls.append(1)
        return len(p) >= 3
    reduce_case(program, [0.5] * program.n_inputs, fails)
    unbounded, calls[:] = len(calls), []
    reduce_case(program, [0.5] * program.n_inputs, fails, max_calls=7)
    assert unbounded > 7 and len(calls) == 7


@settings(deadline=None)  # reduce_case runs torch for its fresh-input pass
@given(strategies.programs(GenConfig(max_ops=12)), st.randoms(use_true_random=False), st.integers(0, 2**32 - 1))
def test_reduction_never_returns_an_invalid_program(program, rng, salt):
    point = random_inputs(rng, program.n_inputs)
    start = (program.to_json(), list(map(repr, point)))

    def fails(p, x):  # an arbitrary, deterministic notion of failing, true at the start
        return (p.to_json(), list(map(repr, x))) == start or zlib.crc32(repr((p, x, salt)).encode()) % 3 == 0
    small, small_point = reduce_case(program, point, fails, max_calls=300)
    assert Program(small.n_inputs, small.instrs) == small  # validates
    assert len(small_point) == small.n_inputs and all(isinstance(x, float) for x in small_point)
    assert fails(small, small_point)
    for ins in small.instrs:
        if OPS[ins.op].const == "int":
            assert type(ins.c) is int
        if ins.c is not None:
            assert math.isfinite(ins.c)


def _found_at(name, program, point):
    """Mutant `name`'s finding on `program` at `point`, its cause, and the finding reduced."""
    from oracle.fuzz.diagnose import diagnose
    from oracle.fuzz.shrink import reduce_finding
    Engine = mutant_engine(name)
    (finding,) = check_program(program, [point], Engine).findings
    cause = diagnose(finding, Engine)
    return cause, reduce_finding(finding, cause, Engine)


def test_a_bug_seen_at_an_edge_input_but_wrong_at_ordinary_ones_is_class_1():
    # mul_grad's d(a*b)/da is a instead of b: seen first where b = 0, it is wrong wherever a != b
    cause, (_, program, point, reduced, shown) = _found_at("mul_grad", Program(2, (Instr("mul", (0, 1)),)), [1.0, 0.0])
    assert cause.cls == 2 and reduced.cls == 1 and shown
    assert 0.0 not in point and reduced.key() == cause.key(), (point, reduced.summary)
    assert "Class" not in reduced.summary and "b=0.0" not in reduced.summary


def test_a_bug_only_at_an_edge_input_stays_class_2():
    # relu_kink is wrong only at the kink x == 0
    cause, (_, program, point, reduced, shown) = _found_at("relu_kink", Program(1, (Instr("relu", (0,)),)), [0.0])
    assert cause.cls == reduced.cls == 2 and point == [0.0] and shown

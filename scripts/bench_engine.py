"""Benchmark: this engine against micrograd 0.1.0 from PyPI, side by side in one run.

Three figures for each engine:
  - seconds per training step: forward, backward and SGD update of the demo's MLP(2, [16, 16, 1])
    on 100 two-moons points with the demo's loss. The median over steps; the engines take turns
    in alternating order, so a noisy machine slows both alike.
  - bytes per graph node: what tracemalloc counts still allocated by a random graph of + and *
    nodes after backward(), divided by its number of nodes.
  - a 1,000,000-deep chain, forward and backward (0.1.0's recursive topological sort cannot).

Every measurement runs in a fresh interpreter (`python -I`) that imports the standard library
and one engine: ours from this checkout, 0.1.0 from a temporary folder that pip fills. Without
pip or the network, it reports our figures alone.

    python scripts/bench_engine.py                          # about a minute
    python scripts/bench_engine.py --steps 20 --json bench.json

A benchmark, never a test: it asserts nothing.
"""
import argparse
import gc
import json
import math
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GRAPH_NODES = 100_000  # random nodes in the memory graph; enough that per-graph constants vanish
CHAIN_NODES = 1_000_000
CHAIN_RUNS = 3  # our chain is timed this many times (median); 0.1.0's fails once, after ~8 s and ~750 MB
MAX_ROUNDS = 5  # the timed steps are split into up to this many turns per engine


# --- the measurements, run in a worker process with one engine on sys.path ---

def moons(n=100, noise=0.1, seed=1337):
    """scikit-learn's make_moons in pure Python: two interleaved half circles plus Gaussian noise,
    labels -1 and 1 as in the demo. Python floats, so neither engine pays for numpy scalars."""
    rng = random.Random(seed)
    n_out = n // 2
    n_in = n - n_out
    outer = [(math.cos(t), math.sin(t)) for t in (math.pi * i / (n_out - 1) for i in range(n_out))]
    inner = [(1 - math.cos(t), 0.5 - math.sin(t)) for t in (math.pi * i / (n_in - 1) for i in range(n_in))]
    X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in outer + inner]
    y = [-1] * n_out + [1] * n_in
    return X, y


def time_steps(steps):
    """Seconds for each of `steps` training steps after one untimed warm-up step, and the losses."""
    from micrograd.engine import Value
    from micrograd.nn import MLP
    from scripts import notebook

    X, y = moons()
    random.seed(1337)
    model = MLP(2, [16, 16, 1])

    def step(k):  # the demo's step; its graph is dropped on return, inside the timing
        total_loss, accuracy = notebook.loss(model, X, y, Value)
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9*k/100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        return total_loss.data, accuracy

    step(0)
    seconds, losses = [], []
    for k in range(1, steps + 1):
        start = time.perf_counter()
        loss, _ = step(k)
        seconds.append(time.perf_counter() - start)
        losses.append(loss)
    return {"seconds": seconds, "losses": losses}


def _random_graph(leaves, picks):
    """The graph the picks describe, and its number of nodes. The nodes nothing uses are summed
    in a balanced tree, so that one root keeps the whole graph alive and stays shallow (0.1.0
    recurses once per level). All bookkeeping here is freed on return."""
    pool = list(leaves)
    used = bytearray(len(leaves) + len(picks))
    for ia, ib, mul in picks:
        used[ia] = used[ib] = 1
        pool.append(pool[ia] * pool[ib] if mul else pool[ia] + pool[ib])
    tops = [pool[i] for i in range(len(leaves), len(pool)) if not used[i]]
    count = len(picks)
    while len(tops) > 1:
        pairs = len(tops) // 2
        tops = [tops[2*i] + tops[2*i + 1] for i in range(pairs)] + tops[2*pairs:]
        count += pairs
    return tops[0], count


def graph_bytes(n):
    """Bytes still allocated by a random graph of + and * nodes over 100 leaves after backward()."""
    from micrograd.engine import Value

    rng = random.Random(0)
    leaves = [Value(rng.uniform(-1.0, 1.0)) for _ in range(100)]
    picks = [(rng.randrange(100 + i), rng.randrange(100 + i), rng.random() < 0.5) for i in range(n)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    root, count = _random_graph(leaves, picks)
    root.backward()
    # 0.1.0's backward leaves its recursive helper in a reference cycle with the topological
    # order; collect it so that only the graph itself is counted
    gc.collect()
    allocated = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return {"nodes": count, "bytes": allocated, "bytes_per_node": allocated / count}


def deep_chain(n):
    """Forward and backward through v = v + one, n times over."""
    from micrograd.engine import Value

    x, one = Value(0.5), Value(1.0)
    start = time.perf_counter()
    v = x
    for _ in range(n):
        v = v + one
    forward = time.perf_counter() - start
    start = time.perf_counter()
    try:
        v.backward()
    except RecursionError as e:
        return {"nodes": n, "forward_s": forward, "error": f"RecursionError: {e}"}
    backward = time.perf_counter() - start
    return {"nodes": n, "forward_s": forward, "backward_s": backward, "seconds": forward + backward,
            "grads_ok": x.grad == 1.0 and one.grad == float(n)}


def worker(kind, engine, n):
    sys.path.insert(0, engine)
    sys.path.append(str(REPO))  # for scripts.notebook; the engine's folder comes first
    import micrograd
    if not Path(micrograd.__file__).resolve().is_relative_to(Path(engine).resolve()):
        sys.exit(f"bench worker: imported micrograd from {micrograd.__file__}, not from {engine}")
    result = {"steps": time_steps, "memory": graph_bytes, "chain": deep_chain}[kind](n)
    print(json.dumps(result))


# --- the driver: install 0.1.0, take turns, print the table ---

def install_010(folder):
    """pip-install micrograd 0.1.0 into folder; None on success, else why not."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
           "--no-deps", "--target", str(folder), "micrograd==0.1.0"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if proc.returncode != 0 or not (folder / "micrograd" / "engine.py").is_file():
        errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
        return (errors or proc.stderr.strip().splitlines() or [f"pip exited with {proc.returncode}"])[-1]
    return None


def run_worker(kind, engine, n):
    cmd = [sys.executable, "-I", str(Path(__file__).resolve()), "--worker", kind, "--engine", str(engine), "-n", str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the {kind} worker for {engine} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.splitlines()[-1])


def note(message):
    print(message, file=sys.stderr, flush=True)


def measure(engines, steps):
    """All figures for every engine: {name: {...}}. Step timings take turns across engines."""
    figures = {name: {"step_seconds": [], "losses": []} for name in engines}
    rounds = min(steps, MAX_ROUNDS)
    for r in range(rounds):
        share = steps // rounds + (r < steps % rounds)
        order = list(engines) if r % 2 == 0 else list(reversed(engines))
        for name in order:
            note(f"training steps, turn {r + 1}/{rounds}: {name}, {share} step(s)")
            result = run_worker("steps", engines[name], share)
            figures[name]["step_seconds"] += result["seconds"]
            figures[name]["losses"] += result["losses"]
    for name, root in engines.items():
        figures[name]["median_step_s"] = statistics.median(figures[name]["step_seconds"])
        note(f"memory: {name}, a random graph of {GRAPH_NODES:,} + and * nodes")
        figures[name]["memory"] = run_worker("memory", root, GRAPH_NODES)
        runs = CHAIN_RUNS if name == "ours" else 1
        note(f"{CHAIN_NODES:,}-deep chain: {name}" + (f", {runs} runs" if runs > 1 else ""))
        chains = [run_worker("chain", root, CHAIN_NODES) for _ in range(runs)]
        failed = [c for c in chains if "error" in c]
        # the median run, whole, so that its forward and backward add up to its total
        figures[name]["chain"] = failed[0] if failed else sorted(chains, key=lambda c: c["seconds"])[runs // 2]
    return figures


def report(figures, steps):
    """Print the table; return how many times faster ours is per step (None without 0.1.0)."""
    ours, old = figures["ours"], figures.get("micrograd 0.1.0")

    def step(f):
        return f"{f['median_step_s']:.4f} s"

    def memory(f):
        return f"{f['memory']['bytes_per_node']:.0f} B"

    def chain(f):
        c = f["chain"]
        if "error" in c:
            return c["error"].split(":")[0]
        grads = "" if c["grads_ok"] else ", WRONG GRADIENTS"
        return f"{c['seconds']:.2f} s ({c['forward_s']:.2f} + {c['backward_s']:.2f}{grads})"

    rows = [("", "ours", "micrograd 0.1.0"),
            (f"training step, median of {steps}", step(ours), step(old) if old else "n/a"),
            (f"bytes per node, {ours['memory']['nodes']:,}-node graph", memory(ours), memory(old) if old else "n/a"),
            (f"{CHAIN_NODES:,}-deep chain, fwd + bwd", chain(ours), chain(old) if old else "n/a")]
    print()
    for label, a, b in rows:
        print(f"{label:<38}{a:>26}{b:>20}")
    if not old:
        print("\nmicrograd 0.1.0 was not measured, so there is no ratio")
        return None
    drift = max(abs(a - b) / abs(b) for a, b in zip(ours["losses"], old["losses"]))
    print(f"\nsame work on both: their losses agree to {drift:.1e} (relative) over all {steps} timed steps")
    ratio = old["median_step_s"] / ours["median_step_s"]
    print(f"ours is {ratio:.1f}x faster than micrograd 0.1.0 per training step")
    return ratio


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Benchmark this micrograd engine against micrograd 0.1.0 from PyPI: seconds per "
                    "training step of the demo's MLP, bytes per graph node, and a million-deep chain.",
        epilog="0.1.0 is installed with pip into a temporary folder, which is deleted afterwards. "
               "Progress goes to stderr, the table to stdout.")
    parser.add_argument("--steps", type=int, default=10, metavar="N",
                        help="timed training steps per engine (default: 10; 0.1.0 takes ~1.5 s each)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument("--worker", choices=["steps", "memory", "chain"], help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("-n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args.worker, args.engine, args.n)

    print(f"micrograd engine benchmark: Python {platform.python_version()} on {platform.machine()}")
    with tempfile.TemporaryDirectory(prefix="micrograd-0.1.0-") as tmp:
        engines = {"ours": REPO}
        note(f"installing micrograd==0.1.0 from PyPI into {tmp}")
        why_not = install_010(Path(tmp))
        if why_not is None:
            engines["micrograd 0.1.0"] = Path(tmp)
        else:
            print(f"could not install micrograd 0.1.0 with pip ({why_not}); reporting our figures only")
        start = time.perf_counter()
        figures = measure(engines, args.steps)
        note(f"measured in {time.perf_counter() - start:.0f} s")
    ratio = report(figures, args.steps)
    if args.json:
        summary = {"python": platform.python_version(), "steps": args.steps, "speedup": ratio, "engines": figures}
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

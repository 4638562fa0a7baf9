"""Karpathy's micrograd demo.ipynb on this engine: a 2-layer MLP learns to separate the two moons.

The same seeds, data, model, max-margin loss, L2 term and SGD schedule as the notebook, and its
per-step line. The accuracies match the notebook's saved output at every step and the last line
matches it to the bit:

    step 99 loss 0.010978370135492717, accuracy 100.0%

In between, a loss can differ in its last digit or two: 0.1.0 kept a node's children in a set,
so the order in which it summed gradients (and so their rounding) followed object addresses.
This engine sums in operand order, which is 0.1.0's order with the set made a tuple, bit for bit.
Then the script draws the decision boundary into a PNG, as the notebook's last cell does.

    python scripts/demo.py                        # 100 steps, writes moons.png
    python scripts/demo.py --steps 20 --out /tmp/moons20.png

Needs numpy, scikit-learn and matplotlib (pip install -e '.[demo]'). On a terminal, rich (if
installed) adds a progress bar under the per-step lines.
"""
import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_moons

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's engine, installed or not
from micrograd.engine import Value  # noqa: E402
from micrograd.nn import MLP  # noqa: E402
from scripts import notebook  # noqa: E402


def setup(seed=1337):
    """The notebook's data and freshly initialised model, drawn in its order from its seeds."""
    np.random.seed(seed)
    random.seed(seed)
    X, y = make_moons(n_samples=100, noise=0.1)
    y = y*2 - 1  # make y be -1 or 1
    model = MLP(2, [16, 16, 1])  # 2-layer neural network
    return model, X, y


def train(steps=100, model=None, X=None, y=None, on_step=None):
    """Run `steps` steps of SGD and return the loss history, one float per step.

    Without a model, trains the notebook's seeded one (see `setup`). The learning rate decays
    linearly from 1.0 over the run: `1.0 - 0.9*k/steps`, the notebook's `1.0 - 0.9*k/100` when
    steps is 100 (and then to the bit). `on_step(k, loss, accuracy)` is called after each step
    with that step's forward-pass figures, as the notebook prints them.
    """
    if model is None:
        model, X, y = setup()
    history = []
    for k in range(steps):
        # forward
        total_loss, acc = notebook.loss(model, X, y, Value)

        # backward
        model.zero_grad()
        total_loss.backward()

        # update (sgd)
        learning_rate = 1.0 - 0.9*k/steps
        for p in model.parameters():
            p.data -= learning_rate * p.grad

        history.append(total_loss.data)
        if on_step is not None:
            on_step(k, total_loss.data, acc)
    return history


def step_line(k, loss, acc):
    return f"step {k} loss {loss}, accuracy {acc*100}%"


class Reporter:
    """Prints the notebook's per-step line; on a terminal with rich, also a progress bar below it."""

    def __init__(self, steps):
        self.steps, self.progress, self.last = steps, None, None
        if sys.stdout.isatty():
            try:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
            except ImportError:
                return
            self.progress = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), transient=True)

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task("training", total=self.steps)
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, k, loss, acc):
        self.last = (loss, acc)
        if self.progress is None:
            print(step_line(k, loss, acc), flush=True)
        else:  # through rich's console, so the line lands above the bar instead of through it
            self.progress.console.print(step_line(k, loss, acc), highlight=False, markup=False)
            self.progress.advance(self.task)


def plot_decision_boundary(model, X, y, path):
    """The notebook's last cell: classify a grid (step h) around the data and shade it by the sign."""
    import matplotlib
    matplotlib.use("Agg")  # write a file; never needs a display
    import matplotlib.pyplot as plt

    h = 0.25
    x_min, x_max = X[:, 0].min() - 1, X[:, 0].max() + 1
    y_min, y_max = X[:, 1].min() - 1, X[:, 1].max() + 1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h),
                         np.arange(y_min, y_max, h))
    Xmesh = np.c_[xx.ravel(), yy.ravel()]
    inputs = [list(map(Value, xrow)) for xrow in Xmesh]
    scores = list(map(model, inputs))
    Z = np.array([s.data > 0 for s in scores])
    Z = Z.reshape(xx.shape)

    fig = plt.figure()
    plt.contourf(xx, yy, Z, cmap=plt.cm.Spectral, alpha=0.8)
    plt.scatter(X[:, 0], X[:, 1], c=y, s=40, cmap=plt.cm.Spectral)
    plt.xlim(xx.min(), xx.max())
    plt.ylim(yy.min(), yy.max())
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Reproduce micrograd's demo.ipynb: train MLP(2, [16, 16, 1]) on 100 noisy moons "
                    "with the notebook's seeds, loss and SGD schedule, print one line per step, "
                    "and save the decision boundary as a PNG.",
        epilog="With the default 100 steps the last line matches the notebook bit for bit: "
               "step 99 loss 0.010978370135492717, accuracy 100.0%.")
    parser.add_argument("--steps", type=int, default=100, metavar="N",
                        help="SGD steps; the learning rate decays linearly from 1.0 over them (default: 100)")
    parser.add_argument("--out", type=Path, default=Path("moons.png"), metavar="PATH",
                        help="where to write the decision-boundary PNG (default: moons.png)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if not args.out.parent.is_dir():  # say so now, not after the training
        parser.error(f"--out: no such directory: {args.out.parent}")
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    model, X, y = setup()
    print(model)
    print("number of parameters", len(model.parameters()))

    training = time.perf_counter()
    with Reporter(args.steps) as report:
        history = train(args.steps, model, X, y, on_step=report)
    training = time.perf_counter() - training

    plot_decision_boundary(model, X, y, args.out)
    final_loss, final_acc = report.last
    print(f"final loss {final_loss!r}, accuracy {final_acc*100}% after {len(history)} steps")
    print(f"wrote {args.out}; wall time {time.perf_counter() - start:.1f} s, of which training {training:.1f} s")


if __name__ == "__main__":
    main()

"""`python -m oracle train-compare`: train one MLP in micrograd and in PyTorch from the same weights, step by step.

With no options this is micrograd's demo.ipynb: make_moons(n_samples=100, noise=0.1) after seeding
numpy and random with 1337, labels made +-1, MLP(2, [16, 16, 1]) with ReLU, the max-margin (hinge)
loss plus 1e-4 * sum(p*p), and SGD at learning rate 1.0 - 0.9*k/100 for 100 steps. Options give
another MLP, loss or optimizer.

micrograd trains with micrograd.nn, micrograd.losses and micrograd.optim; PyTorch with float64
torch.nn.Linear layers holding a copy of micrograd's initial weights, and torch.optim. Both losses
are printed at every step with their relative difference. Exit 0 when that difference stays within
1e-9 at every step, 1 when it does not, 2 on bad usage.
"""
import argparse
import math
import random
import sys
from dataclasses import dataclass, field

from oracle.cli import UsageError

SYNC_RTOL = 1e-9  # float64 noise is ~1e-16 a step; a wrong gradient or update shows at once, far above this
PLOT_FORMATS = ("png", "svg", "pdf")
MAX_PARAMS = 50_000  # micrograd builds a node per multiply: past this a step takes minutes
MAX_SAMPLES = 10_000
MAX_STEPS = 100_000


@dataclass(frozen=True)
class Config:
    layers: tuple = (2, 16, 16, 1)  # nin, then each layer's width; the last is 1 (one score per example)
    act: str = "relu"  # hidden activation; the last layer is linear, as in micrograd.nn
    loss: str = "hinge"  # hinge (labels +-1, the demo's) or mse (regressing the labels)
    optimizer: str = "sgd"
    lr: float | None = None  # None: the demo's schedule for SGD, 1e-2 for Adam
    momentum: float = 0.0  # SGD only
    betas: tuple = (0.9, 0.999)  # Adam only
    eps: float = 1e-8  # Adam only
    weight_decay: float = 0.0  # the optimizers' own L2 term, added to the gradient
    l2: float = 1e-4  # alpha in the demo's `loss + alpha * sum(p*p)`
    steps: int = 100
    samples: int = 100
    noise: float = 0.1  # make_moons' noise
    seed: int = 1337  # the data, then the initial weights

    def lr_at(self, k):
        if self.lr is not None:
            return self.lr
        if self.optimizer == "adam":
            return 1e-2
        return 1.0 - 0.9 * min(k, 100) / 100  # the demo's, held at its end (0.1) past step 100

    def describe(self):
        nin, widths = self.layers[0], list(self.layers[1:])
        lr = f"lr {self.lr:g}" if self.lr is not None else (
            "lr 0.01" if self.optimizer == "adam" else "lr 1.0 - 0.9*k/100")
        opt = {"sgd": "SGD", "adam": "Adam"}[self.optimizer] + f" {lr}"
        if self.momentum:
            opt += f" momentum {self.momentum:g}"
        if self.optimizer == "adam" and self.betas != (0.9, 0.999):
            opt += f" betas {self.betas[0]:g},{self.betas[1]:g}"
        if self.weight_decay:
            opt += f" weight_decay {self.weight_decay:g}"
        loss = self.loss + (f" + {self.l2:g}*sum(p*p)" if self.l2 else "")
        data = (f"make_moons({self.samples}, noise={self.noise:g})" if nin == 2
                else f"{self.samples} random points in [-1, 1]^{nin}") + f", seed {self.seed}"
        return f"MLP({nin}, {widths}) {self.act}, {loss}, {opt}, on {data}, {self.steps} steps"


def dataset(cfg):
    """Inputs (list of float rows) and labels (+-1 floats). Two inputs: the demo's moons. Otherwise points
    in a cube, labelled by whether they lie outside the sphere that splits them about evenly."""
    if cfg.layers[0] == 2:
        from sklearn.datasets import make_moons

        # random_state=seed draws from RandomState(seed): the same numbers as the demo's np.random.seed(seed)
        X, y = make_moons(n_samples=cfg.samples, noise=cfg.noise, random_state=cfg.seed)
        return [[float(a) for a in row] for row in X], [float(2 * t - 1) for t in y]
    rng = random.Random(cfg.seed)
    X = [[rng.uniform(-1, 1) for _ in range(cfg.layers[0])] for _ in range(cfg.samples)]
    return X, [1.0 if sum(a * a for a in row) > cfg.layers[0] / 3 else -1.0 for row in X]


@dataclass
class History:
    lr: list = field(default_factory=list)
    loss: list = field(default_factory=list)  # micrograd's, before each step's update
    tloss: list = field(default_factory=list)  # torch's
    acc: list = field(default_factory=list)  # micrograd's accuracy, sign of score vs label
    tacc: list = field(default_factory=list)
    rel: list = field(default_factory=list)  # relative loss difference per step
    param_diff: float = 0.0  # after the last step: the largest |micrograd - torch| over all parameters
    param_max: float = 0.0  # and the largest |parameter|, for scale
    model: object = None  # the trained models, for the plot
    layers: object = None

    @property
    def worst(self):
        """(step, relative difference) of the largest divergence."""
        k = max(range(len(self.rel)), key=lambda i: (math.isnan(self.rel[i]), self.rel[i]))
        return k, self.rel[k]

    @property
    def in_sync(self):
        return all(r <= SYNC_RTOL for r in self.rel)


def rel_diff(a, b):
    if a == b or (a != a and b != b):
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def torch_twin(model):
    """float64 torch.nn.Linear layers holding a copy of micrograd's weights: row j is neuron j."""
    from oracle.mlp import torch_model  # imports torch: only once training starts
    return torch_model([[([w.data for w in n.w], n.b.data) for n in layer.neurons] for layer in model.layers])


def torch_forward(cfg, layers, X):
    import torch

    for i, lin in enumerate(layers):
        X = lin(X)
        if i < len(layers) - 1 and cfg.act != "linear":
            X = getattr(torch, cfg.act)(X)
    return X[:, 0]


def train(cfg, out=None, every=1):
    """Train both from the same weights for cfg.steps steps; print every `every`-th step (and the last)
    to out (None: quiet)."""
    import torch

    from micrograd import losses, optim
    from micrograd.nn import MLP

    X, y = dataset(cfg)
    model = MLP(cfg.layers[0], list(cfg.layers[1:]), act=cfg.act, rng=random.Random(cfg.seed))
    params = model.parameters()
    layers = torch_twin(model)
    tparams = [t for lin in layers for t in (lin.weight, lin.bias)]
    loss_fn = losses.hinge if cfg.loss == "hinge" else losses.mse
    if cfg.optimizer == "sgd":
        opt = optim.SGD(params, lr=cfg.lr_at(0), momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        topt = torch.optim.SGD(tparams, lr=cfg.lr_at(0), momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               foreach=False)
    else:
        opt = optim.Adam(params, lr=cfg.lr_at(0), betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
        # foreach=False: the single-tensor path, whose order of operations micrograd.optim follows
        topt = torch.optim.Adam(tparams, lr=cfg.lr_at(0), betas=cfg.betas, eps=cfg.eps,
                                weight_decay=cfg.weight_decay, foreach=False)
    Xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)

    h = History(model=model, layers=layers)
    if out is not None:
        print(f"{'step':>5}  {'lr':>7}  {'micrograd loss':>22}  {'torch loss':>22}  {'rel diff':>8}  "
              f"{'accuracy':>8}  {'torch':>5}", file=out)
    for k in range(cfg.steps):
        lr = cfg.lr_at(k)
        scores = [model(row) for row in X]
        loss = loss_fn(scores, y)
        if cfg.l2:
            loss = loss + cfg.l2 * sum(p * p for p in params)
        opt.zero_grad()
        loss.backward()
        opt.lr = lr
        opt.step()

        tscores = torch_forward(cfg, layers, Xt)
        tloss = torch.relu(1 - yt * tscores).mean() if cfg.loss == "hinge" else ((tscores - yt) ** 2).mean()
        if cfg.l2:
            tloss = tloss + cfg.l2 * sum((t * t).sum() for t in tparams)
        topt.zero_grad()
        tloss.backward()
        topt.param_groups[0]["lr"] = lr
        topt.step()

        h.lr.append(lr)
        h.loss.append(loss.data)
        h.tloss.append(tloss.item())
        h.rel.append(rel_diff(h.loss[-1], h.tloss[-1]))
        h.acc.append(sum((s.data > 0) == (t > 0) for s, t in zip(scores, y)) / len(y))
        h.tacc.append(((tscores.detach() > 0) == (yt > 0)).double().mean().item())
        if out is not None and (k % every == 0 or k == cfg.steps - 1):
            print(f"{k:>5}  {lr:>7.4f}  {h.loss[-1]!r:>22}  {h.tloss[-1]!r:>22}  {h.rel[-1]:>8.1e}  "
                  f"{h.acc[-1]:>8.0%}  {h.tacc[-1]:>5.0%}", file=out)
    flat = torch.cat([torch.cat([lin.weight, lin.bias[:, None]], 1).flatten() for lin in layers]).tolist()
    h.param_diff = max(abs(p.data - t) for p, t in zip(params, flat))
    h.param_max = max(abs(p.data) for p in params)
    return h


def verdict(h):
    step, worst = h.worst
    tail = (f"after the last step the parameters differ by at most {h.param_diff:.1e} "
            f"(largest |parameter| {h.param_max:.3g})")
    if h.in_sync:
        return (f"In sync: the largest relative loss difference is {worst:.1e} (step {step}), "
                f"allowed {SYNC_RTOL:g}; {tail}.")
    first = next(k for k, r in enumerate(h.rel) if not r <= SYNC_RTOL)
    return (f"OUT OF SYNC from step {first}: the largest relative loss difference is {worst:.1e} (step {step}), "
            f"allowed {SYNC_RTOL:g}; {tail}.")


def plot(cfg, h, X, y, path):
    """The two loss curves and, for two inputs, the two decision boundaries side by side."""
    import numpy as np
    import torch
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state, Agg underneath

    boundaries = cfg.layers[0] == 2
    fig = Figure(figsize=(15 if boundaries else 6, 4.5), layout="constrained")
    axes = fig.subplots(1, 3 if boundaries else 1, squeeze=False)[0]
    ax = axes[0]
    steps = range(len(h.loss))
    ax.plot(steps, h.loss, label="micrograd", lw=2.5, alpha=0.6)
    ax.plot(steps, h.tloss, "--", label="PyTorch float64", color="k", lw=1)
    step, worst = h.worst
    ax.set(xlabel="step", ylabel="loss", title=f"loss (largest relative difference {worst:.1e}, step {step})")
    ax.legend()
    if boundaries:
        Xa, ya = np.array(X), np.array(y)
        x_min, x_max = Xa[:, 0].min() - 1, Xa[:, 0].max() + 1
        y_min, y_max = Xa[:, 1].min() - 1, Xa[:, 1].max() + 1
        xx, yy = np.meshgrid(np.arange(x_min, x_max, 0.25), np.arange(y_min, y_max, 0.25))  # the demo's grid
        grid = np.c_[xx.ravel(), yy.ravel()]
        mg = np.array([h.model([float(a), float(b)]).data > 0 for a, b in grid]).reshape(xx.shape)
        with torch.no_grad():
            tz = (torch_forward(cfg, h.layers, torch.tensor(grid, dtype=torch.float64)) > 0).numpy().reshape(xx.shape)
        for ax, Z, name in ((axes[1], mg, "micrograd"), (axes[2], tz, "PyTorch float64")):
            ax.contourf(xx, yy, Z, cmap="Spectral", alpha=0.8)
            ax.scatter(Xa[:, 0], Xa[:, 1], c=ya, s=20, cmap="Spectral", edgecolors="k", linewidths=0.5)
            ax.set(xlim=(xx.min(), xx.max()), ylim=(yy.min(), yy.max()),
                   title=f"{name}: decision boundary after {len(h.loss)} steps")
    fig.suptitle(cfg.describe(), fontsize=9)
    fig.savefig(path)


# --- the command ---

EXAMPLE = """\
examples:
  python -m oracle train-compare                      # the demo: moons, MLP(2, [16, 16, 1]), 100 steps
  python -m oracle train-compare --steps 20 --plot moons.png
  python -m oracle train-compare --layers 2,8,1 --act tanh --loss mse --optimizer adam --lr 0.05
  python -m oracle train-compare --layers 3,8,8,1 --optimizer sgd --lr 0.05 --momentum 0.9 --steps 30

exit status: 0 in sync at every step, 1 not, 2 bad usage
"""


def configure(parser):
    parser.description = __doc__.split("\n\n", 1)[1]
    parser.epilog = EXAMPLE
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    d = Config()
    parser.add_argument("--layers", metavar="N,W,..,1", default=",".join(map(str, d.layers)),
                        help="inputs, then each layer's width, the last 1 (default: %(default)s); "
                             "two inputs train on the moons, others on random points")
    parser.add_argument("--act", choices=("relu", "tanh", "sigmoid", "linear"), default=d.act,
                        help="hidden activation (default: %(default)s)")
    parser.add_argument("--loss", choices=("hinge", "mse"), default=d.loss, help="(default: %(default)s)")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default=d.optimizer, help="(default: %(default)s)")
    parser.add_argument("--lr", type=float, help="a constant learning rate (default: the demo's 1.0 - 0.9*k/100, "
                                                 "0.1 after step 100, for sgd; 0.01 for adam)")
    parser.add_argument("--momentum", type=float, default=d.momentum, help="SGD momentum (default: 0)")
    parser.add_argument("--betas", metavar="B1,B2", help="Adam's betas (default: 0.9,0.999)")
    parser.add_argument("--eps", type=float, default=d.eps, help="Adam's eps (default: %(default)g)")
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay,
                        help="the optimizer's weight decay (default: 0)")
    parser.add_argument("--l2", type=float, default=d.l2, help="alpha in loss + alpha*sum(p*p) (default: %(default)g)")
    parser.add_argument("--steps", type=int, default=d.steps, help="(default: %(default)s)")
    parser.add_argument("--samples", type=int, default=d.samples, help="(default: %(default)s)")
    parser.add_argument("--noise", type=float, default=d.noise, help="make_moons' noise (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=d.seed, help="for the data and the weights (default: %(default)s)")
    parser.add_argument("--every", type=int, default=1, metavar="K", help="print every K-th step (default: 1)")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="draw the loss curves and decision boundaries (.png, .svg or .pdf)")


def config_from_args(args):
    """A Config from the parsed flags; UsageError says what is wrong in one line."""
    try:
        layers = tuple(int(s) for s in args.layers.split(","))
    except ValueError:
        raise UsageError(f"--layers {args.layers}: give integers separated by commas, e.g. 2,16,16,1") from None
    if len(layers) < 2 or min(layers) < 1 or layers[-1] != 1:
        raise UsageError(f"--layers {args.layers}: inputs, then at least one layer, all >= 1, and the last "
                         f"layer of width 1 (one score per example)")
    n_params = sum((a + 1) * b for a, b in zip(layers, layers[1:]))
    if n_params > MAX_PARAMS:
        raise UsageError(f"--layers {args.layers}: {n_params} parameters; micrograd is a scalar engine, "
                         f"keep it under {MAX_PARAMS}")
    if args.optimizer != "sgd" and args.momentum:
        raise UsageError("--momentum is for --optimizer sgd")
    if args.optimizer != "adam" and args.betas is not None:
        raise UsageError("--betas is for --optimizer adam")
    betas = Config.betas
    if args.betas is not None:
        try:
            betas = tuple(float(s) for s in args.betas.split(","))
        except ValueError:
            betas = ()
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise UsageError(f"--betas {args.betas}: two numbers in [0, 1), e.g. 0.9,0.999")
    for flag, value in (("--lr", args.lr), ("--momentum", args.momentum), ("--eps", args.eps),
                        ("--weight-decay", args.weight_decay), ("--l2", args.l2), ("--noise", args.noise)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(f"{flag} {value}: must be a finite number >= 0")
    for flag, value, top in (("--steps", args.steps, MAX_STEPS), ("--samples", args.samples, MAX_SAMPLES),
                             ("--every", args.every, MAX_STEPS)):
        if not 1 <= value <= top:
            raise UsageError(f"{flag} {value}: must be between 1 and {top}")
    if args.plot and args.plot.rsplit(".", 1)[-1].lower() not in PLOT_FORMATS:
        raise UsageError(f"--plot {args.plot}: the file name must end in .png, .svg or .pdf")
    return Config(layers, args.act, args.loss, args.optimizer, args.lr, args.momentum, betas, args.eps,
                  args.weight_decay, args.l2, args.steps, args.samples, args.noise, args.seed)


def main(args):
    try:  # scikit-learn and matplotlib come with the command's extra, train, which python -m oracle checks
        cfg = config_from_args(args)
    except UsageError as e:
        print(f"train-compare: {e}", file=sys.stderr)
        return 2
    print(f"train-compare: {cfg.describe()}")
    h = train(cfg, sys.stdout, args.every)
    print(verdict(h))
    if args.plot:
        X, y = dataset(cfg)
        try:
            plot(cfg, h, X, y, args.plot)
        except OSError as e:
            print(f"train-compare: --plot {args.plot}: {e.strerror or e}", file=sys.stderr)
            return 2
        print(f"plot: {args.plot}")
    return 0 if h.in_sync else 1

"""Random MLPs, built from any engine's Value and as a torch twin, compared output by output,
gradient by gradient, and step by step through SGD training.

The engine side uses the oracle's own neuron code (plain `+ * ` on the engine's Values and one
activation method), so a plug-in engine needs no nn module of its own. The torch twin is
`torch.nn.Linear` layers in float64 with the same weights copied in. Its functions import torch
themselves, as `oracle.backends`' do (and a reproducer that copies them in has imported it).
"""
import math
from dataclasses import dataclass, replace

import numpy as np

from oracle.check import Report, close
from oracle.program import float_source

ACTS = ("relu", "tanh", "sigmoid", "linear")
LOSSES = ("mse", "hinge")


@dataclass(frozen=True)
class MLPSpec:
    nin: int
    widths: tuple  # layer widths; the last layer is linear
    act: str  # hidden activation
    loss: str  # mse or hinge
    weights: tuple  # per layer, per neuron: (weights tuple, bias)
    X: tuple  # batch of input rows
    y: tuple  # one target per row (hinge: ±1) for the first output
    lr: float = 0.05  # SGD learning rate for training cases

    def to_json(self):
        return {"nin": self.nin, "widths": list(self.widths), "act": self.act, "loss": self.loss,
                "weights": [[[list(w), b] for w, b in layer] for layer in self.weights],
                "X": [list(r) for r in self.X], "y": list(self.y), "lr": self.lr}

    @staticmethod
    def from_json(d):
        try:
            return MLPSpec(int(d["nin"]), tuple(d["widths"]), d["act"], d["loss"],
                           tuple(tuple((tuple(map(float, w)), float(b)) for w, b in layer) for layer in d["weights"]),
                           tuple(tuple(map(float, r)) for r in d["X"]), tuple(map(float, d["y"])), float(d["lr"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a valid MLP spec: {e}") from None

    def describe(self):
        return f"MLP({self.nin}, {list(self.widths)}) act={self.act} loss={self.loss} batch={len(self.X)}"

    def source(self):
        """The spec as Python a learner reads (a reproducer's SPEC): a class whose attributes are
        the spec's fields, one line per neuron (its weights, then its bias), one per example."""
        sizes = (self.nin,) + tuple(self.widths)
        lines = ["class SPEC:",
                 '    """The network, its weights, its batch of examples and targets, its loss and SGD step."""',
                 f"    nin, widths, act, loss, lr = {self.nin}, {list(self.widths)!r}, {self.act!r}, {self.loss!r}, "
                 f"{self.lr!r}",
                 "    weights = [  # per layer, per neuron: ([its weights], its bias)"]
        for n, layer in enumerate(self.weights):
            lines.append(f"        [  # layer {n + 1}: {sizes[n]} input(s) -> {sizes[n + 1]} neuron(s)"
                         + (", linear" if n == len(self.weights) - 1 else f", {self.act}"))
            lines += [f"            ([{', '.join(map(float_source, ws))}], {float_source(b)})," for ws, b in layer]
            lines.append("        ],")
        lines += ["    ]", "    X = [  # one example per row"]
        lines += [f"        [{', '.join(map(float_source, row))}]," for row in self.X]
        lines += ["    ]", f"    y = [{', '.join(map(float_source, self.y))}]  # the targets, one per example"]
        return "\n".join(lines)


def random_mlp(rng, acts=ACTS, losses=LOSSES, max_width=6, max_layers=3, max_batch=6):
    """A small random MLP with its weights, a batch of inputs (some exactly 0) and targets."""
    nin = rng.randint(1, 4)
    widths = tuple(rng.randint(1, max_width) for _ in range(rng.randint(0, max_layers - 1))) + (rng.randint(1, 2),)
    sizes = (nin,) + widths
    weights = tuple(tuple((tuple(rng.uniform(-1, 1) for _ in range(sizes[i])), rng.choice((0.0, rng.uniform(-1, 1))))
                          for _ in range(sizes[i + 1])) for i in range(len(widths)))
    X = tuple(tuple(rng.choice((0.0, rng.uniform(-2, 2), rng.uniform(-2, 2))) for _ in range(nin))
              for _ in range(rng.randint(1, max_batch)))
    loss = rng.choice(losses)
    y = tuple(rng.choice((-1.0, 1.0)) if loss == "hinge" else rng.uniform(-1, 1) for _ in X)
    return MLPSpec(nin, widths, rng.choice(acts), loss, weights, X, y, rng.choice((0.01, 0.05, 0.3)))


def engine_model(spec, Engine):
    """The spec's parameters as engine Values: per layer, per neuron, (weights, bias)."""
    return [[([Engine(w) for w in ws], Engine(b)) for ws, b in layer] for layer in spec.weights]


def nn_model(spec):
    """micrograd.nn's own MLP with the spec's weights copied in: micrograd is checked through the
    nn it ships (its neurons sum in one node), not only through the oracle's neuron code."""
    from micrograd.nn import MLP
    model = MLP(spec.nin, list(spec.widths), act=spec.act)
    for layer, weights in zip(model.layers, spec.weights):
        for neuron, (ws, b) in zip(layer.neurons, weights):
            for w, x in zip(neuron.w, ws):
                w.data = x
            neuron.b.data = b
    return model


def engine_forward(spec, params, x):
    """The outputs for one example x: of micrograd.nn's own model, or of the oracle's network."""
    if not isinstance(params, list):  # a micrograd.nn model
        out = params(list(x))
        return out if isinstance(out, list) else [out]
    return network(spec, params, x)


def network(spec, params, x):
    """The network's outputs for one example x. Each neuron is its bias plus the sum of weight *
    input, then spec.act (relu, tanh or sigmoid); the last layer is linear. params: per layer, per
    neuron, (weights, bias), as the engine's Values."""
    for i, layer in enumerate(params):
        last = i == len(params) - 1
        out = []
        for ws, b in layer:
            act = b
            for wi, xi in zip(ws, x):
                act = act + wi * xi
            out.append(act if last or spec.act == "linear" else getattr(act, spec.act)())
        x = out
    return x


def engine_loss(spec, params):
    outs = [engine_forward(spec, params, x) for x in spec.X]
    if spec.loss == "mse":
        terms = [(o[0] - y) ** 2 for o, y in zip(outs, spec.y)]
    else:
        terms = [(1 + -y * o[0]).relu() for o, y in zip(outs, spec.y)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return outs, total * (1.0 / len(terms))


def torch_model(weights):
    """float64 torch.nn.Linear layers holding `weights`: per layer, per neuron, (weights, bias)."""
    import torch
    layers = []
    for layer in weights:
        lin = torch.nn.Linear(len(layer[0][0]), len(layer), dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor([ws for ws, _ in layer], dtype=torch.float64))
            lin.bias.copy_(torch.tensor([b for _, b in layer], dtype=torch.float64))
        layers.append(lin)
    return layers


def torch_loss(spec, layers):
    import torch
    x = torch.tensor(spec.X, dtype=torch.float64)
    for i, lin in enumerate(layers):
        x = lin(x)
        if i < len(layers) - 1 and spec.act != "linear":
            x = getattr(torch, spec.act)(x)
    y = torch.tensor(spec.y, dtype=torch.float64)
    terms = (x[:, 0] - y) ** 2 if spec.loss == "mse" else torch.relu(1 - y * x[:, 0])
    return x, terms.mean()


def torch_side(spec):
    """What torch float64 gives for the spec before any training, as an MLP reproducer quotes it
    (its TORCH): each example's outputs, then the loss."""
    outs, loss = torch_loss(spec, torch_model(spec.weights))
    return outs.detach().flatten().tolist() + [loss.item()]


def _torch_step(spec, layers, tparams):
    """Forward and backward of the twin: its outputs, and outputs, loss and parameter gradients
    as one list in the engine's order."""
    tout, tl = torch_loss(spec, layers)
    for lin in layers:
        lin.zero_grad()
    tl.backward()
    return tout, tout.detach().flatten().tolist() + [tl.item()] + [t.grad[ix].item() for t, ix in tparams]


def _torch_params(layers):
    """Parameters in the engine's order: per layer, per neuron, weights then bias."""
    out = []
    for lin in layers:
        for j in range(lin.out_features):
            out += [(lin.weight, (j, k)) for k in range(lin.in_features)] + [(lin.bias, (j,))]
    return out


@dataclass
class MLPFinding:
    kind: str  # mlp-value | mlp-loss | mlp-grad | train | raise | complex | recursion
    spec: MLPSpec
    where: str
    engine: float | None = None
    torch: float | None = None
    step: int = 0
    detail: str = ""
    limit: float | None = None  # a timeout's: the seconds the engine was given, which its reproducer gives it too
    torch_values: list | None = None  # torch_side(spec), put on by the worker that found it (see workers)

    @property
    def signature(self):
        return f"{self.kind}-{self.spec.act}-{self.spec.loss}"

    @property
    def op(self):
        return self.spec.act

    def message(self):
        head = {"mlp-value": "Outputs", "mlp-loss": "Losses", "mlp-grad": "Gradients", "train": "Parameters"}.get(
            self.kind, "Results")
        lines = [f"{head} are not close!" if self.kind in ("mlp-value", "mlp-loss", "mlp-grad", "train")
                 else f"The engine failed ({self.kind})", "",
                 f"Mismatched {self.where}" + (f" after SGD step {self.step}" if self.step else ""),
                 f"engine={self.engine!r}  torch={self.torch!r}"]
        if self.engine is not None and self.torch is not None and math.isfinite(self.engine) and math.isfinite(
                self.torch):
            lines.append(f"Absolute difference: {abs(self.engine - self.torch):.3g}")
        if self.detail:
            lines.append(self.detail)
        return "\n".join(lines + ["", self.spec.describe()])


def check_mlp(spec, Engine, steps=0, report=None, through_nn=False):
    """Compare outputs, loss and every parameter's gradient; then `steps` SGD steps, comparing
    every parameter after every step. Returns a Report with at most one finding. through_nn: the
    engine is micrograd's own Value, checked through micrograd.nn (else through the oracle's own
    neuron code, which needs nothing but the engine's Value)."""
    report = report if report is not None else Report()
    params, flat = _model(spec, Engine, through_nn)
    layers = torch_model(spec.weights)
    tparams = _torch_params(layers)
    for step in range(steps + 1):
        try:
            got = engine_step(spec, params, flat)
        except RecursionError as e:
            report.findings.append(MLPFinding("recursion", spec, "the forward or backward pass", detail=repr(e)))
            return report
        except Exception as e:  # the engine under test may raise anything
            report.findings.append(MLPFinding("raise", spec, "the forward or backward pass",
                                              detail=f"{type(e).__name__}: {e}", step=step))
            return report
        tout, want = _torch_step(spec, layers, tparams)
        if step > 0 and not np.isfinite(want).all():
            # torch's training diverged: a batched matmul then multiplies zeros by infinities that
            # a scalar graph never forms, so from here on the two differ by construction. An
            # engine that diverges where torch does not is compared, and found.
            break
        report.points += 1
        report.checks += len(got)
        ok = close(got, want)
        if not ok.all() and step > 0:
            # Training that diverges amplifies float64 noise step by step (torch sums in another
            # order), so re-check the step from the engine's own parameters, as a program's node
            # is re-checked from its own operands: a wrong step still fails, inherited noise does not.
            resync(tparams, flat)
            tout, want = _torch_step(spec, layers, tparams)
            ok = close(got, want)
            report.noise += bool(ok.all())
        if not ok.all():
            i = int(np.argmin(ok))
            n_out = tout.numel()
            kind, where = (("mlp-value", f"output {i}") if i < n_out else ("mlp-loss", "loss") if i == n_out
                           else ("mlp-grad", f"gradient of parameter {i - n_out - 1}"))
            report.findings.append(MLPFinding(kind if step == 0 else "train", spec, where, got[i], want[i], step))
            return report
        if step == steps:
            break
        sgd_step(spec.lr, flat, layers)
    return report


def _model(spec, Engine, through_nn):
    """The spec's network in the engine, and its parameters in the order the spec lists them."""
    if through_nn:
        params = nn_model(spec)
        return params, params.parameters()
    params = engine_model(spec, Engine)
    return params, [p for layer in params for ws, b in layer for p in ws + [b]]


def trained(spec, Engine, steps, through_nn=False):
    """The spec with the weights that `steps` SGD steps of the engine's own reach: where a finding
    first failed at step k, it fails at step 0 of trained(spec, Engine, k), which a diagnosis can
    look at in one forward and backward pass."""
    params, flat = _model(spec, Engine, through_nn)
    for _ in range(steps):
        engine_step(spec, params, flat)
        engine_sgd(spec.lr, flat)
    it = iter([float(p.data) for p in flat])
    return replace(spec, weights=tuple(tuple((tuple(next(it) for _ in ws), next(it)) for ws, _ in layer)
                                       for layer in spec.weights))


def engine_step(spec, params, flat):
    """Forward and backward on the engine: outputs, loss and parameter gradients as one list."""
    outs, loss = engine_loss(spec, params)
    for p in flat:
        p.grad = 0.0
    loss.backward()
    return [float(o.data) for row in outs for o in row] + [float(loss.data)] + [float(p.grad) for p in flat]


def engine_sgd(lr, flat):
    """One SGD step on the engine's parameters."""
    for p in flat:
        p.data = p.data - lr * p.grad


def sgd_step(lr, flat, layers):
    """One SGD step on both sides: the engine's parameters and the torch twin's."""
    import torch
    engine_sgd(lr, flat)
    with torch.no_grad():
        for lin in layers:
            for t in (lin.weight, lin.bias):
                t -= lr * t.grad


def resync(tparams, flat):
    """Copy the engine's parameters into the torch twin."""
    import torch
    with torch.no_grad():
        for (t, ix), p in zip(tparams, flat):
            t[ix] = float(p.data)

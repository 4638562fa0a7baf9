"""Loss functions that build their result out of `Value` ops, so `loss.backward()` reaches the inputs.

    mse(preds, targets)             mean squared error, as torch.nn.functional.mse_loss
    hinge(scores, ys)               the micrograd demo's max-margin loss, for labels ys in {-1, +1}
    cross_entropy(logits, target)   -log softmax(logits)[target], as torch.nn.functional.cross_entropy

Each takes lists whose items are Values or plain numbers (a number is a constant: no gradient
reaches it) and returns a Value. Every mean is a sum divided by the count, as torch's mean.
"""
import numbers
import operator

from micrograd.engine import Value


def _values(xs, name, fn):
    """xs (any iterable of Values and numbers) as a non-empty list of Values."""
    if isinstance(xs, (Value, numbers.Real, str, bytes)):
        raise TypeError(f"{fn}: {name} must be a list of Values or numbers, got a single {type(xs).__name__}")
    try:
        xs = list(xs)
    except TypeError:
        raise TypeError(f"{fn}: {name} must be a list of Values or numbers, got {type(xs).__name__}") from None
    if not xs:
        raise ValueError(f"{fn}: {name} is empty")
    for i, x in enumerate(xs):
        if not isinstance(x, (Value, numbers.Real)):
            raise TypeError(f"{fn}: {name}[{i}] must be a Value or a real number, got {type(x).__name__}")
    return [x if isinstance(x, Value) else Value(x) for x in xs]


def _pairs(xs, ys, xname, yname, fn):
    xs, ys = _values(xs, xname, fn), _values(ys, yname, fn)
    if len(xs) != len(ys):
        raise ValueError(f"{fn}: {xname} has {len(xs)} items but {yname} has {len(ys)}")
    return xs, ys


def _mean(terms):
    return sum(terms[1:], terms[0]) / len(terms)  # start from the first term: no `0 +` node in the graph


def mse(preds, targets):
    """mean((pred - target)**2), as F.mse_loss(preds, targets) with reduction='mean'."""
    preds, targets = _pairs(preds, targets, 'preds', 'targets', 'mse')
    return _mean([(p - t)**2 for p, t in zip(preds, targets, strict=True)])


def hinge(scores, ys):
    """mean(relu(1 - y*score)), the SVM max-margin loss of micrograd's demo.ipynb.

    The demo writes the mean as `sum(losses) * (1.0 / len(losses))`; this divides, as torch's
    mean does, which can differ from the demo in the last bit."""
    scores, ys = _pairs(scores, ys, 'scores', 'ys', 'hinge')
    return _mean([(1 + -y*s).relu() for s, y in zip(scores, ys, strict=True)])


def cross_entropy(logits, target):
    """-log(softmax(logits)[target]) for one example, as F.cross_entropy on 1-D logits.

    Computed as log(sum(exp(logits - max))) - (logits[target] - max), which is the same number
    but never takes the log of a softmax that underflowed to 0. The max is subtracted as a
    constant: softmax does not depend on it, so its exact gradient is zero anyway."""
    logits = _values(logits, 'logits', 'cross_entropy')
    try:
        target = operator.index(target)  # ints and numpy ints; not floats, not Values
    except TypeError:
        raise TypeError(f"cross_entropy: target must be an integer class index, "
                        f"got {type(target).__name__}: {target!r:.60}") from None
    if not 0 <= target < len(logits):
        raise IndexError(f"cross_entropy: target {target} is out of range for {len(logits)} logits "
                         f"(valid: 0 to {len(logits) - 1})")
    m = max(l.data for l in logits)
    shifted = [l - m for l in logits]
    exps = [s.exp() for s in shifted]
    return sum(exps[1:], exps[0]).log() - shifted[target]

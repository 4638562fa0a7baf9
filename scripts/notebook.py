"""The demo notebook's loss, written once for scripts/demo.py and scripts/bench_engine.py.

Kept as demo.ipynb writes it, because the order of every operation decides the last bits of the
result. `Value` is a parameter, so the benchmark can run it on micrograd 0.1.0 as well.
"""


def loss(model, X, y, Value):
    """The full-batch SVM max-margin loss plus L2 regularisation: (total_loss, accuracy)."""
    Xb, yb = X, y
    inputs = [list(map(Value, xrow)) for xrow in Xb]

    # forward the model to get scores
    scores = list(map(model, inputs))

    # svm "max-margin" loss
    losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(yb, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    # L2 regularization
    alpha = 1e-4
    reg_loss = alpha * sum(p*p for p in model.parameters())
    total_loss = data_loss + reg_loss

    # also get accuracy
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
    return total_loss, sum(accuracy) / len(accuracy)

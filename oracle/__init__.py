"""oracle: micrograd-style engines checked against PyTorch float64, node by node.

This package is the core every user shares: the op table, the program IR and its one evaluation
loop, the generators and Hypothesis strategies, the backends (any engine, torch float64, finite
differences, mpmath), the per-node check and local re-check, the MLP twins, and the commands'
plumbing. It imports neither of the two tools built on it, `oracle.fuzz` and `oracle.teach`; only
the front doors reach them: `oracle.__main__` (the command line), `oracle.testing` (checking an
engine from one's own tests) and `oracle.pytest_plugin` (`pytest --oracle-engine`).
"""

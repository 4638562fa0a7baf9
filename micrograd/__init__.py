"""micrograd: a scalar-valued autograd engine and a small neural-network library on top of it."""
from micrograd.engine import Value

__all__ = ["Value"]
__version__ = "0.2.0"
# The name pip knows this project by. Karpathy's micrograd 0.1.0 is "micrograd" on PyPI; both install
# the import package micrograd, so one of the two per environment.
DISTRIBUTION = "micrograd-oracle"

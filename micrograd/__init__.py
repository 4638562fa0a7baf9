"""micrograd: a scalar-valued autograd engine and a small neural-network library on top of it."""
from micrograd.engine import Value

__all__ = ["Value"]
__version__ = "0.2.0"

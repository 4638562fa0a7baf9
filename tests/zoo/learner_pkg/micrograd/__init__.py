"""My micrograd, from the lecture: a scalar Value with autograd, and a small nn on top."""
from .engine import Value

__all__ = ["Value"]

"""Run a micrograd program in micrograd and in PyTorch float64, side by side: `python -m oracle compare`.

    python scripts/compare.py program.py [--graph graph.svg] [--all] [--no-color]
    python scripts/compare.py - < program.py
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not

from oracle.__main__ import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run(["compare", *sys.argv[1:]]))

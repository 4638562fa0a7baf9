"""Train an MLP in micrograd and in PyTorch from the same weights, step by step: `python -m oracle train-compare`.

    python scripts/train_compare.py                    # micrograd's moons demo, 100 steps
    python scripts/train_compare.py --steps 20 --plot moons.png
    python scripts/train_compare.py --layers 2,8,1 --act tanh --loss mse --optimizer adam --lr 0.05
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not

from oracle.__main__ import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run(["train-compare", *sys.argv[1:]]))

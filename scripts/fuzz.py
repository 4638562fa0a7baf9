"""Run a fuzz campaign: the same as `python -m oracle fuzz`, from a checkout without installing it.

    python scripts/fuzz.py --seconds 60 --workers 2
    python scripts/fuzz.py --help
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the checkout's oracle and micrograd

from oracle.__main__ import run  # noqa: E402

if __name__ == "__main__":  # worker processes import this file again; only the first one runs the campaign
    sys.exit(run(["fuzz", *sys.argv[1:]]))

"""The two programs every micrograd user knows, the README example and the lecture's neuron, run
from their one copy in docs/ (the files `python -m oracle compare` is shown on), after backward()."""
import runpy
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
README_EXAMPLE = DOCS / "readme_example.py"
NEURON = DOCS / "neuron.py"


def readme_example():
    """The README example: its leaves a and b, and its output g."""
    ns = runpy.run_path(str(README_EXAMPLE))
    return ns["a"], ns["b"], ns["g"]


def readme_graph():
    return readme_example()[2]


def lecture_example():
    """The lecture's neuron, every node labelled: the nodes by label."""
    ns = runpy.run_path(str(NEURON))
    return {v.label: v for v in ns.values() if type(v).__name__ == "Value"}


def lecture_neuron():
    return lecture_example()["o"]

"""The two programs every micrograd user knows, the README example and the lecture's neuron, run
from their one copy, the examples shipped in oracle.teach.examples (what `python -m oracle compare
--example NAME` reads), after backward()."""
import runpy

from oracle.teach.examples import example_source


def run_example(name):
    """The example's variables, the program run as the micrograd Python it is (here, in the tests only)."""
    return runpy.run_module(f"oracle.teach.examples.{name}")


def readme_example():
    """The README example: its leaves a and b, and its output g."""
    ns = run_example("readme")
    return ns["a"], ns["b"], ns["g"]


def readme_graph():
    return readme_example()[2]


def lecture_example():
    """The lecture's neuron, every node labelled: the nodes by label."""
    ns = run_example("neuron")
    return {v.label: v for v in ns.values() if type(v).__name__ == "Value"}


def lecture_neuron():
    return lecture_example()["o"]


README = example_source("readme")
NEURON = example_source("neuron")

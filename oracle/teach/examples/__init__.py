"""The example programs of `python -m oracle compare --example NAME`, one file each beside this one,
shipped in the package so that they work from an installed wheel in any directory. They are read
as text (importlib.resources) and parsed, never imported by the tool; the tests run them as the
micrograd programs they are.
"""
from importlib.resources import files

EXAMPLES = {  # name -> what it is
    "neuron": "the lecture's neuron: two inputs, two weights, a bias and tanh",
    "readme": "the micrograd README's program",
}


def example_source(name):
    """The text of the example `name` (one of EXAMPLES)."""
    return files(__name__).joinpath(f"{name}.py").read_text(encoding="utf-8")

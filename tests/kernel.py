"""Running a notebook as Jupyter does: every cell in turn, in a fresh IPython kernel (nbclient)."""
import pytest


def run_notebook(path, cwd, allow_errors=False):
    """The notebook at `path`, executed from the folder `cwd`, with its new outputs. Without
    allow_errors, a cell that raises fails the test with the cell and its traceback."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, allow_errors=allow_errors, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute()
    return nb

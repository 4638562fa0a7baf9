"""Command-line plumbing every `python -m oracle` command shares: the parser class that makes bad
usage one line and exit code 2, argparse types, the check that a command's extra is installed, and
the errors and JSON output of the commands.
"""
import argparse
import importlib.util
import json
import traceback

# The name pip knows this project by (pyproject.toml's; micrograd.DISTRIBUTION, for the engine's own
# messages, is the same). Not imported from micrograd: a learner's package called micrograd may
# stand in its place on sys.path wherever oracle runs (tests/test_extras.py checks all three agree).
DISTRIBUTION = "micrograd-oracle"

# The extras of pyproject.toml's [project.optional-dependencies] that a command needs, and the
# distributions each one installs (tests/test_extras.py checks this against pyproject.toml).
EXTRAS = {
    "oracle": ("torch", "numpy", "mpmath", "hypothesis", "rich", "cloudpickle"),
    "viz": ("graphviz",),
    "train": ("torch", "numpy", "mpmath", "hypothesis", "rich", "cloudpickle", "scikit-learn", "matplotlib"),
}
IMPORT_NAMES = {"scikit-learn": "sklearn"}  # a distribution whose module has another name


class Parser(argparse.ArgumentParser):
    """Bad usage is one line on stderr and exit code 2 (argparse would print the usage too).
    Each command's parser is one of these: add_subparsers makes them of the parent's class."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """Bad usage found after parsing; a command prints it as one line and exits 2."""


def not_installed(names, how):
    """'needs A and B, which are not installed: HOW', the words for a missing piece."""
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"needs {listed}, which {'is' if len(names) == 1 else 'are'} not installed: {how}"


def pip_install(extra):
    """The pip command that installs `extra` of this project."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing_extra(extra):
    """None when every distribution of `extra` can be imported; else what is missing and the pip
    command that installs it, in words for one line. Only looks for the modules, imports none."""
    if extra is None:
        return None
    missing = [d for d in EXTRAS[extra] if importlib.util.find_spec(IMPORT_NAMES.get(d, d)) is None]
    return not_installed(missing, pip_install(extra)) if missing else None


def failed_import(e, prefer=None):
    """The one-line missing-extra message when exception `e`, or one it was raised from, is a failure
    to import a package of an extra (`prefer`'s pip command first, when it has the package): not
    installed, or failing in its own import (a broken install, a missing system library); else None.
    The innermost exception says best which it was."""
    chain = []
    while e is not None and all(e is not c for c in chain):
        chain.append(e)
        e = e.__cause__ or e.__context__
    for e in reversed(chain):
        # the modules whose code it went through: a package's own import runs its modules' top level
        modules = {frame.f_globals.get("__name__", "").split(".")[0] for frame, _ in traceback.walk_tb(e.__traceback__)}
        if not (isinstance(e, ImportError) or "importlib" in modules):
            continue
        for extra in sorted(EXTRAS, key=lambda x: x != prefer):
            for dist in EXTRAS[extra]:
                module = IMPORT_NAMES.get(dist, dist)
                named = isinstance(e, ImportError) and (e.name or "").split(".")[0] == module
                if named and isinstance(e, ModuleNotFoundError):
                    return not_installed([dist], pip_install(extra))
                if named or module in modules:
                    return (f"needs {dist}, which fails to import ({type(e).__name__}: {one_line(e, 'no message')}): "
                            + pip_install(extra))
    return None


def one_line(e, empty=""):
    """An exception's message on one line (`empty` when it has none)."""
    return " ".join(str(e).split()) or empty


def positive(kind):
    """An argparse type: a positive `kind` (int or float)."""
    def parse(text):
        try:
            x = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not x > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be positive")
        return x
    return parse


def name_list(text, known, what):
    """The comma-separated names in `text`, each one of `known`; ArgumentTypeError naming the others."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown {what}(s) {', '.join(unknown) or '(none given)'}; "
                                         f"the {what}s are {','.join(known)}")
    return names


def write_json(path, data):
    """`data` as indented JSON in the file at `path`, for the --json style options."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")

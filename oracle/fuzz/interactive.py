"""An engine class sent to the workers by value: defined in a notebook cell, at the interactive
prompt, in a script read from standard input (`python -`), or in the script being run
(`python check.py`).

The workers cannot import the first three, and they never re-run the notebook or the script to get
any of them: importing a learner's check script would run it again in every worker, and in every
reproducer. So `capture`, in the calling process, sends the class by value: cloudpickle (what
joblib and loky use for what was defined interactively) pickles the class with its methods and the
globals they use, and `load`, in a worker, unpickles it. The class's code keeps its line numbers.
A script's code keeps its file, whose folder is the engine's root. A cell has no file: `capture`
writes each cell's source, as IPython or Python's prompt keeps it in `linecache`, to a file of its
own named for the cell (`In [7].cell`, see `graph.CELL`) in a folder that is the engine's root, and
`load` points the code at those files. So a root cause names the script's line, or the cell, the
line within it and the line's text, as the notebook shows them.

A reproducer cannot import the class either: it carries its own copy (`oracle.fuzz.inline`), the
class's source or, when that cannot be had, its pickle.
"""
import inspect
import io
import linecache
import marshal
import os
import pathlib
import pickle
import sys
import types
from dataclasses import dataclass

from oracle.cli import one_line
from oracle.fuzz import engines, inline
from oracle.fuzz.engines import Origin
from oracle.fuzz.graph import CELL


@dataclass(frozen=True)
class Interactive:
    """A class sent by value: what a worker loads it from, and what a reproducer carries."""
    display: str  # how messages name it: "Value (In [7])"
    attr: str  # its name, which the reproducer's section defines
    pickled: bytes  # cloudpickle's
    root: str  # the folder its cells' sources are written to, or its script's: the engine's own code is there
    files: tuple  # (the file its code was compiled under, the file that cell is written to), one per cell
    inline: tuple  # the sections of a reproducer that can define it, best first: its source (if it can be
    # had), its pickle (see engines.Origin.inline)
    script: str = ""  # the script that defines it (`python check.py`); "" for a cell


def by_value(cls):
    """Whether `cls` is sent to the workers by value: it was defined in the caller's `__main__`. A
    notebook's cell, the prompt and a script read from standard input leave no file to import it
    from; a script run as `python check.py` has one, but importing it would run the learner's script
    again in every worker (and in every reproducer), its checks, prints and training included."""
    return cls.__module__ in inline.MAIN


def capture(cls, root):
    """The Interactive of `cls`, its cells written to the folder `root`. ValueError when it cannot
    be pickled."""
    try:
        pickled = _dumps(cls, keep_files=True)
    except Exception as e:  # a global its methods use that pickle cannot take (a lock, an open file)
        raise ValueError(f"{cls.__qualname__} cannot be sent to the worker processes: cloudpickle says "
                         f"{type(e).__name__}: {one_line(e, 'no message')}") from None
    source = inline.Source(cls)
    files = _write([f for f in dict.fromkeys([*source.files, *(f.__code__.co_filename for f in _reachable(
        cls, _no_file))]) if _no_file(f)], root)
    code = inline.first_code(cls)
    script = code.co_filename if code is not None and not _no_file(code.co_filename) else None
    if script is not None:  # a script's class: its lines are its file's, and its folder is the engine's
        root = os.path.dirname(os.path.abspath(script))
    where = os.path.basename(script) if script else inline.label(code.co_filename) if code is not None else ""
    display = f"{cls.__qualname__} ({where})" if where else cls.__qualname__
    text, why = source.text()
    pickled_section = inline.pickle_section(display, cls.__name__, _dumps(cls, keep_files=False),
                                            why or "its source binds a name that this file uses for something else")
    sections = (pickled_section,) if text is None else (inline.source_section(cls.__name__, text, source.cells),
                                                         pickled_section)
    return Interactive(display, cls.__name__, pickled, str(root), tuple(files.items()), sections,
                       os.path.abspath(script) if script else "")


def _write(cells, root):
    """{a cell's file name: the file in `root` its source is written to, named for the cell}."""
    files = {}
    for file in cells:
        name = inline.label(file).replace(os.sep, "_")
        path, n = pathlib.Path(root, name + CELL), 1
        while str(path) in files.values():  # two cells of one name
            n += 1
            path = pathlib.Path(root, f"{name} ({n}){CELL}")
        path.write_text("".join(linecache.getlines(file)), encoding="utf-8")
        files[file] = str(path)
    return files


def _dumps(cls, keep_files):
    """cloudpickle's pickle of the class. keep_files: its code keeps the names of the files it was
    compiled from (cloudpickle writes "<dynamic-code>" instead), as marshal keeps code objects, for a
    worker, which runs the same Python; not for a reproducer, which may be run by another."""
    import cloudpickle  # the oracle extra's

    class Pickler(cloudpickle.Pickler):
        def reducer_override(self, obj):
            if keep_files and isinstance(obj, types.CodeType):
                return marshal.loads, (marshal.dumps(obj),)
            return super().reducer_override(obj)

    buffer = io.BytesIO()
    Pickler(buffer).dump(cls)
    return buffer.getvalue()


def load(inter, engine_paths=(), sandboxed=True):
    """(Engine, Origin) in a worker: the class unpickled, its code pointed at its cells' files; sys.path
    first has `engine_paths` (as `engines.load` does for a file). Only in a process of its own: in the
    one that captured it, cloudpickle gives back the caller's class."""
    if sandboxed:
        sys.path[:] = engines.search_path(engine_paths)
    Engine = pickle.loads(inter.pickled)  # noqa: S301 (the engine's own class, as the caller sent it)
    files = dict(inter.files)
    for fn in _reachable(Engine, files.__contains__):
        fn.__code__ = _relabel(fn.__code__, files)
    # a script's file, or none: the cells' files last only as long as the check
    return Engine, Origin(spec=inter.display, module="__main__", attr=inter.attr, root=inter.root, file=inter.script,
                          ours=False, micrograd=False, paths=tuple(engines.folders(engine_paths)),
                          inline=inter.inline)


def _relabel(code, files):
    consts = tuple(_relabel(c, files) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=files.get(code.co_filename, code.co_filename), co_consts=consts)


def _no_file(filename):
    return not os.path.isfile(filename)


def _reachable(cls, interactive):
    """Every function of the class's (its bases' too) and of what they use from its namespace,
    whose code comes from a file for which `interactive(filename)` holds."""
    seen, todo = set(), [k for k in cls.__mro__ if k is not object]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if inspect.isclass(obj):
            todo += [f for value in vars(obj).values() for f in inline.unwrap(value)]
            todo += [k for k in obj.__mro__[1:] if k is not object]
        elif isinstance(obj, types.FunctionType) and interactive(obj.__code__.co_filename):
            yield obj
            used = (obj.__globals__.get(name) for name in inline.global_names(obj))
            todo += [v for v in used if _defined_in(v, interactive)]
            todo += [c.cell_contents for c in obj.__closure__ or () if _has_contents(c)]


def _defined_in(value, interactive):
    if isinstance(value, types.FunctionType):
        return interactive(value.__code__.co_filename)
    return inspect.isclass(value) and value.__module__ in inline.MAIN


def _has_contents(cell):
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # empty
        return False
    return True

"""Which engine is under test, and loading it: a spec names it, `load` imports it (in a worker
process only: an engine is untrusted code), and `Origin` says where it came from.

A spec is `module:attr` (`my_engine:Value`, `pkg.engine:Outer.Value`) or `path/to/file.py:attr`. A
file is imported under its package's dotted name (the folders above it that hold an `__init__.py`),
so its relative imports work and a reproducer can import it the same way from anywhere.

Most learners call their package `micrograd`, as this project's is called. So the places the user
names come first: `--engine-path` folders, then PYTHONPATH, then the rest of `sys.path` (where
`python -m` puts the working directory first, which in a checkout of this project holds its own
micrograd). `Origin.ours` says when what loaded is this project's micrograd after all.
"""
import dataclasses
import importlib
import importlib.util
import os
import pathlib
import sys
from dataclasses import asdict, dataclass

from oracle.cli import one_line

DEFAULT_ENGINE = "micrograd.engine:Value"
OURS = pathlib.Path(__file__).resolve().parents[2] / "micrograd"  # this project's micrograd package
MUTANTS = "oracle.fuzz.mutants"


class EngineSpecError(Exception):
    """A spec that does not name a usable engine; the message says why, on one line."""


@dataclass(frozen=True)
class Spec:
    """A parsed spec: a module (dotted name) or a file, and the attribute in it."""
    module: str  # dotted module name; "" for a file spec
    file: str  # absolute path of the .py file; "" for a module spec
    attr: str

    def __str__(self):
        return f"{self.file or self.module}:{self.attr}"


def parse_spec(text):
    """A Spec from `module:attr` or `path.py:attr`; EngineSpecError saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise EngineSpecError(f"engine spec {text!r} is empty: give module:attr (for example {DEFAULT_ENGINE}) "
                              f"or path/to/engine.py:Value")
    where, sep, attr = text.strip().rpartition(":")
    if not sep or not where or not _dotted(attr):
        raise EngineSpecError(f"engine spec {text!r} is not of the form module:attr or path/to/engine.py:attr "
                              f"(for example {DEFAULT_ENGINE})")
    if where.endswith(".py") or os.sep in where or "/" in where:
        path = pathlib.Path(where).expanduser()
        if path.suffix != ".py":
            raise EngineSpecError(f"engine spec {text!r}: {where} is not a .py file")
        if not path.is_file():
            raise EngineSpecError(f"engine spec {text!r}: no such file {where}")
        return Spec("", str(path.resolve()), attr)
    if not _dotted(where):
        raise EngineSpecError(f"engine spec {text!r}: {where!r} is not a module name")
    return Spec(where, "", attr)


def _dotted(name):
    return bool(name) and all(part.isidentifier() for part in name.split("."))


@dataclass(frozen=True)
class Origin:
    """Where an engine was loaded from: what a campaign header prints and a reproducer imports."""
    spec: str  # as the user gave it
    module: str  # the dotted module name it was imported under
    attr: str
    root: str  # the sys.path entry its top-level package was found in ("" if unknown)
    file: str  # the module's file ("" if it has none)
    ours: bool  # this project's own micrograd.engine.Value
    micrograd: bool  # ours or one of its mutants: it promises torch's results at singular points too
    paths: tuple = ()  # the folders it may import from besides root (--engine-path), as absolute paths
    # An engine with no file of its own (a notebook's cell, see oracle.fuzz.interactive): the sections of
    # a reproducer that can define it, best first (its source, its pickle); the reproducer then loads it
    # from itself, `__main__:attr`. () for the others.
    inline: tuple = ()

    @property
    def folders(self):
        """Every folder the engine was loaded from, root first: the engine's own code is in them
        (see graph.folders)."""
        return (self.root, *self.paths)

    @property
    def importable(self):
        """The spec a reproducer imports: `module:attr`, after putting `root` on sys.path."""
        return f"{self.module}:{self.attr}"

    def describe(self):
        where = self.file or f"module {self.module}"
        return f"{self.spec} from {where}" + (" (this project's own micrograd)" if self.ours else "")

    def to_json(self):
        return {k: v for k, v in asdict(self).items() if k != "inline"}


def folders(engine_paths):
    """The --engine-path folders as absolute paths, `~` expanded and links resolved."""
    return [str(pathlib.Path(p).expanduser().resolve()) for p in engine_paths]


def search_path(engine_paths=(), environ=None):
    """sys.path for loading an engine: the folders the user named first (--engine-path, then
    PYTHONPATH), then the rest of sys.path in its order."""
    environ = os.environ if environ is None else environ
    named = folders(engine_paths)
    named += [str(pathlib.Path(p).resolve()) for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    named = list(dict.fromkeys(named))
    rest = [p for p in sys.path if (str(pathlib.Path(p).resolve()) if p else os.getcwd()) not in named]
    return named + rest


def load(spec_text, engine_paths=(), sandboxed=True):
    """(Engine, Origin) for a spec. Imports the engine: call it in a worker process, whose sys.path
    it makes `search_path` first. Not sandboxed (--workers 0, for debugging), it leaves sys.path
    as it is but for a file's folder, put first."""
    spec = parse_spec(spec_text)
    if sandboxed:
        sys.path[:] = search_path(engine_paths)
    if spec.file:
        root, module = _package_of(pathlib.Path(spec.file))
        if sandboxed or root not in sys.path:
            sys.path.insert(0, root)
    else:
        module = spec.module
    try:
        obj = importlib.import_module(module)
    except BaseException as e:  # ImportError, or whatever the module does while it is imported (SystemExit too)
        raise EngineSpecError(f"engine {spec_text!r}: cannot import {module!r}: {type(e).__name__}: "
                              f"{one_line(e, 'no message')}") from None
    if spec.file and not _same_file(getattr(obj, "__file__", None), spec.file):
        raise EngineSpecError(f"engine {spec_text!r}: importing it as {module!r} loads {obj.__file__} instead "
                              f"(a module of that name comes first); rename the file or its package")
    path = module
    for name in spec.attr.split("."):
        path += (":" if path == module else ".") + name
        try:
            obj = getattr(obj, name)
        except Exception as e:  # AttributeError, or a module __getattr__ that raises something else
            raise EngineSpecError(f"engine {spec_text!r}: {path} does not exist "
                                  f"({one_line(e, 'no message')})") from None
    if not callable(obj):
        raise EngineSpecError(f"engine {spec_text!r}: {path} is a {type(obj).__name__}, not a class or callable")
    return obj, dataclasses.replace(origin(obj, spec_text, module, spec.attr), paths=tuple(folders(engine_paths)))


def _package_of(path):
    """(sys.path root, dotted module name) of a .py file: its package is every folder above it
    that holds an __init__.py."""
    parts = [path.stem] if path.stem != "__init__" else []
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    if not parts or not all(p.isidentifier() for p in parts):
        raise EngineSpecError(f"engine file {path}: {'.'.join(parts) or path.name!r} is not a module name "
                              f"Python can import")
    return str(folder), ".".join(parts)


def _same_file(a, b):
    try:
        return a is not None and os.path.samefile(a, b)
    except OSError:
        return False


def origin(Engine, spec_text, module=None, attr=None):
    """The Origin of a loaded engine."""
    module = module or getattr(Engine, "__module__", "")
    mod = sys.modules.get(module)
    file = getattr(mod, "__file__", None) or ""
    file = str(pathlib.Path(file).resolve()) if file else ""
    return Origin(spec=spec_text, module=module, attr=attr or getattr(Engine, "__qualname__", ""),
                  root=_root_of(module, file), file=file, ours=is_ours(Engine),
                  micrograd=is_ours(Engine) or module == MUTANTS)


def _root_of(module, file):
    """The sys.path entry that `module` was imported from: its file's folder, up one per dot."""
    if not file:
        return ""
    path = pathlib.Path(file)
    depth = module.count(".") + (1 if path.stem == "__init__" else 0)
    root = path.parent
    for _ in range(depth):
        root = root.parent
    return str(root)


def is_ours(Engine):
    """This project's own micrograd Value, told by its file (a learner's package may be called
    micrograd too, and then `micrograd.engine` names theirs)."""
    mod = sys.modules.get(getattr(Engine, "__module__", ""))
    file = getattr(mod, "__file__", None)
    return (getattr(Engine, "__qualname__", "") == "Value" and file is not None
            and _same_file(file, OURS / "engine.py"))

"""A reproducer's own copy of an engine class with no file (see oracle.fuzz.interactive): the
class's source, as the notebook's cell (or the prompt's input) has it, with what its code uses.

`Source` gathers it from the sources IPython and Python's prompt keep in `linecache`: the imports,
constants, functions and classes of the notebook that the class's code reads (found in its bytecode,
and in its definition's bases, decorators and defaults), then the class as its cell defines it,
then the methods assigned to it from other cells. When that cannot be had (a script read from
standard input, whose source Python does not keep; a global that is neither a module, a function,
a class nor a constant), the reproducer carries the pickled class instead, and says why; it does so
too when the source would bind a name the reproducer itself uses (`section`).
"""
import ast
import base64
import dis
import inspect
import linecache
import re
import sys
import textwrap
import types

MAIN = ("__main__", "__mp_main__")
_IPYTHON_INPUT = re.compile(r"<ipython-input-(\d+)-")  # the cells of IPython before 8
_GLOBAL_LOADS = ("LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def label(file):
    """A cell's file as the notebook or the prompt names it: `In [7]`; else the file name itself
    (`<stdin>`, `<python-input-3>`)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    try:
        named = shell.compile.format_code_name(file) if shell is not None else None
    except Exception:  # another IPython, or none running
        named = None
    if named and re.fullmatch(r"In\[\d+\]", named[1]):
        return f"In [{named[1][3:-1]}]"
    m = _IPYTHON_INPUT.match(file)
    return f"In [{m.group(1)}]" if m else file


def unwrap(value):
    """The functions a class attribute holds: a method, a static or class method, a property's."""
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel) if isinstance(f, types.FunctionType)]
    value = inspect.unwrap(value) if callable(value) else value
    return [value] if isinstance(value, types.FunctionType) else []


def _codes(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _codes(c)


def global_names(fn):
    """The global names a function's code (its closures' too) reads, in order."""
    return [i.argval for code in _codes(fn.__code__) for i in dis.get_instructions(code) if i.opname in _GLOBAL_LOADS]


def _outer_names(node):
    """The names a definition reads when it is run, not when its functions are called: bases,
    decorators, defaults, annotations, a class body's own statements."""
    if isinstance(node, ast.Name):
        return [node.id] if isinstance(node.ctx, ast.Load) else []
    if isinstance(node, _FUNCTIONS):
        parts = [*getattr(node, "decorator_list", ()), *node.args.defaults,
                 *(d for d in node.args.kw_defaults if d is not None)]
        if not isinstance(node, ast.Lambda):
            parts += [a.annotation for a in (*node.args.args, *node.args.kwonlyargs) if a.annotation is not None]
            parts += [node.returns] if node.returns is not None else []
        return [n for p in parts for n in _outer_names(p)]
    return [n for child in ast.iter_child_nodes(node) for n in _outer_names(child)]


class Source:
    """The standalone source of a class defined interactively and of what it uses from its
    namespace; `problem` says why there is none."""

    def __init__(self, cls):
        self.cls = cls
        methods = [f for value in vars(cls).values() for f in unwrap(value)]
        self.namespace = methods[0].__globals__ if methods else vars(sys.modules.get(cls.__module__, sys))
        self.imports, self.constants, self.defined = {}, {}, {}  # name -> its line; id -> (order, source)
        self.after = []  # methods assigned to the class outside its body: (source, assignment)
        self.files = []  # the files (cells) the code comes from, in the order met
        self.problem = ""
        self.seen = {cls.__name__}
        self.main = self._definition(cls)

    def text(self):
        """(the source, None) or (None, why there is none)."""
        if self.problem:  # set whenever the class's own source is missing too
            return None, self.problem
        parts = ["\n".join(sorted(self.imports.values()))] if self.imports else []
        parts += ["\n".join(self.constants.values())] if self.constants else []
        parts += [s for _, s in sorted(self.defined.values())] + [self.main]
        parts += [f"{s}\n\n\n{assign}" for s, assign in self.after]
        return "\n\n\n".join(parts) + "\n", None

    @property
    def cells(self):
        return [label(f) for f in self.files]

    def _cell(self, file):
        if file not in self.files:
            self.files.append(file)
        return file

    def _definition(self, obj):
        """The source of a function or class of the namespace, its uses taken in; None (and a
        problem) when it cannot be had."""
        if inspect.isclass(obj):
            return self._class(obj)
        code = obj.__code__
        found = _segment(self._cell(code.co_filename), code.co_firstlineno, obj.__name__, _FUNCTIONS[:2])
        if found is None:
            self._fail(_not_found(obj, code.co_filename))
            return None
        self._uses(obj)
        self._names(found[1])
        return found[2]

    def _class(self, cls):
        code = first_code(cls)
        if code is None:
            self._fail(f"{cls.__qualname__} defines no method whose source could be found")
            return None
        file = self._cell(code.co_filename)
        line = getattr(cls, "__firstlineno__", None)  # Python 3.13
        found = _segment(file, line or code.co_firstlineno, cls.__name__, (ast.ClassDef,), inside=line is None)
        if "." in cls.__qualname__ or found is None:
            self._fail(_not_found(cls, file))
            return None
        start, node, text = found
        self._names(node)
        for base in cls.__bases__:
            if base is not object and base.__module__ in MAIN:
                self._name(base.__name__)
        for name, value in vars(cls).items():
            for fn in unwrap(value):
                self._uses(fn)
                inside = fn.__code__.co_filename == file and start <= fn.__code__.co_firstlineno <= node.end_lineno
                if not inside and self.problem == "":
                    self._attach(cls, name, fn)
        return text

    def _attach(self, cls, name, fn):
        """A method assigned to the class after its body (`Value.tanh = tanh` in a later cell)."""
        code = fn.__code__
        found = _segment(self._cell(code.co_filename), code.co_firstlineno, fn.__name__, _FUNCTIONS[:2])
        if found is None:  # a lambda, or no source kept
            self._fail(f"{cls.__qualname__}.{name} was assigned from code whose source was not kept")
            return
        self._names(found[1])
        self.after.append((found[2], f"{cls.__name__}.{name} = {fn.__name__}"))

    def _uses(self, fn):
        for name in global_names(fn):
            self._name(name)

    def _names(self, node):
        for name in _outer_names(node):
            self._name(name)

    def _name(self, name):
        """Take in a global name the code reads: an import, a constant or a definition."""
        if name in self.seen or name not in self.namespace:
            return  # met already, or a builtin
        self.seen.add(name)
        value = self.namespace[name]
        if isinstance(value, types.ModuleType):
            module = value.__name__
            self.imports[name] = f"import {module}" if module == name else f"import {module} as {name}"
        elif (inspect.isclass(value) or isinstance(value, types.FunctionType)) and value.__module__ in MAIN:
            text = self._definition(value)
            code = first_code(value)
            if text is not None and code is not None:
                self.defined[id(value)] = ((_order(code.co_filename), code.co_firstlineno), text)
        elif _importable(value, name):
            module, qualname = value.__module__, value.__qualname__
            self.imports[name] = (f"from {module} import {qualname}" + (f" as {name}" if name != qualname else ""))
        elif _literal(value):
            self.constants[name] = f"{name} = {value!r}"
        else:
            self._fail(f"its code uses the global {name}, a {type(value).__name__}, which cannot be written as source")

    def _fail(self, why):
        self.problem = self.problem or why


def _not_found(obj, file):
    if not linecache.getlines(file):
        return f"Python keeps no source of {label(file)}, where {obj.__qualname__} was defined"
    return f"the source of {obj.__qualname__} could not be found in {label(file)}"


def _order(file):
    """Where a cell comes in the notebook: its number (In [7]: 7); 0 when it has none."""
    m = re.fullmatch(r"In \[(\d+)\]", label(file))
    return int(m.group(1)) if m else 0


def first_code(obj):
    """The code of a function, or of the first method a class's body defines; None if none."""
    if isinstance(obj, types.FunctionType):
        return obj.__code__
    own = [f for value in vars(obj).values() for f in unwrap(value)
           if f.__qualname__.startswith(obj.__qualname__ + ".")]
    return own[0].__code__ if own else None


def _importable(value, name):
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", "")
    return (isinstance(module, str) and module not in MAIN and qualname.isidentifier()
            and getattr(sys.modules.get(module), qualname, None) is value)


def _literal(value, depth=0):
    """Whether a value is a constant of Python's own types (a number, a string, a tuple or list of them)
    whose repr is source that gives it back: no code of the learner's runs to find out (no repr of
    theirs), and an inf or nan, whose repr is no source, is none."""
    if type(value) in (tuple, list, set, frozenset):
        return depth < 3 and len(value) <= 1000 and all(_literal(v, depth + 1) for v in value)
    if type(value) is dict:
        return depth < 3 and len(value) <= 1000 and all(_literal(v, depth + 1) for v in (*value, *value.values()))
    if type(value) not in (int, float, complex, str, bytes, bool, type(None)):
        return False
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, MemoryError, RecursionError):  # inf, nan; a string too long to parse
        return False


def _segment(file, line, name, kinds, inside=False):
    """(first line, node, dedented text) of the definition `name` in a cell whose lines hold
    `line` (its first line, or, `inside`, a line within it); None when it cannot be found."""
    lines = linecache.getlines(file)
    tree = _parse(lines)
    if tree is None:
        return None
    found = None
    for node in ast.walk(tree):
        if isinstance(node, kinds) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if (start <= line <= node.end_lineno) if inside else line in (start, node.lineno):
                if found is None or start > found[0]:
                    found = (start, node)
    if found is None:
        return None
    start, node = found
    return start, node, textwrap.dedent("".join(lines[start - 1:node.end_lineno])).rstrip()


def _parse(lines):
    """A cell's syntax tree; IPython's magics and shell escapes (`%timeit`, `!pip`) are blanked."""
    text = "".join(lines)
    for attempt in (text, "".join("\n" if line.lstrip().startswith(("%", "!")) else line for line in lines)):
        try:
            return ast.parse(attempt)
        except (SyntaxError, ValueError):
            continue
    return None


def source_section(name, text, cells):
    first, *others = dict.fromkeys(cells)
    uses = f", with what its code uses from {', '.join(others)}" if others else ""
    return (f"# --- The engine: {name}, as {first} defined it{uses}. ---\n"
            f"# This file checks the class below (it imports no other engine): fix the bug here, or in your\n"
            f"# notebook or script and copy the class in again, and run the file once more.\n\n{text}")


def pickle_section(display, attr, pickled, why):
    blob = base64.b64encode(pickled).decode("ascii")
    lines = textwrap.wrap(blob, 100)
    body = "\n".join(f"    {line!r}" for line in lines)
    about = textwrap.wrap(f"--- The engine: {display}, pickled by cloudpickle (so this file needs cloudpickle), "
                          f"because {why}. Define your class in a .py file of its own and import it where you "
                          f"check it, for a reproducer whose class you can edit.", 98)
    return "\n".join(f"# {line}" for line in about) + (
        f"\nimport base64\nimport pickle\n\n{attr} = pickle.loads(base64.b64decode(\n{body}\n))\n")


def section(script, sections):
    """The first of a reproducer's sections for the engine that can end `script` (see _clashes);
    the last (the pickle) if none can."""
    return next((s for s in sections if not _clashes(script, s)), sections[-1])


def _clashes(script, section):
    """Whether a section binds a top-level name of the script to something else (a learner's helper
    called `f` or `close`, a `from time import time`): the two cannot share one module."""
    mine, theirs = _bindings(script), _bindings(section)
    return any(what is None or mine[name] != what for name, what in theirs.items() if name in mine)


def _bindings(text):
    """Top-level name -> the import that binds it, or None for any other binding."""
    out = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Import):
            out.update({a.asname or a.name.split(".")[0]: f"import {a.name}" for a in node.names})
        elif isinstance(node, ast.ImportFrom):
            out.update({a.asname or a.name: f"from {node.module} import {a.name}" for a in node.names})
        else:
            out.update(dict.fromkeys(_bound(node)))  # a definition or an assignment: never the same as another
    return out


def _bound(node):
    """The names a statement binds in its own scope (not in the functions and classes it defines)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Name):
        return [node.id] if isinstance(node.ctx, ast.Store) else []
    return [n for child in ast.iter_child_nodes(node) for n in _bound(child)]

"""The tree shows the architecture: the core (`oracle/`) imports neither tool built on it, and
`oracle.teach` never imports `oracle.fuzz`. Read from the source, every import counted, those
inside functions and `importlib.import_module("...")` names included."""
import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
# entry points: they dispatch to every tool (the command line; a learner's own tests, and their pytest plugin)
FRONT_DOORS = {"oracle.__main__", "oracle.testing", "oracle.pytest_plugin"}
FORBIDDEN = {"core": ("oracle.fuzz", "oracle.teach"), "teach": ("oracle.fuzz",), "fuzz": ("oracle.teach",)}
MODULE_NAME = re.compile(r"oracle(\.\w+)+")


def layer(module):
    if module in FRONT_DOORS:
        return "front"
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in ("fuzz", "teach") else "core"


def module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(source, module, is_package=False):
    """Every module name the source imports, relative imports resolved, plus the string constants
    that are module names (what importlib.import_module would load)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.fullmatch(node.value):
            yield node.value


def violations(source, module, is_package=False):
    banned = FORBIDDEN.get(layer(module), ())
    return sorted({name for name in imported(source, module, is_package)
                   if any(name == b or name.startswith(b + ".") for b in banned)})


def test_no_import_runs_upward():
    found = {}
    for path in sorted((ROOT / "oracle").rglob("*.py")):
        module = module_name(path)
        bad = violations(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        if bad:
            found[module] = bad
    assert not found, f"imports that run upward (core -> fuzz/teach, teach -> fuzz): {found}"


def test_every_module_is_in_one_of_the_three_rooms():
    layers = {module_name(p): layer(module_name(p)) for p in (ROOT / "oracle").rglob("*.py")}
    assert {"core", "fuzz", "teach", "front"} == set(layers.values())
    assert layers["oracle.fuzz.campaign"] == "fuzz" and layers["oracle.teach.parse"] == "teach"
    assert layers["oracle.check"] == "core" and layers["oracle.__main__"] == "front"
    assert layers["oracle.testing"] == layers["oracle.pytest_plugin"] == "front"
    assert layers["oracle.strategies"] == "core"


def test_the_checker_sees_every_way_to_import():
    assert violations("from oracle.fuzz import campaign", "oracle.check") == ["oracle.fuzz", "oracle.fuzz.campaign"]
    assert violations("def f():\n    import oracle.teach.parse", "oracle.mlp") == ["oracle.teach.parse"]
    assert violations("from ..fuzz import cases", "oracle.teach.table") == ["oracle.fuzz", "oracle.fuzz.cases"]
    assert violations("importlib.import_module('oracle.fuzz.workers')", "oracle.ops") == ["oracle.fuzz.workers"]
    assert violations("from oracle.teach import parse", "oracle.fuzz.cases") == ["oracle.teach", "oracle.teach.parse"]
    assert violations("from oracle.check import close", "oracle.teach.table") == []
    assert violations("from oracle.fuzz import campaign", "oracle.__main__") == []
    assert violations("from oracle.fuzz.campaign import Campaign", "oracle.testing") == []


MAX_LINES = 450  # a module past this holds more than one concern: split it along its seams
# folders of example programs, read as files by `compare --example`: the table names the folder
EXAMPLE_FOLDERS = ("oracle/teach/examples/",)


def too_long(root, limit=MAX_LINES):
    """{path: lines} of every module under root longer than limit."""
    lengths = {p.relative_to(root).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
               for p in sorted(root.rglob("*.py"))}
    return {path: n for path, n in lengths.items() if n > limit}


def test_no_module_is_over_450_lines():
    long = too_long(ROOT / "oracle")
    assert not long, f"modules of oracle/ over {MAX_LINES} lines (split them along their seams): {long}"


def test_the_length_check_sees_a_long_module(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "short.py").write_text("x = 1\n" * MAX_LINES)
    assert too_long(tmp_path) == {"sub/long.py": MAX_LINES + 1}


def named_in_layout(page):
    """The paths that the layout page's table names."""
    table = "\n".join(line for line in page.splitlines() if line.startswith("|"))
    return set(re.findall(r"`((?:micrograd|oracle)/[\w/.]*)`", table))


def unnamed(root, named):
    """The modules under root that the table does not name: a module by its path, a package's
    __init__.py by its folder, an example program by its folder."""
    missing = []
    for p in sorted([*(root / "micrograd").rglob("*.py"), *(root / "oracle").rglob("*.py")]):
        path = p.relative_to(root).as_posix()
        folder = path.rpartition("/")[0] + "/"
        name = folder if p.name == "__init__.py" or folder in EXAMPLE_FOLDERS else path
        if name not in named:
            missing.append(path)
    return missing


def test_the_layout_page_names_every_module():
    missing = unnamed(ROOT, named_in_layout((ROOT / "docs" / "layout.md").read_text(encoding="utf-8")))
    assert not missing, f"modules the layout table of docs/layout.md does not name: {missing}"


def test_the_layout_check_sees_an_unnamed_module(tmp_path):
    for path in ("micrograd/__init__.py", "micrograd/engine.py", "oracle/__init__.py", "oracle/fuzz/__init__.py",
                 "oracle/fuzz/new.py", "oracle/teach/examples/neuron.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    page = ("# Layout\n\n| `micrograd/` | |\n| `micrograd/engine.py` | |\n| `oracle/` | |\n"
            "| `oracle/fuzz/` | |\n| `oracle/teach/examples/` | |\n\nBelow the table: `oracle/fuzz/new.py`\n")
    assert unnamed(tmp_path, named_in_layout(page)) == ["oracle/fuzz/new.py"]

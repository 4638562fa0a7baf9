"""The documentation: the README is the front page and the site in docs/ holds the rest. The
README's engine example prints what its comments say; every page is in the site's navigation and
every page it names exists; the README's parts that the site shows too are there; the teaching
notebook runs top to bottom. `mkdocs build --strict` (tox -e docs) checks the links and the API
reference."""
import contextlib
import io
import re

import pytest

from tests.doc_blocks import DOCS, README, ROOT, doc_block, docs_pages
from tests.kernel import run_notebook


def test_the_readmes_engine_example_prints_what_its_comments_say():
    source = doc_block("<!-- tests/test_docs.py runs this block and checks what it prints -->")
    promised = re.findall(r"# prints (\S+),", source)
    assert len(promised) == 3, source
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, "README.md", "exec"), {"__name__": "readme_example"})  # noqa: S102  (our README)
    assert printed.getvalue().split() == promised


def nav_pages(mkdocs_yml):
    """The pages that mkdocs.yml's nav names, as paths under docs/."""
    nav = mkdocs_yml[mkdocs_yml.index("\nnav:\n"):]
    return set(re.findall(r"^\s*-\s+(?:[^:\n]+:\s+)?([\w/.-]+\.md)\s*$", nav, re.M))


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    named = nav_pages((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    present = {p.relative_to(DOCS).as_posix() for p in docs_pages()}
    assert named == present, f"in the nav only: {named - present}; not in the nav: {present - named}"


def test_the_nav_reader_sees_a_missing_page():
    nav = "site_name: x\nnav:\n  - Home: index.md\n  - Part:\n      - part/index.md\n      - One: part/one.md\n"
    assert nav_pages(nav) == {"index.md", "part/index.md", "part/one.md"}


def test_the_parts_of_the_readme_the_site_shows_are_there():
    readme = README.read_text(encoding="utf-8")
    included = {name for page in docs_pages()
                for name in re.findall(r'^--8<-- "README\.md:([\w-]+)"$', page.read_text(encoding="utf-8"), re.M)}
    assert included == {"intro", "install", "two-commands", "engine-example", "fuzz-example"}
    for name in included:
        start, end = f"<!-- --8<-- [start:{name}] -->", f"<!-- --8<-- [end:{name}] -->"
        assert readme.count(start) == readme.count(end) == 1 and readme.index(start) < readme.index(end), name


def test_every_readme_link_into_docs_is_a_file():
    readme = README.read_text(encoding="utf-8")
    targets = {t.split("#")[0] for t in re.findall(r"\]\(((?:docs/|LICENSE)[^)\s]*)\)", readme)}
    assert targets and all((ROOT / t).exists() for t in targets), [t for t in targets if not (ROOT / t).exists()]


def test_the_teaching_notebook_runs_top_to_bottom_in_a_fresh_kernel():
    """docs/micrograd_vs_torch.ipynb as a learner runs it, from docs/, against the installed package.
    Its cells assert what they show, so a wrong number is an error; its saved outputs are not
    compared (a campaign's case counts depend on the machine). `tox -e notebook -- --overwrite`
    saves it again with fresh outputs."""
    pytest.importorskip("torch")
    nb = run_notebook(DOCS / "micrograd_vs_torch.ipynb", DOCS)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]

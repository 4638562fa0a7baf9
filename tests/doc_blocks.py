"""The code blocks of the README and the documentation pages (docs/), as the tests that run them
read them: each is found by the marker above it, wherever it lives."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def docs_pages():
    """Every Markdown page of the documentation site."""
    return sorted(DOCS.rglob("*.md"))


def pages():
    """README.md and every Markdown page of the documentation site."""
    return [README, *docs_pages()]


def doc_block(marker, language="python"):
    """The ```language block that follows `marker`, which exactly one page holds."""
    holding = [(p, text) for p in pages() if marker in (text := p.read_text(encoding="utf-8"))]
    assert len(holding) == 1, f"{marker!r} is in {len(holding)} pages: {[str(p) for p, _ in holding]}"
    text = holding[0][1]
    return re.search(rf"```{language}\n(.*?)```", text[text.index(marker):], re.S)[1]

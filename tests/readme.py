"""The README's code blocks, as the tests that run them read them."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_block(marker, language="python"):
    """The ```language block that follows `marker` in README.md."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme[readme.index(marker):]
    return re.search(rf"```{language}\n(.*?)```", after, re.S)[1]

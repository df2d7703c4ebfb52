"""Every ```python block in README.md and docs/*.md runs.

A block whose first line is ``# continued`` runs after the blocks before it on its page, in their namespace
(a tutorial told in steps); a block that imports an optional package the docs name (squidpy, scanpy) is
skipped when that package is not installed.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONTINUED = "# continued"
OPTIONAL = ("squidpy", "scanpy")


def _units() -> list:
    """One test per block: the block, preceded by the blocks it continues."""
    units = []
    for page in PAGES:
        if not page.exists():
            continue
        chain: list[str] = []
        for number, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)):
            chain = [*chain, block] if block.startswith(CONTINUED) else [block]
            units.append(pytest.param(chain, id=f"{page.name}-{number}"))
    return units


@pytest.mark.parametrize("blocks", _units())
def test_example_runs(blocks: list[str]) -> None:
    for module in OPTIONAL:
        if any(re.search(rf"^\s*(import|from) {module}\b", block, flags=re.MULTILINE) for block in blocks):
            pytest.importorskip(module)
    namespace = {"__name__": "__docs__"}
    for block in blocks:
        exec(compile(block, "<docs>", "exec"), namespace)  # noqa: S102 - running the docs' examples is the test

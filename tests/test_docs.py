"""Every ```python block in README.md and docs/*.md runs.

A block whose first line is ``# continued`` runs after the blocks before it on its page, in their namespace
(a tutorial told in steps). A block that needs a package which is not installed here (squidpy and scanpy,
which the docs name but graphpool does not need; RDKit and anndata on the GPU machine) is skipped.
"""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONTINUED = "# continued"
#: packages whose absence skips a block instead of failing it
OPTIONAL = ("squidpy", "scanpy", "rdkit", "anndata")


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
    namespace = {"__name__": "__docs__"}
    try:
        for block in blocks:
            exec(compile(block, "<docs>", "exec"), namespace)  # noqa: S102 - running the docs' examples is the test
    except ModuleNotFoundError as error:
        if error.name in OPTIONAL and importlib.util.find_spec(error.name) is None:
            pytest.skip(f"needs {error.name}, which is not installed")
        raise

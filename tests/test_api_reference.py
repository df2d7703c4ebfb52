"""docs/api.md lists every public name of every package with a summary, and is what the script writes."""

import importlib.util
import pkgutil
from pathlib import Path

import graphpool

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("api_reference", ROOT / "scripts" / "api_reference.py")
api_reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(api_reference)


def test_every_package_is_listed() -> None:
    packages = {"graphpool"} | {
        f"graphpool.{m.name}" for m in pkgutil.iter_modules(graphpool.__path__) if not m.name.startswith("_")
    }
    assert packages == set(api_reference.PACKAGES)


def test_every_public_name_appears_with_a_summary() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    for package in api_reference.PACKAGES:
        for name in importlib.import_module(package).__all__:
            summary = api_reference.summary(package, name)  # raises where a docstring or #: comment is missing
            assert summary.strip() and f"| `{name}` |" in text, (package, name)


def test_api_md_is_up_to_date() -> None:
    assert (ROOT / "docs" / "api.md").read_text() == api_reference.render(), "run python scripts/api_reference.py"

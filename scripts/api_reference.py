"""Write docs/api.md: every public name of every graphpool package, with the first line of its docstring.

    python scripts/api_reference.py            # rewrite docs/api.md
    python scripts/api_reference.py --check    # exit 1 if docs/api.md is not what this would write

The public names are each package's ``__all__``. A function or class is summarised by the first
sentence of its docstring; a constant by the ``#:`` comment above its assignment in the source.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    "graphpool",
    "graphpool.ops",
    "graphpool.readout",
    "graphpool.cluster",
    "graphpool.models",
    "graphpool.explain",
    "graphpool.grid",
    "graphpool.data",
    "graphpool.experiment",
    "graphpool.cells",
    "graphpool.cli",
    "graphpool.testing",
]


def _first_sentence(text: str) -> str:
    """The first sentence of a docstring's first paragraph, with reST roles turned into Markdown."""
    paragraph = " ".join(inspect.cleandoc(text).split("\n\n")[0].split())
    inside, end = False, len(paragraph)
    for index, char in enumerate(paragraph):  # the first ". " outside inline code
        if char == "`":
            inside = not inside
        elif char == "." and not inside and paragraph[index + 1 : index + 2] in (" ", ""):
            end = index + 1
            break
    return _markdown(paragraph[:end].rstrip(":"))


def _markdown(text: str) -> str:
    text = re.sub(r":math:`([^`]*)`", r"$\1$", text)
    text = re.sub(r":(?:func|class|meth|mod|data|attr):`~?(?:[\w.]*\.)?([^`]*)`", r"`\1`", text)
    return text.replace("``", "`")


def _constant_comment(module_name: str, name: str) -> str | None:
    """The ``#:`` comment lines above ``name = ...`` in the package's source files."""
    package = importlib.import_module(module_name)
    folder = Path(package.__file__).parent if package.__file__.endswith("__init__.py") else None
    files = sorted(folder.rglob("*.py")) if folder else [Path(package.__file__)]
    for path in files:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if re.match(rf"{re.escape(name)}\s*(:[^=]*)?=", line):
                comments = []
                while number > 0 and lines[number - 1].startswith("#:"):
                    number -= 1
                    comments.insert(0, lines[number][2:].strip())
                if comments:
                    return " ".join(comments)
    return None


def summary(module_name: str, name: str) -> str:
    """One line saying what ``module_name.name`` is."""
    value = getattr(importlib.import_module(module_name), name)
    if inspect.isclass(value) or inspect.isfunction(value) or inspect.ismodule(value):
        doc = inspect.getdoc(value) if not inspect.ismodule(value) else value.__doc__
        if not doc:
            raise ValueError(f"{module_name}.{name} has no docstring")
        return _first_sentence(doc)
    comment = _constant_comment(module_name, name)
    if comment is None:
        raise ValueError(f"{module_name}.{name} is a constant without a '#:' comment above its assignment")
    return _markdown(comment)


def render() -> str:
    lines = [
        "# API reference",
        "",
        "Every public name (each package's `__all__`), with the first sentence of its docstring. Written by",
        "`python scripts/api_reference.py`; `tests/test_api_reference.py` fails when it is out of date.",
    ]
    for module_name in PACKAGES:
        module = importlib.import_module(module_name)
        lines += [
            "",
            f"## `{module_name}`",
            "",
            _first_sentence(module.__doc__ or ""),
            "",
            "| name | what it is |",
            "|---|---|",
        ]
        for name in sorted(module.__all__, key=str.lower):
            text = summary(module_name, name).replace("|", "\\|")
            lines.append(f"| `{name}` | {text} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with docs/api.md instead of writing it")
    args = parser.parse_args()
    path = ROOT / "docs" / "api.md"
    text = render()
    if args.check:
        if path.read_text() != text:
            print(f"{path} is out of date: run python scripts/api_reference.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""graphpool's own dependencies are installed, so that no test skips for want of one of them.

Tests that read molecules skip where RDKit is missing (``tests/installed.py``: the GPU machine has none);
this test is what keeps that skip from hiding a broken install in CI.
"""

import importlib.metadata
import re


def test_every_dependency_of_graphpool_is_installed() -> None:
    declared = [r for r in importlib.metadata.requires("graphpool") or [] if "extra ==" not in r]
    names = [re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0) for requirement in declared]
    assert "rdkit" in names  # the dependency whose absence skips tests
    missing = []
    for name in names:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    assert not missing, f"graphpool's dependencies {missing} are not installed: pip install -e ."

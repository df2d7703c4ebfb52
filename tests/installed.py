"""Skip markers for tests that need a package some machines lack.

The GPU machine the project borrows has no RDKit and no anndata, so there the tests that read molecules
skip instead of failing. CI installs every dependency, and ``tests/test_install.py`` fails where one of
graphpool's own dependencies is missing, so these markers cannot hide a broken install.
"""

import importlib.util

import pytest


def requires(module: str) -> pytest.MarkDecorator:
    """Skip the test where ``module`` cannot be imported."""
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None, reason=f"needs {module}, which is not installed"
    )


#: the molecule tests: SMILES -> graphs, scaffolds, fingerprints, and the embedded solubility set
needs_rdkit = requires("rdkit")

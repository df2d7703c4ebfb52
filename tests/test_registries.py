"""One registry per kind of part: a pooler or a readout added in a few lines is in the CLI, the registries and the
generic tests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from graphpool.cli import main
from graphpool.cluster import (
    POOLERS,
    SOFT_POOLERS,
    UNSUPERVISED_POOLERS,
    LabelSelect,
    SoftSelect,
    pooler,
    register_pooler,
    unregister_pooler,
)
from graphpool.models import POOLS
from graphpool.readout import REGISTRY, unregister_readout
from tests.installed import needs_rdkit

ROOT = Path(__file__).resolve().parents[1]
GENERIC = [
    "tests/cluster/test_poolers.py",
    "tests/cluster/test_hostile.py",
    "tests/cluster/test_soft.py",
    "tests/cluster/test_edge_features.py",
    "tests/readout/test_shapes.py",
    "tests/readout/test_gradients.py",
    "tests/readout/test_properties.py",
    "tests/readout/test_invariance.py",  # one test over every case: the plugin's readout is among them
]


def test_the_generic_tests_run_on_a_pooler_and_a_readout_registered_by_a_plugin() -> None:
    """tests/plugins/extensions.py registers ``sharpcut`` and ``range`` as a user would; the generic tests, which are
    parametrised by the registries, then collect them and pass."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p", "tests.plugins.extensions"]
        + [*GENERIC, "-k", "sharpcut or range or test_permutation_invariance or test_batch_consistency"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    passed = re.findall(r"^PASSED (\S+)", done.stdout, flags=re.MULTILINE)
    pooler_tests = [test for test in passed if "sharpcut" in test]
    readout_tests = [test for test in passed if re.search(r"[\[-]range\]", test)]
    # the typed output, WL expressiveness, keywords, gradcheck, empty batches, half precision, edge features, ...
    assert len({test.split("::")[1].split("[")[0] for test in pooler_tests}) >= 12, pooler_tests
    assert len(readout_tests) >= 5, passed  # gradcheck (batch, ptr, unsorted), empty graphs, determinism, ...
    assert any("test_permutation_invariance" in test for test in passed), passed


@needs_rdkit
def test_a_registered_pooler_and_readout_are_choices_of_the_command_line(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        import tests.plugins.extensions  # noqa: F401  (registers sharpcut and range)

        assert "sharpcut" in POOLERS and "sharpcut" in SOFT_POOLERS and "sharpcut" in UNSUPERVISED_POOLERS
        assert "sharpcut" in POOLS and "range" in REGISTRY
        molecules = ["CCO", "CCN", "CCC", "CCCl", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "OCCO", "CC#N", "CCS", "C=CC"]
        path = tmp_path / "molecules.csv"
        path.write_text("smiles,y\n" + "".join(f"{s},{len(s) + i % 2}\n" for i, s in enumerate(molecules * 2)))
        out = tmp_path / "run"
        argv = ["regress", "--smiles-csv", str(path), "--label-col", "y", "--folds", "2", "--out", str(out)]
        tiny = ["--epochs", "2", "--patience", "2", "--layers", "1", "--hidden", "8", "--quiet"]
        assert main([*argv, "--pool", "sharpcut,acc", "--readout", "range", "--clusters", "2", *tiny]) == 0
        rows = json.loads((out / "results.json").read_text())["rows"]
        assert [(row["readout"], row["pool"]) for row in rows] == [("range", "sharpcut"), ("range", "acc")]
    finally:
        unregister_pooler("sharpcut")
        unregister_readout("range")
        sys.modules.pop("tests.plugins.extensions", None)
    assert "sharpcut" not in POOLERS and "sharpcut" not in POOLS and "range" not in REGISTRY


def test_a_registration_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValueError, match="pooler name 'mincut' is taken"):
        register_pooler("mincut", SoftSelect, clusters="num_clusters")
    with pytest.raises(ValueError, match="pooler name 'none' is taken"):
        register_pooler("none", LabelSelect)
    with pytest.raises(ValueError, match="SoftSelect takes no 'k'"):
        register_pooler("new", SoftSelect, clusters="k")
    with pytest.raises(ValueError, match="'temprature' is an option of neither Pool nor SoftSelect"):
        register_pooler("new", SoftSelect, clusters="num_clusters", temprature=0.5)
    with pytest.raises(TypeError, match="'select' must be a graphpool.cluster.Select subclass"):
        register_pooler("new", object)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pooler 'new' is not registered"):
        unregister_pooler("new")
    assert "new" not in POOLERS


# a pooler registered as "a,b", "Foo Bar" or "" could never be chosen by --pool (a comma separates pools); a loss
# "" was taken, and terms="abc" became the terms 'a', 'b' and 'c'
@pytest.mark.parametrize("name", ["", "a,b", "Foo Bar", "2cut", "mean+max", 3])
def test_a_pooler_or_loss_name_the_command_line_cannot_write_is_refused(name) -> None:
    from graphpool.cluster import LOSSES, register_loss

    with pytest.raises(ValueError, match=re.escape(f"pooler name {name!r} must be lower-case letters")):
        register_pooler(name, LabelSelect)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape(f"loss name {name!r} must be lower-case letters")):
        register_loss(name, lambda inputs: {}, ("term",))  # type: ignore[arg-type]
    assert name not in POOLERS and name not in LOSSES


@pytest.mark.parametrize("terms", ["abc", ("a", "a"), ("a", ""), ("a", 2), None])
def test_a_loss_registers_a_tuple_of_distinct_term_names(terms) -> None:
    from graphpool.cluster import LOSSES, register_loss

    with pytest.raises(ValueError, match="'terms' must be a tuple of distinct non-empty names"):
        register_loss("newloss", lambda inputs: {}, terms)
    assert "newloss" not in LOSSES


def test_a_pooler_default_can_be_overridden_and_an_unknown_option_is_named() -> None:
    assert pooler("mincut", in_channels=4, clusters=2, normalize=False).normalize is False
    assert pooler("kmeans", clusters=2).select.init == "farthest"  # the registry's default
    with pytest.raises(ValueError, match=r"pooler 'mincut' has no option 'k' \(did you mean 'clusters'\?\)"):
        pooler("mincut", in_channels=4, k=2)
    # graclus takes no 'clusters': the hint pointed to an option it does not have
    with pytest.raises(
        ValueError, match=r"pooler 'graclus' has no option 'k' \(it finds its own number of clusters per graph\)"
    ):
        pooler("graclus", k=2)

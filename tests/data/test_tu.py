"""TU datasets from ../shared (skipped when it is absent) and the GIN folds."""

from pathlib import Path

import pytest
import torch

from graphpool.data import gin_folds, load_tu

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not (SHARED / "TU").is_dir(), reason="../shared/datasets is not present")


@needs_shared
def test_mutag_from_the_local_raw_folder_without_writing_there(tmp_path: Path) -> None:
    before = sorted(p.name for p in (SHARED / "TU" / "MUTAG").iterdir())
    dataset = load_tu("MUTAG", SHARED / "TU", cache=tmp_path)
    assert len(dataset) == 188 and dataset.num_classes == 2 and dataset.num_features == 7
    assert sorted(p.name for p in (SHARED / "TU" / "MUTAG").iterdir()) == before  # nothing written to shared/
    assert torch.bincount(torch.cat([g.y for g in dataset])).tolist() == [63, 125]


@needs_shared
def test_graphs_without_features_get_one_hot_degrees(tmp_path: Path) -> None:
    dataset = load_tu("IMDB-BINARY", SHARED / "TU", cache=tmp_path)
    graph = dataset[0]
    assert graph.x.sum(1).eq(1).all()  # one-hot
    degree = torch.bincount(graph.edge_index[0], minlength=graph.num_nodes)
    assert torch.equal(graph.x.argmax(1), degree)


@needs_shared
def test_gin_folds_partition_the_tested_graphs() -> None:
    folds = gin_folds("ENZYMES", SHARED / "gin-format", SHARED / "TU")
    assert len(folds) == 10
    tested = torch.cat([test for _, test in folds])
    assert tested.unique().numel() == tested.numel() == 600  # every graph tested exactly once
    for train, test in folds:
        assert not set(train.tolist()) & set(test.tolist())
    # MUTAG: indices are mapped to the TU order; its published folds test 180 of the 188 graphs
    mutag = gin_folds("MUTAG", SHARED / "gin-format", SHARED / "TU")
    assert torch.cat([test for _, test in mutag]).unique().numel() == 180


def test_missing_folders_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no TU raw folder"):
        load_tu("MUTAG", tmp_path, cache=tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="no GIN fold folder"):
        gin_folds("MUTAG", tmp_path)


@needs_shared
def test_enzymes_node_attributes(tmp_path: Path) -> None:
    assert load_tu("ENZYMES", SHARED / "TU", cache=tmp_path).num_features == 3
    assert load_tu("ENZYMES", SHARED / "TU", cache=tmp_path / "b", node_attributes=True).num_features == 21


@needs_shared
def test_quiet_processing_prints_nothing(tmp_path: Path) -> None:
    """--quiet passes log=False: PyG's "Processing... Done!" is not printed on a first load (PyG itself is
    silent under pytest, so the loads run in a process without pytest's variables)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    root = str(SHARED / "TU")
    code = (  # one process: a quiet first load, a marker, then a default first load elsewhere
        "import sys; from graphpool.data import load_tu\n"
        f"load_tu('MUTAG', {root!r}, cache={str(tmp_path / 'quiet')!r}, log=False)\n"
        "print('MARK', file=sys.stderr, flush=True)\n"
        f"load_tu('MUTAG', {root!r}, cache={str(tmp_path / 'loud')!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, check=False, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    quiet, loud = done.stderr.split("MARK")
    assert "Processing" not in quiet + done.stdout
    assert "Processing" in loud  # the default still says it

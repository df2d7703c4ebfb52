"""TU raw files are validated before PyG reads them, and the cache never serves a stale copy."""

from pathlib import Path

import pytest
import torch

from graphpool.data import load_tu
from graphpool.experiment import check_folds

# two graphs: a triangle (nodes 1-3) and an edge (nodes 4-5), TU's 1-based ids
FILES = {
    "A": "1, 2\n2, 1\n2, 3\n3, 2\n1, 3\n3, 1\n4, 5\n5, 4\n",
    "graph_indicator": "1\n1\n1\n2\n2\n",
    "graph_labels": "1\n-1\n",
    "node_labels": "0\n1\n0\n2\n1\n",
}


def _write(root: Path, files: dict[str, str], name: str = "TOY") -> Path:
    raw = root / name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for kind, text in files.items():
        (raw / f"{name}_{kind}.txt").write_text(text)
    return raw


def test_a_valid_folder_loads(tmp_path: Path) -> None:
    _write(tmp_path / "src", FILES)
    dataset = load_tu("TOY", tmp_path / "src", cache=tmp_path / "cache")
    assert len(dataset) == 2 and dataset.num_features == 3
    assert [g.num_nodes for g in dataset] == [3, 2] and [g.num_edges for g in dataset] == [6, 2]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"A": FILES["A"] + "3, 4\n"}, r"TOY_A.txt: line 9: edge 3 -> 4 joins graph 1 and graph 2"),
        ({"A": FILES["A"] + "5, 9\n"}, r"TOY_A.txt: line 9: node 9 is out of range 1..5"),
        ({"A": FILES["A"] + "5; x\n"}, r"TOY_A.txt: line 9: '5; x' is not two integers"),
        (
            {"graph_labels": "1\n-1\n1\n"},
            r"TOY_graph_labels.txt has 3 lines but TOY_graph_indicator.txt names 2 graphs",
        ),
        ({"node_labels": "0\n1\n0\n2\n"}, r"TOY_node_labels.txt has 4 lines but TOY_graph_indicator.txt has 5 nodes"),
        ({"graph_indicator": "1\n1\nx\n2\n2\n"}, r"TOY_graph_indicator.txt: line 3: 'x' is not an integer"),
        ({"graph_indicator": "1\n1\n1\n3\n3\n"}, r"TOY_graph_indicator.txt: graph 2 has no nodes"),
        ({"graph_indicator": "1\n2\n1\n2\n2\n"}, r"TOY_graph_indicator.txt: line 3: graph ids must not decrease"),
        # the label and attribute files were only counted: PyG read "7.5" as class 7 and "x" as a bare int() error
        ({"graph_labels": "1\n7.5\n"}, r"TOY_graph_labels.txt: line 2: '7.5' is not an integer"),
        ({"node_labels": "0\n1\nx\n2\n1\n"}, r"TOY_node_labels.txt: line 3: 'x' is not an integer"),
        ({"node_labels": "0\n1\n0.5\n2\n1\n"}, r"TOY_node_labels.txt: line 3: '0.5' is not an integer"),
        (
            {"node_attributes": "0.5\n1\nfoo\n2\n1e3\n"},
            r"TOY_node_attributes.txt: line 3: 'foo' is not a finite number",
        ),
        (
            {"node_attributes": "0.5, 1\n1, 2\n3\n2, 2\n1, 1\n"},
            r"TOY_node_attributes.txt: line 3: '3' has 1 value\(s\) but line 1 has 2",
        ),
        ({"edge_labels": "0\n1\n0\n1\n0\n1\n0\nz\n"}, r"TOY_edge_labels.txt: line 8: 'z' is not an integer"),
        ({"node_attributes": "0.5\n1\nnan\n2\n1\n"}, r"TOY_node_attributes.txt: line 3: 'nan' is not a finite number"),
    ],
)
def test_bad_raw_files_name_the_file_and_line(tmp_path: Path, change: dict, message: str) -> None:
    _write(tmp_path / "src", {**FILES, **change})
    with pytest.raises(ValueError, match=message):
        load_tu("TOY", tmp_path / "src", cache=tmp_path / "cache")


@pytest.mark.parametrize("kind", ["A", "graph_indicator", "graph_labels"])
def test_a_missing_required_file_is_named_and_never_downloaded(tmp_path: Path, kind: str) -> None:
    _write(tmp_path / "src", {k: v for k, v in FILES.items() if k != kind})
    with pytest.raises(FileNotFoundError, match=f"TOY_{kind}.txt"):
        load_tu("TOY", tmp_path / "src", cache=tmp_path / "cache")


def test_the_cache_follows_the_source_files(tmp_path: Path) -> None:
    """A node-label file removed from the source folder was still read from the cache."""
    raw = _write(tmp_path / "src", FILES)
    labelled = load_tu("TOY", tmp_path / "src", cache=tmp_path / "cache")
    assert labelled[0].x.argmax(1).tolist() == [0, 1, 0]  # the node labels
    (raw / "TOY_node_labels.txt").unlink()
    without = load_tu("TOY", tmp_path / "src", cache=tmp_path / "cache")
    assert without[0].x.argmax(1).tolist() == [2, 2, 2]  # one-hot degrees now, not the removed labels
    (raw / "TOY_node_labels.txt").write_text("0\n1\n0\n2\n3\n")  # four labels now
    assert load_tu("TOY", tmp_path / "src", cache=tmp_path / "cache").num_features == 4


def test_supplied_folds_are_checked() -> None:
    good = [(torch.tensor([0, 1]), torch.tensor([2])), (torch.tensor([1, 2]), torch.tensor([0]))]
    check_folds(good, 3, "folds")
    with pytest.raises(ValueError, match=r"folds: fold 2: graph 1 is in both its training and its test part"):
        check_folds([good[0], (torch.tensor([1, 2]), torch.tensor([0, 1]))], 3, "folds")
    with pytest.raises(ValueError, match=r"folds: fold 1: graph 5 is out of range \(there are 3 graphs\)"):
        check_folds([(torch.tensor([0, 5]), torch.tensor([2]))], 3, "folds")
    with pytest.raises(ValueError, match=r"folds: fold 1: graph -1 is out of range"):
        check_folds([(torch.tensor([0, -1]), torch.tensor([2]))], 3, "folds")
    # a graph twice in a part (trained on twice per epoch) and an empty test part passed this check (the runner's
    # own check of the same folds caught them later, without naming where the folds came from)
    with pytest.raises(ValueError, match=r"the given split: fold 1: graph 0 is twice in its training part"):
        check_folds([([0, 0, 1], [2])], 3, "the given split")
    with pytest.raises(ValueError, match=r"folds: fold 1: its test part is empty"):
        check_folds([([0, 1, 2], [])], 3)


def test_an_out_of_range_index_of_mapped_gin_folds_names_the_file(tmp_path: Path) -> None:
    """MUTAG's GIN folds are mapped through gin_to_tu_index.txt; an index past it raised IndexError."""
    from graphpool.data import gin_folds

    (tmp_path / "TU" / "TOY").mkdir(parents=True)
    (tmp_path / "TU" / "TOY" / "gin_to_tu_index.txt").write_text("1\n0\n2\n")
    folder = tmp_path / "gin" / "TOY" / "10fold_idx"
    folder.mkdir(parents=True)
    for number in range(1, 11):
        (folder / f"train_idx-{number}.txt").write_text("0\n1\n")
        (folder / f"test_idx-{number}.txt").write_text("2\n" if number != 7 else "3\n")
    with pytest.raises(ValueError, match=r"test_idx-7.txt: index 3 is out of range 0..2 of gin_to_tu_index.txt"):
        gin_folds("TOY", tmp_path / "gin", tmp_path / "TU")


def test_a_bad_line_of_the_gin_to_tu_mapping_names_the_file(tmp_path: Path) -> None:
    """It raised int()'s "invalid literal for int() with base 10: 'x'", naming no file."""
    from graphpool.data import gin_folds

    (tmp_path / "TU" / "TOY").mkdir(parents=True)
    (tmp_path / "TU" / "TOY" / "gin_to_tu_index.txt").write_text("1\nx\n2\n")
    (tmp_path / "gin" / "TOY" / "10fold_idx").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"gin_to_tu_index.txt: line 2: 'x' is not an integer"):
        gin_folds("TOY", tmp_path / "gin", tmp_path / "TU")


def test_node_attributes_asked_of_a_dataset_without_them_are_refused(tmp_path: Path) -> None:
    """TOY has no TOY_node_attributes.txt: the option was ignored, and the model trained on the labels alone."""
    _write(tmp_path / "src", FILES)
    with pytest.raises(
        ValueError, match=r"'node_attributes': TOY has no continuous node attributes \(no TOY_node_attributes.txt"
    ):
        load_tu("TOY", tmp_path / "src", cache=tmp_path / "cache", node_attributes=True)
    _write(tmp_path / "src", {**FILES, "node_attributes": "0.5\n1.5\n2.5\n3.5\n4.5\n"})
    assert load_tu("TOY", tmp_path / "src", cache=tmp_path / "cache", node_attributes=True).num_features == 4


def test_a_missing_dataset_lists_what_the_root_holds(tmp_path: Path) -> None:
    """The names are case-sensitive (TU's files are NAME_A.txt): 'toy' for 'TOY' names the one it may mean."""
    _write(tmp_path / "src", FILES)
    _write(tmp_path / "src", FILES, name="OTHER")
    with pytest.raises(
        FileNotFoundError, match=r"no TU raw folder at .*toy/raw .*; did you mean 'TOY'\? .* holds OTHER, TOY"
    ):
        load_tu("toy", tmp_path / "src", cache=tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match=r"no TU raw folder at .*NONE/raw .*; .* holds OTHER, TOY$"):
        load_tu("NONE", tmp_path / "src", cache=tmp_path / "cache")
    # the dataset's own folder given as the root (the raw folder one level up from where it is looked for)
    with pytest.raises(FileNotFoundError, match=r"TOY/TOY/raw .*; .*src/TOY is the dataset's own folder: pass .*src"):
        load_tu("TOY", tmp_path / "src" / "TOY", cache=tmp_path / "cache")


# a cache that is a file ended in a NotADirectoryError traceback from the copy of the raw files
def test_a_cache_that_cannot_be_a_folder_is_named(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path / "src", FILES)
    blocker = tmp_path / "cache-file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=f"the cache folder {blocker}/TU cannot be made"):
        load_tu("TOY", tmp_path / "src", cache=blocker)
    monkeypatch.setenv("GRAPHPOOL_CACHE", str(blocker))
    with pytest.raises(ValueError, match=r"\(cache=, else \$GRAPHPOOL_CACHE\)"):
        load_tu("TOY", tmp_path / "src")

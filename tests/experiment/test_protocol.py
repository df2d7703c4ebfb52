"""Protocol pieces: stratified folds and hold-outs, atomic writes."""

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from graphpool.experiment import atomic_write, inner_split, stratified_folds


def test_folds_are_stratified_disjoint_and_reproducible() -> None:
    labels = [0] * 30 + [1] * 20 + [2] * 10
    folds = stratified_folds(labels, 5, seed=3)
    tested = sorted(i for _, test in folds for i in test)
    assert tested == list(range(60))
    for train, test in folds:
        assert not set(train) & set(test)
        assert np.bincount(np.asarray(labels)[test]).tolist() == [6, 4, 2]
    assert folds == stratified_folds(labels, 5, seed=3)
    assert folds != stratified_folds(labels, 5, seed=4)


def test_inner_holdout_is_stratified_and_inside_the_training_part() -> None:
    labels = [0] * 50 + [1] * 50
    train = list(range(0, 100, 2)) + [1, 3, 5, 7, 9]
    fit, validation = inner_split(train, labels, 0.2, seed=0)
    assert sorted(fit + validation) == sorted(train) and not set(fit) & set(validation)
    assert abs(sum(labels[i] for i in validation) / len(validation) - 25 / 55) < 0.1  # the class balance of train


# the advice named classes for a regression hold-out too ("a dataset with more graphs per class")
def test_a_hold_out_too_small_to_draw_says_which_and_why() -> None:
    from graphpool.experiment.folds import holdout

    with pytest.raises(ValueError, match=r"hold-out of fold 2 .* 1 training graphs is too few for a validation part .*"
                       r"Use fewer folds, or a dataset with more graphs$"):  # fmt: skip
        holdout(2, [0], None, 0.1, 0, None)
    with pytest.raises(ValueError, match=r"stratified validation part \(2 classes\).*more graphs per class$"):
        holdout(1, [0, 1, 2], [0, 1, 1], 0.1, 0, None)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text("old")

    def broken(temporary: Path) -> None:
        temporary.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]
    atomic_write(path, lambda temporary: temporary.write_text("new"))
    assert path.read_text() == "new"


# torch.save names the records of its zip after the file it writes: through atomic_write that was the temporary
# name (pid and random letters), so every checkpoint and model-K.pt of a run held other bytes than a rerun's
def test_torch_files_written_atomically_are_the_same_bytes_every_time(tmp_path: Path) -> None:
    import torch

    from graphpool.experiment.files import atomic_torch_save, read_torch_file

    value = {"weight": torch.arange(6.0).reshape(2, 3), "epoch": 3}
    atomic_torch_save(tmp_path / "a.pt", value)
    atomic_torch_save(tmp_path / "b.pt", value)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    loaded = read_torch_file(tmp_path / "a.pt", "delete it")
    assert loaded["epoch"] == 3 and torch.equal(loaded["weight"], value["weight"])


def test_atomic_write_gives_ordinary_permissions_and_syncs_file_and_folder(tmp_path: Path, monkeypatch) -> None:
    """mkstemp's 0600 made result files unreadable to others; a rename without fsync can lose the file
    on a power cut."""
    import os
    import stat

    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}") if os.path.exists("/proc/self/fd") else "?")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "result.json"
    atomic_write(path, lambda temporary: temporary.write_text("new"))
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    assert len(synced) == 2 and synced[1] == str(tmp_path)  # the data, then the folder holding the new name


def test_the_grid_expands_to_its_product_split_into_model_and_train_settings() -> None:
    from graphpool.experiment import TrainConfig, expand_grid
    from graphpool.models import ModelConfig

    options = expand_grid(
        ModelConfig(in_channels=4, num_classes=2), TrainConfig(), {"hidden": [16, 32], "lr": [0.1, 0.01, 0.001]}
    )
    assert len(options) == 6
    assert {(m.hidden, t.lr) for _, m, t in options} == {(h, lr) for h in (16, 32) for lr in (0.1, 0.01, 0.001)}
    assert all(s == {"hidden": m.hidden, "lr": t.lr} for s, m, t in options)
    assert len(expand_grid(ModelConfig(in_channels=4, num_classes=2), TrainConfig(), None)) == 1
    with pytest.raises(ValueError, match="'seed' cannot be selected"):
        expand_grid(ModelConfig(in_channels=4, num_classes=2), TrainConfig(), {"seed": [0, 1]})
    with pytest.raises(ValueError, match="'hidden' must be >= 1"):
        expand_grid(ModelConfig(in_channels=4, num_classes=2), TrainConfig(), {"hidden": [0]})


def test_grouped_folds_never_split_a_group_and_repeat_with_new_shuffles() -> None:
    from graphpool.experiment import grouped_folds

    labels = [0, 1] * 20
    groups = [i // 4 for i in range(40)]  # ten groups of four graphs, both classes in each
    folds = grouped_folds(labels, groups, 5, repeats=2, seed=0)
    assert len(folds) == 10
    for train, test in folds:
        assert not {groups[i] for i in train} & {groups[i] for i in test}
    for repeat in (folds[:5], folds[5:]):
        assert sorted(i for _, test in repeat for i in test) == list(range(40))
    assert folds[:5] != folds[5:]
    fit, validation = inner_split(folds[0][0], labels, 0.25, seed=0, groups=groups)
    assert not {groups[i] for i in fit} & {groups[i] for i in validation}
    with pytest.raises(ValueError, match="need at least 20 groups in every class"):
        grouped_folds(labels, groups, 20, repeats=1, seed=0)


# a graph without a group (NaN, None) was put in a group of every such graph: patients unknown became one patient
@pytest.mark.parametrize("missing", [float("nan"), None])
@pytest.mark.parametrize("labels", [[0, 1] * 10, None], ids=["classes", "numeric"])
def test_grouped_folds_refuse_a_graph_without_a_group(missing, labels) -> None:
    from graphpool.experiment import grouped_folds

    groups = [f"g{i // 2}" for i in range(20)]
    groups[3] = missing
    with pytest.raises(ValueError, match=r"'groups' holds a missing value \(NaN or None\) at position 3"):
        grouped_folds(labels, groups, 2, 1, seed=0)


@pytest.mark.parametrize("kind", ["stratified", "random", "grouped", "scaffold"])
def test_fold_counts_and_seeds_are_checked_by_name(kind: str) -> None:
    """0 folds was "0 stratified folds need at least 2 graphs in every class; the smallest class here has 10", a
    negative seed NumPy's or scikit-learn's message, naming neither argument."""
    from graphpool.experiment import grouped_folds, random_folds, scaffold_folds

    labels, groups = [0, 1] * 10, [f"g{i // 2}" for i in range(20)]
    make = {
        "stratified": lambda folds, seed: stratified_folds(labels, folds, seed=seed),
        "random": lambda folds, seed: random_folds(20, folds, seed=seed),
        "grouped": lambda folds, seed: grouped_folds(labels, groups, folds, 1, seed=seed),
        "scaffold": lambda folds, seed: scaffold_folds(groups, labels, folds, seed=seed),
    }[kind]
    assert len(make(2, 0)) == 2
    with pytest.raises(ValueError, match="'folds' must be >= 2, got 0"):
        make(0, 0)
    with pytest.raises(ValueError, match=r"'seed' must be in \[0, 4294967295\], got -1"):
        make(2, -1)


def test_the_pooling_benchmark_checks_its_seed() -> None:
    from graphpool.data import pooling_benchmark, published_split

    with pytest.raises(ValueError, match=r"'seed' must be in \[0, 4294967295\], got -1"):
        pooling_benchmark("easy-small", seed=-1)
    with pytest.raises(ValueError, match=r"'seed' must be in \[0, 4294967295\], got -1"):
        published_split(10, seed=-1)


# a bare string was iterated letter by letter ("unknown readout 'm'"), an empty list ran nothing and returned no
# rows, and a repeated combination trained twice into one folder
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"readouts": "mean"}, r"'readouts' takes a list of names, got the str 'mean' \(one: \['mean'\]\)"),
        ({"pools": "mincut"}, r"'pools' takes a list of names, got the str 'mincut'"),
        ({"readouts": 5}, r"'readouts' takes a list of names, got the int 5"),
        ({"readouts": []}, r"'readouts' has no names: give at least one"),
        ({"pools": ()}, r"'pools' has no names: give at least one"),
        ({"readouts": ["sum", "mean", "sum"]}, r"'readouts' names 'sum' twice"),
        ({"pools": ["none", "none"]}, r"'pools' names 'none' twice"),
    ],
)
def test_an_experiment_names_bad_readout_and_pool_lists(settings: dict, message: str) -> None:
    from graphpool.experiment import Experiment, TrainConfig
    from graphpool.models import ModelConfig

    error = TypeError if "takes a list" in message else ValueError
    with pytest.raises(error, match=message):
        Experiment(model=ModelConfig(in_channels=3, num_classes=2), train=TrainConfig(), **settings)


# a group list of another length than the graphs: an IndexError (shorter), or groups misaligned unsaid (longer)
@pytest.mark.parametrize("count", [3, 7])
def test_groups_of_another_length_than_the_graphs_are_named(count: int) -> None:
    from graphpool.experiment import grouped_folds

    with pytest.raises(ValueError, match=rf"'groups' has {count} entries but 'labels' 6: one group per graph"):
        grouped_folds([0, 1, 0, 1, 0, 1], list("abcdefg")[:count], 2, 1, 0)


def test_run_experiment_names_groups_of_another_length(tmp_path: Path) -> None:
    import torch
    from torch_geometric.data import Data

    from graphpool.experiment import Experiment, TrainConfig, run_experiment
    from graphpool.models import ModelConfig

    graphs = [
        Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([i % 2])) for i in range(6)
    ]
    experiment = Experiment(model=ModelConfig(in_channels=2, num_classes=2), train=TrainConfig(epochs=1))
    folds = [([0, 1, 2, 3], [4, 5]), ([2, 3, 4, 5], [0, 1])]
    with pytest.raises(ValueError, match=r"'groups' has 8 entries but there are 6 graphs: one group per graph"):
        run_experiment(graphs, folds, experiment, tmp_path / "out", torch.device("cpu"), groups=list(range(8)))
    assert not (tmp_path / "out").exists()


# folds given from files (the GIN paper's, --splits given) were used as they were: a graph in both parts of a
# fold trained on its own test graph, unsaid; an index past the graphs was an IndexError deep in training
@pytest.mark.parametrize(
    ("folds", "message"),
    [
        ([([0, 1, 2, 3], [3, 4, 5])], r"fold 1: graph 3 is in both its training and its test part"),
        ([([0, 1, 2], [3, 4, 9])], r"fold 1: graph 9 is out of range \(there are 6 graphs\)"),
        ([([0, 1, 2], [3, 4, 5]), ([0, 1], [])], r"fold 2: its test part is empty"),
        ([([], [0, 1])], r"fold 1: its training part is empty"),
        ([([0, 1, 1, 2], [3, 4])], r"fold 1: graph 1 is twice in its training part"),
    ],
)
def test_folds_are_checked_before_training(tmp_path: Path, folds, message: str) -> None:
    import torch
    from torch_geometric.data import Data

    from graphpool.experiment import Experiment, TrainConfig, run_experiment
    from graphpool.models import ModelConfig

    graphs = [
        Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([i % 2])) for i in range(6)
    ]
    experiment = Experiment(model=ModelConfig(in_channels=2, num_classes=2), train=TrainConfig(epochs=1))
    with pytest.raises(ValueError, match=message):
        run_experiment(graphs, folds, experiment, tmp_path / "out", torch.device("cpu"))
    assert not (tmp_path / "out").exists()


# a boolean mask for a part was read as the indices 0 and 1 ("graph 1 is twice in its training part"); float
# indices were truncated (1.5 trained graph 1); a fold of three parts was "too many values to unpack (expected 2)"
@pytest.mark.parametrize(
    ("folds", "message"),
    [
        ([([0, 1, 2], [3, 4], [5])], r"fold 1 must be a \(training, test\) pair of index lists, got 3 parts"),
        ([[0, 1, 2]], r"fold 1 must be a \(training, test\) pair of index lists, got 3 parts"),
        ([5], r"fold 1 must be a \(training, test\) pair of index lists, got int"),
        (
            [(torch.arange(6) < 3, torch.arange(6) >= 3)],
            r"fold 1: its training part holds booleans \(a mask\?\); give the graphs' indices, e\.g\. mask\.nonzero\(\)",
        ),
        ([([0, 1, True], [3, 4])], r"fold 1: its training part holds booleans"),
        ([([0, 1, 2], [3, 4.5])], r"fold 1: its test part holds 4\.5, which is not a graph index"),
        ([([0.0, 1.0], [3, 4])], r"fold 1: its training part holds 0\.0, which is not a graph index"),
        ([([0, None], [3, 4])], r"fold 1: its training part holds None, which is not a graph index"),
        ([(np.array([0.0, 1.0]), [3, 4])], r"fold 1: its training part holds 0\.0, which is not a graph index"),
    ],
)
def test_fold_parts_that_are_no_index_lists_are_refused(folds, message: str) -> None:
    from graphpool.experiment.folds import check_fold_parts

    with pytest.raises(TypeError, match=message):
        check_fold_parts(folds, 6)
    check_fold_parts([(np.array([0, 1, 2]), torch.tensor([3, 4, 5]))], 6)  # arrays and tensors of ints are fine


# run_experiment's own arguments: a str folder was "unsupported operand type(s) for /", repeats=0 a
# ZeroDivisionError after training, a class label past the head an IndexError inside the loss, and only_folds
# naming no fold of the run trained nothing and returned [] without a word
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"repeats": 0}, r"'repeats' must be >= 1, got 0"),
        ({"repeats": 3}, r"'repeats' = 3 does not divide the 2 folds"),
        ({"only_folds": [3]}, r"'only_folds' names fold 3, but the run has 2 folds"),
        ({"num_classes": 2, "y": 2}, r"graph 5 has class label 2, but the model has num_classes = 2 \(labels 0..1\)"),
        ({"num_classes": 3, "y": -1}, r"graph 5 has class label -1, but the model has num_classes = 3 \(labels 0..2\)"),
        # no folds: statistics' "fmean requires at least one data point" after the folder was made; a graph
        # without y: "int() argument must be ... not 'NoneType'"; features of another width: torch's matmul error
        ({"folds": []}, r"'folds' is empty: give at least one \(train, test\) split"),
        ({"y": None}, r"graph 5 has no target \(data.y\): the run trains and scores on them"),
        ({"width": 5}, r"graph 0 has features of shape \(3, 5\), but the model reads in_channels = 2"),
    ],
)
def test_run_experiment_checks_its_arguments_before_training(tmp_path: Path, change: dict, message: str) -> None:
    import torch
    from torch_geometric.data import Data

    from graphpool.experiment import Experiment, TrainConfig, run_experiment
    from graphpool.models import ModelConfig

    labels = [0, 1, 0, 1, 0, change.get("y", 1)]
    width = change.get("width", 2)
    graphs = [
        Data(
            x=torch.randn(3, width),
            edge_index=torch.tensor([[0, 1], [1, 0]]),
            y=None if y is None else torch.tensor([y]),
        )
        for y in labels
    ]
    model = ModelConfig(in_channels=2, num_classes=change.get("num_classes", 2))
    experiment = Experiment(model=model, train=TrainConfig(epochs=1))
    folds = change.get("folds", [([0, 1, 2, 3], [4, 5]), ([2, 3, 4, 5], [0, 1])])
    options = {key: value for key, value in change.items() if key in ("repeats", "only_folds")}
    with pytest.raises(ValueError, match=message):
        run_experiment(graphs, folds, experiment, tmp_path / "out", torch.device("cpu"), **options)
    assert not (tmp_path / "out").exists()


def test_run_experiment_takes_its_folder_as_a_string(tmp_path: Path) -> None:
    import torch
    from torch_geometric.data import Data

    from graphpool.experiment import Experiment, TrainConfig, run_experiment
    from graphpool.models import ModelConfig

    graphs = [
        Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([i % 2])) for i in range(40)
    ]
    experiment = Experiment(
        model=ModelConfig(in_channels=2, num_classes=2, hidden=4, layers=1), train=TrainConfig(epochs=1)
    )
    folds = [(list(range(20)), list(range(20, 40))), (list(range(20, 40)), list(range(20)))]
    (row,) = run_experiment(graphs, folds, experiment, str(tmp_path / "out"), "cpu")
    assert row["folds"] == 2 and (tmp_path / "out" / "sum__none" / "fold-2.json").exists()


# labels that were not non-negative ints failed inside NumPy ("Cannot cast array data from dtype('<U1')"), and a
# missing label was no error of its own
@pytest.mark.parametrize("labels", [["a", "b"] * 10, [-1, 2] * 10, [0.0, 1.0] * 10], ids=str)
def test_stratified_folds_take_labels_of_any_kind(labels: list) -> None:
    folds = stratified_folds(labels, 2, seed=0)
    assert sorted(i for _, test in folds for i in test) == list(range(20))
    for _, test in folds:
        assert sorted(labels[i] for i in test) == sorted(labels[:10])  # 5 of each class in each fold


# text classes with a NaN: numpy made the NaN the text "nan", a class of its own
@pytest.mark.parametrize("classes", [[0, 1], ["a", "b"]], ids=["numbers", "text"])
@pytest.mark.parametrize("missing", [None, float("nan")])
def test_a_missing_label_is_named_by_position(missing, classes: list) -> None:
    from graphpool.experiment import grouped_folds

    labels = classes * 10
    labels[7] = missing
    with pytest.raises(ValueError, match=r"'labels' holds a missing value \(NaN or None\) at position 7"):
        stratified_folds(labels, 2, seed=0)
    with pytest.raises(ValueError, match=r"'labels' holds a missing value \(NaN or None\) at position 7"):
        grouped_folds(labels, list(range(20)), 2, 1, 0)
    with pytest.raises(ValueError, match=r"'labels' holds a missing value \(NaN or None\) at position 7"):
        inner_split(list(range(20)), labels, 0.2, seed=0)


def test_numeric_targets_are_not_classes() -> None:
    with pytest.raises(
        ValueError, match="'labels' must be classes, got continuous values; numeric targets take random"
    ):
        stratified_folds([0.5, 1.5, 2.25, 0.75] * 5, 2, seed=0)


# a grid value given twice trained one candidate twice; a string of values ("48") was read as "4" and "8"
@pytest.mark.parametrize(
    ("grid", "error", "message"),
    [
        ({"hidden": [4, 4]}, ValueError, "grid: 'hidden' names 4 twice"),
        ({"hidden": "48"}, TypeError, "grid: 'hidden' takes a list of values, got the str '48'"),
        ({"hidden": 4}, TypeError, "grid: 'hidden' takes a list of values, got the int 4"),
        ({"hidden": []}, ValueError, "grid: 'hidden' has no values: give at least one"),
    ],
)
def test_grid_values_are_a_list_of_distinct_values(grid: dict, error: type, message: str) -> None:
    from graphpool.experiment import TrainConfig, expand_grid
    from graphpool.models import ModelConfig

    with pytest.raises(error, match=re.escape(message)):
        expand_grid(ModelConfig(in_channels=3, num_classes=2), TrainConfig(), grid)


# a label with a value per group (a measurement) listed all 40 classes' group counts in one line
def test_too_few_groups_in_many_classes_are_summed_up() -> None:
    from graphpool.experiment import grouped_folds

    labels = list(range(40))
    with pytest.raises(ValueError) as refused:
        grouped_folds(labels, list(range(40)), 5, 1, 0)
    message = str(refused.value)
    assert "40 classes, the smallest with 1 group" in message and "[1, 1" not in message
    with pytest.raises(ValueError, match=r"the classes have \[2, 1\] groups"):  # few classes: listed
        grouped_folds([0, 0, 1], [0, 1, 2], 2, 1, 0)


def test_a_grid_candidate_trains_as_its_own_run_would(tmp_path: Path) -> None:
    """Each candidate of a grid is trained from the same seed on the same fit and validation parts as a run of
    that setting alone, so a fold's grid result is the alone-run with the best validation score (ties: the first
    candidate). docs/results.md emulates grids from separate runs on this ground."""
    import torch
    from torch_geometric.data import Data

    from graphpool.experiment import Experiment, TrainConfig, run_experiment
    from graphpool.models import ModelConfig

    generator = torch.Generator().manual_seed(0)
    graphs = []
    for index in range(48):
        n = 4 + index % 5
        ring = torch.arange(n)
        edges = torch.stack([torch.cat([ring, ring.roll(1)]), torch.cat([ring.roll(1), ring])])
        graphs.append(Data(x=torch.randn(n, 3, generator=generator), edge_index=edges, y=torch.tensor([index % 2])))
    folds = [(list(range(0, 48, 2)) + list(range(1, 24, 2)), list(range(25, 48, 2)))]
    model = ModelConfig(in_channels=3, num_classes=2, hidden=8, layers=2)
    train = TrainConfig(epochs=4, patience=4, batch_size=8)

    def fold(name: str, experiment: Experiment) -> dict:
        run_experiment(graphs, folds, experiment, tmp_path / name, "cpu")
        return json.loads((tmp_path / name / "sum__none" / "fold-1.json").read_text())

    alone = [fold(f"head{h}", Experiment(model=replace(model, head_layers=h), train=train)) for h in (1, 3)]
    grid = fold("grid", Experiment(model=model, train=train, grid={"head_layers": [1, 3]}))
    assert [c["validation_accuracy"] for c in grid["candidates"]] == [a["validation_accuracy"] for a in alone]
    best = max(range(2), key=lambda i: (alone[i]["validation_accuracy"], -i))
    assert grid["selected"] == {"head_layers": (1, 3)[best]}
    assert grid["test_accuracy"] == alone[best]["test_accuracy"] and grid["predictions"] == alone[best]["predictions"]


# fraction=1 held out one graph (scikit-learn reads an int as a count), other fractions and seeds were
# scikit-learn's parameter errors, and a training index beyond the labels NumPy's IndexError
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"fraction": 1}, r"'fraction' must be in \(0, 1\), got 1"),
        ({"fraction": 0}, r"'fraction' must be in \(0, 1\), got 0"),
        ({"fraction": float("nan")}, r"'fraction' must be a finite number in \(0, 1\)"),
        ({"seed": -1}, r"'seed' must be in \[0, 4294967295\], got -1"),
        ({"train": [0, 1, 25]}, r"'train' holds graph 25, but 'labels' has 20 graphs"),
        ({"train": [0, -1, 2]}, r"'train' holds graph -1"),
    ],
)
def test_inner_split_names_bad_arguments(arguments: dict, message: str) -> None:
    call = {"train": list(range(20)), "labels": [0, 1] * 10, "fraction": 0.2, "seed": 0, **arguments}
    with pytest.raises(ValueError, match=message):
        inner_split(**call)


# every grid item that could not be read gave one message ("write NAME=V1,V2,... with NAME one of ..."), naming
# neither the unknown setting nor the missing values
@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("seed=1,2", r"'seed' is not a grid setting; write NAME=V1,V2,\.\.\. with NAME one of \('hidden'"),
        ("hidden", r"'hidden' has no values; write hidden=V1,V2,\.\.\."),
        ("hidden=", r"'hidden' has no values; write hidden=V1,V2,\.\.\."),
        ("=1,2", r"'' is not a grid setting; write NAME=V1,V2"),
    ],
)
def test_a_grid_item_that_cannot_be_read_says_what_is_wrong(item: str, message: str) -> None:
    from graphpool.experiment import parse_grid_item

    with pytest.raises(ValueError, match=message):
        parse_grid_item(item)
    assert parse_grid_item("batch-size=16,32") == {"batch_size": [16, 32]}

"""Settings checked before the results folder is touched; resume refused on other data or thread counts;
regression folds whose R^2 is undefined; predictions written as measured."""

import importlib
import importlib.metadata
import json
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from graphpool.cli import build_parser, main
from graphpool.cli.options import check_options
from tests.installed import needs_rdkit

MOLECULES = ["CCO", "CCN", "CCC", "CCCl", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "OCCO", "CC#N", "CCS", "C=CC"]
FAST = ["--epochs", "2", "--patience", "2", "--layers", "1", "--hidden", "4", "--quiet"]


@pytest.fixture(autouse=True)
def _keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _check(command: str, *arguments: str) -> None:
    """``check_options`` of a command line, as ``graphpool`` calls it (with the subcommand's defaults)."""
    parser = build_parser()
    check_options(parser.parse_args([command, *arguments]), parser.parse_args([command]))


def _csv(folder: Path, labels: list[str] | None = None, column: str = "label") -> Path:
    path = folder / "molecules.csv"
    labels = labels if labels is not None else [str(i % 2) for i in range(len(MOLECULES) * 2)]
    path.write_text(f"smiles,{column}\n" + "".join(f"{s},{y}\n" for s, y in zip(MOLECULES * 2, labels, strict=True)))
    return path


def _classify(folder: Path, out: Path, *extra: str) -> list[str]:
    path = folder / "molecules.csv"
    if not path.exists():
        _csv(folder)
    return ["classify", "--smiles-csv", str(path), "--folds", "2", "--out", str(out), *FAST, *extra]


# 17. a refused run leaves no folder behind
@needs_rdkit
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--readout", "nosuch"], "unknown readout 'nosuch'"),
        (["--readout", "sum,nosuch"], "unknown readout 'nosuch'"),
        (["--pool", "given"], "pool 'given' needs the label of every node"),
        (["--pool", "celltype"], "pool 'celltype' needs the type of every node"),
        (["--grid", "dropout=1.5"], "--grid dropout=1.5: 'dropout' must be in [0, 1)"),
        (["--grid", "lr=-1"], "--grid lr=-1.0: 'lr' must be > 0"),
        (["--grid", "jk=foo"], "--grid jumping_knowledge=foo: 'jumping_knowledge' must be one of"),
        (["--grid", "batch_size=0"], "--grid batch_size=0: 'batch_size' must be >= 1"),
        # (kmeans, not graclus: graclus reads no clusters, and a grid over them is refused for that first)
        (["--pool", "kmeans", "--precoarsen", "--grid", "clusters=2,6"], "--grid clusters with --precoarsen"),
        (["--pool", "kmeans", "--precoarsen", "--grid", "levels=1,3"], "--grid levels with --precoarsen"),
        (["--pool", "none,mincut", "--precoarsen"], "--precoarsen: none of the pools ['none', 'mincut']"),
        (
            ["--pool", "mincut", "--loss-weight", "balance=2"],
            "--loss-weight balance: no pool of this run has that loss",
        ),
        (["--pool", "graclus", "--loss-weight", "ortho=2"], "--loss-weight ortho: no pool of this run has that loss"),
        (["--pool", "mincut", "--loss-weight", "ortho"], "--loss-weight 'ortho': give NAME=W"),
        (["--pool", "mincut", "--loss-weight", "ortho=-1"], "--loss-weight 'ortho=-1': give NAME=W"),
        (["--pool", "mincut", "--temperature", "0"], "--temperature must be > 0, got 0.0"),
        (["--pool", "mincut", "--assign-hidden", "-2"], "--assign-hidden must be >= 0, got -2"),
        (["--aux-warmup", "-1"], "--aux-warmup must be >= 0, got -1"),
        (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
        (["--ensemble", "0"], "--ensemble must be >= 1, got 0"),
        (["--head-layers", "0"], "--head-layers must be >= 1, got 0"),
        (["--grid", "head_layers=0,2"], "--grid head_layers=0: 'head_layers' must be >= 1"),
        (["--pool", "mincut", "--grid", "temperature=0"], "--grid temperature=0.0: 'temperature' must be > 0"),
        (["--backbone", "gine", "--pool", "none"], None),  # molecules have bond features: accepted (not refused)
    ],
)
def test_a_refused_setting_writes_nothing(tmp_path: Path, extra: list[str], message: str | None) -> None:
    out = tmp_path / "run"
    if message is None:
        assert main(_classify(tmp_path, out, *extra)) == 0
        return
    with pytest.raises(SystemExit) as refused:
        main(_classify(tmp_path, out, *extra))
    assert message in str(refused.value)
    assert not out.exists()


@needs_rdkit
def test_loss_weights_reach_the_pools_that_have_the_terms(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = _classify(
        tmp_path, out, "--pool", "mincut,dmon,justbalance", "--loss-weight", "ortho=0.5", "--clusters", "2"
    )
    assert main(argv + ["--loss-weight", "balance=3"]) == 0
    stored = json.loads((out / "run.json").read_text())
    assert stored["loss_weights"] == {"ortho": 0.5, "balance": 3.0}
    configs = {
        pool: json.loads((out / f"sum__{pool}" / "config.json").read_text())["model"] for pool in ("mincut", "dmon")
    }
    assert configs["mincut"]["loss_weights"] == {"ortho": 0.5} and configs["dmon"]["loss_weights"] == {"ortho": 0.5}


@needs_rdkit
def test_the_recipe_options_reach_the_model_and_the_batch_is_sized_to_the_data(tmp_path: Path) -> None:
    out = tmp_path / "run"
    recipe = ["--temperature", "0.5", "--assign-hidden", "4", "--aux-warmup", "3", "--clusters", "2"]
    assert main(_classify(tmp_path, out, "--pool", "mincut", *recipe, "--grid", "levels=1,2")) == 0
    folder = out / "sum__mincut"
    config = json.loads((folder / "config.json").read_text())
    assert config["model"]["temperature"] == 0.5 and config["model"]["assign_hidden"] == 4
    assert config["train"]["aux_warmup"] == 3 and config["train"]["batch_size"] is None
    fold = json.loads((folder / "fold-1.json").read_text())
    assert [c["settings"] for c in fold["candidates"]] == [{"levels": 1}, {"levels": 2}]
    fit = 10  # 12 training graphs of a fold, 2 held out for validation
    assert fold["batch_size"] == 1 == max(1, fit // 10)
    assert main(_classify(tmp_path, tmp_path / "fixed", "--batch-size", "5", "--ensemble", "2")) == 0
    fixed = json.loads((tmp_path / "fixed" / "sum__none" / "fold-1.json").read_text())
    assert fixed["batch_size"] == 5 and fixed["ensemble"] == 2 and len(fixed["members"]) == 2
    assert "single_test_accuracy" in fixed


@needs_rdkit
def test_the_head_layers_reach_the_model_and_the_grid(tmp_path: Path) -> None:
    assert main(_classify(tmp_path, tmp_path / "deep", "--head-layers", "3")) == 0
    config = json.loads((tmp_path / "deep" / "sum__none" / "config.json").read_text())
    assert config["model"]["head_layers"] == 3
    assert json.loads((tmp_path / "deep" / "run.json").read_text())["head_layers"] == 3
    assert main(_classify(tmp_path, tmp_path / "grid", "--grid", "head_layers=1,3")) == 0
    fold = json.loads((tmp_path / "grid" / "sum__none" / "fold-1.json").read_text())
    assert [c["settings"] for c in fold["candidates"]] == [{"head_layers": 1}, {"head_layers": 3}]


def test_cells_keeps_its_linear_head() -> None:
    """The cell scores add up to the logits only through a linear head: cells has no --head-layers, and its
    grid may not vary the head (a grid over it made the explanations inexact without a word)."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["cells", "--head-layers", "2"])
    with pytest.raises(SystemExit, match=r"--grid head_layers: graphpool cells keeps a linear head"):
        _check("cells", "--grid", "head_layers=1,2")
    _check("classify", "--grid", "head_layers=1,2")


def test_a_batch_size_that_is_not_a_number_is_one_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as refused:
        main(_classify(tmp_path, tmp_path / "run", "--batch-size", "many"))
    assert refused.value.code == 2
    assert "--batch-size: give a whole number or 'auto', got 'many'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_a_device_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--device cuda: no CUDA device"):
        main(_classify(tmp_path, tmp_path / "run", "--device", "cuda"))
    assert not (tmp_path / "run").exists()


def test_too_many_cell_folds_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "cells"
    with pytest.raises(SystemExit, match="--folds 20"):
        main(["cells", "--simulate", "presence", "--samples", "10", "--folds", "20", "--out", str(out), *FAST])
    assert not out.exists()


# 7. a resume reads the same data or none
@needs_rdkit
def test_resume_refuses_changed_data(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out)) == 0
    stored = json.loads((out / "run.json").read_text())
    assert stored["data"]["graphs"] == 24
    _csv(tmp_path, [str((i + 1) % 2) for i in range(24)])  # the same file, other labels
    with pytest.raises(SystemExit, match="--resume: the data differ from the run's"):
        main(_classify(tmp_path, out, "--resume"))


@needs_rdkit
def test_a_run_from_before_an_option_existed_resumes_at_its_default(tmp_path: Path) -> None:
    """An option added since a run started is missing from its run.json: at its default (the behaviour the run
    had) the resume goes on; given another value it is a changed setting, named."""
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out)) == 0
    stored = json.loads((out / "run.json").read_text())
    del stored["head_layers"]  # as written by a graphpool without --head-layers
    (out / "run.json").write_text(json.dumps(stored))
    with pytest.raises(SystemExit, match=r"--head-layers: None \(stored\) vs 3 \(now\)"):
        main(_classify(tmp_path, out, "--resume", "--head-layers", "3"))
    assert main(_classify(tmp_path, out, "--resume")) == 0
    assert json.loads((out / "run.json").read_text())["head_layers"] == 2  # recorded from now on


# a run resumed by another graphpool, torch or PyG went on silently: its folds mixed two versions' roundings
@needs_rdkit
def test_a_resume_under_other_versions_warns_and_records_them(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import torch_geometric

    out = tmp_path / "run"
    assert main(_classify(tmp_path, out)) == 0
    stored = json.loads((out / "run.json").read_text())
    now = {"graphpool": importlib.metadata.version("graphpool"), "torch": torch.__version__}
    assert stored["versions"] == {**now, "torch_geometric": torch_geometric.__version__}
    capsys.readouterr()
    assert main(_classify(tmp_path, out, "--resume")) == 0
    assert "warning" not in capsys.readouterr().err  # the same versions: no word
    stored["versions"]["torch"] = "2.0.0"
    (out / "run.json").write_text(json.dumps(stored))
    assert main(_classify(tmp_path, out, "--resume")) == 0
    assert re.search(
        r"warning: --resume: .* started under torch 2\.0\.0; it goes on under torch ", capsys.readouterr().err
    )
    again = json.loads((out / "run.json").read_text())
    assert again["versions"]["torch"] == "2.0.0" and again["resumed_under"] == [stored["versions"] | now]


# 12. threads: set, recorded, and a resume with another count refused
@needs_rdkit
def test_threads_are_set_recorded_and_kept_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out, "--threads", "1")) == 0
    assert torch.get_num_threads() == 1
    assert json.loads((out / "run.json").read_text())["threads"] == 1
    with pytest.raises(SystemExit, match="--threads: 1 .stored. vs 2 .now."):
        main(_classify(tmp_path, out, "--threads", "2", "--resume"))
    with pytest.raises(SystemExit, match="--threads must be >= 1"):
        main(_classify(tmp_path, tmp_path / "other", "--threads", "0"))


@needs_rdkit
def test_the_default_thread_count_is_recorded(tmp_path: Path) -> None:
    out = tmp_path / "run"
    torch.set_num_threads(2)
    assert main(_classify(tmp_path, out)) == 0
    assert json.loads((out / "run.json").read_text())["threads"] == 2


# 18. a fold whose R^2 is undefined
@needs_rdkit
def test_regression_with_one_molecule_per_fold_reports_undefined_r2(tmp_path: Path, capsys) -> None:
    path = _csv(tmp_path, [f"{0.25 * i:.2f}" for i in range(24)], column="logp")
    out = tmp_path / "run"
    argv = ["regress", "--smiles-csv", str(path), "--label-col", "logp", "--folds", "24", "--out", str(out), *FAST]
    assert main(argv) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert rows[0]["mean_r2"] != rows[0]["mean_r2"]  # NaN
    assert "R2 is undefined" in capsys.readouterr().out


# predictions.csv: classes as integers, the label column named as in the docs, values as measured
@needs_rdkit
def test_predictions_are_written_as_measured(tmp_path: Path) -> None:
    out = tmp_path / "classes"
    assert main(_classify(tmp_path, out)) == 0
    table = pd.read_csv(out / "predictions.csv", dtype=str)
    assert "label" in table and "measured" not in table
    assert set(table["sum / none"]) <= {"0", "1"} and set(table["label"]) <= {"0", "1"}
    values = [f"{-3.18 + 0.01 * i:.2f}" for i in range(24)]
    path = _csv(tmp_path, values, column="logp")
    out = tmp_path / "values"
    assert (
        main(["regress", "--smiles-csv", str(path), "--label-col", "logp", "--folds", "2", "--out", str(out), *FAST])
        == 0
    )
    table = pd.read_csv(out / "predictions.csv", dtype=str)
    assert table["label"].tolist() == [str(float(v)) for v in values]


@needs_rdkit
def test_the_results_show_the_majority_class_rate(tmp_path: Path, capsys) -> None:
    from graphpool.experiment.baselines import majority_scores

    out = tmp_path / "run"
    assert main(_classify(tmp_path, out)) == 0
    majority = json.loads((out / "results.json").read_text())["majority_class"]
    splits = json.loads((out / "sum__none" / "splits.json").read_text())
    labels = [i % 2 for i in range(24)]
    expected = majority_scores(labels, [(s["fit"] + s["validation"], s["test"]) for s in splits])
    assert majority["mean_accuracy"] == pytest.approx(sum(expected) / len(expected))
    assert "majority class" in capsys.readouterr().out


# --help shows each default once, as it is typed: no "(default: None)", no Python list, no second default
@pytest.mark.parametrize("command", ["classify", "regress", "cells", "neighbourhoods"])
def test_help_shows_defaults_as_typed(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: None)" not in text and "(default: False)" not in text and "(default: [" not in text
    assert "(default: )" not in text
    assert re.search(r"--seed SEED [^(]*\(default: 0\)", text)  # 0 is a default, not "none"
    assert "(default: 0.25)" in text or command == "neighbourhoods"
    for option in text.split(" --")[1:]:
        assert option.count("default:") <= 1, option


# more threads than cores ran 20-90x slower without a word
def test_more_threads_than_cores_is_warned() -> None:
    import argparse
    import os

    from graphpool.cli.options import set_threads

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with pytest.warns(UserWarning, match=rf"--threads {cores + 1} is more than the {cores} cores"):
        set_threads(argparse.Namespace(threads=cores + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        set_threads(argparse.Namespace(threads=1))


# a repeated readout or pool trained one combination twice into one folder; the library's words named no option
@needs_rdkit
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--readout", "sum,mean,sum"], "--readout 'sum,mean,sum': names 'sum' twice"),
        (["--pool", "none,none"], "--pool: names 'none' twice"),
    ],
)
def test_a_repeated_readout_or_pool_is_named_by_option(tmp_path: Path, option: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(message)):
        main(_classify(tmp_path, tmp_path / "out", *option))
    assert not (tmp_path / "out").exists()


# a pooling option that no pool of the run reads was ignored: `--levels 2` with the default --pool none trained
# the flat readout without a word
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--levels", "2"], "--levels applies to the cluster pools"),
        (["--level-readouts"], "--level-readouts applies to the cluster pools"),
        (["--clusters", "8"], "--clusters applies to the pools"),
        (["--ratio", "0.5"], "--ratio applies to the pools"),
        (["--pool", "graclus", "--clusters", "8"], "--clusters applies to the pools"),
        (["--temperature", "0.5"], "--temperature applies to the soft pools"),
        (["--pool", "none,graclus", "--assign-hidden", "16"], "--assign-hidden applies to the soft pools"),
        (["--aux-warmup", "5"], "--aux-warmup applies to the soft pools"),
        (["--grid", "levels=1,2"], "--grid levels applies to the cluster pools"),
    ],
)
def test_a_pooling_option_no_pool_reads_is_refused(arguments: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(message) + r".* so it would be ignored"):
        _check("classify", *arguments)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--pool", "none,mincut", "--levels", "2", "--temperature", "0.5", "--aux-warmup", "5"],
        ["--pool", "graclus", "--levels", "2", "--level-readouts"],
        ["--pool", "kmeans", "--clusters", "4", "--ratio", "0.5"],
        ["--pool", "none,diffpool", "--grid", "clusters=4,8"],
    ],
)
def test_pooling_options_a_pool_reads_are_kept(arguments: list[str]) -> None:
    _check("classify", *arguments)


# jumping knowledge combines the message-passing layers: with --layers 0 there are none and --jk cat was ignored
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--layers", "0", "--jk", "cat"], "--jk cat combines"),
        (["--layers", "0", "--grid", "jumping_knowledge=last,max"], "--grid jumping_knowledge combines"),
        (["--grid", "layers=0", "--jk", "max"], "--jk max combines"),
        (["--layers", "0", "--backbone", "gat"], "--backbone gat passes messages"),
    ],
)
def test_jumping_knowledge_without_layers_is_refused(arguments: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(message) + r" .*--layers 0 has none, so it would be ignored"):
        _check("classify", *arguments)
    with pytest.raises(SystemExit, match=re.escape(message)):
        _check("regress", *arguments)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--jk", "cat", "--grid", "layers=0,3"],
        ["--layers", "3", "--jk", "cat"],
        ["--layers", "0", "--jk", "last"],
        ["--layers", "0"],
        ["--backbone", "gat", "--grid", "layers=0,2"],
    ],
)
def test_jumping_knowledge_some_candidate_reads_is_kept(arguments: list[str]) -> None:
    _check("classify", *arguments)


# in `graphpool cells` the celltype pool's K is the table's number of cell types: --clusters 8 beside
# --pool none,celltype was ignored without a word
@pytest.mark.parametrize(
    "arguments",
    [
        ["--clusters", "8"],
        ["--ratio", "0.5"],
        ["--grid", "clusters=4,8"],
    ],
)
def test_cells_refuses_a_cluster_count_its_celltype_pool_does_not_read(arguments: list[str]) -> None:
    option = "--grid clusters" if "--grid" in arguments else arguments[0]
    with pytest.raises(
        SystemExit, match=re.escape(option) + r" applies to the pools .* so it would be ignored"
    ) as refusal:
        _check("cells", "--pool", "none,celltype", *arguments)
    assert "mincut" in str(refusal.value) and "celltype" not in str(refusal.value).split(";")[0]
    _check("cells", "--pool", "celltype,mincut", *arguments)
    _check("classify", "--pool", "none,celltype", *arguments)


# an option of another data source was ignored: --label-col with a TU dataset trained on the TU labels
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--dataset", "pooling-easy-small", "--label-col", "y"], "--label-col reads a --smiles-csv"),
        (["--dataset", "pooling-easy-small", "--smiles-col", "s"], "--smiles-col reads a --smiles-csv"),
        (["--dataset", "pooling-easy-small", "--on-error", "skip"], "--on-error reads a --smiles-csv"),
        (["--dataset", "pooling-easy-small", "--node-attributes"], "--node-attributes is for a TU dataset"),
        (["--dataset", "pooling-easy-small", "--root", "elsewhere"], "--root is for a TU dataset"),
        (["--dataset", "solubility", "--gin-root", "elsewhere"], "--gin-root is for a TU dataset"),
        (["--dataset", "MUTAG", "--smiles-csv", "m.csv"], "--dataset MUTAG and --smiles-csv m.csv both name the data"),
        # the GIN folds are read by --splits gin only: with the default auto splits they were stratified folds
        (["--dataset", "MUTAG", "--gin-root", "elsewhere"], "--gin-root is read by --splits gin; with --splits auto"),
        (
            ["--dataset", "MUTAG", "--gin-root", "elsewhere", "--splits", "stratified"],
            "--gin-root is read by --splits gin; with --splits stratified",
        ),
        # the GIN paper's folds exist for TU datasets only: this was "no GIN fold folder at gin-format/pooling-..."
        (["--dataset", "pooling-easy-small", "--splits", "gin"], "--splits gin (the GIN paper's folds) is for a TU"),
        (["--dataset", "solubility", "--splits", "gin"], "--splits gin (the GIN paper's folds) is for a TU"),
    ],
)
def test_an_option_of_another_data_source_is_refused(tmp_path: Path, arguments: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(message) + ".*(it would be ignored|drop one)"):
        main(["classify", *arguments, "--out", str(tmp_path / "out"), *FAST])
    assert not (tmp_path / "out").exists()


# --smiles-csv naming a folder ended in an IsADirectoryError traceback; a missing file's error named no option
@pytest.mark.parametrize("command", ["classify", "regress"])
def test_a_smiles_csv_that_is_not_a_file_is_named(tmp_path: Path, command: str) -> None:
    for path, what in ((tmp_path, "is a folder, not a file"), (tmp_path / "missing.csv", "does not exist")):
        with pytest.raises(SystemExit, match=re.escape(f"--smiles-csv {path}: {what}")):
            main([command, "--smiles-csv", str(path), "--out", str(tmp_path / "out"), *FAST])
        assert not (tmp_path / "out").exists()


# --grid hidden=4,4 trained one candidate twice; --grid hidden=4 --grid hidden=8 kept only the second; --hidden 8
# beside --grid hidden=4,16 was never trained
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--grid", "hidden=4,4"], "--grid 'hidden=4,4': hidden names 4 twice"),
        (["--grid", "hidden=4", "--grid", "hidden=8"], "--grid 'hidden=8': hidden is in the grid already"),
        (["--grid", "jk=last,cat", "--grid", "jumping_knowledge=max"], "jumping_knowledge is in the grid already"),
        (["--hidden", "8", "--grid", "hidden=4,16"], "--hidden 8 and --grid hidden=4,16 both set hidden"),
        (["--grid", "lr=0.01,0.001", "--lr", "0.1"], "--lr 0.1 and --grid lr=0.01,0.001 both set lr"),
        (["--jk", "cat", "--grid", "jumping_knowledge=last,max"], "--jk cat and --grid jumping_knowledge=last,max"),
        (["--pool", "mincut", "--levels", "2", "--grid", "levels=1,2"], "--levels 2 and --grid levels=1,2 both set"),
        (["--head-layers", "3", "--grid", "head_layers=1,2"], "--head-layers 3 and --grid head_layers=1,2 both set"),
    ],
)
def test_a_grid_setting_given_twice_is_refused(arguments: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(message)):
        _check("classify", *arguments)


def test_a_grid_beside_options_it_does_not_vary_is_kept() -> None:
    _check("classify", "--hidden", "8", "--lr", "0.01", "--grid", "layers=2,3", "--grid", "dropout=0,0.5")
    _check("cells", "--grid", "hidden=16,32")  # cells' own default hidden (32) is not an option given


# `graphpool --version` was an error ("the following arguments are required: command")
def test_version_names_graphpool_torch_and_pyg(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.metadata

    import torch_geometric

    import graphpool

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out.strip()
    assert (
        printed == f"graphpool {graphpool.__version__} (torch {torch.__version__}, PyG {torch_geometric.__version__})"
    )
    assert importlib.metadata.version("graphpool") == graphpool.__version__  # pyproject.toml's, as installed


# graphpool cells set K to a quarter of the mean tissue: 1,300 clusters for MIBI's 5,200 cells per sample, a
# soft pool of [N, 1300] assignments (a 3-fold run of 10 epochs did not end in 15 minutes); tissues are pooled
# into a few neighbourhoods
@pytest.mark.parametrize(("command", "mean_nodes", "clusters"), [("cells", 5200, 32), ("cells", 40, 10),
                                                                   ("classify", 5200, 1300)])  # fmt: skip
def test_the_default_cluster_count_of_tissues_is_a_neighbourhood_count(command: str, mean_nodes: int, clusters: int):
    from graphpool.cli.options import experiment_from

    parser = build_parser()
    args = parser.parse_args([command, "--pool", "mincut"])
    check_options(args, parser.parse_args([command]))
    experiment = experiment_from(args, in_channels=4, num_classes=2, mean_nodes=mean_nodes)
    assert experiment.model.clusters == clusters
    args = parser.parse_args([command, "--pool", "mincut", "--clusters", "100"])
    check_options(args, parser.parse_args([command]))
    assert experiment_from(args, in_channels=4, num_classes=2, mean_nodes=mean_nodes).model.clusters == 100


def test_the_versions_are_known_from_a_source_tree_that_was_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m graphpool` from a checkout on PYTHONPATH has no package metadata: reading it failed every run."""
    import importlib.metadata

    from graphpool.cli.run_folder import versions

    def missing(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata.Distribution, "from_name", staticmethod(missing))
    assert versions()["graphpool"] == importlib.import_module("graphpool").__version__

"""The classify command: a grid on a TU dataset, resume after SIGKILL, bad arguments."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graphpool.cli import main
from tests.installed import needs_rdkit

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not (SHARED / "TU").is_dir(), reason="../shared/datasets is not present")
TINY = ["--epochs", "3", "--patience", "3", "--layers", "2", "--hidden", "16", "--quiet"]


@needs_shared
def test_grid_on_mutag_writes_table_json_csv_and_plot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("GRAPHPOOL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    code = main(
        [
            "classify",
            "--dataset",
            "MUTAG",
            "--root",
            str(SHARED / "TU"),
            "--folds",
            "3",
            "--readout",
            "sum,mean+max",
            "--pool",
            "none,graclus",
            "--out",
            str(out),
            *TINY,
        ]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    combos = {(r["readout"], r["pool"]) for r in results["rows"]}
    assert combos == {("sum", "none"), ("sum", "graclus"), ("mean+max", "none"), ("mean+max", "graclus")}
    assert all(r["folds"] == 3 and 0.0 <= r["mean_accuracy"] <= 1.0 for r in results["rows"])
    assert (out / "results.csv").exists() and (out / "accuracy.png").stat().st_size > 5000
    printed = capsys.readouterr().out
    assert "test accuracy, stratified splits, 3 fold(s)" in printed
    assert "note: the flat and pooled models share one head depth" in printed  # none and graclus at one head
    # the splits are saved, and test folds never overlap the graphs used for training or selection
    splits = json.loads((out / "sum__none" / "splits.json").read_text())
    for split in splits:
        assert not set(split["test"]) & (set(split["fit"]) | set(split["validation"]))
    assert sorted(i for s in splits for i in s["test"]) == list(range(188))


@needs_shared
def test_gin_splits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHPOOL_CACHE", str(tmp_path / "cache"))
    main(
        [
            "classify",
            "--dataset",
            "MUTAG",
            "--root",
            str(SHARED / "TU"),
            "--splits",
            "gin",
            "--out",
            str(tmp_path / "gin"),
            "--epochs",
            "1",
            "--patience",
            "1",
            "--layers",
            "1",
            "--hidden",
            "8",
            "--quiet",
        ]
    )
    splits = json.loads((tmp_path / "gin" / "sum__none" / "splits.json").read_text())
    assert len(splits) == 10 and all(len(s["test"]) == 18 for s in splits)


@needs_rdkit
def test_hyper_parameters_are_selected_on_the_holdout_and_only_the_winner_is_tested(tmp_path: Path) -> None:
    out = tmp_path / "grid"
    arguments = ["classify", "--dataset", "solubility", "--splits", "stratified", "--folds", "2", "--out", str(out)]
    select = ["--grid", "hidden=4,16", "--grid", "lr=0.02,0.0001", "--layers", "0"]
    assert main([*arguments, *select, "--epochs", "3", "--patience", "3", "--quiet"]) == 0
    folder = out / "sum__none"
    config = json.loads((folder / "config.json").read_text())
    assert config["grid"] == {"hidden": [4, 16], "lr": [0.02, 0.0001]}
    for number in (1, 2):
        fold = json.loads((folder / f"fold-{number}.json").read_text())
        scores = [c["validation_accuracy"] for c in fold["candidates"]]
        assert len(scores) == 4 and all("test_accuracy" not in c for c in fold["candidates"])
        winner = fold["candidates"][scores.index(max(scores))]
        assert fold["selected"] == winner["settings"] and fold["validation_accuracy"] == max(scores)
        assert 0.0 <= fold["test_accuracy"] <= 1.0
    assert not list(folder.glob("*.pt"))
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [s["hidden"] in (4, 16) for s in rows[0]["selected"]] == [True, True]
    assert "hidden=" in (out / "results.csv").read_text().splitlines()[1]  # "hidden=16 lr=0.02 (2)" or similar
    with pytest.raises(SystemExit, match="--grid 'seed=1,2': 'seed' is not a grid setting; write NAME=V1,V2"):
        main([*arguments, "--grid", "seed=1,2"])
    with pytest.raises(SystemExit, match="values of hidden must be int"):
        main([*arguments, "--grid", "hidden=a,b"])


@needs_rdkit
def test_resume_after_sigkill_recomputes_no_finished_fold(tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "graphpool",
        "classify",
        "--dataset",
        "solubility",
        "--splits",
        "stratified",
        "--folds",
        "3",
        "--out",
        str(out),
        "--epochs",
        "4",
        "--patience",
        "4",
        "--layers",
        "1",
        "--hidden",
        "8",
        "--quiet",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    folder = out / "sum__none"
    deadline = time.time() + 240
    while not (folder / "fold-1.json").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert (folder / "fold-1.json").exists(), process.stderr.read().decode()[-2000:] if process.poll() else "timeout"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    first = (folder / "fold-1.json").read_text()
    refused = subprocess.run(command, cwd=ROOT, check=False, capture_output=True, text=True)
    assert refused.returncode != 0 and "pass --resume" in refused.stderr
    resumed = subprocess.run([*command, "--resume"], cwd=ROOT, check=False, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (folder / "fold-1.json").read_text() == first  # the finished fold was not recomputed
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert rows[0]["folds"] == 3
    assert not list(folder.glob("fold-*.pt"))  # epoch checkpoints are removed once a fold is done


@needs_rdkit
def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--pool: 'topk' is not one of"):
        main(["classify", "--pool", "topk", "--out", str(tmp_path / "x")])
    table = tmp_path / "molecules.csv"
    table.write_text("smiles,label\nCCO,0\nCCN,1\nc1ccccc1,0\nCCCl,1\n")
    with pytest.raises(SystemExit, match="has no given split"):
        main(["classify", "--smiles-csv", str(table), "--splits", "given", "--out", str(tmp_path / "y")])
    # it named the default dataset, which this run does not read: "dataset 'solubility' has no given split"
    with pytest.raises(SystemExit, match=rf"--splits given: --smiles-csv {re.escape(str(table))} has no given split"):
        main(["classify", "--smiles-csv", str(table), "--splits", "given", "--out", str(tmp_path / "y")])
    with pytest.raises(SystemExit, match="10 stratified folds need at least 10 graphs in every class"):
        main(["classify", "--smiles-csv", str(table), "--out", str(tmp_path / "w")])
    with pytest.raises(SystemExit, match="--device cuda: no CUDA device"):
        if not __import__("torch").cuda.is_available():
            main(["classify", "--smiles-csv", str(table), "--device", "cuda", "--out", str(tmp_path / "z")])
        else:
            raise SystemExit("--device cuda: no CUDA device (skipped: a GPU is present)")


def test_grid_option_and_its_deprecated_alias_select() -> None:
    from graphpool.cli import build_parser

    grid = build_parser().parse_args(["classify", "--grid", "hidden=4,8", "--grid", "jk=cat"]).grid
    assert grid == {"hidden": [4, 8], "jumping_knowledge": ["cat"]}
    with pytest.warns(FutureWarning, match="--select is deprecated .* use --grid"):
        old = build_parser().parse_args(["classify", "--select", "hidden=4,8", "--select", "jk=cat"]).grid
    assert old == grid
    with pytest.raises(SystemExit, match="--grid 'seed=1': 'seed' is not a grid setting; write NAME=V1,V2"):
        build_parser().parse_args(["classify", "--grid", "seed=1"])


def test_the_select_deprecation_reaches_the_command_line_as_one_line(capsys) -> None:
    """Raised while the arguments were parsed, it came out as Python's two-line warning with graphpool's source
    path, not as the CLI's other warnings ("warning: ...")."""
    with pytest.raises(SystemExit, match="--epochs must be >= 1"):
        main(["classify", "--dataset", "pooling-hard", "--select", "hidden=4,8", "--epochs", "0"])
    assert capsys.readouterr().err.splitlines() == [
        "warning: --select is deprecated and will be removed in the next release; use --grid"
    ]


@needs_rdkit
def test_scaffold_splits_and_the_fingerprint_baseline(tmp_path: Path, capsys) -> None:
    from graphpool.data import load_solubility, scaffolds

    out = tmp_path / "scaffold"
    argv = ["classify", "--splits", "scaffold", "--folds", "3", "--baseline", "fingerprint", "--out", str(out)]
    assert main([*argv, *TINY]) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["readout"], r["pool"], r["folds"]) for r in rows] == [
        ("sum", "none", 3),
        ("fingerprint (random forest)", "-", 3),
    ]
    assert 0.4 < rows[1]["mean_accuracy"] <= 1.0  # 3 classes: chance is about 0.33; it measured 0.64 on 5 folds
    scaffold = scaffolds([g.smiles for g in load_solubility().graphs])
    for fold in json.loads((out / "sum__none" / "splits.json").read_text()):
        train = set(fold["fit"]) | set(fold["validation"])
        assert not {scaffold[i] for i in train} & {scaffold[i] for i in fold["test"]}
        assert not {scaffold[i] for i in fold["fit"]} & {scaffold[i] for i in fold["validation"]}
    assert "scaffold splits" in capsys.readouterr().out


def test_the_size_baseline_runs_on_the_same_folds_beside_the_model(tmp_path: Path, capsys) -> None:
    out = tmp_path / "size"
    argv = ["classify", "--dataset", "pooling-easy-small", "--folds", "3", "--splits", "stratified"]
    assert main([*argv, "--baseline", "size", "--out", str(out), *TINY]) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["readout"], r["pool"], r["folds"]) for r in rows] == [
        ("sum", "none", 3),
        ("graph size (linear model)", "-", 3),
    ]
    assert 0.0 <= rows[1]["mean_accuracy"] <= 1.0
    printed = capsys.readouterr().out
    assert "graph size (linear model)" in printed
    # the note says so where size alone scores at least as well as the model, and only there
    assert ("note: graph size alone" in printed) == (rows[1]["mean_accuracy"] >= rows[0]["mean_accuracy"])
    predictions = (out / "predictions.csv").read_text().splitlines()[0].split(",")
    assert predictions[-1] == "graph size (linear model)"
    for refused, message in (
        ("nosuch", "--baseline: 'nosuch' is not one of fingerprint, size"),
        ("size,size", "--baseline: names 'size' twice"),
        ("size,", "--baseline: '' is not one of fingerprint, size"),
    ):
        with pytest.raises(SystemExit, match=message):
            main([*argv, "--baseline", refused, "--out", str(tmp_path / "refused"), *TINY])
    assert not (tmp_path / "refused").exists()


@needs_rdkit
def test_both_baselines_on_molecules(tmp_path: Path) -> None:
    out = tmp_path / "both"
    argv = ["classify", "--splits", "stratified", "--folds", "2", "--baseline", "size,fingerprint"]
    assert main([*argv, "--out", str(out), *TINY]) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["readout"] for r in rows] == ["sum", "graph size (linear model)", "fingerprint (random forest)"]


@needs_shared
def test_scaffold_splits_and_fingerprints_need_molecules(tmp_path: Path) -> None:
    root = str(SHARED / "TU")
    with pytest.raises(SystemExit, match="--splits scaffold needs molecules"):
        main(["classify", "--dataset", "MUTAG", "--root", root, "--splits", "scaffold", "--out", str(tmp_path / "a")])
    with pytest.raises(SystemExit, match="--baseline fingerprint needs molecules"):
        main(
            [
                "classify",
                "--dataset",
                "MUTAG",
                "--root",
                root,
                "--baseline",
                "fingerprint",
                "--out",
                str(tmp_path / "b"),
            ]
        )


@needs_rdkit
def test_a_two_level_mincut_model_runs_through_hierarchical_pool(tmp_path: Path, monkeypatch) -> None:
    """The model has one pooling stage: the CLI's hierarchical model is a HierarchicalPool (no loop of its own)."""
    from graphpool.cluster import HierarchicalPool

    calls = []
    forward = HierarchicalPool.forward

    def counted(self, *args, **kwargs):
        calls.append(len(self.levels))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(HierarchicalPool, "forward", counted)
    molecules = ["CCO", "CCN", "CCC", "CCCl", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "OCCO", "CC#N", "CCS", "C=CC"]
    path = tmp_path / "m.csv"
    path.write_text("smiles,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(molecules * 2)))
    argv = ["classify", "--smiles-csv", str(path), "--folds", "2", "--pool", "mincut", "--levels", "2",
            "--epochs", "1", "--patience", "1", "--layers", "1", "--hidden", "4", "--quiet", "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(argv) == 0
    assert calls and set(calls) == {2}

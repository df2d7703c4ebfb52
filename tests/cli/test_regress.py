"""The regress command: log S of the embedded set and SMILES CSVs, scaffold folds, the baseline, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graphpool.cli import classify, main
from tests.installed import needs_rdkit

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--epochs", "3", "--patience", "3", "--layers", "2", "--hidden", "16", "--quiet"]
MOLECULES = ["CCO", "CCN", "CCC", "CCCl", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "OCCO", "CC#N", "CCS", "C=CC"]


def _csv(folder: Path, rows: list[tuple[str, str]]) -> Path:
    path = folder / "molecules.csv"
    path.write_text("smiles,logp\n" + "".join(f"{s},{y}\n" for s, y in rows))
    return path


def _cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "graphpool", *arguments],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


@needs_rdkit
def test_log_s_on_scaffold_folds_with_the_baseline_on_the_same_folds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from graphpool.data import load_solubility, scaffolds
    from graphpool.experiment import baselines

    seen = []  # the folds of each baseline's fit: the fingerprint forest's (classify) and the size model's
    original = baselines.baseline_scores
    recording = lambda *a, **k: seen.append(a[2]) or original(*a, **k)
    monkeypatch.setattr(classify, "baseline_scores", recording)
    monkeypatch.setattr(baselines, "baseline_scores", recording)
    forest = classify.fingerprint_forest  # 50 trees instead of 500: the folds are under test (38 of 45 s were trees)
    monkeypatch.setattr(
        classify, "fingerprint_forest", lambda seed, task: forest(seed, task).set_params(n_estimators=50)
    )
    out = tmp_path / "run"
    argv = ["regress", "--splits", "scaffold", "--folds", "3", "--baseline", "fingerprint,size", "--out", str(out)]
    assert main([*argv, *TINY, "--batch-size", "128"]) == 0  # the folds are under test, not the sized batch
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["readout"], r["pool"], r["folds"]) for r in rows] == [
        ("sum", "none", 3),
        ("graph size (linear model)", "-", 3),
        ("fingerprint (random forest)", "-", 3),
    ]
    for row in rows:
        assert {"mean_rmse", "std_over_folds", "mean_mae", "std_mae", "mean_r2", "std_r2"} <= set(row)
        assert 0 < row["mean_mae"] <= row["mean_rmse"]  # MAE <= RMSE always
    assert 0.3 < rows[2]["mean_r2"] < 1.0  # the forest on scaffold folds: it measured 0.58 on 3 folds
    assert rows[1]["mean_r2"] < rows[2]["mean_r2"]  # size alone explains less of log S than the fingerprints
    splits = json.loads((out / "sum__none" / "splits.json").read_text())
    assert len(seen) == 2
    for baseline_folds in seen:
        assert [sorted(test) for _, test in baseline_folds] == [split["test"] for split in splits]
    scaffold = scaffolds([g.smiles for g in load_solubility().graphs])
    for split in splits:
        train = set(split["fit"]) | set(split["validation"])
        assert not {scaffold[i] for i in train} & {scaffold[i] for i in split["test"]}
        assert not {scaffold[i] for i in split["fit"]} & {scaffold[i] for i in split["validation"]}
    predictions = pd.read_csv(out / "predictions.csv")  # every molecule predicted once, out of fold, by both
    models = ["sum / none", "graph size (linear model)", "fingerprint (random forest)"]
    assert len(predictions) == 1282 and predictions[models].notna().all().all()
    test_fold = {i: k for k, split in enumerate(splits, start=1) for i in split["test"]}
    assert predictions["fold"].tolist() == [test_fold[i] for i in range(1282)]
    assert np.allclose(predictions["label"], [float(g.log_s) for g in load_solubility().graphs])
    for chart in ("rmse.png", "parity.png"):
        assert (out / chart).stat().st_size > 5000
    assert "test RMSE, MAE and R2, scaffold splits, 3 fold(s)" in capsys.readouterr().out


@needs_rdkit
def test_a_smiles_csv_with_a_numeric_column_regresses(tmp_path: Path) -> None:
    from graphpool.data import smiles_to_graph

    molecules = MOLECULES * 2
    path = _csv(tmp_path, [(s, str(smiles_to_graph(s).num_nodes + 0.5 * (i % 2))) for i, s in enumerate(molecules)])
    out = tmp_path / "csv"
    code = main(["regress", "--smiles-csv", str(path), "--label-col", "logp", "--folds", "2", "--out", str(out), *TINY])
    assert code == 0
    folds = [json.loads((out / "sum__none" / f"fold-{k}.json").read_text()) for k in (1, 2)]
    splits = json.loads((out / "sum__none" / "splits.json").read_text())
    assert [len(f["predictions"]) for f in folds] == [len(s["test"]) for s in splits]
    assert json.loads((out / "results.json").read_text())["protocol"] == "random"
    assert json.loads((out / "run.json").read_text())["backbone"] == "gine"  # molecules read their bond features


def test_a_backbone_that_reads_edge_features_needs_them(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--backbone gine reads edge features"):
        main(["classify", "--dataset", "pooling-easy", "--backbone", "gine", "--out", str(tmp_path / "a"), *TINY])


@needs_rdkit
@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        (
            [*((s, "1.5") for s in MOLECULES), ("CCO", "high"), ("CCN", "n/a")],
            [],
            "2 unusable row(s): row 14: label 'high' in column 'logp' is not a finite number; row 15: label 'n/a'",
        ),
        ([*((s, "1.5") for s in MOLECULES), ("CCO", "nan")], [], "label 'nan' in column 'logp' is not a finite"),
        ([*((s, "1.5") for s in MOLECULES), ("", "1")], [], "Pass --on-error skip to skip them"),  # not on_error='skip'
        ([], [], "no molecules"),
        (
            [(s, str(i)) for i, s in enumerate(["CCO", "CCN", "CCC", "c1ccccc1"] * 3)],
            ["--splits", "scaffold", "--folds", "3"],
            "3 scaffold folds need at least 3 scaffolds; the molecules have 2",
        ),
        ([(s, "1") for s in MOLECULES], ["--splits", "stratified"], "--splits stratified needs classes"),
    ],
)
def test_bad_regression_input_is_one_line(tmp_path: Path, rows: list, extra: list[str], message: str) -> None:
    path = _csv(tmp_path, rows)
    argv = ["regress", "--smiles-csv", str(path), "--label-col", "logp", "--out", str(tmp_path / "o"), *TINY, *extra]
    with pytest.raises(SystemExit) as error:
        main(argv)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_bad_regression_input_from_the_command_line_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    """The same refusal through the installed entry point: one line on stderr, a non-zero exit."""
    path = _csv(tmp_path, [])
    done = _cli("regress", "--smiles-csv", str(path), "--label-col", "logp", "--out", str(tmp_path / "o"), *TINY)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "no molecules" in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_regress_reads_molecules_only(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="regress reads 'solubility' or a --smiles-csv"):
        main(["regress", "--dataset", "MUTAG", "--out", str(tmp_path / "a"), *TINY])

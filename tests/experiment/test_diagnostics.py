"""Seeing a collapse: clusters used per level, the largest cluster's share, folds at the majority-class rate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch

from graphpool.cli import main
from graphpool.cluster import Assignment
from graphpool.data import NUM_ATOM_FEATURES, smiles_to_graph
from graphpool.experiment import format_table, summary_row
from graphpool.experiment.diagnostics import (
    CollapseWarning,
    collapsed,
    level_usage,
    pooling_diagnostics,
    usage_summary,
    warn_collapses,
)
from graphpool.models import GraphClassifier, ModelConfig
from tests.installed import needs_rdkit

MOLECULES = ["CCO", "CCN", "CCC", "CCCl", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "OCCO", "CC#N", "CCS", "C=CC"]


def test_clusters_used_is_the_perplexity_of_each_graphs_mean_assignment() -> None:
    # graph 0: mean assignment (1/2, 1/2) -> 2 clusters used, largest 1/2; graph 1: (1, 0) -> 1 used, largest 1
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    soft = level_usage(Assignment.from_soft(s, torch.tensor([0, 0, 0, 1, 1, 1]), 3))  # graph 2 has no nodes
    # per node exp(H): graph 0 (1, 1, 2) -> 4/3, graph 1 (1, 1, 1) -> 1
    assert soft == {
        "clusters_used": pytest.approx(1.5),
        "largest_share": pytest.approx(0.75),
        "node_clusters": pytest.approx((4 / 3 + 1) / 2),
        "graphs": 2,
    }
    # hard: sizes (2, 1) | (2) | (1, 1, 2): exp(H) = 1.8899, 1, 2.8284; largest 2/3, 1, 1/2
    hard = level_usage(Assignment(torch.tensor([0, 0, 1, 2, 2, 3, 4, 5, 5]), 6, torch.tensor([0, 0, 1, 2, 2, 2])))
    entropy = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    expected = (math.exp(entropy) + 1 + math.exp(-(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5)))) / 3
    assert hard["clusters_used"] == pytest.approx(expected)
    assert hard["largest_share"] == pytest.approx((2 / 3 + 1 + 0.5) / 3)
    assert hard["node_clusters"] == 1.0


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ({"clusters": 4, "clusters_used": 4.0, "largest_share": 0.25}, False),
        ({"clusters": 4, "clusters_used": 2.5, "largest_share": 0.55}, True),  # one cluster above half
        ({"clusters": 4, "clusters_used": 1.8, "largest_share": 0.45}, True),  # fewer than two used
        (
            {"clusters": 2, "clusters_used": 1.9, "largest_share": 0.66},
            False,
        ),  # two clusters: 2 of 3 atoms is no collapse
        ({"clusters": 2, "clusters_used": 1.2, "largest_share": 0.95}, True),
        ({"clusters": 1, "clusters_used": 1.0, "largest_share": 1.0}, False),  # one cluster by design (K = 1)
        ({"clusters": 1.4, "clusters_used": 1.2, "largest_share": 0.9}, False),  # a hard level of ~1 per graph
    ],
)
def test_a_collapse_is_one_cluster_above_half_or_fewer_than_two_used(level: dict, expected: bool) -> None:
    assert collapsed(level) is expected


@needs_rdkit
def test_the_diagnostics_of_a_model_name_every_level_and_its_losses() -> None:
    torch.manual_seed(0)
    graphs = [smiles_to_graph(s, i % 2) for i, s in enumerate(MOLECULES)]
    config = ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, layers=1, hidden=8, pool="mincut", levels=2)
    levels = pooling_diagnostics(GraphClassifier(config), graphs, 5, torch.device("cpu"))
    assert [level["level"] for level in levels] == [1, 2]
    assert {"clusters", "clusters_used", "largest_share", "collapsed", "loss_mincut", "loss_ortho"} <= set(levels[0])
    assert [level["clusters"] for level in levels] == config.level_clusters()
    assert all(1 <= level["clusters_used"] <= level["clusters"] + 1e-9 for level in levels)
    flat = ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, layers=1, hidden=8)
    assert pooling_diagnostics(GraphClassifier(flat), graphs, 5, torch.device("cpu")) == []
    # the mean over batches of one level's usage equals the usage of all graphs in one batch (weighted by graphs)
    model = GraphClassifier(ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, layers=1, hidden=8, pool="given"))
    for g in graphs:
        g.cell_type = torch.arange(g.num_nodes) % 2
    together = level_usage(model(Batch.from_data_list(graphs)).assignments[0])["clusters_used"]
    assert pooling_diagnostics(model, graphs, 5, torch.device("cpu"))[0]["clusters_used"] == pytest.approx(together)


def test_a_collapsed_level_is_warned_about_and_marked_in_the_table() -> None:
    level = {"level": 1, "clusters": 4.0, "clusters_used": 1.3, "largest_share": 0.9, "collapsed": True}
    with pytest.warns(CollapseWarning, match=r"sum / mincut, fold 2: pooling level 1 collapsed: 1.30 of 4 clusters"):
        warn_collapses([level], "sum / mincut, fold 2")
    folds = [
        {"test_accuracy": 0.5, "levels": [level], "at_majority": True},
        {"test_accuracy": 0.8, "levels": [{**level, "clusters_used": 3.7, "collapsed": False}], "at_majority": False},
    ]
    row = summary_row("sum", "mincut", {"accuracy": [0.5, 0.8]}, folds_per_repeat=2, seconds_per_fold=1, folds=folds)
    assert row["levels"] == usage_summary([f["levels"] for f in folds])
    assert row["levels"][0]["collapsed_folds"] == 1 and row["levels"][0]["clusters_used"] == pytest.approx(2.5)
    assert row["folds_at_majority"] == 1
    table = format_table([row])
    assert "clusters used" in table and "2.5/4!" in table and "1/2" in table


@needs_rdkit
def test_every_run_reports_clusters_used_and_folds_at_the_majority_rate(tmp_path: Path, capsys) -> None:
    path = tmp_path / "m.csv"
    path.write_text("smiles,y\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(MOLECULES * 3)))
    out = tmp_path / "run"
    argv = ["classify", "--smiles-csv", str(path), "--label-col", "y", "--folds", "3", "--out", str(out)]
    argv += ["--pool", "none,mincut", "--clusters", "3", "--epochs", "2", "--layers", "1", "--hidden", "8", "--quiet"]
    assert main(argv) == 0
    assert "clusters used" in capsys.readouterr().out
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert rows[0]["levels"] == [] and len(rows[1]["levels"]) == 1
    assert {"folds_at_majority"} <= set(rows[0]) and 0 <= rows[1]["folds_at_majority"] <= 3
    fold = json.loads((out / "sum__mincut" / "fold-1.json").read_text())
    assert {"levels", "majority_rate", "at_majority"} <= set(fold)
    assert fold["at_majority"] == (fold["test_accuracy"] <= fold["majority_rate"])


@needs_rdkit
def test_the_command_line_prints_a_collapse_as_one_warning_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from graphpool.experiment import assessment

    level = {"level": 1, "clusters": 3.0, "clusters_used": 1.1, "largest_share": 0.97, "collapsed": True}
    monkeypatch.setattr(assessment, "pooling_diagnostics", lambda *args: [level])
    path = tmp_path / "m.csv"
    path.write_text("smiles,y\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(MOLECULES * 2)))
    argv = ["classify", "--smiles-csv", str(path), "--label-col", "y", "--folds", "2", "--out", str(tmp_path / "o")]
    assert main([*argv, "--pool", "mincut", "--clusters", "3", "--epochs", "1", "--layers", "1", "--quiet"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "collapsed" in line]
    assert warned == [
        f"warning: sum / mincut, fold {fold}: pooling level 1 collapsed: 1.10 of 3 clusters used, the largest "
        "holds 97 % of its input"
        for fold in (1, 2)
    ]

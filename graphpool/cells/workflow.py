"""The ``graphpool cells`` analysis: cross-validated tissue classification, a structure-blind
baseline, and per-cell explanations, all written to one results folder.

1. One graph per sample (:func:`~graphpool.cells.tissue_graphs`).
2. Outer folds stratified by label and grouped by sample (or by a coarser ``group`` such as the
   donor), repeated with new shuffles; the inner hold-out is grouped the same way.
3. Every readout x pool combination is trained and tested on the same folds
   (:func:`graphpool.evaluation.assess`, resumable), next to logistic regression on each
   sample's cell-type proportions (scikit-learn), which sees no arrangement at all.
4. The best combination (by cross-validated accuracy) is explained out of fold: every sample is
   scored by the model of the first repeat that never saw it (:func:`~graphpool.cells.cell_scores`);
   scores are written per cell, per cell type and per sample, with a tissue map per sample and a
   bar chart of types.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch_geometric.data import Batch, Data

from graphpool.cells.explain import cell_scores
from graphpool.cells.table import CellTable
from graphpool.evaluation import TrainConfig, assess, atomic_json, grouped_folds
from graphpool.models import GraphClassifier, ModelConfig


@dataclass
class Analysis:
    """What to compare and how: readouts x pools on a backbone, and the folds.

    ``pools`` are those of :class:`~graphpool.models.ModelConfig`: ``"none"`` (the readout of
    all cells), ``"celltype"`` (a readout per cell type, side by side), ``"graclus"``, and the
    learnable ``"diffpool"``, ``"mincut"``, ``"dmon"``.
    """

    readouts: Sequence[str] = ("sum", "mean", "max")
    pools: Sequence[str] = ("none", "celltype")
    backbone: str = "gin"
    layers: int = 2
    hidden: int = 32
    dropout: float = 0.0
    folds: int = 5
    repeats: int = 1
    plots: int | None = None  # tissue maps written (None: one per sample)
    clusters: int = 16  # K of the learnable pools (diffpool, mincut, dmon)
    grid: dict[str, Sequence[Any]] | None = None  # hyper-parameters chosen per fold on the inner hold-out


def proportions(graphs: Sequence[Data], num_types: int) -> np.ndarray:
    """``[samples, types]`` share of each cell type in each sample."""
    counts = np.stack([np.bincount(g.cell_type.numpy(), minlength=num_types) for g in graphs]).astype(float)
    return counts / counts.sum(1, keepdims=True).clip(min=1)


def proportion_baseline(
    graphs: Sequence[Data], num_types: int, folds: Sequence[tuple[Sequence[int], Sequence[int]]]
) -> list[float]:
    """Test accuracy per fold of logistic regression on cell-type proportions (standardised).

    Fitted on each fold's whole training part with scikit-learn's defaults (L2, C = 1): nothing
    is tuned, so the baseline needs no inner hold-out.
    """
    features, labels = proportions(graphs, num_types), np.array([int(g.y) for g in graphs])
    accuracies = []
    for train, test in folds:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(features[train], labels[train])
        accuracies.append(float((model.predict(features[test]) == labels[test]).mean()))
    return accuracies


def _summary(name: str, pool: str, accuracies: Sequence[float], folds: int, seconds: float) -> dict[str, Any]:
    repeats = [statistics.fmean(accuracies[r : r + folds]) for r in range(0, len(accuracies), folds)]
    return {
        "readout": name,
        "pool": pool,
        "folds": len(accuracies),
        "mean_accuracy": statistics.fmean(accuracies),
        "std_over_folds": statistics.pstdev(accuracies),
        "std_over_repeats": statistics.pstdev(repeats) if len(repeats) > 1 else 0.0,
        "seconds_per_fold": seconds,
    }


def analyse(
    table: CellTable,
    graphs: list[Data],
    out: Path,
    analysis: Analysis,
    train: TrainConfig,
    device: torch.device,
    group: Sequence[Any] | None = None,
    fold_progress: Callable[[str], Callable[[int], Any]] | None = None,
) -> list[dict[str, Any]]:
    """Run the whole analysis into ``out``; returns the comparison rows (also in ``results.json``)."""
    labels = [int(g.y) for g in graphs]
    groups = list(group) if group is not None else [g.sample for g in graphs]
    folds = grouped_folds(labels, groups, analysis.folds, analysis.repeats, train.seed)
    out.mkdir(parents=True, exist_ok=True)
    table.sample_table.to_csv(out / "samples.csv", index=False)
    rows, models = [], {}
    num_types = len(table.cell_types)
    for readout in analysis.readouts:
        for pool in analysis.pools:
            if pool == "celltype" and not num_types:
                raise ValueError("pool 'celltype' needs a cell-type column in the table")
            config = ModelConfig(
                graphs[0].x.size(1),
                len(table.classes),
                analysis.backbone,
                analysis.hidden,
                analysis.layers,
                analysis.dropout,
                readout=readout,
                pool=pool,
                clusters=num_types if pool == "celltype" else analysis.clusters,
                head_layers=1,  # a linear head: the cell scores add up to the logits (see explain)
            )
            folder = out / f"{readout.replace(',', '+')}__{pool}"
            progress = fold_progress(f"{readout} / {pool}") if fold_progress else None
            results = assess(
                graphs, folds, config, train, folder, device, progress, analysis.grid, groups, keep_models=True
            )
            accuracies = [r["test_accuracy"] for r in results]
            seconds = statistics.fmean(r["seconds"] for r in results)
            rows.append(_summary(readout, pool, accuracies, analysis.folds, seconds))
            models[(readout, pool)] = (config, folder)
    if num_types:
        baseline = proportion_baseline(graphs, num_types, folds)
        rows.append(_summary("proportions (logistic regression)", "-", baseline, analysis.folds, 0.0))
    best = max((r for r in rows if (r["readout"], r["pool"]) in models), key=lambda r: r["mean_accuracy"])
    config, folder = models[(best["readout"], best["pool"])]
    explanation = explain_out_of_fold(table, graphs, folds[: analysis.folds], config, folder, device)
    _write_explanations(table, explanation, out, analysis.plots, f"{best['readout']} / {best['pool']}")
    atomic_json(out / "results.json", {"rows": rows, "explained": [best["readout"], best["pool"]]})
    with open(out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def explain_out_of_fold(
    table: CellTable,
    graphs: Sequence[Data],
    folds: Sequence[tuple[Sequence[int], Sequence[int]]],
    config: ModelConfig,
    folder: Path,
    device: torch.device,
) -> dict[str, Any]:
    """Cell scores of every sample from the fold model that held it out (``folder/model-K.pt``)."""
    model_fields = {f.name for f in fields(ModelConfig)}
    cells, samples, exact = [], [], True
    for number, (_, test) in enumerate(folds, start=1):
        selected = json.loads((folder / f"fold-{number}.json").read_text()).get("selected", {})
        model = GraphClassifier(replace(config, **{k: v for k, v in selected.items() if k in model_fields}))
        model.load_state_dict(torch.load(folder / f"model-{number}.pt", map_location="cpu", weights_only=True))
        model.to(device)
        for index in test:
            data = Batch.from_data_list([graphs[index]]).to(device)
            result = cell_scores(model, data)
            exact &= result.exact
            scores = result.scores.cpu().numpy()
            probability = result.logits.softmax(-1)[0].cpu().numpy()
            label = int(data.y)
            cells.append((graphs[index], scores, scores[:, label] - scores.mean(1)))
            samples.append(
                {
                    "sample": graphs[index].sample,
                    "fold": number,
                    "label": table.classes[label],
                    "predicted": table.classes[int(probability.argmax())],
                    **{f"probability_{c}": float(p) for c, p in zip(table.classes, probability, strict=True)},
                }
            )
    return {"cells": cells, "samples": samples, "exact": exact}


def _write_explanations(table: CellTable, explanation: dict[str, Any], out: Path, plots: int | None, name: str) -> None:
    frame = table.frame
    parts = []
    for graph, scores, evidence in explanation["cells"]:
        rows = graph.row.numpy()
        part = pd.DataFrame({"sample": graph.sample, "row": rows, "x": frame["x"].to_numpy()[rows]})
        part["y"] = frame["y"].to_numpy()[rows]
        if table.cell_types:
            part["cell_type"] = frame["cell_type"].to_numpy()[rows]
        if "cell_id" in frame:
            part["cell_id"] = frame["cell_id"].to_numpy()[rows]
        for k, c in enumerate(table.classes):
            part[f"score_{c}"] = scores[:, k]
        part["evidence"] = evidence  # score of the sample's own label minus the mean score over classes
        parts.append(part)
    per_cell = pd.concat(parts, ignore_index=True)
    per_cell.to_csv(out / "cell_scores.csv", index=False)
    pd.DataFrame(explanation["samples"]).to_csv(out / "sample_predictions.csv", index=False)
    if table.cell_types:
        per_type = per_cell.groupby("cell_type")["evidence"].agg(cells="size", mean_evidence="mean", total="sum")
        per_type["share_of_evidence"] = per_type["total"] / per_type["total"].abs().sum()
        labels = per_cell["sample"].map({s["sample"]: s["label"] for s in explanation["samples"]})
        for c in table.classes:  # the same, among the cells of samples with each label
            per_type[f"mean_evidence_label_{c}"] = per_cell[labels == c].groupby("cell_type")["evidence"].mean()
            per_type[f"mean_score_{c}"] = per_cell.groupby("cell_type")[f"score_{c}"].mean()
        per_type.sort_values("mean_evidence", ascending=False).to_csv(out / "cell_type_importance.csv")
        by_sample = per_cell.groupby(["sample", "cell_type"])["evidence"].agg(cells="size", mean="mean", total="sum")
        by_sample.to_csv(out / "cell_type_by_sample.csv")
        _type_chart(per_type, out / "cell_type_importance.png", name, table.classes)
    maps = out / "maps"
    maps.mkdir(exist_ok=True)
    for graph, _, evidence in explanation["cells"][: plots if plots is not None else None]:
        _tissue_map(graph, evidence, maps / f"{_safe(graph.sample)}.png", name, table.cell_types)
    (out / "explanation.json").write_text(
        json.dumps({"model": name, "exact": explanation["exact"], "samples": len(explanation["samples"])}, indent=1)
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _tissue_map(graph: Data, evidence: np.ndarray, path: Path, name: str, cell_types: Sequence[str]) -> None:
    """Left: cells coloured by evidence (diverging, symmetric); right: cells coloured by type."""
    plt = _pyplot()
    limit = float(np.abs(evidence).max()) or 1.0
    panels = 2 if cell_types else 1
    figure, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 5), squeeze=False)
    pos = graph.pos.numpy()
    size = float(np.clip(20000 / max(len(pos), 1), 1, 30))
    dots = axes[0, 0].scatter(*pos.T, c=evidence, cmap="coolwarm", vmin=-limit, vmax=limit, s=size, linewidths=0)
    figure.colorbar(dots, ax=axes[0, 0], fraction=0.046, label="evidence for the sample's label")
    axes[0, 0].set_title(f"{graph.sample}: cell evidence ({name})", fontsize=9)
    if cell_types:
        colours = plt.get_cmap("tab20")(np.arange(len(cell_types)) % 20)
        for index in np.unique(graph.cell_type.numpy()):
            chosen = graph.cell_type.numpy() == index
            axes[0, 1].scatter(*pos[chosen].T, color=colours[index], s=size, linewidths=0, label=cell_types[index])
        axes[0, 1].legend(fontsize=6, markerscale=3, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        axes[0, 1].set_title("cell types", fontsize=9)
    for axis in axes[0]:
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _type_chart(per_type: pd.DataFrame, path: Path, name: str, classes: Sequence[Any]) -> None:
    """Mean evidence per cell of each type, one bar per sample label."""
    plt = _pyplot()
    ordered = per_type.sort_values("mean_evidence")
    columns = [f"mean_evidence_label_{c}" for c in classes]
    figure, axis = plt.subplots(figsize=(6.5, 0.35 * len(ordered) + 1.4))
    height = 0.8 / len(columns)
    for k, column in enumerate(columns):
        rows = np.arange(len(ordered)) + (k - (len(columns) - 1) / 2) * height
        axis.barh(rows, ordered[column].fillna(0), height=height, label=f"samples labelled {classes[k]}")
    axis.set_yticks(np.arange(len(ordered)), ordered.index.astype(str))
    axis.axvline(0, color="black", linewidth=0.6)
    axis.legend(fontsize=8)
    axis.set_xlabel("mean evidence per cell for the sample's own label")
    axis.set_title(f"cell-type importance ({name}, out of fold)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

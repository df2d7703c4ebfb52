"""The ``graphpool cells`` analysis: cross-validated tissue classification, structure-blind
baselines, and per-cell explanations, all written to one results folder.

1. One graph per sample (:func:`~graphpool.cells.tissue_graphs`).
2. Outer folds stratified by label and grouped by sample (or by a coarser ``group`` such as the
   donor), repeated with new shuffles; the inner hold-out is grouped the same way.
3. Every readout x pool combination is trained and tested on the same folds
   (:func:`graphpool.experiment.run_experiment`, resumable), next to logistic regressions on
   each sample's cell-type proportions and on its size (log cell and edge counts), which see no
   arrangement at all.
4. The best combination (by cross-validated accuracy) is explained out of fold: every sample is
   scored by the model of the first repeat that never saw it (:func:`graphpool.explain.node_scores`);
   scores are written per cell, per cell type and per sample, with a tissue map per sample and a
   bar chart of types.
5. Every combination with a soft cluster pool (e.g. ``mincut`` with K clusters) is read as K
   condition-specific neighbourhoods, out of fold (:func:`~graphpool.cells.conditions.condition_neighbourhoods`):
   composition, abundance per condition with a test and FDR, contribution; in ``<combination>/neighbourhoods/``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Batch, Data

from graphpool.cells.conditions import ConditionNeighbourhoods, condition_neighbourhoods
from graphpool.cells.figures import categorical_map, continuous_map, palette, save
from graphpool.cells.table import CellTable
from graphpool.cluster import SOFT_POOLERS
from graphpool.experiment import (
    Experiment,
    Fold,
    Progress,
    atomic_json,
    grouped_folds,
    pyplot,
    run_experiment,
    safe_name,
    split_settings,
    summary_row,
    write_results,
)
from graphpool.experiment.baselines import BASELINES, baseline_scores, majority_scores, proportion_model, size_baseline
from graphpool.experiment.files import read_json, read_torch_file
from graphpool.experiment.results import MAJORITY
from graphpool.experiment.tasks import Classification
from graphpool.explain import evidence, evidence_by_group, evidence_by_type, node_scores
from graphpool.models import GraphClassifier, ModelConfig
from graphpool.ops.validation import id_outside


def proportions(graphs: Sequence[Data], num_types: int) -> np.ndarray:
    """``[samples, types]`` share of each cell type in each sample (types ``0 .. num_types - 1``).

    >>> import torch
    >>> from torch_geometric.data import Data
    >>> from graphpool.cells import proportions
    >>> graphs = [Data(cell_type=torch.tensor([0, 1, 2, 2])), Data(cell_type=torch.tensor([1, 2, 2]))]
    >>> proportions(graphs, num_types=3).round(3).tolist()
    [[0.25, 0.25, 0.5], [0.0, 0.333, 0.667]]
    """
    for number, graph in enumerate(graphs):
        if graph.get("cell_type") is None:
            raise ValueError(f"sample {number} has no cell types (data.cell_type): proportions count them")
        if (bad := id_outside(graph.cell_type, num_types)) is not None:
            raise ValueError(
                f"sample {number} holds cell type {bad}, but num_types = {num_types} (types 0 to {num_types - 1})"
            )
    counts = np.stack([np.bincount(g.cell_type.numpy(), minlength=num_types) for g in graphs]).astype(float)
    return counts / counts.sum(1, keepdims=True).clip(min=1)


def proportion_baseline(graphs: Sequence[Data], num_types: int, folds: Sequence[Fold]) -> list[float]:
    """Test accuracy per fold of logistic regression on cell-type proportions (standardised).

    Fitted on each fold's whole training part with scikit-learn's defaults (L2, C = 1): nothing
    is tuned, so the baseline needs no inner hold-out.
    """
    labels = [int(g.y) for g in graphs]
    scores, _ = baseline_scores(proportions(graphs, num_types), labels, folds, proportion_model, Classification())
    return scores["accuracy"]


def _groups(graphs: Sequence[Data], group: Sequence[Any] | None) -> list[Any]:
    """The group of each sample: ``group`` (e.g. the donor), else the sample itself."""
    return list(group) if group is not None else [g.sample for g in graphs]


def outer_folds(
    graphs: Sequence[Data], folds: int, repeats: int, seed: int, group: Sequence[Any] | None = None
) -> list[tuple[list[int], list[int]]]:
    """The ``repeats`` x ``folds`` outer folds of :func:`analyse`: stratified by label, grouped by sample (or
    ``group``), seeded. Raises ``ValueError`` when the samples or groups are too few for ``folds``."""
    return grouped_folds([int(g.y) for g in graphs], _groups(graphs, group), folds, repeats, seed)


def analyse(
    table: CellTable,
    graphs: list[Data],
    out: Path,
    experiment: Experiment,
    device: torch.device,
    *,
    folds: int = 5,
    repeats: int = 1,
    plots: int | None = None,
    unit: str = "",
    group: Sequence[Any] | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run the whole analysis into ``out``; returns the comparison rows (also in ``results.json``).

    Args:
        experiment: the readouts, pools, model and training settings to compare; its models
            are kept (``keep_models``) for the explanations.
        folds, repeats: ``repeats`` x ``folds`` outer folds grouped by sample (or ``group``).
        plots: tissue maps to draw (``None``: one per sample); unit: the positions' unit, for their scale bars.
        group: a group per sample (e.g. the donor) that folds never split.
    """
    labels = [int(g.y) for g in graphs]
    groups = _groups(graphs, group)
    outer = outer_folds(graphs, folds, repeats, experiment.train.seed, group)
    out.mkdir(parents=True, exist_ok=True)
    table.sample_table.to_csv(out / "samples.csv", index=False)
    if "celltype" in experiment.pools and not table.cell_types:
        raise ValueError("pool 'celltype' needs a cell-type column in the table")
    experiment = replace(experiment, num_types=len(table.cell_types), keep_models=True)
    rows = run_experiment(graphs, outer, experiment, out, device, repeats=repeats, groups=groups, progress=progress)
    best = max(rows, key=lambda r: r["mean_accuracy"])
    if table.cell_types:
        baseline = proportion_baseline(graphs, len(table.cell_types), outer)
        name = "proportions (logistic regression)"
        rows.append(summary_row(name, "-", {"accuracy": baseline}, folds_per_repeat=folds, seconds_per_fold=0.0))
    # the log cell and edge counts: what a sample's size alone predicts
    sizes = size_baseline(graphs, labels, outer, experiment.train.seed, Classification())[0]["accuracy"]
    rows.append(summary_row(BASELINES["size"], "-", {"accuracy": sizes}, folds_per_repeat=folds, seconds_per_fold=0.0))
    scores = {"accuracy": majority_scores(labels, outer)}  # the floor every model must beat, on the same folds
    majority = summary_row(MAJORITY, "-", scores, folds_per_repeat=folds, seconds_per_fold=0.0)
    config = experiment.model_for(best["readout"], best["pool"])
    folder = experiment.folder(out, best["readout"], best["pool"])
    explanation = explain_out_of_fold(table, graphs, outer[:folds], config, folder, device)
    _write_explanations(table, explanation, out, plots, f"{best['readout']} / {best['pool']}", unit)
    for row in rows:
        if row["pool"] in SOFT_POOLERS and table.cell_types:
            folder = experiment.folder(out, row["readout"], row["pool"])
            models = fold_models(folder, outer[:folds], experiment.model_for(row["readout"], row["pool"]))
            found = condition_neighbourhoods(table, graphs, models, device, group)
            _write_neighbourhoods(found, folder / "neighbourhoods")
    write_results(out, rows, "tissue classification", majority=majority, explained=[best["readout"], best["pool"]])
    return rows


def fold_models(folder: Path, folds: Sequence[Fold], config: ModelConfig) -> list[tuple[GraphClassifier, Any]]:
    """``(model, test indices)`` of every outer fold, from the run's ``folder/model-K.pt`` (on the CPU)."""
    models = []
    for number, (_, test) in enumerate(folds, start=1):
        selected = read_json(folder / f"fold-{number}.json", dict).get("selected", {})
        model = GraphClassifier(replace(config, **split_settings(selected)[0]))
        path = folder / f"model-{number}.pt"
        remedy = f"delete it and fold-{number}.json beside it to have --resume train the fold again"
        try:
            model.load_state_dict(read_torch_file(path, remedy))
        except (RuntimeError, TypeError) as error:  # the weights of another network, or no weights at all
            raise ValueError(f"{path} is not a file graphpool wrote (other weights): {remedy}") from error
        models.append((model, test))
    return models


def _write_neighbourhoods(found: ConditionNeighbourhoods, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    found.statistics.to_csv(folder / "statistics.csv")
    if len(found.posthoc):
        found.posthoc.to_csv(folder / "posthoc.csv", index=False)
    found.abundance.to_csv(folder / "abundance.csv")
    found.composition.to_csv(folder / "composition.csv")
    found.cells.to_csv(folder / "cells.csv", index=False)
    save(found.plot_abundance(), folder / "abundance")


def explain_out_of_fold(
    table: CellTable,
    graphs: Sequence[Data],
    folds: Sequence[Fold],
    config: ModelConfig,
    folder: Path,
    device: torch.device,
) -> dict[str, Any]:
    """Cell scores of every sample from the fold model that held it out (``folder/model-K.pt``)."""
    cells, samples, exact = [], [], True
    for number, (model, test) in enumerate(fold_models(folder, folds, config), start=1):
        model.to(device)
        for index in test:
            data = Batch.from_data_list([graphs[index]]).to(device)
            result = node_scores(model, data)
            exact &= result.exact
            scores = result.scores.cpu().numpy()
            probability = result.logits.softmax(-1)[0].cpu().numpy()
            label = int(data.y)
            cells.append((graphs[index], scores, evidence(result.scores, label).cpu().numpy()))
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


def _write_explanations(
    table: CellTable, explanation: dict[str, Any], out: Path, plots: int | None, name: str, unit: str = ""
) -> None:
    frame = table.frame
    parts = []
    for graph, scores, cell_evidence in explanation["cells"]:
        rows = graph.row.numpy()
        part = pd.DataFrame({"sample": graph.sample, "row": rows, "x": frame["x"].to_numpy()[rows]})
        part["y"] = frame["y"].to_numpy()[rows]
        if table.cell_types:
            part["cell_type"] = frame["cell_type"].to_numpy()[rows]
        if "cell_id" in frame:
            part["cell_id"] = frame["cell_id"].to_numpy()[rows]
        for k, c in enumerate(table.classes):
            part[f"score_{c}"] = scores[:, k]
        part["evidence"] = cell_evidence  # score of the sample's own label minus the mean score over classes
        part["evidence_share"] = share_of_sample(cell_evidence)
        parts.append(part)
    per_cell = pd.concat(parts, ignore_index=True)
    per_cell.to_csv(out / "cell_scores.csv", index=False)
    pd.DataFrame(explanation["samples"]).to_csv(out / "sample_predictions.csv", index=False)
    if table.cell_types:
        nodes = per_cell.rename(columns={"cell_type": "type"})
        label_of = per_cell["sample"].map({s["sample"]: s["label"] for s in explanation["samples"]})
        per_type = evidence_by_type(nodes, table.classes, label_of).rename(columns={"nodes": "cells"})
        per_type.rename_axis("cell_type").to_csv(out / "cell_type_importance.csv")
        by_sample = evidence_by_group(nodes, "sample").rename(columns={"nodes": "cells"})
        by_sample["share"] = nodes.groupby(["sample", "type"])["evidence_share"].sum()
        by_sample.rename_axis(["sample", "cell_type"]).to_csv(out / "cell_type_by_sample.csv")
        labels = {s["sample"]: s["label"] for s in explanation["samples"]}
        shares = by_sample["share"]
        samples = table.sample_table.set_index("sample")
        if "group" in samples:  # one point per donor: the mean over its samples
            group_of = samples["group"].to_dict()
            shares = shares.groupby([shares.index.get_level_values(0).map(group_of), "type"]).mean()
            labels = {group_of[sample]: label for sample, label in labels.items()}
        per = "donor" if "group" in samples else "sample"
        save(_type_chart(shares, labels, name, table.classes, per), out / "cell_type_importance")
    maps = out / "maps"
    maps.mkdir(exist_ok=True)
    for graph, _, cell_evidence in explanation["cells"][: plots if plots is not None else None]:
        figure = _tissue_map(graph, cell_evidence, name, table.cell_types, unit)
        save(figure, maps / safe_name(graph.sample), ("png",))
    summary = {"model": name, "exact": explanation["exact"], "samples": len(explanation["samples"])}
    atomic_json(out / "explanation.json", summary)


def share_of_sample(evidence: np.ndarray) -> np.ndarray:
    r"""``[n]`` each cell's share of its sample's evidence, :math:`e_i / \sum_j |e_j|` (signed; the absolute
    shares sum to 1, so samples and models compare); 0 everywhere for a sample without evidence. In float64,
    whatever the evidence's dtype: float32 shares sum to 1 only within ~1e-7 once written and read back."""
    evidence = np.asarray(evidence, dtype=np.float64)
    return evidence / (np.abs(evidence).sum() or 1.0)


def _tissue_map(graph: Data, evidence: np.ndarray, name: str, cell_types: Sequence[str], unit: str) -> Any:
    """Left: cells coloured by their share of the sample's evidence (diverging, symmetric); right: by type."""
    plt = pyplot()
    panels = 2 if cell_types else 1
    figure, axes = plt.subplots(1, panels, figsize=(5.6 * panels, 4.6), squeeze=False)
    pos = graph.pos.numpy()
    share = 100 * share_of_sample(evidence)
    label = "% of the sample's evidence (+: for its label)"
    continuous_map(axes[0, 0], pos, share, title=f"{graph.sample}: cell evidence ({name})", label=label, unit=unit)
    if cell_types:
        codes = graph.cell_type.numpy()
        present = np.unique(codes)
        colours = palette(len(cell_types))
        categorical_map(
            axes[0, 1], pos, np.searchsorted(present, codes), [cell_types[i] for i in present],
            [colours[i] for i in present], title="cell types", legend_title="cell type", unit=unit,
        )  # fmt: skip
    figure.tight_layout()
    return figure


def _type_chart(shares: pd.Series, labels: dict[Any, Any], name: str, classes: Sequence[Any], per: str) -> Any:
    """Per cell type: its share of each sample's evidence, one point per ``per`` (sample, or donor: the mean of
    its samples) coloured by its label, the mean per label as a bar (``shares``: indexed by ``per`` and type)."""
    plt = pyplot()
    table = shares.unstack(fill_value=0.0)  # samples x types
    order = table.mean().sort_values().index
    colours = palette(len(classes))
    figure, axis = plt.subplots(figsize=(7.5, 0.38 * len(order) + 1.4))
    height = 0.8 / len(classes)
    jitter = np.random.default_rng(0)
    sample_labels = table.index.map(labels)
    for c, label in enumerate(classes):
        mine = table[sample_labels == label]
        rows = np.arange(len(order)) + (c - (len(classes) - 1) / 2) * height
        axis.barh(rows, 100 * mine[order].mean().fillna(0), height=height, color=colours[c], alpha=0.35,
                  label=f"samples labelled {label}")  # fmt: skip
        for row, cell_type in zip(rows, order, strict=True):
            values = 100 * mine[cell_type].to_numpy()
            axis.scatter(values, row + jitter.uniform(-height / 3, height / 3, values.size), s=6, color=colours[c],
                         linewidths=0)  # fmt: skip
    axis.set_yticks(np.arange(len(order)), [str(t) for t in order], fontsize=7)
    axis.axvline(0, color="black", linewidth=0.6)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)  # beside the points, not on them
    axis.set_xlabel(f"share of the sample's evidence for its own label (%; one point per {per})", fontsize=8)
    axis.set_title(f"cell-type importance ({name}, out of fold)", fontsize=9)
    figure.tight_layout()
    return figure


#: the ``key_added`` prefix under which ``graphpool cells`` writes its results into a copy of an AnnData input
CELLS_KEY = "graphpool"


def check_annotatable(adata: Any, models: Sequence[str], key: str = CELLS_KEY) -> None:
    """A ``ValueError`` naming every key :func:`annotate` would write that ``adata`` already holds (``models``: the
    ``READOUT__POOL`` names of the combinations with condition-specific neighbourhoods); checked by ``graphpool
    cells`` before the analysis, so a refused AnnData costs no training."""
    from graphpool.cells.neighbourhood.annotate import check_key

    for name in (key, *(f"{key}_{model}" for model in models)):
        check_key(adata, name, overwrite=False)
    taken = [
        f"{where}[{name!r}]"
        for where, names, wanted in (
            ("obs", adata.obs.columns, [f"{key}_evidence", f"{key}_evidence_share", f"{key}_fold"]),
            ("obsm", adata.obsm.keys(), [f"{key}_scores"]),
        )
        for name in wanted
        if name in names
    ]
    if taken:
        raise ValueError(f"the AnnData already holds {', '.join(taken)}: graphpool cells does not overwrite it")


def annotate(adata: Any, out: Path, key: str = CELLS_KEY) -> Any:
    """Write the results of an :func:`analyse` run in ``out`` into ``adata`` (one row per table row, in order;
    the AnnData the table was read from), scanpy-style; returns ``adata``.

    - ``obs[f"{key}_evidence"]``, ``obs[f"{key}_evidence_share"]`` and ``obs[f"{key}_fold"]``: each cell's
      out-of-fold evidence for its sample's label (logits, and share of the sample's evidence) and the outer
      fold that tested it; ``obsm[f"{key}_scores"]``: ``[cells, classes]`` its per-class scores;
    - per model with condition-specific neighbourhoods (``<model>/neighbourhoods``), ``obs[f"{key}_<model>"]``:
      the out-of-fold neighbourhood (categorical; cells no fold tested are missing), its colours in
      ``uns[f"{key}_<model>_colors"]`` and ``uns[f"{key}_<model>"]``: ``statistics``, ``abundance``,
      ``composition``, ``posthoc``;
    - ``uns[key]``: ``model`` (the explained one), ``classes``, ``predictions`` (per sample).

    Raises:
        ValueError: ``adata`` already holds one of these keys (the message names them); nothing is written.
    """
    from graphpool.cells.neighbourhood.annotate import h5ad_frame

    folders = sorted(out.glob("*/neighbourhoods"))
    check_annotatable(adata, [folder.parent.name for folder in folders], key)
    scores = pd.read_csv(out / "cell_scores.csv")
    predictions = pd.read_csv(out / "sample_predictions.csv")
    classes = [c.removeprefix("probability_") for c in predictions.columns if c.startswith("probability_")]
    rows = scores["row"].to_numpy()
    fold_of = dict(zip(predictions["sample"].astype(str), predictions["fold"], strict=True))
    for name, values in (("evidence", scores["evidence"]), ("evidence_share", scores["evidence_share"])):
        column = np.full(adata.n_obs, np.nan)
        column[rows] = values.to_numpy()
        adata.obs[f"{key}_{name}"] = column
    folds = np.zeros(adata.n_obs, dtype=np.int64)
    folds[rows] = scores["sample"].astype(str).map(fold_of).to_numpy()
    adata.obs[f"{key}_fold"] = folds
    adata.obsm[f"{key}_scores"] = np.full((adata.n_obs, len(classes)), np.nan)
    adata.obsm[f"{key}_scores"][rows] = scores[[f"score_{c}" for c in classes]].to_numpy()
    explained = json.loads((out / "explanation.json").read_text())
    adata.uns[key] = {"model": explained["model"], "classes": classes, "predictions": h5ad_frame(predictions)}
    for folder in folders:
        name = f"{key}_{folder.parent.name}"
        cells = pd.read_csv(folder / "cells.csv")
        statistics = pd.read_csv(folder / "statistics.csv", index_col=0)
        codes = np.full(adata.n_obs, -1)
        codes[cells["row"].to_numpy()] = cells["neighbourhood"].to_numpy()
        adata.obs[name] = pd.Categorical.from_codes(codes, categories=[str(k) for k in statistics.index])
        adata.uns[f"{name}_colors"] = palette(len(statistics))
        tables = {"statistics": statistics, "abundance": pd.read_csv(folder / "abundance.csv", index_col=0)}
        tables["composition"] = pd.read_csv(folder / "composition.csv", index_col=0)
        if (folder / "posthoc.csv").is_file():
            tables["posthoc"] = pd.read_csv(folder / "posthoc.csv")
        adata.uns[name] = {table: h5ad_frame(frame) for table, frame in tables.items()}
    return adata

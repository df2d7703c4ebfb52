r"""Condition-specific neighbourhoods: the first pooling level of a tissue classifier, read out of fold.

A :class:`~graphpool.models.GraphClassifier` whose first level is a soft cluster pool (``--pool mincut
--clusters K --levels 1``; the assignment weights are shared by all samples) assigns every cell to one of
K neighbourhoods while it learns the samples' labels. :func:`condition_neighbourhoods` reads them where
they are honest: every sample is assigned by the fold model that never saw it. Fold models number their
clusters arbitrarily, so each fold's clusters are matched to the first fold's by their cell-type
composition (Hungarian matching on the L1 distance of the composition profiles, computed over all cells).

Per neighbourhood it reports the composition, the abundance (share of a sample's cells) per condition,
a test of abundance across samples, or across groups such as donors when samples share one (two
conditions: Mann-Whitney U, two-sided, with the difference of means as the effect; more: Kruskal-Wallis,
effect = largest minus smallest class mean), Benjamini-Hochberg
q-values over the K tests, and its contribution to the prediction: the mean evidence of its cells
(:func:`graphpool.explain.evidence` of the node scores, a CAM through the pooling level lifted to the cells).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import false_discovery_control, kruskal, mannwhitneyu
from torch_geometric.data import Batch, Data

from graphpool.cells.neighbourhood import sample_abundance, type_composition
from graphpool.cells.table import CellTable
from graphpool.explain import evidence, node_scores
from graphpool.models import GraphClassifier


@dataclass(frozen=True)
class ConditionNeighbourhoods:
    """Out-of-fold neighbourhoods of a classifier's first pooling level.

    Attributes:
        cells: one row per cell: ``sample``, ``row`` (of the table), ``fold``, ``neighbourhood``, ``evidence``.
        abundance: ``[samples, K]`` the share of each sample's cells in each neighbourhood, with ``label``.
        statistics: one row per neighbourhood: ``cells``, ``top_types``, ``abundance_<class>`` (mean over
            the samples of the class), ``effect`` (two classes: the second's mean abundance minus the
            first's), ``p``, ``q`` (BH), ``mean_evidence``.
        composition: ``[K, types]`` the share of each cell type among the neighbourhood's cells.
    """

    cells: pd.DataFrame
    abundance: pd.DataFrame
    statistics: pd.DataFrame
    composition: pd.DataFrame


def _assign(model: GraphClassifier, graphs: Sequence[Data], device: torch.device) -> list[np.ndarray]:
    """Each graph's cells' cluster (0 .. K-1) under ``model``'s first pooling level."""
    model.eval()
    with torch.no_grad():
        return [model(Batch.from_data_list([g]).to(device)).assignments[0].s.argmax(1).cpu().numpy() for g in graphs]


def condition_neighbourhoods(
    table: CellTable,
    graphs: Sequence[Data],
    models: Sequence[tuple[GraphClassifier, Sequence[int]]],
    device: torch.device,
    groups: Sequence[Any] | None = None,
) -> ConditionNeighbourhoods:
    """The neighbourhoods of ``models`` (each a fold model and its test samples), out of fold and aligned.

    Args:
        graphs: one graph per sample with ``cell_type``, ``row``, ``sample`` and ``y``.
        models: ``(model, test indices)`` per outer fold of one repeat (every sample tested once); each
            model's first pooling level has K clusters per graph.
        groups: a group per sample (e.g. the donor). Samples of one group are not independent, so the
            tests compare the groups' mean abundances (one value per group), not the samples'.

    Raises:
        ValueError: a model without a soft pooling level, or a table without cell types (needed to align folds).
    """
    if not table.cell_types:
        raise ValueError("condition-specific neighbourhoods need cell types (their compositions align the folds)")
    first = models[0][0]
    if not len(first.levels) or not getattr(first.levels[0].select, "soft", False):
        raise ValueError(f"the model's first level must be a soft cluster pool, got pool {first.config.pool!r}")
    k = first.config.level_clusters()[0]
    reference = None
    parts = []
    for fold, (model, test) in enumerate(models, start=1):
        model.to(device)
        clusters = _assign(model, graphs, device)
        everywhere = np.empty(len(table.frame), dtype=np.int64)  # this model's cluster of every cell
        for graph, cluster in zip(graphs, clusters, strict=True):
            everywhere[graph.row.numpy()] = cluster
        profile = type_composition(table, everywhere, k).fillna(0.0).to_numpy()
        if reference is None:
            reference, mapping = profile, np.arange(k)
        else:
            cost = np.abs(profile[:, None, :] - reference[None, :, :]).sum(-1)
            mine, theirs = linear_sum_assignment(cost)
            mapping = np.empty(k, dtype=np.int64)
            mapping[mine] = theirs
        for index in test:
            graph = graphs[index]
            scores = node_scores(model, Batch.from_data_list([graph]).to(device)).scores
            part = pd.DataFrame({"sample": graph.sample, "row": graph.row.numpy(), "fold": fold})
            part["neighbourhood"] = mapping[clusters[index]]
            part["evidence"] = evidence(scores, int(graph.y)).cpu().numpy()
            parts.append(part)
    cells = pd.concat(parts, ignore_index=True)
    label_of = {g.sample: table.classes[int(g.y)] for g in graphs}
    out_of_fold = np.full(len(table.frame), -1, dtype=np.int64)  # -1: a cell no fold tested
    out_of_fold[cells["row"].to_numpy()] = cells["neighbourhood"].to_numpy()
    abundance = sample_abundance(table, out_of_fold, k)
    composition = type_composition(table, out_of_fold, k)
    tested, tested_labels = abundance, label_of
    if groups is not None:  # one value per group: its samples' mean abundance
        group_of = {g.sample: group for g, group in zip(graphs, groups, strict=True)}
        tested = abundance.groupby(abundance.index.map(group_of)).mean()
        tested_labels = {group_of[s]: label_of[s] for s in abundance.index}
    statistics = _statistics(cells, tested, composition, tested_labels, table.classes)
    abundance.insert(0, "label", abundance.index.map(label_of))
    return ConditionNeighbourhoods(cells, abundance, statistics, composition)


def _statistics(
    cells: pd.DataFrame,
    abundance: pd.DataFrame,
    composition: pd.DataFrame,
    label_of: dict[str, Any],
    classes: Sequence[Any],
) -> pd.DataFrame:
    labels = abundance.index.map(label_of)
    rows = []
    for k in abundance.columns:
        groups = [abundance.loc[labels == c, k].to_numpy() for c in classes]
        means = [float(g.mean()) if g.size else np.nan for g in groups]
        testable = all(g.size for g in groups) and np.ptp(np.concatenate(groups)) > 0
        if not testable:
            p = np.nan
        elif len(classes) == 2:
            p = float(mannwhitneyu(groups[1], groups[0], alternative="two-sided").pvalue)
        else:
            p = float(kruskal(*groups).pvalue)
        mine = cells["neighbourhood"] == k
        top = composition.loc[k].dropna().sort_values(ascending=False).head(3)
        rows.append(
            {
                "neighbourhood": k,
                "cells": int(mine.sum()),
                "top_types": ", ".join(f"{t} {v:.0%}" for t, v in top.items() if v > 0),
                **{f"abundance_{c}": m for c, m in zip(classes, means, strict=True)},
                "effect": means[1] - means[0] if len(classes) == 2 else np.nanmax(means) - np.nanmin(means),
                "p": p,
                "mean_evidence": float(cells.loc[mine, "evidence"].mean()) if mine.any() else np.nan,
            }
        )
    statistics = pd.DataFrame(rows).set_index("neighbourhood")
    tested = statistics["p"].notna()
    statistics["q"] = np.nan
    if tested.any():
        statistics.loc[tested, "q"] = false_discovery_control(statistics.loc[tested, "p"].to_numpy(), method="bh")
    return statistics[[c for c in statistics.columns if c != "mean_evidence"] + ["mean_evidence"]]

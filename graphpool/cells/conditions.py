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
effect = largest minus smallest class mean, the classes named, and pairwise Mann-Whitney U post-hoc tests
with their direction), Benjamini-Hochberg q-values, and its contribution to the prediction: the share of a
sample's evidence its cells carry (:func:`evidence_share` of :func:`graphpool.explain.evidence`, a CAM
through the pooling level lifted to the cells). :meth:`ConditionNeighbourhoods.plot_abundance` draws the
abundance per class, one point per tested unit (donor or sample), with each test's q.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from graphpool.models import GraphClassifier, eval_mode


@dataclass(frozen=True)
class ConditionNeighbourhoods:
    """Out-of-fold neighbourhoods of a classifier's first pooling level.

    Attributes:
        cells: one row per cell: ``sample``, ``row`` (of the table), ``fold``, ``neighbourhood``, ``evidence``.
        abundance: ``[samples, K]`` the share of each sample's cells in each neighbourhood, with ``label``.
        statistics: one row per neighbourhood: ``cells``, ``top_types``, ``abundance_<class>`` (mean over
            the samples, or groups, of the class), ``higher_in`` and ``lower_in`` (the classes of the largest
            and smallest mean), ``effect`` (two classes: the second's mean abundance minus the first's; more:
            largest minus smallest), ``p``, ``q`` (Benjamini-Hochberg over the neighbourhoods tested: those with
            cells), ``evidence_share`` (:func:`evidence_share`: the share of a sample's evidence its cells carry,
            signed) and ``mean_evidence`` (per cell, in logits).
        composition: ``[K, types]`` the share of each cell type among the neighbourhood's cells.
        posthoc: for 3+ classes, one row per neighbourhood and pair of classes: ``class_a``, ``class_b``,
            ``mean_a``, ``mean_b``, ``difference`` (b - a), ``p`` (two-sided Mann-Whitney U), ``q`` (BH over
            every pair of every neighbourhood); empty for two classes (the main test is that pair).
    """

    cells: pd.DataFrame
    abundance: pd.DataFrame
    statistics: pd.DataFrame
    composition: pd.DataFrame
    posthoc: pd.DataFrame
    classes: list[Any] = field(default_factory=list)

    def plot_abundance(self) -> Any:
        """A figure: per neighbourhood, its abundance per class, one point per tested unit (the group, e.g.
        the donor, when samples share one, else the sample), the class means as bars, the test's q (and for
        3+ classes the pairs with q < 0.05) in each panel's title."""
        from graphpool.cells.figures import palette
        from graphpool.experiment import pyplot

        frame = self.abundance
        units = (
            frame.groupby("group").agg({"label": "first", **{k: "mean" for k in self.statistics.index}})
            if ("group" in frame)
            else frame
        )
        k = len(self.statistics)
        columns = min(k, 4)
        rows = -(-k // columns)
        plt = pyplot()
        figure, axes = plt.subplots(rows, columns, figsize=(2.3 * columns + 0.4, 2.4 * rows), squeeze=False)
        colours = palette(len(self.classes))
        jitter = np.random.default_rng(0)
        for index, (neighbourhood, row) in enumerate(self.statistics.iterrows()):
            axis = axes.flat[index]
            for c, name in enumerate(self.classes):
                values = units.loc[units["label"] == name, neighbourhood].to_numpy(dtype=np.float64)
                axis.bar(c, values.mean() if values.size else 0.0, color=colours[c], alpha=0.3, width=0.7)
                axis.scatter(c + jitter.uniform(-0.18, 0.18, values.size), values, s=12, color=colours[c],
                             edgecolors="black", linewidths=0.3, zorder=3)  # fmt: skip
            note = "q = n/a" if np.isnan(row["q"]) else f"q = {row['q']:.2g}"
            pairs = self.posthoc[(self.posthoc["neighbourhood"] == neighbourhood) & (self.posthoc["q"] < 0.05)]
            note += "".join(f"\n{a} vs {b}: q = {q:.2g}" for a, b, q in pairs[["class_a", "class_b", "q"]].to_numpy())
            top = ", ".join(part.rsplit(" ", 1)[0] for part in str(row["top_types"]).split(", ")[:2] if part)
            axis.set_title(f"{neighbourhood}: {top}\n{note}", fontsize=7)
            axis.set_xticks(
                range(len(self.classes)), [str(c) for c in self.classes], rotation=30, ha="right", fontsize=7
            )
            axis.tick_params(axis="y", labelsize=7)
            axis.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
            if index % columns == 0:
                axis.set_ylabel("share of the cells" + (" (donor mean)" if "group" in frame else ""), fontsize=7)
        for axis in list(axes.flat)[k:]:
            axis.set_visible(False)
        figure.tight_layout()
        return figure


def _assign(model: GraphClassifier, graphs: Sequence[Data], device: torch.device) -> list[np.ndarray]:
    """Each graph's cells' cluster (0 .. K-1) under ``model``'s first pooling level."""
    with eval_mode(model), torch.no_grad():
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
    statistics, posthoc = _statistics(cells, tested, composition, tested_labels, table.classes)
    abundance.insert(0, "label", abundance.index.map(label_of))
    if groups is not None:
        abundance.insert(1, "group", abundance.index.map(group_of))
    return ConditionNeighbourhoods(cells, abundance, statistics, composition, posthoc, list(table.classes))


def _statistics(
    cells: pd.DataFrame,
    abundance: pd.DataFrame,
    composition: pd.DataFrame,
    label_of: dict[str, Any],
    classes: Sequence[Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-neighbourhood tests (see :class:`ConditionNeighbourhoods`) and, for 3+ classes, the pairwise ones."""
    labels = abundance.index.map(label_of)
    share = evidence_share(cells)
    rows, pairs = [], []
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
        known = [i for i, m in enumerate(means) if not np.isnan(m)]
        high, low = (max(known, key=means.__getitem__), min(known, key=means.__getitem__)) if known else (0, 0)
        directed = bool(known) and means[high] > means[low]  # equal means: no direction
        rows.append(
            {
                "neighbourhood": k,
                "cells": int(mine.sum()),
                "top_types": ", ".join(f"{t} {v:.0%}" for t, v in top.items() if v > 0),
                **{f"abundance_{c}": m for c, m in zip(classes, means, strict=True)},
                "higher_in": classes[high] if directed else None,
                "lower_in": classes[low] if directed else None,
                "effect": means[1] - means[0] if len(classes) == 2 else means[high] - means[low],
                "p": p,
                "evidence_share": float(share.get(k, np.nan)),
                "mean_evidence": float(cells.loc[mine, "evidence"].mean()) if mine.any() else np.nan,
            }
        )
        if len(classes) > 2:
            pairs += _pairwise(k, groups, means, classes)
    statistics = pd.DataFrame(rows).set_index("neighbourhood")
    statistics.insert(statistics.columns.get_loc("p") + 1, "q", _bh(statistics["p"]))
    posthoc = pd.DataFrame(
        pairs, columns=["neighbourhood", "class_a", "class_b", "mean_a", "mean_b", "difference", "p"]
    )
    posthoc["q"] = _bh(posthoc["p"])
    return statistics, posthoc


def _pairwise(k: Any, groups: list[np.ndarray], means: list[float], classes: Sequence[Any]) -> list[dict[str, Any]]:
    """Two-sided Mann-Whitney U of every pair of classes in neighbourhood ``k``; ``difference`` = b - a."""
    rows = []
    for a, b in itertools.combinations(range(len(classes)), 2):
        testable = groups[a].size and groups[b].size and np.ptp(np.concatenate([groups[a], groups[b]])) > 0
        p = float(mannwhitneyu(groups[b], groups[a], alternative="two-sided").pvalue) if testable else np.nan
        rows.append(
            {
                "neighbourhood": k,
                "class_a": classes[a],
                "class_b": classes[b],
                "mean_a": means[a],
                "mean_b": means[b],
                "difference": means[b] - means[a],
                "p": p,
            }
        )
    return rows


def _bh(p: pd.Series) -> pd.Series:
    """Benjamini-Hochberg q-values of the tested (non-missing) ``p``; missing stays missing."""
    q = pd.Series(np.nan, index=p.index)
    tested = p.notna()
    if tested.any():
        q[tested] = false_discovery_control(p[tested].to_numpy(dtype=np.float64), method="bh")
    return q


def evidence_share(cells: pd.DataFrame, by: str = "neighbourhood") -> pd.Series:
    r"""Per value of ``by``: the mean over samples of its cells' share of the sample's evidence,
    :math:`\frac{1}{|S|}\sum_s \sum_{i \in s, i \in k} e_i / \sum_{j \in s} |e_j|` (``cells``: one row per cell
    with ``sample``, ``evidence`` and ``by``). In [-1, 1]: +0.4 means its cells carry 40 % of a typical sample's
    evidence, for the sample's label; negative, against it. A sample's shares sum to its net evidence over
    its total (the logit scale cancels, so folds and models compare)."""
    total = cells.groupby("sample")["evidence"].transform(lambda e: e.abs().sum())
    shares = cells.assign(share=cells["evidence"] / total.replace(0, np.nan))
    per_sample = shares.groupby(["sample", by])["share"].sum().unstack(fill_value=0.0)
    return per_sample.mean()

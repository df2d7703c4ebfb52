r"""Seeing a collapse: how many clusters each pooling level really uses, and folds that end at the majority rate.

For one graph and one level, let :math:`p_c` be cluster :math:`c`'s share of the level's input mass (hard: the
share of nodes it holds; soft: :math:`\frac{1}{n}\sum_i s_{ic}`, the mean assignment). The level uses

.. math::
    \mathrm{used} = \exp\Big(-\sum_c p_c \log p_c\Big) \in [1, K]

clusters (the perplexity of the mean assignment: K for K equal clusters, 1 when one cluster takes everything),
and its largest cluster holds :math:`\max_c p_c`. Both are averaged over the graphs that have nodes. A uniform
mean assignment can come from K sharp clusters of equal size or from every node spread evenly over all K, so
the clusters each node is spread over are reported too, ``node_clusters`` :math:`= \mathrm{mean}_i
\exp(-\sum_k s_{ik} \log s_{ik})` (1 for hard assignments; K for a pool that has not learned to choose). A level
of K >= 3 clusters *collapses* when one cluster holds more than half the mass or fewer than two clusters are
used; a level of two clusters (a pair matching of a three-atom molecule holds 2 of 3 atoms in one cluster by
necessity) when fewer than 1.5 are used, one cluster nearly empty.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch_geometric.loader import DataLoader

from graphpool.cluster import Assignment
from graphpool.cluster.select import local_index
from graphpool.models import GraphClassifier, eval_mode
from graphpool.ops import segment_sum, segments_from

#: a level of K >= 3 clusters collapses when its largest cluster holds more than this share, or when fewer than
#: COLLAPSE_USED clusters are used; a level of fewer clusters when fewer than COLLAPSE_USED_OF_TWO are used
COLLAPSE_SHARE = 0.5
COLLAPSE_USED = 2.0
COLLAPSE_USED_OF_TWO = 1.5


class CollapseWarning(UserWarning):
    """A pooling level of a trained model puts most of its input into one cluster."""


def cluster_shares(assignment: Assignment) -> tuple[Tensor, Tensor]:
    """``(shares [G, K_max], present [G])``: each graph's clusters' shares of the level's input mass (rows sum to
    1, zero-padded for graphs with fewer clusters), and whether the graph has any input at all."""
    sizes = assignment.sizes().double()  # [C] each cluster's mass: its nodes, or the sum of its assignment weights
    graphs = int(assignment.cluster_batch.max()) + 1 if assignment.num_clusters else 0
    rank = local_index(assignment.cluster_batch, graphs)  # each cluster's place among its graph's clusters
    width = int(rank.max()) + 1 if rank.numel() else 1
    mass = sizes.new_zeros(graphs, width).index_put_((assignment.cluster_batch, rank), sizes)
    total = mass.sum(1, keepdim=True)
    present = total.squeeze(1) > 0
    return mass / torch.where(total > 0, total, torch.ones_like(total)), present


def level_usage(assignment: Assignment) -> dict[str, float]:
    """``clusters_used`` (the mean over graphs of :math:`\\exp H(p)`), ``largest_share`` (of :math:`\\max_c p_c`)
    ``node_clusters`` (the mean over graphs of each graph's mean per-node exp-entropy) and ``graphs`` (those with
    any input) of one level's assignment."""
    shares, present = cluster_shares(assignment)
    node_clusters = _node_clusters(assignment)
    logs = torch.where(shares > 0, shares.log(), torch.zeros_like(shares))
    used = torch.exp(-(shares * logs).sum(1))[present]
    largest = shares.max(1).values[present] if shares.numel() else shares.new_zeros(0)
    count = int(present.sum())
    return {
        "clusters_used": float(used.sum()) / count if count else math.nan,
        "largest_share": float(largest.sum()) / count if count else math.nan,
        "node_clusters": float(node_clusters[present].sum()) / count if count else math.nan,
        "graphs": count,
    }


def _node_clusters(assignment: Assignment) -> Tensor:
    """``[G]`` each graph's mean over its nodes of the exponential of the entropy of ``s_i`` (ones when hard)."""
    if assignment.s is None:
        graphs = int(assignment.cluster_batch.max()) + 1 if assignment.num_clusters else 0
        return torch.ones(graphs, dtype=torch.float64)
    s = assignment.s.double()
    per_node = torch.exp(-(s * torch.where(s > 0, s.log(), torch.zeros_like(s))).sum(1))
    batch = assignment.batch
    seg = segments_from(batch.numel(), batch, dim_size=assignment.num_clusters // s.size(1))
    total = segment_sum(per_node.unsqueeze(1), seg).squeeze(1)
    return total / seg.counts.clamp(min=1).to(total.dtype)


@torch.no_grad()
def pooling_diagnostics(
    network: GraphClassifier, graphs: Sequence[Any], batch_size: int, device: torch.device
) -> list[dict[str, Any]]:
    """Per pooling level of ``network`` on ``graphs``: ``clusters`` (K of a learned level; the mean clusters per
    graph of a hard one), ``clusters_used``, ``largest_share``, ``collapsed`` and the mean of each of the level's
    auxiliary losses (weighted, as trained; by name, over the batches). Empty for a model without levels.
    Computed in eval mode; ``network`` is left in the mode it was in."""
    levels = len(network.levels)
    if not levels or not graphs:
        return []
    sums: list[dict[str, float]] = [{} for _ in range(levels)]
    counts = [0] * levels
    batches = 0
    with eval_mode(network):
        for data in DataLoader(list(graphs), batch_size=batch_size):
            out = network(data.to(device))
            batches += 1
            for depth, assignment in enumerate(out.assignments):
                usage = level_usage(assignment)
                n = int(usage.pop("graphs"))
                k = assignment.s.size(1) if assignment.s is not None else assignment.num_clusters / max(n, 1)
                for name, value in (*usage.items(), ("clusters", k)):
                    sums[depth][name] = sums[depth].get(name, 0.0) + (value * n if not math.isnan(value) else 0.0)
                counts[depth] += n
            for name, value in out.aux_loss.items():  # "level{i}.{term}"
                level, _, term = name.partition(".")
                depth = int(level.removeprefix("level"))
                sums[depth][f"loss_{term}"] = sums[depth].get(f"loss_{term}", 0.0) + float(value)
    result = []
    for depth in range(levels):
        row: dict[str, Any] = {"level": depth + 1}
        for name, total in sums[depth].items():
            row[name] = total / batches if name.startswith("loss_") else total / max(counts[depth], 1)
        row["collapsed"] = collapsed(row)
        result.append(row)
    return result


def collapsed(level: dict[str, Any]) -> bool:
    """Whether a level's diagnostics show a collapse (K >= 3: a cluster above half the mass, or fewer than two used;
    K = 2: fewer than 1.5 used; a level of one cluster per graph, K < 2, has nothing to collapse)."""
    used, share = level.get("clusters_used", math.nan), level.get("largest_share", math.nan)
    if level.get("clusters", math.inf) < 2:
        return False
    if level.get("clusters", math.inf) < 3:
        return bool(used < COLLAPSE_USED_OF_TWO)
    return bool(share > COLLAPSE_SHARE or used < COLLAPSE_USED)


def warn_collapses(levels: Sequence[dict[str, Any]], where: str) -> None:
    """A :class:`CollapseWarning` for each collapsed level, naming ``where`` (the combination and fold)."""
    for level in levels:
        if level.get("collapsed"):
            warnings.warn(
                f"{where}: pooling level {level['level']} collapsed: {level['clusters_used']:.2f} of "
                f"{level['clusters']:.0f} clusters used, the largest holds {100 * level['largest_share']:.0f} % "
                "of its input",
                CollapseWarning,
                stacklevel=2,
            )


def usage_summary(levels_per_fold: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per level, over the folds: the mean ``clusters``, ``clusters_used``, ``largest_share`` and each loss, and the
    number of ``collapsed_folds``."""
    folds = [levels for levels in levels_per_fold if levels]
    if not folds:
        return []
    summary = []
    for depth in range(max(len(levels) for levels in folds)):
        rows = [levels[depth] for levels in folds if depth < len(levels)]
        names = [name for name in rows[0] if name not in ("level", "collapsed")]
        summary.append(
            {
                "level": depth + 1,
                **{name: sum(row[name] for row in rows) / len(rows) for name in names if all(name in r for r in rows)},
                "collapsed_folds": sum(bool(row["collapsed"]) for row in rows),
            }
        )
    return summary


def usage_cell(levels: Sequence[dict[str, Any]]) -> str:
    """``"3.1/4 1.6/2!"`` per level: clusters used of K (mean over folds), ``!`` where a fold collapsed; ``-``
    without levels."""
    if not levels:
        return "-"
    return " ".join(
        f"{level['clusters_used']:.1f}/{level['clusters']:.0f}" + ("!" if level["collapsed_folds"] else "")
        for level in levels
    )

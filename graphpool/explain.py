r"""Which nodes drive a graph's prediction: graph Class Activation Maps, in one place.

For a classifier ``head(pool(h))`` with node embeddings :math:`h_i`, the score of node i for
class k is its gradient-times-embedding share of the logit (:func:`node_scores`)

.. math::
    s_{ik} = \sum_c h_{ic} \, \frac{\partial z_k}{\partial h_{ic}} .

With a linear head this is the Class Activation Map (Zhou et al., CVPR 2016), and it is
*exact* (:math:`\sum_{i \in b} s_{ik} = z_{bk} - b_k`) whenever the pooling is positively
homogeneous of degree 1 (Euler's theorem): sum, mean, max, min, median, quantiles, std,
power means, and the cell-type pool over any of them. For the sum it is the closed form
:func:`node_class_scores` :math:`s_i = W h_i` (for the mean, divided by the graph's size);
images use the same closed form on grid graphs (:func:`graphpool.grid.class_activation_map`).
For max each channel credits the node that attains it. Other readouts (softmax, attention,
var) or an MLP head give an approximation, and :func:`node_scores` says so (``exact=False``).

:func:`evidence` turns scores into each node's evidence for its graph's own label, and
:func:`evidence_by_type` / :func:`evidence_by_group` summarise it per node type (e.g. cell
type) and per graph and type.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from graphpool.models.modes import eval_mode
from graphpool.ops import segment_sum, segments_from
from graphpool.ops.ranges import Range
from graphpool.ops.validation import check_tensor

__all__ = [
    "NodeScores",
    "check_head",
    "evidence",
    "evidence_by_group",
    "evidence_by_type",
    "node_class_scores",
    "node_scores",
]

if TYPE_CHECKING:
    import pandas as pd
    from torch_geometric.data import Batch

    from graphpool.models import GraphClassifier


def node_class_scores(x: Tensor, weight: Tensor) -> Tensor:
    r"""The CAM of a linear head on a sum readout: ``[N, C]`` -> ``[N, K]`` (:math:`x W^\top`).

    With a sum (mean) readout and head ``(weight, bias)``, the per-graph sum (mean) of these
    scores plus the bias equals the graph's logits. Computed in the promoted dtype of ``x`` and ``weight``.

    >>> import torch
    >>> from graphpool.explain import evidence, node_class_scores
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # two nodes' embeddings [N, C]
    >>> scores = node_class_scores(x, torch.tensor([[1.0, 1.0], [2.0, -1.0]]))  # head weight [K, C]
    >>> scores.tolist()  # [N, K]
    [[1.0, 2.0], [2.0, -2.0]]
    >>> evidence(scores, label=1).tolist()  # the score for class 1 less the mean over the classes
    [0.5, -2.0]
    """
    check_tensor("x", x)
    if x.dim() != 2:
        raise ValueError(f"'x' must be [N, C], got {tuple(x.shape)}")
    check_head(x.size(1), weight)
    dtype = torch.promote_types(x.dtype, weight.dtype)  # integer features keep the head's real weights
    return x.to(dtype) @ weight.to(dtype).t()


def check_head(channels: int, weight: Tensor) -> None:
    """``weight`` must be a linear head's ``[K, C]`` matrix for ``C = channels`` features."""
    check_tensor("weight", weight)
    if weight.dim() != 2 or weight.size(1) != channels:
        raise ValueError(f"'weight' must be the head's [K, C] matrix with C = {channels}, got {tuple(weight.shape)}")


@dataclass(frozen=True)
class NodeScores:
    """Per-node class scores ``[N, K]``, the logits ``[B, K]``, and whether the scores add up exactly."""

    scores: Tensor
    logits: Tensor
    exact: bool


def node_scores(model: GraphClassifier, data: Batch, tolerance: float = 1e-4) -> NodeScores:
    """The score of every node of ``data`` for every class (see the module docs), taken in eval mode (no dropout,
    batch norm's running statistics); ``model`` is left in the mode it was in.

    ``model`` is a :class:`~graphpool.models.GraphClassifier` (anything with ``embed(data)``,
    ``classify(h, data)``, ``head`` and ``config.head_layers``). ``tolerance`` (>= 0): the relative difference
    within which the scores' sums count as the logits (``exact``).
    """
    Range(0).check("tolerance", tolerance)
    with eval_mode(model), torch.enable_grad():
        h = model.embed(data).detach().requires_grad_(True)
        logits = model.classify(h, data).logits
        columns = []
        for k in range(logits.size(1)):
            (gradient,) = torch.autograd.grad(logits[:, k].sum(), h, retain_graph=k + 1 < logits.size(1))
            columns.append((gradient * h).sum(-1))
    scores = torch.stack(columns, dim=1).detach()
    logits = logits.detach()
    exact = False
    last = model.head[-1]
    if model.config.head_layers == 1 and isinstance(last, torch.nn.Linear):
        batch = data.batch if getattr(data, "batch", None) is not None else torch.zeros_like(scores[:, 0]).long()
        total = segment_sum(scores, segments_from(scores.size(0), batch, dim_size=logits.size(0)))
        bias = last.bias.detach() if last.bias is not None else 0.0
        exact = bool(
            torch.allclose(total, logits - bias, rtol=tolerance, atol=tolerance * (1 + float(logits.abs().max())))
        )
    return NodeScores(scores, logits, exact)


def evidence(scores: Tensor, label: int) -> Tensor:
    """``[N, K] -> [N]``: each node's score for the graph's own ``label`` minus its mean score over the classes."""
    check_tensor("scores", scores)
    if scores.dim() != 2:
        raise ValueError(f"'scores' must be [N, K], got {tuple(scores.shape)}")
    index = label.item() if isinstance(label, Tensor) and label.numel() == 1 else label
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < scores.size(1):
        raise ValueError(f"'label' must be a class index in [0, {scores.size(1)}), got {label!r}")
    return scores[:, int(index)] - scores.mean(1)


def evidence_by_type(nodes: pd.DataFrame, classes: Sequence[Any], label_of: pd.Series) -> pd.DataFrame:
    """Per node type: count, mean and total evidence, share of all evidence, and per-label means.

    Args:
        nodes: one row per node with columns ``type``, ``evidence`` and ``score_<class>``.
        classes: the class names (``score_<class>`` columns).
        label_of: the label of each node's graph, aligned with ``nodes``.

    Returns:
        indexed by type, sorted by ``mean_evidence`` (largest first): ``nodes``,
        ``mean_evidence``, ``total``, ``share_of_evidence``, ``mean_evidence_label_<c>`` (among
        nodes of graphs labelled c) and ``mean_score_<c>`` per class.
    """
    _check_nodes(nodes, ["type", "evidence", *(f"score_{c}" for c in classes)])
    if not label_of.index.equals(nodes.index):
        raise ValueError(
            f"'label_of' must have the index of 'nodes' ({len(nodes)} rows), got {len(label_of)} rows "
            f"indexed {_ends(label_of.index)} against {_ends(nodes.index)}"
        )
    per_type = nodes.groupby("type")["evidence"].agg(nodes="size", mean_evidence="mean", total="sum")
    per_type["share_of_evidence"] = per_type["total"] / per_type["total"].abs().sum()
    for c in classes:
        per_type[f"mean_evidence_label_{c}"] = nodes[label_of == c].groupby("type")["evidence"].mean()
        per_type[f"mean_score_{c}"] = nodes.groupby("type")[f"score_{c}"].mean()
    return per_type.sort_values("mean_evidence", ascending=False)


def evidence_by_group(nodes: pd.DataFrame, group: str) -> pd.DataFrame:
    """Per (``group``, type): node count, mean and total evidence (``nodes`` as in :func:`evidence_by_type`)."""
    _check_nodes(nodes, [group, "type", "evidence"])
    return nodes.groupby([group, "type"])["evidence"].agg(nodes="size", mean="mean", total="sum")


def _check_nodes(nodes: pd.DataFrame, needed: Sequence[str]) -> None:
    """The columns ``needed`` are there, every node has its keys (``type``, a group: groupby would drop it) and its
    evidence is a finite number (the means would skip NaN)."""
    missing = [name for name in needed if name not in nodes.columns]
    if missing:
        raise ValueError(f"'nodes' lacks the column(s) {missing} (it has {list(nodes.columns)})")
    for key in [name for name in needed if name != "evidence" and not name.startswith("score_")]:
        empty = np.flatnonzero(nodes[key].isna().to_numpy())
        if empty.size:
            rows = ", ".join(map(str, empty[:5])) + (", ..." if empty.size > 5 else "")
            raise ValueError(f"'nodes' has {empty.size} row(s) without a {key!r} (row{'s' * (empty.size > 1)} {rows})")
    unfinite = int((~np.isfinite(nodes["evidence"].to_numpy(dtype=float))).sum())
    if unfinite:
        raise ValueError(f"'nodes' has {unfinite} row(s) whose evidence is NaN or infinite")


def _ends(index: pd.Index) -> str:
    """An index by its first and last labels, for messages."""
    return f"{index[0]!r}..{index[-1]!r}" if len(index) else "(empty)"

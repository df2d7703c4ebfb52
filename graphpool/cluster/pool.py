r"""One pooling level: select + reduce + connect (+ lift), with one typed output.

.. math::
    S = \mathrm{select}(X, A), \qquad X' = \mathrm{reduce}(X, S), \qquad A' = S^\top A S,
    \qquad \mathrm{lift}(X') = S X'

``reduce`` is any graphpool readout per cluster for hard assignments and :math:`S^\top X` for
soft ones (the choice that keeps the expressive power of the message passing before the pool:
Bianchi & Lachi, NeurIPS 2023).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphpool.cluster.assignment import Assignment
from graphpool.cluster.connect import (
    EDGE_REDUCTIONS,
    coarse_edge_attr_unchecked,
    coarsen_edges_unchecked,
    edge_features,
    edge_mean,
    normalize_edges_unchecked,
    soft_edges,
)
from graphpool.cluster.losses import LOSS_TERMS, LOSSES, LossFn, LossInputs
from graphpool.cluster.reduce import cluster_mean, soft_pool
from graphpool.cluster.select.base import Select, check_keywords
from graphpool.ops import Segments, segments_from, validation_enabled
from graphpool.ops.csr import CSRAdjacency
from graphpool.ops.validation import check_edge_weights, check_graph, check_tensor
from graphpool.readout import Readout, resolve

#: activations a pool may apply to the reduced cluster features (DMoN's is ``"selu"``)
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"selu": F.selu, "relu": F.relu, "tanh": torch.tanh}
#: the keywords every pool reads (a selector may declare more in :attr:`Select.inputs`)
POOL_INPUTS = ("x", "edge_index", "edge_weight", "batch", "num_graphs", "pos", "edge_attr", "adjacency")


@dataclass(frozen=True)
class PoolingOutput:
    """What a :class:`Pool` returns: the coarse graph, the assignment behind it and its losses.

    The clusters of a batch are again a batch of graphs, ready for the next message-passing layer.

    Attributes:
        x: ``[C, F']`` cluster features.
        edge_index: ``[2, E']`` edges between clusters (:math:`S^\\top A S`).
        edge_weight: ``[E']`` their weights.
        batch: ``[C]`` graph of each cluster.
        assignment: nodes -> clusters (hard or soft); ``assignment.lift`` maps cluster vectors back.
        pos: ``[C, D]`` assignment-weighted mean position of each cluster, when positions were given.
        aux_loss: auxiliary losses by name (empty for non-learnable poolers); add them to the loss.
        edge_attr: ``[E', D]`` features of the coarse edges, when edge features were given
            (:func:`~graphpool.cluster.connect.coarse_edge_attr`).
    """

    x: Tensor
    edge_index: Tensor
    edge_weight: Tensor
    batch: Tensor
    assignment: Assignment
    pos: Tensor | None = None
    aux_loss: dict[str, Tensor] = field(default_factory=dict)
    edge_attr: Tensor | None = None

    def lift(self, x: Tensor) -> Tensor:
        """Cluster vectors ``[C, F]`` back to the pooled nodes ``[N, F]`` (:meth:`Assignment.lift`)."""
        return self.assignment.lift(x)


class Pool(nn.Module):
    r"""A pooling level: ``forward(x, edge_index, edge_weight=None, batch=None) -> PoolingOutput``.

    Args:
        select: the selector (node -> cluster), e.g. ``GraclusSelect()`` or ``SoftSelect(F, K)``.
        reduce: readout of each cluster for hard selectors (name, list of names or module; see
            :func:`graphpool.readout.resolve`). Soft selectors reduce as :math:`S^\top X`, so
            only ``"sum"`` is accepted with them.
        losses: auxiliary losses of soft selectors, names of :data:`~graphpool.cluster.losses.LOSSES`
            (``"diffpool"``, ``"mincut"``, ``"dmon"``, ``"justbalance"``, ``"acc"``) or functions of
            :class:`~graphpool.cluster.losses.LossInputs`; their named terms go to ``aux_loss``.
        loss_weights: the weight of each term by name (e.g. ``{"ortho": 0.5}``; the others weigh 1):
            ``aux_loss`` holds the weighted terms, so their sum is what the trainer adds.
        self_loops: keep each cluster's internal edge weight as a self-loop of the coarse graph.
        normalize: normalise the coarse graph as MinCut and DMoN do, :math:`D^{-1/2}\tilde A D^{-1/2}`.
        activation: applied to the reduced features (``"selu"`` for DMoN), or ``None``.
        edge_reduce: how the features of the edges a coarse edge merges are combined, ``"mean"``
            (weighted by the edge weights) or ``"sum"`` (:func:`~graphpool.cluster.connect.coarse_edge_attr`).
        in_channels: F, the width of the features reduced, for a ``reduce`` with weights of that width
            (``"attention"``, a projected multi-readout); other reduces ignore it.

    Edge features ``edge_attr`` (``[E, D]`` or ``[E]``) are pooled with the edges into
    :attr:`PoolingOutput.edge_attr`, and given to selectors that read them (a soft selector whose
    ``assign`` layer takes ``edge_attr``, such as ``GINEConv``).

    A soft pool of the same graph in every step (a whole tissue) can take ``adjacency=``, its
    :func:`~graphpool.ops.csr.csr_adjacency` built once (edge weights in the compute dtype, ones without
    ``edge_weight``), instead of coalescing the edges again each time (a third of a step on 82,000 cells).

    Per-node keyword inputs go to the selector, which declares those it reads
    (:attr:`Select.inputs`): ``labels`` (given labels), ``pos`` (positions, accepted by every pool
    and carried to the clusters as means). Any other keyword is a ``TypeError`` naming it.

    >>> import torch
    >>> from graphpool.cluster import LabelSelect, Pool
    >>> pool = Pool(LabelSelect(num_labels=2), reduce="mean")
    >>> out = pool(torch.tensor([[1.0], [3.0], [10.0]]), torch.tensor([[0, 1], [1, 2]]),
    ...            labels=torch.tensor([0, 0, 1]))
    >>> out.x, out.edge_index, out.edge_weight
    (tensor([[ 2.],
            [10.]]), tensor([[0],
            [1]]), tensor([1.]))
    """

    def __init__(
        self,
        select: Select,
        reduce: Any = "sum",
        *,
        losses: Sequence[str | LossFn] = (),
        self_loops: bool = False,
        normalize: bool = False,
        activation: str | None = None,
        edge_reduce: str = "mean",
        loss_weights: Mapping[str, float] | None = None,
        in_channels: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(select, Select):
            raise TypeError(f"'select' takes a graphpool.cluster selector, got {type(select).__name__}")
        if select.soft and reduce != "sum":
            raise ValueError(f"a soft selector reduces as S^T X; 'reduce' must be 'sum', got {reduce!r}")
        if losses and not select.soft:
            raise ValueError(f"'losses' regularise soft assignments; {type(select).__name__} is hard")
        if normalize and self_loops:
            raise ValueError("'normalize' drops the self-loops (as MinCut and DMoN do); set self_loops=False")
        if activation is not None and activation not in ACTIVATIONS:
            raise ValueError(f"'activation' must be one of {tuple(ACTIVATIONS)} or None, got {activation!r}")
        if edge_reduce not in EDGE_REDUCTIONS:
            raise ValueError(f"'edge_reduce' must be one of {EDGE_REDUCTIONS}, got {edge_reduce!r}")
        self.loss_fns: list[LossFn] = [_loss(item) for item in losses]
        self.loss_weights = _check_weights(loss_weights or {}, losses)
        self.edge_reduce = edge_reduce
        self.select = select
        self.reduce: Readout = resolve(reduce, in_channels=in_channels)
        self.self_loops, self.normalize, self.activation = self_loops, normalize, activation

    def _losses(self, inputs: LossInputs) -> dict[str, Tensor]:
        """Every loss's terms, each times its weight (1 unless ``loss_weights`` names it)."""
        terms: dict[str, Tensor] = {}
        for loss_fn in self.loss_fns:
            for name, value in loss_fn(inputs).items():
                if name in terms:
                    raise ValueError(f"two losses of one pool are both named {name!r}")
                terms[name] = value
        _refuse_unknown_terms(self.loss_weights, sorted(terms))  # a loss given as a function declares no terms
        return {name: value * self.loss_weights.get(name, 1.0) for name, value in terms.items()}

    def get_out_channels(self, in_channels: int) -> int:
        """Width of the cluster features: kept by soft selectors, the readout's width for hard ones."""
        return in_channels if self.select.soft else self.reduce.get_out_channels(in_channels)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        batch: Tensor | None = None,
        num_graphs: int | None = None,
        *,
        pos: Tensor | None = None,
        edge_attr: Tensor | None = None,
        adjacency: CSRAdjacency | None = None,
        **inputs: Any,
    ) -> PoolingOutput:
        check_keywords(
            f"pool {type(self.select).__name__}",
            inputs,
            tuple(dict.fromkeys((*POOL_INPUTS, *self.select.inputs))),
        )
        needs = "this pool's normalisation D^-1/2 A D^-1/2" if self.normalize else None  # weights >= 0
        seg = _check(x, edge_index, edge_weight, batch, num_graphs, pos, edge_attr, needs)
        features = None if edge_attr is None else edge_features(edge_attr)
        edge_index = edge_index.long()  # int32 ids (accepted as PyG does) index like int64 ones
        if "pos" in self.select.inputs:
            inputs["pos"] = pos
        if "edge_attr" in self.select.inputs:
            inputs["edge_attr"] = edge_attr
        assignment = self.select(x, edge_index, seg.index, seg.num_segments, edge_weight, **inputs)
        if not isinstance(assignment, Assignment):
            raise TypeError(f"{type(self.select).__name__} returned {type(assignment).__name__}, not an Assignment")
        aux_loss: dict[str, Tensor] = {}
        attr: Tensor | None = None
        if assignment.s is not None:
            # half precision (a float16/bfloat16 model, autocast) is pooled in float32, as the readouts
            # accumulate, and returned in the input's dtype; float32 and float64 are pooled as they are
            compute = torch.promote_types(torch.promote_types(x.dtype, assignment.s.dtype), torch.float32)
            s = assignment.s.to(compute)
            weight = None if edge_weight is None else edge_weight.to(compute)
            with torch.autocast(x.device.type, enabled=False):  # autocast would take the products back to half
                features = None if features is None else features.to(compute)
                pooled = soft_pool(x.to(compute), edge_index, s, seg, weight, features, adjacency)
                x_out = pooled.x.flatten(0, 1).to(x.dtype)
                edges, weights = soft_edges(pooled.adj, self.self_loops)
                if pooled.edge_attr is not None:
                    k = s.size(1)
                    summed = pooled.edge_attr.flatten(0, 2).index_select(0, edges[0] * k + edges[1] % k)
                    attr = edge_mean(summed, weights) if self.edge_reduce == "mean" else summed
                ones = torch.ones(edge_index.size(1), dtype=compute, device=x.device)
                aux_loss = self._losses(LossInputs(pooled, s, seg, edge_index, ones if weight is None else weight))
        else:
            if adjacency is not None:
                raise ValueError(f"'adjacency' is for soft pools; {type(self.select).__name__} assigns hard clusters")
            x_out = self.reduce(x, assignment.cluster, dim_size=assignment.num_clusters)
            if features is None:
                edges, weights = coarsen_edges_unchecked(edge_index, assignment, edge_weight, self.self_loops)
            else:
                edges, weights, attr = coarse_edge_attr_unchecked(
                    edge_index, assignment, features, edge_weight, self.self_loops, self.edge_reduce
                )
        if self.normalize:  # the same D^-1/2 A D^-1/2 of the coarse edges, hard or soft (without self-loops, the
            # coarse edges hold none to drop)
            edges, weights = normalize_edges_unchecked(edges, weights, assignment.num_clusters, self.self_loops)
        if assignment.soft:
            weights = weights.to(x.dtype if edge_weight is None else edge_weight.dtype)
        if self.activation is not None:
            x_out = ACTIVATIONS[self.activation](x_out)
        pos_out = None if pos is None else cluster_mean(pos, assignment, seg)
        if attr is not None:
            attr = attr.to(edge_attr.dtype).view(-1, *edge_attr.shape[1:])  # type: ignore[union-attr]
        return PoolingOutput(x_out, edges, weights, assignment.cluster_batch, assignment, pos_out, aux_loss, attr)


def check_weight_values(weights: Mapping[str, float]) -> None:
    """A ``ValueError`` naming the first loss weight that is not a finite number >= 0 (a bool is not a number)."""
    for name, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"'loss_weights': the weight of {name!r} must be a finite number >= 0, got {weight!r}")


def _check_weights(weights: Mapping[str, float], losses: Sequence[str | LossFn]) -> dict[str, float]:
    """The loss weights as floats, after checking each (finite, >= 0) and, for named losses, its term's name."""
    check_weight_values(weights)
    if weights and not losses:
        raise ValueError("'loss_weights' weigh the terms of 'losses'; this pool has no losses")
    if all(isinstance(item, str) for item in losses):  # named losses declare their terms: check the names now
        _refuse_unknown_terms(weights, [term for item in losses for term in LOSS_TERMS[item]])  # type: ignore[index]
    return {name: float(weight) for name, weight in weights.items()}


def _refuse_unknown_terms(weights: Mapping[str, float], terms: Sequence[str]) -> None:
    """A ``ValueError`` naming the first weighted term that is not among the pool's loss ``terms``."""
    unknown = sorted(set(weights) - set(terms))
    if unknown:
        raise ValueError(f"'loss_weights' names {unknown[0]!r}, which no loss of this pool returns; its terms: {terms}")


def _loss(item: str | LossFn) -> LossFn:
    if callable(item):
        return item
    if item not in LOSSES:
        raise ValueError(f"'losses': {item!r} is not one of {tuple(LOSSES)}")
    return LOSSES[item]


def _check(
    x: Tensor,
    edge_index: Tensor,
    edge_weight: Tensor | None,
    batch: Tensor | None,
    num_graphs: int | None,
    pos: Tensor | None,
    edge_attr: Tensor | None = None,
    needs: str | None = None,
) -> Segments:
    """The node segments, after checking every input's shape (each error names its argument), and with validation
    on the edge ids and weights (``needs``: what requires weights >= 0, as :func:`check_edge_weights`)."""
    check_tensor("x", x)
    check_tensor("edge_index", edge_index)
    if x.dim() != 2:
        raise ValueError(f"'x' must be [N, F], got shape {tuple(x.shape)}")
    check_graph(edge_index, x.size(0), edge_weight, nodes=f"'x' has {x.size(0)} rows")  # ids read: a GPU sync
    if validation_enabled():  # finite, and >= 0 where ``needs`` says what requires it
        check_edge_weights(edge_weight, needs)
    if edge_attr is not None and (edge_attr.dim() not in (1, 2) or edge_attr.size(0) != edge_index.size(1)):
        raise ValueError(
            f"'edge_attr' must be [E, D] or [E] with E = {edge_index.size(1)}, got {tuple(edge_attr.shape)}"
        )
    if edge_attr is not None and not edge_attr.is_floating_point():
        raise TypeError(f"'edge_attr' must hold floating-point features, got {edge_attr.dtype}")
    if pos is not None and (pos.dim() != 2 or pos.size(0) != x.size(0)):
        raise ValueError(f"'pos' must be [N, D] with N = {x.size(0)}, got shape {tuple(pos.shape)}")
    segments = segments_from(x.size(0), batch, None, num_graphs, device=x.device, index_name="batch")
    if batch is not None and edge_index.numel() and validation_enabled():
        _check_within_graphs(edge_index, batch)
    return segments


def _check_within_graphs(edge_index: Tensor, batch: Tensor) -> None:
    """Raise a ``ValueError`` naming the first edge whose ends lie in different graphs of the batch (a batch is a
    disjoint union: such an edge would become a coarse edge between two graphs' clusters)."""
    source, target = batch.index_select(0, edge_index[0]), batch.index_select(0, edge_index[1])  # the ends' graphs
    if not torch.equal(source, target):
        crossing = torch.nonzero(source != target)
        e = int(crossing[0, 0])
        (u, v), (a, b) = edge_index[:, e].tolist(), (int(source[e]), int(target[e]))
        raise ValueError(
            f"'edge_index' joins nodes of different graphs: edge {e} ({u} -> {v}) goes from graph {a} to graph {b}; "
            f"the graphs of a batch share no edges ({crossing.size(0)} edges cross)"
        )

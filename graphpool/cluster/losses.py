r"""Auxiliary losses of the soft poolers, computed from the sparse per-graph products.

A loss is one function ``loss(inputs: LossInputs) -> {term: scalar}``: it reads what it needs from
:class:`LossInputs` (the per-graph products :math:`S^\top X`, :math:`S^\top A S`, :math:`S^\top S`, the
assignment rows, the edges and their weights, the degrees) and returns named terms; a pool multiplies
each term by its weight (``loss_weights``, 1 by default) into its output's ``aux_loss``, and the trainer
adds their sum to the task loss. Register one with :func:`register_loss` (or pass the function to
``Pool(losses=...)``): a new published loss is one function, as the asymmetric Cheeger cut shows.

They never build a dense adjacency, using identities such as
:math:`\lVert A - SS^\top\rVert_F^2 = \lVert A\rVert_F^2 - 2\,\mathrm{tr}(S^\top A S) + \lVert S^\top S\rVert_F^2`.
Per-graph losses are averaged over the graphs that have nodes (an empty graph leaves them unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from graphpool.cluster.connect import EPS
from graphpool.cluster.reduce import SoftPooled, vector_sum
from graphpool.ops import Segments, segment_sum, segments_from
from graphpool.ops.kernels import gather_rows, select_unchecked
from graphpool.ops.ranges import check_registry_name


@dataclass(frozen=True)
class LossInputs:
    r"""What a soft pool hands its losses.

    Attributes:
        pooled: the per-graph products (:class:`~graphpool.cluster.reduce.SoftPooled`: ``x`` = :math:`S^\top X`
            ``[B, K, F]``, ``adj`` = :math:`S^\top A S`, ``gram`` = :math:`S^\top S`, the weighted
            ``degree [N]``, :math:`\lVert A_b\rVert_F^2`).
        s: ``[N, K]`` assignment rows.
        seg: the graph of every node (:class:`~graphpool.ops.Segments`).
        edge_index: ``[2, E]`` the fine graph's edges.
        edge_weight: ``[E]`` their weights (ones when the graph has none).
    """

    pooled: SoftPooled
    s: Tensor
    seg: Segments
    edge_index: Tensor
    edge_weight: Tensor


#: a loss: what the pool hands it -> named scalar terms
LossFn = Callable[[LossInputs], dict[str, Tensor]]


def _trace(m: Tensor) -> Tensor:
    return m.diagonal(dim1=-2, dim2=-1).sum(-1)


def diffpool_losses(inputs: LossInputs) -> dict[str, Tensor]:
    r"""DiffPool's link-prediction and entropy losses (Ying et al., 2018).

    ``link`` :math:`= \lVert A - SS^\top \rVert_F / \sum_b n_b^2` over the batch (PyG divides
    by :math:`B\,n_{max}^2`, the size of its padded tensor; equal for graphs of one size);
    ``entropy`` = mean over the real nodes of :math:`-\sum_k s_{ik}\log s_{ik}` (PyG averages over
    its padded rows too, so for graphs of unequal size PyG's entropy is smaller by the share of padding).
    """
    pooled, seg = inputs.pooled, inputs.seg
    squared = pooled.adj_sq_norm.sum() - 2 * _trace(pooled.adj).sum() + pooled.gram.square().sum()
    link = squared.clamp(min=0).sqrt() / seg.counts.square().sum().clamp(min=1)
    s = inputs.s
    entropy = (-s * torch.log(s + EPS)).sum() / max(seg.num_rows, 1)
    return {"link": link, "entropy": entropy}


def _over_graphs(values: Tensor, seg: Segments) -> Tensor:
    """Mean of per-graph losses ``[B]`` over the graphs with nodes (0 when none has any).

    A graph without nodes has no assignment to regularise: it must not move the loss.
    """
    present = seg.counts > 0
    return torch.where(present, values, torch.zeros_like(values)).sum() / present.sum().clamp(min=1)


def _orthogonality(gram: Tensor, seg: Segments) -> Tensor:
    k = gram.size(-1)
    eye = torch.eye(k, dtype=gram.dtype, device=gram.device)
    normalised = gram / torch.linalg.matrix_norm(gram, keepdim=True).clamp(min=EPS)
    return _over_graphs(torch.linalg.matrix_norm(normalised - eye / math.sqrt(k)), seg)


def mincut_losses(inputs: LossInputs) -> dict[str, Tensor]:
    r"""MinCutPool's losses (Bianchi et al., 2020), each averaged over the graphs that have nodes.

    ``mincut`` :math:`= -\mathrm{tr}(S^\top A S) / \mathrm{tr}(S^\top D S)` and
    ``ortho`` :math:`= \lVert S^\top S / \lVert S^\top S\rVert_F - I_K / \sqrt K\rVert_F`.
    """
    pooled, s, seg = inputs.pooled, inputs.s, inputs.seg
    denominator = vector_sum(pooled.degree * s.square().sum(-1), seg)
    mincut = -_over_graphs(_trace(pooled.adj) / denominator.clamp(min=EPS), seg)  # a graph without edges adds 0
    return {"mincut": mincut, "ortho": _orthogonality(pooled.gram, seg)}


def dmon_losses(inputs: LossInputs) -> dict[str, Tensor]:
    r"""DMoN's losses (Tsitsulin et al., 2023), averaged over the graphs that have nodes.

    ``spectral`` :math:`= -\frac{1}{2m}\left(\mathrm{tr}(S^\top A S) - \frac{\lVert S^\top d\rVert^2}{2m}\right)`,
    ``ortho`` as MinCut, ``cluster`` :math:`= \frac{\sqrt K}{n_b}\lVert \sum_i s_i \rVert - 1`.
    """
    pooled, s, seg = inputs.pooled, inputs.s, inputs.seg
    k = s.size(1)
    two_m = vector_sum(pooled.degree, seg).clamp(min=EPS)  # a graph without edges adds 0
    degree_mass = segment_sum(pooled.degree.unsqueeze(1) * s, seg)
    spectral = -_over_graphs((_trace(pooled.adj) - degree_mass.square().sum(-1) / two_m) / two_m, seg)
    sizes = segment_sum(s, seg)
    counts = seg.counts.clamp(min=1).to(s.dtype)
    cluster = _over_graphs(torch.linalg.vector_norm(sizes, dim=1) / counts * math.sqrt(k) - 1, seg)
    return {"spectral": spectral, "ortho": _orthogonality(pooled.gram, seg), "cluster": cluster}


def justbalance_losses(inputs: LossInputs) -> dict[str, Tensor]:
    r"""JustBalance's balance loss (Bianchi, "Simplifying clustering with graph neural networks", NLDL 2023).

    ``balance`` :math:`= -\mathrm{tr}\big(\sqrt{S_b^\top S_b}\big) / \sqrt{n_b K}` per graph
    (square root entrywise, so the trace is :math:`\sum_k \lVert s_{:,k}\rVert_2`), averaged over
    the graphs with nodes. It is lowest (:math:`-1`) when the K clusters are equally large and
    the assignment is hard: it alone keeps the clusters balanced, and the task loss shapes them.
    tgp normalises by the batch's mean node count instead of each graph's :math:`n_b` (equal
    for graphs of one size).
    """
    pooled, s, seg = inputs.pooled, inputs.s, inputs.seg
    k = s.size(1)
    traces = torch.sqrt(pooled.gram.diagonal(dim1=-2, dim2=-1) + EPS).sum(-1)
    scale = torch.sqrt(seg.counts.clamp(min=1).to(s.dtype) * k)
    return {"balance": _over_graphs(-traces / scale, seg)}


def cutbalance_losses(inputs: LossInputs) -> dict[str, Tensor]:
    r"""MinCut's cut term with JustBalance's balance term in place of the orthogonality term.

    ``mincut`` as :func:`mincut_losses`, ``balance`` as :func:`justbalance_losses`. The cut keeps each cluster
    compact on the graph; the balance term keeps every cluster in use without asking them to be equal: for hard
    clusters it is :math:`-\sum_k \sqrt{n_k / (n K)}`, within 1 % of its best for shares of 18/19/27/36 %, where
    MinCut's orthogonality is 0.28 above its best of 0 and pulls such clusters towards equal sizes.
    """
    return {"mincut": mincut_losses(inputs)["mincut"], **justbalance_losses(inputs)}


def no_losses(inputs: LossInputs) -> dict[str, Tensor]:
    """The plain soft pool: no auxiliary loss (the assignment is shaped by the task loss alone)."""
    return {}


def acc_losses(inputs: LossInputs) -> dict[str, Tensor]:
    r"""The asymmetric Cheeger cut's losses (Hansen & Bianchi, "Total Variation Graph Neural Networks", ICML 2023).

    ``totvar`` :math:`= \frac{1}{2 E_b} \sum_{(i,j) \in E_b} w_{ij} \lVert s_i - s_j \rVert_1` per graph (the graph
    total variation of the assignment; :math:`E_b` its listed edges) pulls neighbours into one cluster with a
    sharp boundary, and ``asym_norm`` :math:`= 1 - \frac{1}{n_b (K-1)} \sum_k \lVert s_{:,k} -
    \mathrm{quant}_{\rho}(s_{:,k}) \rVert_{1,\rho}` (:math:`\rho = K - 1`; the quantile is the value of rank
    :math:`\lfloor n_b / K \rfloor` from the top; :math:`|x|_\rho = \rho x` for :math:`x \ge 0`, :math:`-x`
    otherwise) keeps the K clusters balanced; both in :math:`[0, 1]`, averaged over the graphs with nodes.
    (tgp divides ``totvar`` by the same edge count and takes the same quantile.)
    """
    s, seg, edge_index, weight = inputs.s, inputs.seg, inputs.edge_index, inputs.edge_weight
    k, num_graphs = s.size(1), seg.num_segments
    src, dst = edge_index
    variation = weight * (s.index_select(0, src) - s.index_select(0, dst)).abs().sum(-1)
    edges_by_graph = segments_from(variation.numel(), seg.index.index_select(0, src), dim_size=num_graphs)
    listed = edges_by_graph.counts.clamp(min=1).to(s.dtype)
    totvar = _over_graphs(vector_sum(variation, edges_by_graph) / (2 * listed), seg)
    if k == 1:  # one cluster holds everything: nothing to balance
        return {"totvar": totvar, "asym_norm": torch.zeros((), dtype=s.dtype, device=s.device)}
    counts = seg.counts
    from_top = torch.minimum(torch.div(counts, k, rounding_mode="floor"), (counts - 1).clamp(min=0))  # [B]
    (quantile,) = select_unchecked(s, seg, [(counts - 1 - from_top).clamp(min=0)])  # [B, K]: that rank from the top
    gap = s - gather_rows(quantile, seg)
    asymmetric = segment_sum(torch.where(gap >= 0, (k - 1) * gap, -gap), seg).sum(1)  # [B]
    scale = counts.clamp(min=1).to(s.dtype) * (k - 1)
    return {"totvar": totvar, "asym_norm": _over_graphs(1 - asymmetric / scale, seg)}


#: the losses by name, as :class:`~graphpool.cluster.Pool` takes them (add one with :func:`register_loss`)
LOSSES: dict[str, LossFn] = {}
#: the terms each loss returns (its keys in ``aux_loss``, the names ``loss_weights`` weigh), by loss name
LOSS_TERMS: dict[str, tuple[str, ...]] = {}


def register_loss(name: str, loss: LossFn, terms: tuple[str, ...]) -> LossFn:
    """Add ``loss`` to :data:`LOSSES` as ``name``, returning the terms ``terms``; returns ``loss``.

    Raises:
        ValueError: the name is taken by another function, is not lower-case letters, digits and ``_`` (starting
            with a letter), or ``terms`` are not distinct names.
    """
    check_registry_name("loss", name)
    if not callable(loss):
        raise TypeError(f"'loss' must be a function of LossInputs, got {type(loss).__name__}")
    if (
        isinstance(terms, str)
        or not isinstance(terms, tuple | list)
        or not all(isinstance(term, str) and term for term in terms)
        or len(set(terms)) < len(terms)
    ):
        raise ValueError(
            f"'terms' must be a tuple of distinct non-empty names (the keys the loss returns), got {terms!r}"
        )
    if LOSSES.get(name, loss) is not loss:
        raise ValueError(f"loss name {name!r} is taken by {LOSSES[name].__name__}")
    LOSSES[name], LOSS_TERMS[name] = loss, tuple(terms)
    return loss


register_loss("diffpool", diffpool_losses, ("link", "entropy"))
register_loss("mincut", mincut_losses, ("mincut", "ortho"))
register_loss("dmon", dmon_losses, ("spectral", "ortho", "cluster"))
register_loss("justbalance", justbalance_losses, ("balance",))
register_loss("acc", acc_losses, ("totvar", "asym_norm"))
register_loss("cutbalance", cutbalance_losses, ("mincut", "balance"))
register_loss("none", no_losses, ())

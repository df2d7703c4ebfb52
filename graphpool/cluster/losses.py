r"""Auxiliary losses of the soft poolers, computed from the sparse per-graph products.

Each loss function takes the :class:`~graphpool.cluster.soft.SoftPooled` products, the
assignment rows ``s [N, K]`` and the node segments, and returns named scalar losses; a pooler
adds them to its output's ``aux_loss``, the trainer adds them to the task loss. They never build
a dense adjacency, using identities such as
:math:`\lVert A - SS^\top\rVert_F^2 = \lVert A\rVert_F^2 - 2\,\mathrm{tr}(S^\top A S) + \lVert S^\top S\rVert_F^2`.
Per-graph losses are averaged over the graphs that have nodes (an empty graph leaves them unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from graphpool.cluster.soft import EPS, SoftPooled, vector_sum
from graphpool.ops import Segments, segment_sum

#: a loss: (products, assignment rows [N, K], node segments) -> named scalar losses
LossFn = Callable[[SoftPooled, Tensor, Segments], dict[str, Tensor]]


def _trace(m: Tensor) -> Tensor:
    return m.diagonal(dim1=-2, dim2=-1).sum(-1)


def diffpool_losses(pooled: SoftPooled, s: Tensor, seg: Segments) -> dict[str, Tensor]:
    r"""DiffPool's link-prediction and entropy losses (Ying et al., 2018).

    ``link`` :math:`= \lVert A - SS^\top \rVert_F / \sum_b n_b^2` over the batch (PyG divides
    by :math:`B\,n_{max}^2`, the size of its padded tensor; equal for graphs of one size);
    ``entropy`` = mean over the real nodes of :math:`-\sum_k s_{ik}\log s_{ik}` (PyG averages over
    its padded rows too, so for graphs of unequal size PyG's entropy is smaller by the share of padding).
    """
    squared = pooled.adj_sq_norm.sum() - 2 * _trace(pooled.adj).sum() + pooled.gram.square().sum()
    link = squared.clamp(min=0).sqrt() / seg.counts.square().sum().clamp(min=1)
    s = pooled.s_dense[pooled.mask]
    entropy = (-s * torch.log(s + EPS)).sum(-1).sum() / max(s.size(0), 1)
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


def mincut_losses(pooled: SoftPooled, s: Tensor, seg: Segments) -> dict[str, Tensor]:
    r"""MinCutPool's losses (Bianchi et al., 2020), each averaged over the graphs that have nodes.

    ``mincut`` :math:`= -\mathrm{tr}(S^\top A S) / \mathrm{tr}(S^\top D S)` and
    ``ortho`` :math:`= \lVert S^\top S / \lVert S^\top S\rVert_F - I_K / \sqrt K\rVert_F`.
    """
    denominator = vector_sum(pooled.degree * s.square().sum(-1), seg)
    mincut = -_over_graphs(_trace(pooled.adj) / denominator.clamp(min=EPS), seg)  # a graph without edges adds 0
    return {"mincut": mincut, "ortho": _orthogonality(pooled.gram, seg)}


def dmon_losses(pooled: SoftPooled, s: Tensor, seg: Segments) -> dict[str, Tensor]:
    r"""DMoN's losses (Tsitsulin et al., 2023), averaged over the graphs that have nodes.

    ``spectral`` :math:`= -\frac{1}{2m}\left(\mathrm{tr}(S^\top A S) - \frac{\lVert S^\top d\rVert^2}{2m}\right)`,
    ``ortho`` as MinCut, ``cluster`` :math:`= \frac{\sqrt K}{n_b}\lVert \sum_i s_i \rVert - 1`.
    """
    k = s.size(1)
    two_m = vector_sum(pooled.degree, seg).clamp(min=EPS)  # a graph without edges adds 0
    degree_mass = segment_sum(pooled.degree.unsqueeze(1) * s, seg)
    spectral = -_over_graphs((_trace(pooled.adj) - degree_mass.square().sum(-1) / two_m) / two_m, seg)
    sizes = segment_sum(s, seg)
    counts = seg.counts.clamp(min=1).to(s.dtype)
    cluster = _over_graphs(torch.linalg.vector_norm(sizes, dim=1) / counts * math.sqrt(k) - 1, seg)
    return {"spectral": spectral, "ortho": _orthogonality(pooled.gram, seg), "cluster": cluster}


def justbalance_losses(pooled: SoftPooled, s: Tensor, seg: Segments) -> dict[str, Tensor]:
    r"""JustBalance's balance loss (Bianchi, "Simplifying clustering with graph neural networks", NLDL 2023).

    ``balance`` :math:`= -\mathrm{tr}\big(\sqrt{S_b^\top S_b}\big) / \sqrt{n_b K}` per graph
    (square root entrywise, so the trace is :math:`\sum_k \lVert s_{:,k}\rVert_2`), averaged over
    the graphs with nodes. It is lowest (:math:`-1`) when the K clusters are equally large and
    the assignment is hard: it alone keeps the clusters balanced, and the task loss shapes them.
    tgp normalises by the batch's mean node count instead of each graph's :math:`n_b` (equal
    for graphs of one size).
    """
    k = s.size(1)
    traces = torch.sqrt(pooled.gram.diagonal(dim1=-2, dim2=-1) + EPS).sum(-1)
    scale = torch.sqrt(seg.counts.clamp(min=1).to(s.dtype) * k)
    return {"balance": _over_graphs(-traces / scale, seg)}


def no_losses(pooled: SoftPooled, s: Tensor, seg: Segments) -> dict[str, Tensor]:
    """The plain soft pool: no auxiliary loss (the assignment is shaped by the task loss alone)."""
    return {}


#: the losses by name, as :class:`~graphpool.cluster.Pool` takes them
LOSSES: dict[str, LossFn] = {
    "diffpool": diffpool_losses,
    "mincut": mincut_losses,
    "dmon": dmon_losses,
    "justbalance": justbalance_losses,
    "none": no_losses,
}

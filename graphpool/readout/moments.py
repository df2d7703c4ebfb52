r"""Readouts of the moments of each graph's node set: sum, mean, variance, standard deviation.

Notation (every readout of :mod:`graphpool.readout`): graph :math:`b` has node set
:math:`V_b` of size :math:`n_b`; :math:`\mathbf{x}_i` is the feature row of node :math:`i`;
each feature column is reduced on its own; an empty graph (:math:`n_b = 0`) gives 0.
Shapes: ``x: [N, F]``, ``index: [N]`` or ``ptr: [B + 1]`` -> ``[B, F]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphpool.ops import Segments, segment_mean, segment_sum, segment_var
from graphpool.readout.base import Readout


class SumReadout(Readout):
    r"""Sum :math:`\mathbf{o}_b = \sum_{i \in V_b} \mathbf{x}_i`: counts; grows with graph size.

    Integer ``x`` gives int64 sums (as :func:`torch.sum`).

    >>> import torch
    >>> from graphpool.readout import SumReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]])  # [N, F]: graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> SumReadout()(x, batch, dim_size=3).tolist()  # a third graph without nodes: 0
    [[8.0], [8.0], [0.0]]
    """

    name = "sum"
    needs_float = False

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return segment_sum(x, seg)


class MeanReadout(Readout):
    r"""Mean :math:`\mathbf{o}_b = \frac{1}{n_b}\sum_{i \in V_b} \mathbf{x}_i`: proportions; size-invariant.

    >>> import torch
    >>> from graphpool.readout import MeanReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]])  # [N, F]: graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> MeanReadout()(x, batch).tolist()
    [[2.0], [8.0]]
    """

    name = "mean"

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return segment_mean(x, seg)


class VarReadout(Readout):
    r"""Population variance :math:`\frac{1}{n_b}\sum_{i \in V_b}(\mathbf{x}_i - \bar{\mathbf{x}}_b)^2` (two-pass, stable).

    0 for graphs with fewer than two nodes. Matches PyG's ``VarAggregation`` (also population).

    >>> import torch
    >>> from graphpool.readout import VarReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]])  # [N, F]: graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> VarReadout()(x, batch).tolist()
    [[1.0], [0.0]]
    """

    name = "var"

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return segment_var(x, seg)


class StdReadout(Readout):
    r"""Population standard deviation :math:`\sqrt{\mathrm{var}_b}`.

    Exactly 0 for constant graphs, with gradient 0 there (not NaN, which :math:`\sqrt{\cdot}`
    would give at 0). NaN or infinite inputs give NaN, as the variance does.

    >>> import torch
    >>> from graphpool.readout import StdReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]])  # [N, F]: graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> StdReadout()(x, batch).tolist()
    [[1.0], [0.0]]
    """

    name = "std"

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        var = segment_var(x, seg)
        zero = var == 0
        return torch.where(zero, torch.zeros_like(var), torch.where(zero, torch.ones_like(var), var).sqrt())

r"""Readouts of the extremes of each graph's node set: maximum and minimum.

Notation as in :mod:`graphpool.readout.moments`. ``[N, F] -> [B, F]``; an empty graph gives 0.
"""

from __future__ import annotations

from torch import Tensor

from graphpool.ops import Segments, segment_max, segment_min
from graphpool.readout.base import Readout


class MaxReadout(Readout):
    r"""Maximum :math:`\mathbf{o}_b = \max_{i \in V_b} \mathbf{x}_i`: presence of a feature anywhere in the graph.

    >>> import torch
    >>> from graphpool.readout import MaxReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]])  # [N, F]: graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> MaxReadout()(x, batch).tolist()
    [[3.0], [8.0]]
    """

    name = "max"
    needs_float = False
    accumulates_in_float32 = False  # exact in any dtype

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return segment_max(x, seg)


class MinReadout(Readout):
    r"""Minimum :math:`\mathbf{o}_b = \min_{i \in V_b} \mathbf{x}_i`.

    >>> import torch
    >>> from graphpool.readout import MinReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]])  # [N, F]: graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> MinReadout()(x, batch).tolist()
    [[1.0], [8.0]]
    """

    name = "min"
    needs_float = False
    accumulates_in_float32 = False

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return segment_min(x, seg)

r"""Readouts of the extremes of each graph's node set: maximum and minimum.

Notation as in :mod:`graphpool.readout.moments`. ``[N, F] -> [B, F]``; an empty graph gives 0.
"""

from __future__ import annotations

from torch import Tensor

from graphpool.ops import Segments, segment_max, segment_min
from graphpool.readout.base import Readout


class MaxReadout(Readout):
    r"""Maximum :math:`\mathbf{o}_b = \max_{i \in V_b} \mathbf{x}_i`: presence of a feature anywhere in the graph."""

    name = "max"
    needs_float = False
    accumulates_in_float32 = False  # exact in any dtype

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return segment_max(x, seg)


class MinReadout(Readout):
    r"""Minimum :math:`\mathbf{o}_b = \min_{i \in V_b} \mathbf{x}_i`."""

    name = "min"
    needs_float = False
    accumulates_in_float32 = False

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return segment_min(x, seg)

r"""Order-statistic readouts: the median and any quantile of each graph's node set, per feature.

Notation as in :mod:`graphpool.readout.moments`; :math:`x_{(k)}` is the k-th smallest value
(0-based) of a feature column within the graph. ``[N, F] -> [B, F]``; an empty graph gives 0;
a column holding NaN gives NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphpool.ops import Segments
from graphpool.ops.kernels import select_unchecked
from graphpool.readout.base import Readout, check_number

QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


class MedianReadout(Readout):
    r"""Lower median :math:`\mathbf{o}_b = x_{(\lfloor (n_b-1)/2 \rfloor)}`, an element of the input.

    As PyG's ``MedianAggregation``. Robust to outlying nodes; the gradient flows to exactly the
    selected element (a subgradient, differentiable wherever the values are distinct).
    """

    name = "median"
    needs_float = False
    accumulates_in_float32 = False  # selects an element: exact in any dtype

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return select_unchecked(x, seg, [torch.div(seg.counts - 1, 2, rounding_mode="floor")])[0]


class QuantileReadout(Readout):
    r"""The ``q``-quantile per graph and feature, as :func:`torch.quantile` computes it per graph.

    With position :math:`h = q (n_b - 1)`, ``method`` chooses between the order statistics
    :math:`x_{(\lfloor h \rfloor)}` and :math:`x_{(\lceil h \rceil)}`: ``"linear"`` interpolates

    .. math::
        x_{(\lfloor h\rfloor)} + (h - \lfloor h\rfloor)\,(x_{(\lceil h\rceil)} - x_{(\lfloor h\rfloor)})

    (numpy's default); ``"lower"``, ``"higher"``, ``"nearest"`` (round half to even) and
    ``"midpoint"`` pick or average them. ``q=0.5, method="lower"`` is the median.

    Args:
        q: in ``[0, 1]``.
        method: ``"linear"`` (default), ``"lower"``, ``"higher"``, ``"nearest"`` or ``"midpoint"``.
    """

    name = "quantile"
    accumulates_in_float32 = False

    def __init__(self, q: float = 0.5, method: str = "linear") -> None:
        super().__init__()
        self.q = check_number("q", q, 0.0, 1.0)
        if method not in QUANTILE_METHODS:
            raise ValueError(f"'method' must be one of {QUANTILE_METHODS}, got {method!r}")
        self.method = method

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        position = self.q * (seg.counts - 1).clamp(min=0).to(torch.float64)
        lower, upper = position.floor().long(), position.ceil().long()
        if self.method == "lower":
            return select_unchecked(x, seg, [lower])[0]
        if self.method == "higher":
            return select_unchecked(x, seg, [upper])[0]
        if self.method == "nearest":
            return select_unchecked(x, seg, [position.round().long()])[0]
        low, high = select_unchecked(x, seg, [lower, upper])
        weight = torch.full_like(position, 0.5) if self.method == "midpoint" else position - lower
        return low + weight.to(x.dtype).unsqueeze(-1) * (high - low)

    def extra_repr(self) -> str:
        return f"q={self.q}, method={self.method!r}"

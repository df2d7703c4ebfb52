r"""Order-statistic readouts: the median and any quantile of each graph's node set, per feature.

Notation as in :mod:`graphpool.readout.moments`; :math:`x_{(k)}` is the k-th smallest value
(0-based) of a feature column within the graph. ``[N, F] -> [B, F]``; an empty graph gives 0;
a column holding NaN gives NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

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

    >>> import torch
    >>> from graphpool.readout import MedianReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]])  # [N, F]: graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> MedianReadout()(x, batch).tolist()  # of 1, 1, 3, 3 the lower one
    [[1.0], [8.0]]
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

    Several quantiles (``q=[0.25, 0.5, 0.75]``, as PyG's ``QuantileAggregation`` takes them) come side by
    side, ``[N, F] -> [B, Q F]`` (all F features of the first ``q``, then of the next), from one sort of
    each graph's nodes.

    Args:
        q: in ``[0, 1]``, or a non-empty list of them.
        method: ``"linear"`` (default), ``"lower"``, ``"higher"``, ``"nearest"`` or ``"midpoint"``.

    >>> import torch
    >>> from graphpool.readout import QuantileReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]])  # [N, F]: graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> QuantileReadout(0.5)(x, batch).tolist()  # of 1, 1, 3, 3 halfway between 1 and 3
    [[2.0], [8.0]]
    >>> QuantileReadout([0.25, 0.75])(x, batch).tolist()  # [B, Q F]
    [[1.0, 3.0], [8.0, 8.0]]
    """

    name = "quantile"
    accumulates_in_float32 = False

    def __init__(self, q: float | Sequence[float] = 0.5, method: str = "linear") -> None:
        super().__init__()
        if isinstance(q, Sequence) and not isinstance(q, str):
            if not q:
                raise ValueError("'q' must be a number in [0, 1] or a non-empty list of them, got []")
            self.quantiles = tuple(check_number("q", value, 0.0, 1.0) for value in q)
        else:
            self.quantiles = (check_number("q", q, 0.0, 1.0),)
        if method not in QUANTILE_METHODS:
            raise ValueError(f"'method' must be one of {QUANTILE_METHODS}, got {method!r}")
        self.method = method

    @property
    def q(self) -> float | tuple[float, ...]:
        """The quantile as given: one number, or the tuple of several."""
        return self.quantiles[0] if len(self.quantiles) == 1 else self.quantiles

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return torch.cat(self.parts(x, seg), dim=-1)

    def parts(self, x: Tensor, seg: Segments, **inputs: Tensor) -> list[Tensor]:
        """``[B, F]`` per quantile, every order statistic they need taken in one pass (one sort per graph)."""
        size = (seg.counts - 1).clamp(min=0).to(torch.float64)
        positions = [q * size for q in self.quantiles]
        if self.method in ("lower", "higher", "nearest"):
            rounding = {"lower": torch.floor, "higher": torch.ceil, "nearest": torch.round}[self.method]
            return select_unchecked(x, seg, [rounding(position).long() for position in positions])
        ranks = [rank for position in positions for rank in (position.floor().long(), position.ceil().long())]
        picked = select_unchecked(x, seg, ranks)
        out = []
        for position, low, high in zip(positions, picked[::2], picked[1::2], strict=True):
            weight = torch.full_like(position, 0.5) if self.method == "midpoint" else position - position.floor()
            out.append(low + weight.to(x.dtype).unsqueeze(-1) * (high - low))
        return out

    def get_out_channels(self, in_channels: int) -> int:
        return in_channels * len(self.quantiles)

    def extra_repr(self) -> str:
        return f"q={self.q}, method={self.method!r}"

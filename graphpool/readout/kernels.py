"""Segment kernels: reductions of the rows of ``x: [N, F]`` within each of B groups.

All kernels take a validated :class:`~graphpool.readout.segments.Segments` and return
``[B, F]``; an empty group gives 0. They are deterministic: the same input gives
bit-identical output and gradients on every run (no atomic adds), on CPU and CUDA.

Choices, measured in ``scripts/bench_readouts.py``:

* sum: :func:`torch.nn.functional.embedding_bag` in ``"sum"`` mode with the CSR offsets reads
  ``x`` once, one group per thread (FBGEMM on CPU), at about the speed of ``x.sum()``;
  its backward is replaced by one ``index_select`` (``grad_x = grad_out[index]``).
* max/min: ``scatter_reduce`` for many small groups, one ``amax`` per group for few large
  ones; the backward splits the gradient evenly among tied maxima (as ``torch.amax``).
* order statistics: two stable sorts give every column in (group, value) order.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from graphpool.readout.segments import Segments

# Use one ``amax`` per group (CPU, grouped rows) when groups hold at least this many rows on
# average and there are few enough groups that the Python loop costs little.
_LOOP_MIN_AVG_ROWS = 512
_LOOP_MAX_GROUPS = 512


def gather_rows(values: Tensor, seg: Segments) -> Tensor:
    """Broadcast per-group values back to rows: ``[B, ...] -> [N, ...]`` (``values[index]``)."""
    return values.index_select(0, seg.index)


class _SegmentSum(torch.autograd.Function):
    @staticmethod
    def forward(x: Tensor, seg: Segments) -> Tensor:  # type: ignore[override]
        if x.dtype.is_floating_point:
            return F.embedding_bag(seg.rows, x, seg.ptr, mode="sum", include_last_offset=True)
        out = x.new_zeros(seg.num_segments, x.size(1))
        return out.index_add_(0, seg.index, x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor, Segments], output: Tensor) -> None:
        ctx.seg = inputs[1]

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return gather_rows(grad, ctx.seg), None


def segment_sum(x: Tensor, seg: Segments) -> Tensor:
    r"""Per-group sum :math:`\mathbf{o}_b = \sum_{i \in b} \mathbf{x}_i`. ``[N, F] -> [B, F]``."""
    return _SegmentSum.apply(x, seg)


def segment_mean(x: Tensor, seg: Segments) -> Tensor:
    r"""Per-group mean; 0 for an empty group. ``[N, F] -> [B, F]``."""
    return segment_sum(x, seg) / seg.counts.clamp(min=1).unsqueeze(-1).to(x.dtype)


def _extreme_forward(x: Tensor, seg: Segments, largest: bool) -> Tensor:
    num_segments = seg.num_segments
    if (
        seg.is_sorted
        and x.device.type == "cpu"
        and not torch.compiler.is_compiling()
        and 0 < num_segments <= _LOOP_MAX_GROUPS
        and seg.num_rows >= _LOOP_MIN_AVG_ROWS * num_segments
    ):
        reduce = torch.amax if largest else torch.amin
        zero = x.new_zeros(x.size(1))
        parts = torch.split(x, seg.host_counts)
        return torch.stack([reduce(part, 0) if part.size(0) else zero for part in parts])
    out = x.new_zeros(num_segments, x.size(1))
    target = seg.index.unsqueeze(-1).expand_as(x)
    return out.scatter_reduce_(0, target, x, "amax" if largest else "amin", include_self=False)


class _SegmentExtreme(torch.autograd.Function):
    @staticmethod
    def forward(x: Tensor, seg: Segments, largest: bool) -> Tensor:  # type: ignore[override]
        return _extreme_forward(x, seg, largest)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor, Segments, bool], output: Tensor) -> None:
        x, seg, _ = inputs
        ctx.seg = seg
        ctx.save_for_backward(x, output)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        x, out = ctx.saved_tensors
        seg = ctx.seg
        hit = (x == gather_rows(out, seg)).to(grad.dtype)
        ties = segment_sum(hit, seg).clamp(min=1)
        return hit * gather_rows(grad / ties, seg), None, None


def segment_max(x: Tensor, seg: Segments) -> Tensor:
    r"""Per-group elementwise maximum; 0 for an empty group. ``[N, F] -> [B, F]``.

    The gradient is shared evenly among rows that tie for the maximum (as ``torch.amax``).
    """
    return _SegmentExtreme.apply(x, seg, True)


def segment_min(x: Tensor, seg: Segments) -> Tensor:
    r"""Per-group elementwise minimum; 0 for an empty group. ``[N, F] -> [B, F]``."""
    return _SegmentExtreme.apply(x, seg, False)


def segment_softmax(logits: Tensor, seg: Segments) -> Tensor:
    r"""Softmax of each column within each group: :math:`\alpha_i = e^{s_i} / \sum_{j \in b(i)} e^{s_j}`.

    ``[N, C] -> [N, C]``; numerically stable (the group maximum is subtracted first).
    """
    shift = gather_rows(segment_max(logits.detach(), seg), seg)
    weights = torch.exp(logits - shift)
    return weights / gather_rows(segment_sum(weights, seg), seg)


def segment_order(x: Tensor, seg: Segments) -> Tensor:
    """Rows of each column in (group, value) order. ``[N, F] -> [N, F]`` of row ids.

    Column ``f`` of the result lists the row ids of group 0 by ascending ``x[:, f]``, then
    group 1, and so on, so the k-th smallest value of group ``b`` sits at row
    ``ptr[b] + k``. Ties keep input order; NaN sorts last.
    """
    by_value = torch.argsort(x.detach(), dim=0, stable=True)
    group_of = seg.index[by_value]
    by_group = torch.argsort(group_of, dim=0, stable=True)
    return by_value.gather(0, by_group)


def segment_kth(x: Tensor, seg: Segments, order: Tensor, k: Tensor) -> Tensor:
    """The ``k[b]``-th smallest value (0-based) of each column of each group.

    Args:
        x: ``[N, F]``.
        order: ``[N, F]`` from :func:`segment_order`.
        k: ``[B]`` ranks with ``0 <= k[b] < counts[b]``; entries of empty groups are ignored.

    Returns:
        ``[B, F]``, an element of ``x`` (so the gradient reaches exactly that element);
        0 for empty groups.
    """
    nonempty = seg.counts > 0
    position = (seg.ptr[:-1] + k).clamp(0, max(seg.num_rows - 1, 0))
    if seg.num_rows == 0:
        return x.new_zeros(seg.num_segments, x.size(1))
    rows = order.index_select(0, position)
    picked = x.gather(0, rows)
    return torch.where(nonempty.unsqueeze(-1), picked, torch.zeros((), dtype=x.dtype, device=x.device))

"""Segment kernels: reductions of the rows of ``x: [N, F]`` within each of B groups.

All kernels take a validated :class:`~graphpool.ops.segments.Segments` and return
``[B, F]``; an empty group gives 0. They are deterministic: the same input gives
bit-identical output and gradients on every run, on CPU and CUDA (no atomic adds of values
whose rounding depends on their order; only whole-number tie counts are added by index).

Choices, measured in ``scripts/bench_readouts.py``:

* sum: :func:`torch.nn.functional.embedding_bag` in ``"sum"`` mode with the CSR offsets reads
  ``x`` once, one group per thread (FBGEMM on CPU), at about the speed of ``x.sum()``; on CPU a
  group of more than 2^16 rows is summed in chunks of 2^16 and the chunks' sums added in order, so
  that one large graph is shared among the threads (the same chunks for any thread count);
  its backward is replaced by one ``index_select`` (``grad_x = grad_out[index]``).
* max/min: ``scatter_reduce``; with numba installed, one compiled pass over grouped rows where it
  is faster (from 2^21 values, or thousands of rows of few features: up to 5x there); without numba,
  one ``amax`` per group for few large groups. The backward
  splits the gradient evenly among tied maxima (as ``torch.amax``).
* order statistics: with numba installed, graphs of up to 64 rows are sorted by a compiled
  sorting network (:mod:`graphpool.ops.compiled`); other graphs of one size class are padded into
  short rows ``[G, F, width]`` and sorted (NumPy's vectorised sort on CPU), then the ranks are read off.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graphpool.ops import compiled
from graphpool.ops.device_path import on_host, sync_allowed
from graphpool.ops.segments import Segments
from graphpool.ops.validation import check_tensor, validation_enabled

# Use one ``amax`` per group (CPU, grouped rows) when groups hold at least this many rows on
# average and there are few enough groups that the Python loop costs little.
_LOOP_MIN_AVG_ROWS = 20_000
_LOOP_MAX_GROUPS = 512


# From this many bytes of output, gather_rows uses gather on CPU (the output outgrows the L3 cache there)
_GATHER_MIN_BYTES = 1 << 24

# On CPU, a sum over a group of more rows is taken in chunks of this many (the same chunks for any thread count)
_SUM_CHUNK_ROWS = 1 << 16


def check_rows(x: Tensor, seg: Segments) -> None:
    """A ``ValueError`` unless ``x`` is ``[N, F]`` with the N rows of ``seg`` (shapes only: no value is read)."""
    check_tensor("x", x)
    if x.dim() != 2 or x.size(0) != seg.num_rows:
        raise ValueError(f"x must be [N, F] with N = {seg.num_rows} (the rows of 'seg'), got {tuple(x.shape)}")


def _check_floating(op: str, x: Tensor) -> None:
    """A ``ValueError`` unless ``x`` is floating point (a mean, a variance, a softmax are fractions)."""
    if not x.is_floating_point():
        raise ValueError(f"{op} needs floating-point x, got {x.dtype}; convert with x.float()")


def gather_rows(values: Tensor, seg: Segments) -> Tensor:
    """Broadcast per-group values back to rows: ``[B, ...] -> [N, ...]`` (``values[index]``).

    ``index_select`` copies row by row; for outputs beyond the L3 cache, ``gather`` over the expanded index
    was 11-20 % faster on CPU (320,000-1,600,000 rows of 16-64 features, 30,000 of 256), and 10-40 % slower
    below it (``scripts/bench_readouts.py``: the backward of sum and mean is this one call).
    """
    if values.dim() == 0 or values.size(0) != seg.num_segments:
        raise ValueError(
            f"'values' must have B = {seg.num_segments} rows (the groups of 'seg'), got {tuple(values.shape)}"
        )
    if (
        on_host(values)
        and values.dim() == 2
        and seg.num_rows * values.size(1) * values.element_size() >= _GATHER_MIN_BYTES
    ):
        return values.gather(0, seg.index.unsqueeze(1).expand(-1, values.size(1)))
    return values.index_select(0, seg.index)


def _needs_graph(x: Tensor) -> bool:
    return x.requires_grad and torch.is_grad_enabled()


def _custom_backward(x: Tensor) -> bool:
    """Whether a kernel runs through its own ``autograd.Function`` (gradients needed, not under ``torch.compile``).

    Under ``torch.compile`` the kernels are plain differentiable torch operations: a Function that keeps a
    :class:`Segments` on its context breaks once the batch shape varies ('does not belong to this Graph'
    with automatic or ``dynamic=True`` shapes), and the compiler derives the same backward itself.
    """
    return _needs_graph(x) and not torch.compiler.is_compiling()


def _counts(seg: Segments) -> Tensor:
    """``[B, 1]`` int64: n_b, and 1 for empty groups (whose sums are 0).

    Kept as integers: dividing a float tensor by them converts them to its dtype inside the division, the
    same values as a ``.to(dtype)`` first, without that extra operation (~10 us of a mean's call).
    """
    return seg.counts.clamp(min=1).unsqueeze_(-1)


def _sum_forward(x: Tensor, seg: Segments, divisor: Tensor | None, weights: Tensor | None = None) -> Tensor:
    """The sums (means: ``divisor``) of the groups; ``weights``: ``[N]`` per-row factors in grouped row order."""
    if x.dtype.is_floating_point and torch.compiler.is_compiling():  # differentiable: the compiler derives the backward
        out = torch.nn.functional.embedding_bag(seg.rows, x, seg.ptr, mode="sum", include_last_offset=True)
        return out if divisor is None else out / divisor
    if x.dtype.is_floating_point:
        # detach: with a weight that requires grad, embedding_bag also builds its own backward buffers
        # (2-3x slower); our backward is the index_select below. torch.embedding_bag (mode 0: sum) is the
        # op under torch.nn.functional.embedding_bag, without its argument checks (3-6 us per call)
        chunks = _sum_chunks(seg) if on_host(x) and x.dtype in _FULL_PRECISION else None
        bounds = seg.ptr if chunks is None else chunks[0]
        out = torch.embedding_bag(
            x.detach(), seg.rows, bounds, mode=0, per_sample_weights=weights, include_last_offset=True
        )[0]
        if chunks is not None:  # the chunks' sums, then each group's chunks summed in order
            partial, firsts = out, chunks[1]
            order = torch.arange(partial.size(0))
            out = torch.embedding_bag(partial, order, firsts, mode=0, include_last_offset=True)[0]
    else:  # integers are summed in int64, as torch.sum promotes them (uint8 would wrap at 256)
        out = torch.zeros(seg.num_segments, x.size(1), dtype=torch.int64, device=x.device)
        out.index_add_(0, seg.index, x.long())
    # divide, as torch.mean does: multiplying by 1/n is not exact (a mean of 2,000 values of 60
    # would be 60.000004, and the std of a constant graph would not be 0)
    return out if divisor is None else out.div_(divisor)


#: the dtypes whose large sums are chunked and whose weighted sums take one pass (float16 and bfloat16 keep one
#: rounding per group, and the product's sum)
_FULL_PRECISION = (torch.float32, torch.float64)


def _sum_chunks(seg: Segments) -> tuple[Tensor, Tensor] | None:
    """Offsets that cut every group of more than ``_SUM_CHUNK_ROWS`` rows into chunks of that many, and the
    offsets of each group's chunks among them; ``None`` when no group is that large.

    ``embedding_bag`` sums each bag on one thread: a batch of fewer large graphs than threads (one tissue of a
    million cells) would leave threads idle. The chunks are fixed by the group sizes alone, so the result does
    not depend on the number of threads.
    """
    if seg.num_rows <= _SUM_CHUNK_ROWS or torch.compiler.is_compiling():
        return None
    ptr = seg.ptr.numpy()
    counts = np.diff(ptr)
    if counts.max(initial=0) <= _SUM_CHUNK_ROWS:
        return None
    pieces = np.maximum(1, -(-counts // _SUM_CHUNK_ROWS))  # an empty group keeps one (empty) bag
    firsts = np.zeros(pieces.size + 1, dtype=np.int64)
    np.cumsum(pieces, out=firsts[1:])
    within = np.arange(firsts[-1]) - np.repeat(firsts[:-1], pieces)
    bounds = np.append(np.repeat(ptr[:-1], pieces) + within * _SUM_CHUNK_ROWS, ptr[-1])
    return torch.from_numpy(bounds), torch.from_numpy(firsts)


class _SegmentSum(torch.autograd.Function):
    """Sum (``divisor=None``) or mean per group; backward: one ``index_select``."""

    # ctx-style forward: the setup_context style costs ~30 us of signature binding per call
    @staticmethod
    def forward(ctx: Any, x: Tensor, seg: Segments, divisor: Tensor | None) -> Tensor:
        ctx.seg, ctx.divisor = seg, divisor
        return _sum_forward(x, seg, divisor)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        if ctx.divisor is not None:
            grad = grad / ctx.divisor
        return gather_rows(grad, ctx.seg), None, None


class _SegmentWeightedSum(torch.autograd.Function):
    r""":math:`\sum_i w_i \mathbf{x}_i` per group in one pass; backward: :math:`g_{b(i)} w_i` and
    :math:`\langle g_{b(i)}, \mathbf{x}_i \rangle` from one gathered ``[N, F]`` buffer."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, seg: Segments) -> Tensor:
        ctx.seg = seg
        ctx.save_for_backward(x, weight)
        return _sum_forward(x, seg, None, _grouped(weight.detach(), seg))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        x, weight = ctx.saved_tensors
        rows = gather_rows(grad, ctx.seg)
        grad_weight = (rows * x).sum(1) if ctx.needs_input_grad[1] else None
        grad_x = None
        if ctx.needs_input_grad[0]:  # in place unless this backward is itself differentiated
            grad_x = rows * weight.unsqueeze(1) if torch.is_grad_enabled() else rows.mul_(weight.unsqueeze(1))
        return grad_x, grad_weight, None


def _grouped(values: Tensor, seg: Segments) -> Tensor:
    """Per-row values in grouped row order (as ``seg.rows`` lists the rows)."""
    return values if seg.perm is None else values.index_select(0, seg.perm)


def segment_sum(x: Tensor, seg: Segments, weight: Tensor | None = None) -> Tensor:
    r"""Per-group sum :math:`\mathbf{o}_b = \sum_{i \in b} \mathbf{x}_i`. ``[N, F] -> [B, F]``.

    Integer inputs give int64 sums (as :func:`torch.sum`); floating-point inputs keep their dtype.
    ``weight [N]`` (of ``x``'s dtype): the weighted sum :math:`\sum_{i \in b} w_i \mathbf{x}_i`, for float32
    and float64 in one pass without the ``[N, F]`` product.
    """
    check_rows(x, seg)
    if weight is not None:
        if weight.shape != (seg.num_rows,) or weight.dtype != x.dtype:
            raise ValueError(
                f"'weight' must be [N] = [{seg.num_rows}] of x's dtype {x.dtype}, got {tuple(weight.shape)} "
                f"{weight.dtype}"
            )
        if x.dtype not in _FULL_PRECISION or torch.compiler.is_compiling():  # the product, then its sum
            return segment_sum(weight.unsqueeze(1) * x, seg)
        if _needs_graph(x) or _needs_graph(weight):
            return _SegmentWeightedSum.apply(x, weight, seg)
        return _sum_forward(x, seg, None, _grouped(weight, seg))
    return _SegmentSum.apply(x, seg, None) if _custom_backward(x) else _sum_forward(x, seg, None)


def segment_mean(x: Tensor, seg: Segments) -> Tensor:
    r"""Per-group mean; 0 for an empty group. ``[N, F] -> [B, F]``."""
    check_rows(x, seg)
    _check_floating("segment_mean", x)
    divisor = _counts(seg)
    return _SegmentSum.apply(x, seg, divisor) if _custom_backward(x) else _sum_forward(x, seg, divisor)


def _centred(x: Tensor, seg: Segments) -> Tensor:
    """``[N, F]`` each row minus its group's mean, made in the gathered means' own buffer."""
    return gather_rows(segment_mean(x, seg), seg).neg_().add_(x)


class _SegmentVariance(torch.autograd.Function):
    r"""Two-pass variance; backward: :math:`\partial \mathrm{var}_b / \partial x_i = 2 (x_i - \bar{x}_b) / n_b`,
    one ``[N, F]`` buffer (autograd through the two means makes seven; the mean's own path adds
    :math:`\sum_i (x_i - \bar{x}_b) = 0`)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, seg: Segments) -> Tensor:
        centred = _centred(x, seg)
        ctx.seg = seg
        ctx.save_for_backward(x, centred)
        return segment_mean(centred * centred, seg)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        x, centred = ctx.saved_tensors
        seg = ctx.seg
        scale = gather_rows(grad / _counts(seg) * 2, seg)
        if torch.is_grad_enabled():  # double backward: differentiable in x as well, out-of-place
            return scale * _centred(x, seg), None
        return scale.mul_(centred), None


def segment_var(x: Tensor, seg: Segments) -> Tensor:
    r"""Per-group population variance, two-pass (stable): :math:`\frac{1}{n_b}\sum_{i \in b}(\mathbf{x}_i -
    \bar{\mathbf{x}}_b)^2`; 0 for groups of fewer than two rows. ``[N, F] -> [B, F]``."""
    check_rows(x, seg)
    _check_floating("segment_var", x)
    if _custom_backward(x):
        return _SegmentVariance.apply(x, seg)
    centred = _centred(x, seg)
    return segment_mean(centred * centred if centred.requires_grad else centred.mul_(centred), seg)


def _compiled_grouped(x: Tensor, seg: Segments) -> bool:
    """Whether a compiled pass over ``x``'s grouped rows can run: on the host with numba, rows sorted by group."""
    return on_host(x) and compiled.available(x.dtype) and not torch.compiler.is_compiling() and seg.is_sorted


def _extreme_forward(x: Tensor, seg: Segments, largest: bool) -> Tensor:
    num_segments = seg.num_segments
    # where scatter_reduce is slower (many values, or many rows of few features): one compiled pass
    if compiled.extreme_pays(seg.num_rows, x.size(1)) and _compiled_grouped(x, seg):
        values = x.detach().contiguous().numpy()
        return torch.from_numpy(compiled.segment_extreme(values, seg.ptr.numpy(), largest, torch.get_num_threads()))
    if (
        on_host(x)
        and not torch.compiler.is_compiling()
        and 0 < num_segments <= _LOOP_MAX_GROUPS
        and seg.num_rows >= _LOOP_MIN_AVG_ROWS * num_segments
        and seg.is_sorted
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
    def forward(ctx: Any, x: Tensor, seg: Segments, largest: bool) -> Tensor:
        out = _extreme_forward(x, seg, largest)
        ctx.seg = seg
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        x, out = ctx.saved_tensors
        seg = ctx.seg
        # tie counts by index_add over seg.index: whole numbers, so exact in any order (deterministic
        # on CUDA too), and no grouped layout is derived here (under torch.compile a layout first
        # computed in a backward is a side effect the compiler refuses)
        if torch.is_grad_enabled():  # double backward: differentiable, out-of-place
            hit = (x == gather_rows(out, seg)).to(grad.dtype)
            ties = torch.zeros_like(out, dtype=grad.dtype).index_add(0, seg.index, hit).clamp(min=1)
            return hit * gather_rows(grad / ties, seg), None, None
        # two passes over each graph's rows in one compiled loop, where the code below makes seven over [N, F]
        if grad.dtype == x.dtype and _compiled_grouped(x, seg):
            values, ptr, extremes, upstream = (part.detach().numpy() for part in (x, seg.ptr, out, grad))
            shares = compiled.segment_extreme_backward(values, ptr, extremes, upstream, torch.get_num_threads())
            return torch.from_numpy(shares), None, None
        # one [N, F] buffer reused three times: rows' maxima, tie indicators, the gradient
        buffer = gather_rows(out, seg)
        hit = torch.eq(x, buffer)
        ties = torch.zeros_like(out, dtype=grad.dtype).index_add_(0, seg.index, buffer.copy_(hit)).clamp_(min=1)
        torch.index_select(grad / ties, 0, seg.index, out=buffer)
        return buffer.masked_fill_(hit.logical_not_(), 0), None, None


def segment_max(x: Tensor, seg: Segments) -> Tensor:
    r"""Per-group elementwise maximum; 0 for an empty group. ``[N, F] -> [B, F]``.

    The gradient is shared evenly among rows that tie for the maximum (as ``torch.amax``).
    """
    check_rows(x, seg)
    return _SegmentExtreme.apply(x, seg, True) if _custom_backward(x) else _extreme_forward(x, seg, True)


def segment_min(x: Tensor, seg: Segments) -> Tensor:
    r"""Per-group elementwise minimum; 0 for an empty group. ``[N, F] -> [B, F]``."""
    check_rows(x, seg)
    return _SegmentExtreme.apply(x, seg, False) if _custom_backward(x) else _extreme_forward(x, seg, False)


def segment_softmax(logits: Tensor, seg: Segments) -> Tensor:
    r"""Softmax of each column within each group: :math:`\alpha_i = e^{s_i} / \sum_{j \in b(i)} e^{s_j}`.

    ``[N, C] -> [N, C]``; numerically stable (the group maximum is subtracted first).

    >>> import torch
    >>> from graphpool.ops import segment_softmax, segments_from
    >>> seg = segments_from(4, torch.tensor([0, 0, 1, 1]))
    >>> segment_softmax(torch.tensor([[0.0], [0.0], [1000.0], [1000.0]]), seg).tolist()  # no overflow
    [[0.5], [0.5], [0.5], [0.5]]
    """
    check_rows(logits, seg)
    _check_floating("segment_softmax", logits)
    weights = shifted_exp(logits, seg)  # (autograd keeps the exp's output: the division makes the other buffer)
    return weights / gather_rows(segment_sum(weights, seg), seg)


def shifted_exp(logits: Tensor, seg: Segments) -> Tensor:
    r"""``[N, C]`` :math:`e^{s_i - \max_{j \in b(i)} s_j}`, the softmax's numerators (each group's largest is 1: no
    overflow), made in one buffer: the gathered maxima's, which takes the logits and the exp in place."""
    return gather_rows(segment_max(logits.detach(), seg), seg).neg_().add_(logits).exp_()


_NUMPY_SORTABLE = frozenset(
    {torch.float16, torch.float32, torch.float64, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8}
)


_PARALLEL_SORT_MIN_ELEMENTS = 1 << 18


def _sort_last_(dense: Tensor) -> Tensor:
    """Sort a contiguous tensor along its last dim, in place when it can.

    On CPU, NumPy's vectorised sort of short rows is ~5x faster than ``torch.sort``; it
    releases the GIL, so large inputs are split into row blocks sorted on
    ``torch.get_num_threads()`` threads (rows are independent: the result is the same).
    """
    if not on_host(dense) or dense.dtype not in _NUMPY_SORTABLE or torch.compiler.is_compiling():
        return torch.sort(dense, dim=-1).values
    array = dense.numpy().reshape(-1, dense.size(-1))
    workers = min(torch.get_num_threads(), array.shape[0])
    if workers < 2 or array.size < _PARALLEL_SORT_MIN_ELEMENTS:
        array.sort(axis=-1)
        return dense
    bounds = np.linspace(0, array.shape[0], workers + 1).astype(int)
    blocks = [array[start:stop] for start, stop in itertools.pairwise(bounds)]
    compiled.run_parallel(lambda block: block.sort(axis=-1), blocks, workers)
    return dense


def _padding_value(dtype: torch.dtype) -> float | int:
    return float("inf") if dtype.is_floating_point else torch.iinfo(dtype).max


def _size_classes(counts: Tensor) -> dict[int, np.ndarray]:
    """Non-empty graphs grouped by size class ``ceil(log2 n)`` (ids, ascending): padding within a class wastes < 2x."""
    sizes = counts.cpu().numpy()
    graphs = np.flatnonzero(sizes)
    levels = np.ceil(np.log2(sizes[graphs])).astype(np.int64)  # log2 of a power of two is exact
    return {int(level): graphs[levels == level] for level in np.unique(levels)}


def segment_select(x: Tensor, seg: Segments, ranks: list[Tensor]) -> list[Tensor]:
    """Order statistics: for each ``k`` in ``ranks``, the ``k[b]``-th smallest value (0-based) per column.

    A column of a graph that holds NaN gives NaN (as :func:`torch.median` and
    :func:`torch.quantile`), whatever the rank and whatever else is in the batch.

    Args:
        x: ``[N, F]``.
        ranks: tensors ``[B]`` with ``0 <= k[b] < counts[b]`` (ignored for empty graphs).

    Returns:
        one ``[B, F]`` tensor per rank tensor; 0 for empty graphs. Each value is an element
        of ``x``, and the gradient reaches exactly that element (the first row of the graph
        holding the value, when values tie).

    With numba (:mod:`graphpool.ops.compiled`), compiled kernels select: selection networks for graphs of
    up to 64 rows, quickselect for graphs of more than 512. Other graphs are padded (with +inf) to the
    largest size of their size class, each class is sorted row-wise (``[G, F, n_max]``), and the ranks are
    read off.

    Raises:
        ValueError: ``x`` is not ``[N, F]`` with the rows of ``seg``, or ``ranks`` are not ``[B]`` integer tensors;
            with validation on (and a value may be read back), a rank outside its non-empty group.

    >>> import torch
    >>> from graphpool.ops import segment_select, segments_from
    >>> x, seg = torch.tensor([[3.0], [1.0], [1.0], [3.0], [8.0]]), segments_from(5, torch.tensor([0, 0, 0, 0, 1]))
    >>> low, high = segment_select(x, seg, [torch.tensor([0, 0]), torch.tensor([3, 0])])  # the smallest; the 4th
    >>> low.tolist(), high.tolist()
    ([[1.0], [8.0]], [[3.0], [8.0]])
    """
    check_rows(x, seg)
    _check_ranks(ranks, seg, x)
    return select_unchecked(x, seg, ranks)


def select_unchecked(x: Tensor, seg: Segments, ranks: list[Tensor]) -> list[Tensor]:
    """:func:`segment_select` without its input checks, for ranks made from ``seg.counts`` (the median and
    quantile readouts: checking them cost 20-30 us of a 100 us call)."""
    num_rows, channels = x.shape
    if num_rows == 0 or seg.num_segments == 0:
        return [x.new_zeros(seg.num_segments, channels) for _ in ranks]
    if not sync_allowed(x):  # compiling, or a device with validation off: shapes that need no read-back
        return _propagate_nan(_select_by_sorting(x, seg, ranks), x.detach(), seg)
    track = _needs_graph(x)
    # with gradients: for every pick, the grouped row of x it came from; the pick is then that element of x
    # (not merely equal to it: +0.0 and -0.0 compare equal), the first row of the graph holding the value
    source_row: list[Tensor] = []
    values = x.detach()
    nan_seen = None  # whether x holds NaN, where the compiled kernels saw all of it
    grouped = values if seg.is_sorted else values.index_select(0, seg.rows)
    classes = _size_classes(seg.counts)
    nonempty = sum(len(graphs) for graphs in classes.values())
    # compiled selection (graphpool.ops.compiled); its picks come zero-filled by NumPy: zero-filling [B, F] tensors
    # first is a parallel torch operation, after which torch's threads spin for milliseconds on the kernel's cores
    if on_host(x) and compiled.available(x.dtype):
        fits = [level for level in classes if compiled.selects(level)]
        fitting = np.concatenate([classes[level] for level in fits]) if fits else np.zeros(0)
        picks, picked_rows, nan_seen = compiled.select_ranks(
            grouped.contiguous().numpy(),
            seg.ptr.numpy(),
            fitting.astype(np.int64),
            torch.stack(ranks).numpy().astype(np.int64, copy=False),
            track,
            torch.get_num_threads(),
        )
        picked = list(torch.from_numpy(picks).unbind(0))
        source_row = list(torch.from_numpy(picked_rows).unbind(0)) if track else []
        classes = {level: graphs for level, graphs in classes.items() if level not in fits}
        nan_seen = nan_seen or None if classes else nan_seen  # the other graphs' values are not seen yet
    else:
        picked = [x.new_zeros(seg.num_segments, channels) for _ in ranks]
    if track and not source_row:  # no kernel filled them
        source_row = [torch.zeros(seg.num_segments, channels, dtype=torch.long, device=x.device) for _ in ranks]
    pad = _padding_value(x.dtype)
    device = x.device
    for graphs in classes.values():
        ids = torch.from_numpy(graphs).to(device)
        counts = seg.counts.index_select(0, ids)
        width = int(counts.max())
        slot = torch.arange(width, device=device)
        first = seg.ptr.index_select(0, ids)
        source = (first.unsqueeze(1) + slot).clamp(max=num_rows - 1)
        rows = grouped.index_select(0, source.flatten())
        rows.index_fill_(0, torch.nonzero((slot >= counts.unsqueeze(1)).flatten()).squeeze(1), pad)
        dense = rows.view(len(graphs), width, channels).transpose(1, 2).contiguous()  # [G, F, width]
        unsorted = dense.clone() if track else None
        ordered = _sort_last_(dense)
        for number, (k, out) in enumerate(zip(ranks, picked, strict=True)):
            at = k.index_select(0, ids).view(-1, 1, 1).expand(-1, channels, 1)
            chosen = ordered.gather(2, at)  # [G, F, 1]
            if unsorted is not None:  # the first slot holding the chosen value (slot 0 if none: NaN)
                at = (unsorted == chosen).to(torch.uint8).argmax(-1, keepdim=True)
                chosen = unsorted.gather(2, at)
                source_row[number].index_copy_(0, ids, first.unsqueeze(1) + at.squeeze(2))
            out.index_copy_(0, ids, chosen.squeeze(2))
    if track:  # the picks as elements of x, so that the gradient reaches exactly them
        if not seg.is_sorted:
            source_row = [seg.rows[rows] for rows in source_row]
        with_rows = None if nonempty == seg.num_segments else torch.nonzero(seg.counts).squeeze(1)
        picked = [_Picked.apply(x, out, rows, with_rows) for out, rows in zip(picked, source_row, strict=True)]
    return picked if nan_seen is False else _propagate_nan(picked, values, seg)


class _Picked(torch.autograd.Function):
    """The picks ``values[b, f] = x[rows[b, f], f]`` (found by the caller) as a function of ``x``.

    Backward: each pick's gradient is written to its element of a zero ``[N, F]`` gradient through
    one flat index (``gather``/``scatter`` along dim 0 walk ``x`` column by column: 1.2 ms each way
    for 1024 x 128 picks among 30,000 x 128 rows, 4x the flat write). Each ``(b, f)`` of a graph with
    rows (``graphs``; ``None``: all graphs) owns its element: none is written twice, nothing is summed.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, values: Tensor, rows: Tensor, graphs: Tensor | None) -> Tensor:
        if graphs is not None:
            rows = rows.index_select(0, graphs)
        ctx.flat = (rows * x.size(1) + torch.arange(x.size(1), device=rows.device)).view(-1)
        ctx.shape, ctx.graphs = x.shape, graphs
        return values.view_as(values)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        if ctx.graphs is not None:
            grad = grad.index_select(0, ctx.graphs)
        out = grad.new_zeros(ctx.shape.numel())
        return out.index_put_((ctx.flat,), grad.reshape(-1)).view(ctx.shape), None, None, None


def _check_ranks(ranks: list[Tensor], seg: Segments, x: Tensor) -> None:
    """``ranks`` are ``[B]`` integer tensors (shapes and dtypes: always) with ``0 <= k[b] < counts[b]`` for the
    non-empty groups (values: with validation on, where a value may be read back; one read per rank tensor)."""
    shape = (seg.num_segments,)
    for k in ranks if isinstance(ranks, list | tuple) else [ranks]:
        if (
            not isinstance(ranks, list | tuple)
            or not isinstance(k, Tensor)
            or k.shape != shape
            or k.is_floating_point()
            or k.dtype == torch.bool
        ):
            raise ValueError(
                f"'ranks' must be a list of [B] integer tensors with B = {seg.num_segments}, got "
                + (f"a tensor of shape {tuple(k.shape)}, dtype {k.dtype}" if isinstance(k, Tensor) else repr(k))
            )
        if validation_enabled() and sync_allowed(x) and k.numel():
            bad = ((k < 0) | (k >= seg.counts)) & (seg.counts > 0)
            if bool(bad.any()):
                group = int(bad.nonzero()[0, 0])
                raise ValueError(
                    f"'ranks' must hold 0 <= k < n per group; rank {int(k[group])} of group {group}, which has "
                    f"{int(seg.counts[group])} rows"
                )


def _select_by_sorting(x: Tensor, seg: Segments, ranks: list[Tensor]) -> list[Tensor]:
    """Order statistics with shapes that do not depend on the data (the path under ``torch.compile``).

    Each column is sorted by value, then stably by graph, so graph ``b``'s ``k``-th smallest
    value sits at ``ptr[b] + k``: no padding to the largest graph, no graph sizes read back.
    The values equal :func:`segment_select`'s; where values tie, the gradient may go to
    another of the tied rows.
    """
    num_rows, channels = x.shape
    by_value = torch.sort(x.detach(), dim=0, stable=True).indices  # [N, F]
    graph_of = seg.index.unsqueeze(1).expand(num_rows, channels).gather(0, by_value)
    order = by_value.gather(0, torch.sort(graph_of, dim=0, stable=True).indices)  # grouped, ascending
    present = (seg.counts > 0).unsqueeze(1)
    picked = []
    for k in ranks:
        position = (seg.ptr[:-1] + k.clamp(min=0)).clamp(max=num_rows - 1)
        rows = order.gather(0, position.unsqueeze(1).expand(seg.num_segments, channels))  # [B, F]
        picked.append(torch.where(present, x.gather(0, rows), torch.zeros((), dtype=x.dtype, device=x.device)))
    return picked


def _propagate_nan(picked: list[Tensor], values: Tensor, seg: Segments) -> list[Tensor]:
    """Set a pick to NaN where its graph's column holds a NaN (NaN sorts last, so a rank can miss it)."""
    if not values.dtype.is_floating_point:
        return picked
    # a finite sum proves there is no NaN (one read of x); only otherwise are the NaNs located
    if sync_allowed(values) and bool(torch.isfinite(values.sum())):
        return picked
    nan = torch.isnan(values)
    has_nan = _extreme_forward(nan.to(torch.uint8), seg, largest=True).bool()
    return [out.masked_fill(has_nan, float("nan")) for out in picked]

r"""Global and axis-selective pooling of ``[B, C, *S]`` tensors with graphpool's readouts.

A feature map is a batch of grid graphs (:mod:`graphpool.grid.convert`), so global average
pooling *is* the mean readout of those graphs:

.. math::
    \mathrm{GAP}(F)_{bc} = \frac{1}{|S|}\sum_{s \in S} F_{bcs} = \mathrm{mean}_{i \in V_b}\, x_{ic}.

Pooling over a subset of the axes (e.g. over time of a ``[B, C, F, T]`` spectrogram) treats
every position of the kept axes as its own graph whose nodes are the pooled positions. Any
readout works; for ``sum``/``mean``/``max``/``min`` a dense path (``x.mean(dims)`` ...) gives
the same numbers without building groups (tested), the others run the readout on
equal-size groups.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from graphpool.grid.convert import check_feature_map, scaled_grid_positions
from graphpool.ops.ranges import check_whole
from graphpool.readout import MaxReadout, MeanReadout, MinReadout, Readout, SumReadout, resolve
from graphpool.readout.functional import functional_readout

_DENSE: dict[type[Readout], Callable[..., Tensor]] = {
    SumReadout: torch.sum,
    MeanReadout: torch.mean,
    MaxReadout: torch.amax,
    MinReadout: torch.amin,
}


def _pooled_axes(x: Tensor, dims: Sequence[int] | int | None) -> tuple[int, ...]:
    check_feature_map(x)
    if dims is None:
        return tuple(range(2, x.dim()))
    dims = (dims,) if isinstance(dims, int) or not isinstance(dims, Iterable) else tuple(dims)
    for d in dims:
        check_whole("dims", d)
    if not dims:
        raise ValueError("'dims' must name at least one axis to pool")
    axes = tuple(sorted({d % x.dim() if -x.dim() <= d < x.dim() else -1 for d in dims}))
    if any(a < 2 for a in axes) or len(axes) != len(dims):
        raise ValueError(f"'dims' must be distinct spatial axes (2..{x.dim() - 1} or negative), got {tuple(dims)}")
    return axes


def _check_positional(readout: Readout, positional: bool) -> None:
    if positional and "pos" not in readout.extra_inputs:
        raise ValueError(
            f"'positional' passes each cell's position to the readout, but the readout ({type(readout).__name__}) "
            "reads no positions: use an AttentionReadout with pos_channels (the number of pooled axes)"
        )


def pool_grid(
    x: Tensor,
    readout: Readout | str,
    dims: Sequence[int] | int | None = None,
    positional: bool = False,
    dense: bool = True,
) -> Tensor:
    """Pool ``x: [B, C, *S]`` over the axes ``dims`` (default: all spatial) with ``readout`` (a module, or a name
    :func:`~graphpool.readout.resolve` reads, e.g. ``"median"`` or ``"mean+max"``).

    Returns ``[B, C', *kept]``: the pooled axes removed, C' = ``readout.get_out_channels(C)``.
    ``positional``: pass node positions (coordinates scaled to [0, 1] per pooled axis) as
    ``pos`` to the readout (an :class:`~graphpool.readout.AttentionReadout` with a positional
    bias). ``dense=False`` forces the readout path even where a dense one exists.

    >>> import torch
    >>> from graphpool.grid import pool_grid
    >>> x = torch.arange(8.0).reshape(1, 2, 2, 2)  # [B, C, H, W]: channel 0 holds 0..3, channel 1 holds 4..7
    >>> pool_grid(x, "mean").tolist(), pool_grid(x, "median").tolist()
    ([[1.5, 5.5]], [[1.0, 5.0]])
    >>> pool_grid(x, "max", dims=-1).tolist()  # the last axis only: [B, C, H]
    [[[1.0, 3.0], [5.0, 7.0]]]
    """
    if isinstance(readout, str):
        readout, _ = functional_readout(readout, {}, argument="readout", module="graphpool.grid.GlobalPool")
    elif not isinstance(readout, Readout):
        raise TypeError(f"'readout' must be a Readout or a readout name, got {type(readout).__name__}")
    _check_positional(readout, positional)
    axes = _pooled_axes(x, dims)
    shape = [x.size(a) for a in axes]
    size = math.prod(shape)
    # the dense path only where it equals the readout: an empty axis makes torch.mean NaN and
    # torch.amax fail, where an empty graph pools to 0
    # and for floating-point maps only: the readouts say what an integer map needs, where torch.mean fails
    fast = _DENSE.get(type(readout)) if dense and size > 0 and x.is_floating_point() else None
    if fast is not None:
        return fast(x, dim=axes)
    kept = [a for a in range(2, x.dim()) if a not in axes]
    # [B, *kept, *pooled, C] -> rows grouped by (b, kept position)
    moved = x.permute(0, *kept, *axes, 1)
    groups = moved.shape[: 1 + len(kept)]
    rows = moved.reshape(-1, x.size(1))
    count = math.prod(groups)
    ptr = torch.arange(count + 1, device=x.device) * size
    inputs: dict[str, Any] = {}
    if positional:
        inputs["pos"] = scaled_grid_positions(tuple(shape), x.device, x.dtype).repeat(count, 1)
    out = readout(rows, ptr=ptr, **inputs)  # [count, C']
    return out.reshape(*groups, out.size(-1)).movedim(-1, 1)


class GlobalPool(nn.Module):
    """Global (or axis-selective) pooling layer for 1D/2D/3D feature maps, from any readout.

    ``GlobalPool("mean")`` is global average pooling, ``GlobalPool("max")`` global max pooling,
    ``GlobalPool("mean+max")`` their concatenation, ``GlobalPool("median")``,
    ``GlobalPool("quantile", q=0.9)``, ``GlobalPool(AttentionReadout(C, pos_channels=2),
    positional=True)`` attention with a learnable positional bias and temperature.
    ``GlobalPool("mean", dims=-1)`` pools only the last axis (e.g. time of a spectrogram).
    Works for any input size with no change to the model.

    Shapes: ``[B, C, *S]`` -> ``[B, C']`` (all spatial axes pooled) or ``[B, C', *kept]``.

    >>> import torch
    >>> from graphpool.grid import GlobalPool
    >>> pool = GlobalPool("mean+max")
    >>> pool(torch.arange(8.0).reshape(1, 2, 2, 2)).tolist()  # the means of the two channels, then their maxima
    [[1.5, 5.5, 3.0, 7.0]]
    >>> pool.get_out_channels(2)
    4
    """

    def __init__(
        self, readout: Any = "mean", dims: Sequence[int] | int | None = None, positional: bool = False, **options: Any
    ) -> None:
        super().__init__()
        self.readout = resolve(readout, **options)
        _check_positional(self.readout, positional)
        self.dims = dims
        self.positional = positional

    def get_out_channels(self, in_channels: int) -> int:
        """Width of the pooled output for ``in_channels`` input channels."""
        return self.readout.get_out_channels(in_channels)

    def forward(self, x: Tensor) -> Tensor:
        return pool_grid(x, self.readout, self.dims, self.positional)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, positional={self.positional}"

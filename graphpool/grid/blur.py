r"""Anti-aliased strided pooling (Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML 2019).

Subsampling with a stride aliases high frequencies, so a one-pixel shift of the input can
change the output a lot. Blurring with a binomial filter first (a low-pass) and then
subsampling keeps more of the shift invariance: the "partial squeeze" between local pooling
(stride 1) and global pooling (one output per image).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphpool.ops.ranges import Range
from graphpool.ops.validation import check_tensor

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def binomial_filter(size: int, dims: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Normalised binomial kernel ``[size] * dims`` (size 3: [1, 2, 1] / 4 per axis), for 1 to 3 axes.

    >>> from graphpool.grid import binomial_filter
    >>> binomial_filter(3, 1).tolist(), binomial_filter(3, 2).sum().item()
    ([0.25, 0.5, 0.25], 1.0)
    """
    Range(1, whole=True).check("size", size)
    if dims not in _CONV:
        raise ValueError(f"'dims' must be 1, 2 or 3, got {dims}")
    if not dtype.is_floating_point:  # the normalised weights would round to zero
        raise ValueError(f"'dtype' must be a floating-point dtype, got {dtype}")
    total = 2 ** (size - 1)  # the sum of the row; dividing the integers keeps any width finite
    row = torch.tensor([math.comb(size - 1, k) / total for k in range(size)], dtype=dtype)
    return _separable(row, dims)


def _separable(row: Tensor, dims: int) -> Tensor:
    """The ``dims``-dimensional outer product of a one-axis filter with itself."""
    kernel = row
    for _ in range(dims - 1):
        kernel = kernel.unsqueeze(-1) * row
    return kernel


class BlurPool(nn.Module):
    """Blur (binomial, depthwise, reflect padding), then subsample by ``stride``.

    For ``[B, C, *S]`` with 1 to 3 spatial axes. The one-axis filter is built once and kept
    as a (non-persistent) buffer, as timm does (and moved to the input's device and dtype when they differ).

    >>> import torch
    >>> from graphpool.grid import BlurPool
    >>> spike = torch.tensor([[[0.0, 0.0, 4.0, 0.0, 0.0, 0.0]]])  # [B, C, L]
    >>> BlurPool(stride=2)(spike).tolist()  # blurred, then subsampled: [0, 4, 0] would be plain subsampling's
    [[[0.0, 2.0, 0.0]]]
    >>> BlurPool(stride=2)(spike.roll(1, -1)).tolist()  # shifted by one: [0, 1, 1], where plain gives all zeros
    [[[0.0, 1.0, 1.0]]]
    """

    def __init__(self, stride: int = 2, size: int = 3) -> None:
        super().__init__()
        Range(1, whole=True).check("stride", stride)
        self.stride, self.size = stride, size
        self.row: Tensor
        self.register_buffer("row", binomial_filter(size, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x)
        dims = x.dim() - 2
        if dims not in _CONV:
            raise ValueError(f"BlurPool takes [B, C, *S] with 1 to 3 spatial axes, got {tuple(x.shape)}")
        if not x.is_floating_point():  # the filter cast to an integer dtype is all zeros
            raise ValueError(
                f"BlurPool needs floating-point features, but x has dtype {x.dtype}; convert with x.float()"
            )
        left, right = (self.size - 1) // 2, self.size // 2
        if min(x.shape[2:], default=right + 1) <= right:
            raise ValueError(
                f"BlurPool(size={self.size}) pads each spatial axis by reflection, which needs more than {right} "
                f"cells per axis; got x of shape {tuple(x.shape)}"
            )
        kernel = _separable(self.row.to(device=x.device, dtype=x.dtype), dims)
        weight = kernel.expand(x.size(1), 1, *kernel.shape)
        padded = F.pad(x, [left, right] * dims, mode="reflect") if self.size > 1 else x
        return _CONV[dims](padded, weight, stride=self.stride, groups=x.size(1))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, size={self.size}"

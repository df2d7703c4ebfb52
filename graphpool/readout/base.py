"""The :class:`Readout` base class: argument handling shared by every readout module."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch_geometric.nn.aggr import Aggregation

from graphpool.readout.functional import check_features
from graphpool.readout.segments import Segments, segments_from


class Readout(Aggregation):
    r"""Base class of graphpool's readouts; a PyG :class:`~torch_geometric.nn.aggr.Aggregation`.

    A readout maps the rows of each group (the nodes of a graph, or the messages into a
    node) to one row. Subclasses implement only :meth:`compute` on validated input
    ``x: [N, F]`` and :class:`~graphpool.readout.segments.Segments`; this class owns the
    argument checking, the ``dim`` handling and PyG's calling convention, so every readout
    works as a global pool and as ``aggr=`` of a ``MessagePassing`` layer:

    >>> import torch
    >>> from torch_geometric.nn import SAGEConv
    >>> from graphpool.readout import MedianReadout
    >>> conv = SAGEConv(4, 8, aggr=MedianReadout())
    >>> conv(torch.randn(5, 4), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])).shape
    torch.Size([5, 8])

    Shapes:
        - input: ``x: [*, N, F]`` (pooled along ``dim``, default -2), ``index: [N]`` or
          ``ptr: [B + 1]``, ``dim_size = B``
        - output: ``[*, B, out_channels(F)]``
    """

    #: canonical name in the resolver registry
    name: ClassVar[str] = ""
    #: whether integer features are rejected
    needs_float: ClassVar[bool] = True
    #: names of per-node keyword inputs that :meth:`compute` accepts (e.g. ``weight``)
    extra_inputs: ClassVar[tuple[str, ...]] = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        # Bypass Aggregation.__call__: its checks call index.max() and rephrase errors; ours
        # run once in forward() with messages that name the argument.
        return torch.nn.Module.__call__(self, *args, **kwargs)

    def forward(
        self,
        x: Tensor,
        index: Tensor | None = None,
        ptr: Tensor | None = None,
        dim_size: int | None = None,
        dim: int = -2,
        **inputs: Tensor,
    ) -> Tensor:
        """Pool ``x`` along ``dim`` group by group (see the class docstring for shapes)."""
        x2d, seg, unflatten = self.prepare(x, index, ptr, dim_size, dim)
        return unflatten(self.compute(x2d, seg, **inputs))

    def prepare(
        self, x: Tensor, index: Tensor | None, ptr: Tensor | None, dim_size: int | None, dim: int
    ) -> tuple[Tensor, Segments, Callable[[Tensor], Tensor]]:
        """Validate the arguments once.

        Returns ``x`` as ``[N, F']`` (``dim`` moved first, the other dims flattened), the
        segments, and ``unflatten``: ``[B, F'']`` -> the output layout (``B`` at ``dim``).
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() == 0 or not -x.dim() <= dim < x.dim():
            raise ValueError(f"'dim' = {dim} is out of range for x of shape {tuple(x.shape)}")
        check_features(x, self.name or type(self).__name__, self.needs_float)
        dim = dim % x.dim()
        moved = x.movedim(dim, 0)
        lead = moved.shape[1:-1]
        columns = math.prod(moved.shape[1:])  # explicit: reshape(N, -1) is ambiguous for N = 0
        x2d = moved.reshape(moved.size(0), columns)
        seg = segments_from(x2d.size(0), index, ptr, dim_size, device=x.device)

        def unflatten(out: Tensor) -> Tensor:
            if moved.dim() == 1:
                return out.reshape(out.size(0))
            if moved.dim() == 2 and dim == 0:
                return out
            width = out.size(-1) // math.prod(lead) if math.prod(lead) else 0
            return out.reshape(out.size(0), *lead, width).movedim(0, dim)

        return x2d, seg, unflatten

    def compute(self, x: Tensor, seg: Segments, **inputs: Tensor) -> Tensor:
        """Reduce validated ``x: [N, F]`` to ``[B, out_channels(F)]``."""
        raise NotImplementedError

    def out_channels(self, in_channels: int) -> int:
        """Width of the output for ``in_channels`` input features."""
        return in_channels

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def per_column(values: Tensor, width: int, name: str) -> Tensor:
    """Tile a per-feature parameter ``[C]`` over the ``width = L * C`` columns of flattened ``[*, N, C]`` input.

    One value (``C = 1``) broadcasts as it is; otherwise ``width`` must be a multiple of ``C``
    (the leading dimensions were flattened into the columns, features last).
    """
    channels = values.numel()
    if channels == 1 or channels == width:
        return values
    if channels == 0 or width % channels:
        raise ValueError(f"'channels' = {channels} ({name}) does not divide the {width} feature columns of x")
    return values.repeat(width // channels)

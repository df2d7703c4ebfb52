"""Several readouts side by side, concatenated along the feature dimension."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch_geometric.nn.aggr import Aggregation, MultiAggregation

from graphpool.ops import Segments
from graphpool.readout.base import Readout


class MultiReadout(Readout, MultiAggregation):
    r"""Concatenate readouts: :math:`\mathbf{o}_b = [\rho_1(X_b) \,\|\, \rho_2(X_b) \,\|\, \dots]`.

    The segments are validated once and shared. Per-node inputs (``weight``, ``pos``) are
    passed to the readouts that take them. ``[N, F] -> [B, sum_k out_channels_k(F)]``.

    It is a PyG :class:`~torch_geometric.nn.aggr.MultiAggregation`, so as ``aggr=`` of a layer
    it behaves as PyG's own: ``SAGEConv`` widens its linear map to the concatenation
    (:meth:`get_out_channels`). Layers that need the aggregation to keep the message width
    (``GraphConv``, ``GINConv``, ``GATConv``, ``TransformerConv``) take ``mode="proj"``: the
    concatenation followed by a learned ``Linear(sum_k F_k, in_channels)``, as PyG's
    ``MultiAggregation(mode="proj")``.

    Args:
        readouts: the readouts, at least one.
        mode: ``"cat"`` (default) or ``"proj"``.
        in_channels: F, the message width; needed by ``mode="proj"``.

    >>> import torch
    >>> from graphpool.readout import resolve
    >>> readout = resolve(["mean", "max"])
    >>> readout(torch.tensor([[1.0], [3.0]]), torch.tensor([0, 0]))
    tensor([[2., 3.]])
    """

    needs_float = False  # each part checks its own needs
    accumulates_in_float32 = False  # each part decides

    def __init__(self, readouts: Sequence[Readout], mode: str = "cat", in_channels: int | None = None) -> None:
        Aggregation.__init__(self)  # not MultiAggregation.__init__, which resolves PyG's own aggregations
        if mode not in ("cat", "proj"):
            raise ValueError(f"'mode' must be 'cat' or 'proj', got {mode!r}")
        if mode == "proj" and (not isinstance(in_channels, int) or in_channels < 1):
            raise ValueError(f"mode='proj' needs 'in_channels' (the message width F >= 1), got {in_channels!r}")
        if len(readouts) == 0:
            raise ValueError("MultiReadout needs at least one readout")
        for readout in readouts:
            if not isinstance(readout, Readout):
                raise TypeError(f"MultiReadout takes graphpool Readout modules, got {type(readout).__name__}")
        self.readouts = nn.ModuleList(readouts)
        self.extra_inputs = tuple(sorted({name for r in readouts for name in r.extra_inputs}))
        self.mode, self.in_channels = mode, in_channels
        if mode == "proj":
            assert in_channels is not None
            width = sum(readout.get_out_channels(in_channels) for readout in readouts)
            self.lin = nn.Linear(width, in_channels)

    @property
    def members(self) -> list[Readout]:
        """The readouts, typed (``readouts`` is the ``nn.ModuleList`` that registers them)."""
        return [cast(Readout, readout) for readout in self.readouts]

    @property
    def aggrs(self) -> nn.ModuleList:
        """The readouts, under the name PyG's ``MultiAggregation`` uses."""
        return self.readouts

    def reset_parameters(self) -> None:
        for readout in self.members:
            readout.reset_parameters()
        if self.mode == "proj":
            self.lin.reset_parameters()

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        """:meth:`Readout.forward` of the members' parts side by side, then (``mode="proj"``) the projection."""
        out = super().forward(*args, **kwargs)
        return self.lin(out) if self.mode == "proj" else out

    def prepare(
        self, x: Tensor, index: Tensor | None, ptr: Tensor | None, dim_size: int | None, dim: int
    ) -> tuple[Tensor, Segments, Callable[[Tensor], Tensor]]:
        prepared = super().prepare(x, index, ptr, dim_size, dim)
        if self.mode == "proj":
            if x.dim() > 1 and dim % x.dim() == x.dim() - 1:
                raise ValueError("mode='proj' pools along a dimension other than the last (the features)")
            self.check_width(x.size(-1) if x.dim() > 1 else 1)
        if x.dim() > 2 and self.nests_a_projection():
            raise ValueError(
                "a MultiReadout(mode='proj') inside another MultiReadout pools [N, F] features only: the other "
                f"feature dims of x {tuple(x.shape)} reach it flattened; pool with it at the top level instead"
            )
        return prepared

    def check_width(self, width: int) -> None:
        """A ``ValueError`` unless ``mode="proj"`` features have the ``in_channels`` the projection reads."""
        if width != self.in_channels:
            raise ValueError(
                f"x has {width} features, but this MultiReadout(mode='proj') has in_channels = {self.in_channels}"
            )

    def nests_a_projection(self) -> bool:
        """Whether a member (or a member's member) is a ``mode="proj"`` :class:`MultiReadout`."""
        return any(
            isinstance(readout, MultiReadout) and (readout.mode == "proj" or readout.nests_a_projection())
            for readout in self.members
        )

    def parts(self, x: Tensor, seg: Segments, **inputs: Tensor) -> list[Tensor]:
        """Every member's parts side by side (before the projection of ``mode="proj"``, which :meth:`forward`
        and :meth:`compute` apply)."""
        unknown = set(inputs) - set(self.extra_inputs)
        if unknown:
            raise ValueError(f"unexpected inputs {sorted(unknown)}; these readouts take {list(self.extra_inputs)}")
        parts = []
        for readout in self.members:
            readout.check_features(x)
            mine = {k: v for k, v in inputs.items() if k in readout.extra_inputs}
            projected = isinstance(readout, MultiReadout) and readout.mode == "proj"  # one part: its projection
            parts += [readout.reduce_segments(x, seg, **mine)] if projected else readout.parts(x, seg, **mine)
        return parts

    def compute(self, x: Tensor, seg: Segments, **inputs: Tensor) -> Tensor:
        if self.mode == "proj":  # [N, F] here (a member of another MultiReadout, a pool's reduce)
            self.check_width(x.size(1))
        out = torch.cat(self.parts(x, seg, **inputs), dim=-1)
        return self.lin(out) if self.mode == "proj" else out

    def get_out_channels(self, in_channels: int) -> int:
        if self.mode == "proj":
            return in_channels
        return sum(readout.get_out_channels(in_channels) for readout in self.members)

    def __repr__(self) -> str:
        mode = f", mode='proj', in_channels={self.in_channels}" if self.mode == "proj" else ""
        return f"MultiReadout([{', '.join(repr(r) for r in self.readouts)}]{mode})"

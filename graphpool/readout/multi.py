"""Several readouts side by side, concatenated along the feature dimension."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from graphpool.readout.base import Readout
from graphpool.readout.functional import check_features
from graphpool.readout.segments import Segments


class MultiReadout(Readout):
    r"""Concatenate readouts: :math:`\mathbf{o}_b = [\rho_1(X_b) \,\|\, \rho_2(X_b) \,\|\, \dots]`.

    The segments are validated once and shared. Per-node inputs (``weight``, ``pos``) are
    passed to the readouts that take them. ``[N, F] -> [B, sum_k out_channels_k(F)]``.

    >>> import torch
    >>> from graphpool.readout import resolve
    >>> readout = resolve(["mean", "max"])
    >>> readout(torch.tensor([[1.0], [3.0]]), torch.tensor([0, 0]))
    tensor([[2., 3.]])
    """

    name = "multi"
    needs_float = False

    def __init__(self, readouts: Sequence[Readout]) -> None:
        super().__init__()
        if len(readouts) == 0:
            raise ValueError("MultiReadout needs at least one readout")
        for readout in readouts:
            if not isinstance(readout, Readout):
                raise TypeError(f"MultiReadout takes graphpool Readout modules, got {type(readout).__name__}")
        self.readouts = nn.ModuleList(readouts)
        self.extra_inputs = tuple(sorted({name for r in readouts for name in r.extra_inputs}))

    def forward(
        self,
        x: Tensor,
        index: Tensor | None = None,
        ptr: Tensor | None = None,
        dim_size: int | None = None,
        dim: int = -2,
        **inputs: Tensor,
    ) -> Tensor:
        if x.dim() < 2:
            raise ValueError(f"MultiReadout needs x with a feature dimension, got shape {tuple(x.shape)}")
        x2d, seg, unflatten = self.prepare(x, index, ptr, dim_size, dim)
        feature_dim = -1 if dim % x.dim() != x.dim() - 1 else -2
        return torch.cat([unflatten(part) for part in self._parts(x2d, seg, inputs)], dim=feature_dim)

    def _parts(self, x: Tensor, seg: Segments, inputs: dict[str, Tensor]) -> list[Tensor]:
        unknown = set(inputs) - set(self.extra_inputs)
        if unknown:
            raise ValueError(f"unexpected inputs {sorted(unknown)}; these readouts take {list(self.extra_inputs)}")
        parts = []
        for readout in self.readouts:
            check_features(x, readout.name, readout.needs_float)
            mine = {k: v for k, v in inputs.items() if k in readout.extra_inputs}
            parts.append(readout.compute(x, seg, **mine))
        return parts

    def compute(self, x: Tensor, seg: Segments, **inputs: Tensor) -> Tensor:
        return torch.cat(self._parts(x, seg, inputs), dim=-1)

    def out_channels(self, in_channels: int) -> int:
        return sum(readout.out_channels(in_channels) for readout in self.readouts)

    def __repr__(self) -> str:
        return f"MultiReadout([{', '.join(repr(r) for r in self.readouts)}])"

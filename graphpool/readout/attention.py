r"""Attention readout: a learned softmax over each graph's nodes, with a temperature."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor, nn

from graphpool.ops import Segments, segment_softmax, segment_sum
from graphpool.ops.ranges import Range
from graphpool.readout.base import Readout


class AttentionReadout(Readout):
    r"""Attention pooling: a learned softmax over each graph's nodes, with a temperature and an optional positional bias.

    :math:`\mathbf{o}_b = \sum_{i \in V_b} \alpha_i\, h(\mathbf{x}_i)` with

    .. math::
        \alpha_i = \mathrm{softmax}_{i \in V_b}\big((g(\mathbf{x}_i) + r(\mathbf{p}_i)) / T\big)

    a content score :math:`g` (default: a linear layer to one logit, or ``heads`` logits
    that each weigh the whole feature vector and are averaged), an optional positional
    bias :math:`r` of node positions ``pos`` (e.g. cell coordinates or pixel positions), an
    optional value map :math:`h` (default identity) and a temperature :math:`T > 0`.

    :math:`T \to \infty` gives the mean; :math:`T \to 0` puts all weight on the node(s)
    with the top logit, i.e. it selects the top-scoring region of each graph (tested).

    Args:
        in_channels: F.
        gate: module ``[N, F] -> [N, 1]`` (or ``[N, H]``); default ``Linear(F, heads)``.
        value: module ``[N, F] -> [N, F']``; default identity.
        pos_channels: D, the width of ``pos``; enables the positional bias
            :math:`r` = a two-layer MLP ``D -> pos_hidden -> heads``.
        temperature: initial :math:`T`.
        learn_temperature: learn :math:`\log T`.
        heads: number of attention heads (their weighted sums are averaged).

    Shapes: ``x: [N, F]``, ``pos: [N, D]`` (if ``pos_channels``) -> ``[B, F']``.

    >>> import torch
    >>> from graphpool.readout import AttentionReadout
    >>> readout = AttentionReadout(in_channels=16, heads=2, pos_channels=2)
    >>> x, pos, batch = torch.randn(5, 16), torch.rand(5, 2), torch.tensor([0, 0, 0, 1, 1])
    >>> readout(x, batch, pos=pos).shape
    torch.Size([2, 16])
    """

    name = "attention"
    extra_inputs = ("pos",)
    accumulates_in_float32 = False  # its layers run in the model's dtype

    def __init__(
        self,
        in_channels: int,
        gate: nn.Module | None = None,
        value: nn.Module | None = None,
        pos_channels: int | None = None,
        pos_hidden: int = 16,
        temperature: float = 1.0,
        learn_temperature: bool = False,
        heads: int = 1,
    ) -> None:
        super().__init__()
        Range(1, whole=True).check("in_channels", in_channels)
        Range(1, whole=True).check("heads", heads)
        if pos_channels is not None:  # 0 or None: no positional bias
            Range(0, whole=True).check("pos_channels", pos_channels)
        if pos_channels:  # the bias MLP's width, read only when there is one
            Range(1, whole=True).check("pos_hidden", pos_hidden)
        if not temperature > 0:
            raise ValueError(f"'temperature' must be > 0, got {temperature}")
        self.in_channels, self.heads = in_channels, heads
        self.gate = gate if gate is not None else nn.Linear(in_channels, heads)
        self.value = value
        self.pos_bias = (
            nn.Sequential(nn.Linear(pos_channels, pos_hidden), nn.Tanh(), nn.Linear(pos_hidden, heads))
            if pos_channels
            else None
        )
        self.initial_temperature = float(temperature)
        log_t = torch.tensor(float(temperature)).log()
        if learn_temperature:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)

    @property
    def temperature(self) -> Tensor:
        return self.log_temperature.exp()

    def reset_parameters(self) -> None:
        for module in (self.gate, self.value, self.pos_bias):
            if module is not None:
                for layer in module.modules():
                    if hasattr(layer, "reset_parameters") and layer is not self:
                        cast(Any, layer).reset_parameters()
        with torch.no_grad():
            self.log_temperature.fill_(torch.tensor(self.initial_temperature).log().item())

    def logits(self, x: Tensor, pos: Tensor | None = None) -> Tensor:
        """Unnormalised scores ``[N, H]`` of node rows ``x: [N, F]`` (content plus positional bias)."""
        score = self.gate(x)
        if score.dim() == 1:
            score = score.unsqueeze(-1)
        if self.pos_bias is not None:
            if pos is None:
                raise ValueError("this AttentionReadout has a positional bias: call it with pos=<[N, D] tensor>")
            if pos.dim() != 2 or pos.size(0) != x.size(0):
                raise ValueError(f"'pos' must be [N, D] with N = {x.size(0)}, got shape {tuple(pos.shape)}")
            width = self.pos_bias[0].in_features
            if pos.size(1) != width:
                raise ValueError(
                    f"'pos' has {pos.size(1)} columns but this AttentionReadout has pos_channels = {width}"
                )
            score = score + self.pos_bias(pos.to(x.dtype))
        elif pos is not None:
            raise ValueError("'pos' was given but this AttentionReadout has no positional bias (set pos_channels)")
        return score

    def weights(self, x: Tensor, seg: Segments, pos: Tensor | None = None) -> Tensor:
        r"""Attention weights :math:`\alpha`: ``[N, H]``, summing to 1 over each non-empty graph."""
        return segment_softmax(self.logits(x, pos) / self.temperature.to(x.dtype), seg)

    def compute(self, x: Tensor, seg: Segments, pos: Tensor | None = None) -> Tensor:
        """``x: [N, L * F]``: L leading positions (flattened by the base class, features last), each attended alone.

        Every head weighs whole feature rows; the heads' weighted sums are averaged:
        ``[N, L, F] -> alpha [N, L, H] -> [B, L, H, F'] -> [B, L * F']``.
        """
        rows, width = x.size(0), x.size(1)
        if width % self.in_channels or (width == 0 and rows):
            raise ValueError(f"x has {width} features but this AttentionReadout has in_channels = {self.in_channels}")
        slices = width // self.in_channels
        flat = x.reshape(rows * slices, self.in_channels)  # one row per (node, leading position)
        if pos is not None and slices > 1:
            pos = pos.repeat_interleave(slices, dim=0)
        logits = self.logits(flat, pos)
        heads = logits.size(1)
        logits = logits.reshape(rows, slices * heads)
        alpha = segment_softmax(logits / self.temperature.to(x.dtype), seg).view(rows, slices, heads, 1)
        values = self.value(flat) if self.value is not None else flat
        if slices * heads == 1:  # one weight per row: summed in one pass, without the [N, F] product
            return segment_sum(values, seg, weight=alpha.view(rows))
        values = values.view(rows, slices, 1, values.size(-1))
        pooled = segment_sum((alpha * values).reshape(rows, slices * heads * values.size(-1)), seg)
        return pooled.view(seg.num_segments, slices, heads, -1).mean(2).reshape(seg.num_segments, -1)

    def get_out_channels(self, in_channels: int) -> int:
        if self.value is None:
            return in_channels
        out = getattr(self.value, "out_features", None) or getattr(self.value, "out_channels", None)
        if out is None:
            raise ValueError("cannot infer the width of a custom 'value' module; it has no out_features")
        return int(out)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, heads={self.heads}, temperature={self.initial_temperature}"

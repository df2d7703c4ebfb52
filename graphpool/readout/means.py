r"""Weighted means of each graph's node set: softmax-weighted, power (generalised) and externally weighted.

Notation as in :mod:`graphpool.readout.moments`. ``[N, F] -> [B, F]``; an empty graph gives 0.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import Parameter

from graphpool.ops import (
    Segments,
    gather_rows,
    segment_max,
    segment_mean,
    segment_sum,
    validation_enabled,
)
from graphpool.ops.kernels import shifted_exp
from graphpool.ops.ranges import Range
from graphpool.ops.validation import check_tensor, finite_and_non_negative
from graphpool.readout.base import Readout, check_number, per_column


def _scalar_or_channels(value: float, channels: int, learn: bool, what: str) -> Parameter | float:
    """A learnable ``[channels]`` parameter, or the plain number when nothing is learned."""
    Range(1, whole=True).check("channels", channels)
    if channels > 1 and not learn:
        raise ValueError(f"'channels' > 1 only makes sense with a learnable {what} (learn=True)")
    return Parameter(torch.full((channels,), float(value))) if learn else float(value)


class SoftmaxReadout(Readout):
    r"""Softmax-weighted mean :math:`\mathbf{o}_b = \sum_{i \in V_b} \alpha_i \mathbf{x}_i`.

    .. math::
        \alpha_i = \mathrm{softmax}_{i \in V_b}(\mathbf{x}_i / T), \text{ per feature.}

    Interpolates between the mean (:math:`T \to \infty`) and the max (:math:`T \to 0^+`); a
    negative temperature leans to the min. Equals PyG's ``SoftmaxAggregation(t=1/T)``.

    Args:
        temperature: :math:`T`, a finite nonzero number.
        learn: learn the inverse temperature :math:`\beta = 1/T` (as PyG's ``SoftmaxAggregation``).
        channels: 1 (one :math:`\beta`) or F (one per feature; needs ``learn=True``).

    >>> import torch
    >>> from graphpool.readout import SoftmaxReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]], dtype=torch.float64)  # graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> SoftmaxReadout()(x, batch).round(decimals=4).tolist()  # the 3s weigh e^2 times the 1s
    [[2.7616], [8.0]]
    >>> SoftmaxReadout(temperature=0.01)(x, batch).tolist()  # T -> 0: the max
    [[3.0], [8.0]]
    """

    name = "softmax"

    def __init__(self, temperature: float = 1.0, learn: bool = False, channels: int = 1) -> None:
        super().__init__()
        self.initial_temperature = check_number("temperature", temperature, nonzero=True)
        self.learn = learn
        self.inverse_temperature = _scalar_or_channels(1.0 / temperature, channels, learn, "temperature")

    def reset_parameters(self) -> None:
        if isinstance(self.inverse_temperature, Tensor):
            with torch.no_grad():
                self.inverse_temperature.fill_(1.0 / self.initial_temperature)

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        if isinstance(self.inverse_temperature, Tensor):
            beta = per_column(self.inverse_temperature, x.size(1), "one inverse temperature per feature")
            temperature: Tensor | float = (1.0 / beta).to(x.dtype) if isinstance(beta, Tensor) else 1.0 / beta
        else:
            temperature = self.initial_temperature
        # sum_i e_i x_i / sum_i e_i with e_i = exp(x_i / T - max_j x_j / T): the weights are never divided row by
        # row (three [N, F] buffers, not seven)
        weights = shifted_exp(x / temperature, seg)
        total = segment_sum(weights, seg)  # >= 1 in a graph with nodes (its maximum gives e = 1), 0 in an empty one
        return segment_sum(weights * x, seg) / total.masked_fill(total == 0, 1)

    def extra_repr(self) -> str:
        return f"temperature={self.initial_temperature}, learn={self.learn}"


class PowerMeanReadout(Readout):
    r"""Generalised (power) mean of positive features, :math:`\left(\frac{1}{n_b}\sum_{i \in V_b} \mathbf{x}_i^{\,p}\right)^{1/p}`.

    ``p = 1`` is the mean, ``p -> inf`` the max, ``p = -1`` the harmonic mean; inputs below
    ``eps`` are clamped to ``eps``. Computed as
    :math:`m_b \left(\frac{1}{n_b}\sum (\mathbf{x}_i/m_b)^p\right)^{1/p}` with
    :math:`m_b = \max_{V_b} \mathbf{x}`, so a large ``p`` does not overflow (PyG clamps inputs
    to ``[0, 100]`` instead).

    Args:
        p: the exponent (initial value when learned), nonzero.
        learn: learn ``p`` (keep it away from 0, where ``1/p`` explodes).
        channels: 1 or F exponents.
        eps: the smallest input value.

    >>> import torch
    >>> from graphpool.readout import PowerMeanReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]], dtype=torch.float64)  # graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> PowerMeanReadout(p=2.0)(x, batch).round(decimals=4).tolist()  # sqrt((1 + 1 + 9 + 9) / 4)
    [[2.2361], [8.0]]
    """

    name = "powermean"

    def __init__(self, p: float = 1.0, learn: bool = False, channels: int = 1, eps: float = 1e-6) -> None:
        super().__init__()
        if p == 0:
            raise ValueError("'p' must be nonzero (p -> 0 is the geometric mean)")
        self.initial_p = check_number("p", p)
        self.learn, self.eps = learn, check_number("eps", eps, 0.0)
        self.p = _scalar_or_channels(p, channels, learn, "p")

    def reset_parameters(self) -> None:
        if isinstance(self.p, Tensor):
            with torch.no_grad():
                self.p.fill_(self.initial_p)

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        p = per_column(self.p, x.size(1), "one exponent per feature")
        if isinstance(p, Tensor):
            p = p.to(x.dtype)
        x = x.clamp(min=self.eps)  # the one [N, F] copy of x, divided in place (and raised, where autograd allows)
        scale = segment_max(x.detach(), seg).clamp(min=self.eps)
        ratio = x.div_(gather_rows(scale, seg))
        powers = ratio.pow(p) if ratio.requires_grad else ratio.pow_(p)
        out = scale * segment_mean(powers, seg).clamp(min=torch.finfo(x.dtype).tiny).pow(1.0 / p)
        return torch.where((seg.counts > 0).unsqueeze(-1), out, torch.zeros_like(out))

    def extra_repr(self) -> str:
        return f"p={self.initial_p}, learn={self.learn}"


class WeightedReadout(Readout):
    r"""Weighted mean :math:`\mathbf{o}_b = \sum_{i \in V_b} w_i \mathbf{x}_i / \sum_{i \in V_b} w_i` with external weights.

    The weights come with the call: ``readout(x, batch, weight=w)``, ``w: [N]``, ``[N, 1]``
    (one per node) or ``[N, F]`` (per feature), non-negative; a boolean mask selects a region.
    With ``normalize=False`` it is the weighted sum. A graph whose weights are all 0 gives 0.

    >>> import torch
    >>> from graphpool.readout import WeightedReadout
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]])  # graph 0 holds 1, 1, 3, 3; graph 1 holds 8
    >>> batch = torch.tensor([0, 0, 0, 0, 1])
    >>> weight = torch.tensor([1.0, 1.0, 2.0, 0.0, 1.0])
    >>> WeightedReadout()(x, batch, weight=weight).tolist()  # (1 + 1 + 2 * 3) / 4
    [[2.0], [8.0]]
    """

    name = "weighted"
    extra_inputs = ("weight",)

    def __init__(self, normalize: bool = True) -> None:
        super().__init__()
        self.normalize = normalize

    def compute(self, x: Tensor, seg: Segments, weight: Tensor | None = None) -> Tensor:
        if weight is None:
            raise ValueError("WeightedReadout needs per-node weights: call it with weight=<[N] tensor>")
        w = _check_weight(weight, x)
        total = segment_sum(x, seg, weight=w.squeeze(1)) if w.size(1) == 1 else segment_sum(w * x, seg)
        if not self.normalize:
            return total
        mass = segment_sum(w, seg)
        positive = mass > 0
        return torch.where(
            positive, total / torch.where(positive, mass, torch.ones_like(mass)), torch.zeros_like(total)
        )

    def extra_repr(self) -> str:
        return f"normalize={self.normalize}"


def _check_weight(weight: Tensor, x: Tensor) -> Tensor:
    check_tensor("weight", weight)
    w = weight.unsqueeze(-1) if weight.dim() == 1 else weight
    if w.dim() != 2 or w.size(0) != x.size(0) or w.size(1) not in (1, x.size(1)):
        raise ValueError(
            f"'weight' must have shape [N], [N, 1] or [N, F] = [{x.size(0)}, {x.size(1)}], got {tuple(weight.shape)}"
        )
    if w.dtype == torch.bool:
        return w.to(x.dtype)
    if not w.dtype.is_floating_point:
        raise ValueError(f"'weight' must be floating point or bool, got dtype {w.dtype}")
    if validation_enabled():
        finite, non_negative = finite_and_non_negative(w)
        if not finite:  # a NaN or infinite weight would give its graph a row of zeros or NaN
            raise ValueError("'weight' must be finite: it holds NaN or infinite values")
        if not non_negative:
            raise ValueError("'weight' must be non-negative (they are normalised per graph)")
    return w.to(x.dtype)

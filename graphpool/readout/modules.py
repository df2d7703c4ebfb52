r"""Readout modules: one small class per readout, each a PyG ``Aggregation``.

The maths is in :mod:`graphpool.readout.functional`; a module adds only its options and
learnable parameters. Shapes (all classes): ``x: [N, F]``, ``index: [N]`` or
``ptr: [B + 1]`` -> ``[B, F]``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import Parameter

from graphpool.readout import functional as fn
from graphpool.readout.base import Readout, per_column
from graphpool.readout.segments import Segments


class SumReadout(Readout):
    r"""Sum :math:`\mathbf{o}_b = \sum_{i \in V_b} \mathbf{x}_i`. Counts: grows with graph size."""

    name = "sum"
    needs_float = False

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return fn.sum_readout(x, seg)


class MeanReadout(Readout):
    r"""Mean :math:`\mathbf{o}_b = \frac{1}{n_b}\sum_{i \in V_b} \mathbf{x}_i`. Proportions: size-invariant."""

    name = "mean"

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return fn.mean_readout(x, seg)


class MaxReadout(Readout):
    r"""Maximum :math:`\mathbf{o}_b = \max_{i \in V_b} \mathbf{x}_i`. Presence of a feature anywhere."""

    name = "max"
    needs_float = False

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return fn.max_readout(x, seg)


class MinReadout(Readout):
    r"""Minimum :math:`\mathbf{o}_b = \min_{i \in V_b} \mathbf{x}_i`."""

    name = "min"
    needs_float = False

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return fn.min_readout(x, seg)


class MedianReadout(Readout):
    r"""Lower median :math:`\mathbf{o}_b = x_{(\lfloor (n_b-1)/2 \rfloor)}`, an element of the input.

    Robust to outlying nodes; the gradient goes to the selected element (a subgradient).
    """

    name = "median"
    needs_float = False

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return fn.median_readout(x, seg)


class QuantileReadout(Readout):
    r"""The ``q``-quantile per graph and feature, as :func:`torch.quantile` computes it.

    See :func:`~graphpool.readout.functional.quantile_readout` for the interpolation.

    Args:
        q: in ``[0, 1]``.
        method: ``"linear"`` (default), ``"lower"``, ``"higher"``, ``"nearest"`` or ``"midpoint"``.
    """

    name = "quantile"

    def __init__(self, q: float = 0.5, method: str = "linear") -> None:
        super().__init__()
        if not isinstance(q, (int, float)) or not 0.0 <= q <= 1.0:
            raise ValueError(f"'q' must be a number in [0, 1], got {q!r}")
        if method not in fn.QUANTILE_METHODS:
            raise ValueError(f"'method' must be one of {fn.QUANTILE_METHODS}, got {method!r}")
        self.q, self.method = float(q), method

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return fn.quantile_readout(x, seg, self.q, self.method)

    def extra_repr(self) -> str:
        return f"q={self.q}, method={self.method!r}"


class VarReadout(Readout):
    r"""Population variance :math:`\frac{1}{n_b}\sum_{i \in V_b}(\mathbf{x}_i - \bar{\mathbf{x}}_b)^2`."""

    name = "var"

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return fn.var_readout(x, seg)


class StdReadout(Readout):
    r"""Population standard deviation :math:`\sqrt{\mathrm{var}_b}`; exactly 0 (gradient 0) for constant graphs."""

    name = "std"

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return fn.std_readout(x, seg)


def _scalar_or_channels(value: float, channels: int, learn: bool, what: str) -> Tensor:
    if channels < 1:
        raise ValueError(f"'channels' must be >= 1, got {channels}")
    if channels > 1 and not learn:
        raise ValueError(f"'channels' > 1 only makes sense with a learnable {what} (learn=True)")
    tensor = torch.full((channels,), float(value))
    return Parameter(tensor) if learn else tensor


class SoftmaxReadout(Readout):
    r"""Softmax-weighted mean :math:`\sum_{i \in V_b} \alpha_i \mathbf{x}_i`.

    :math:`\alpha = \mathrm{softmax}_{V_b}(\mathbf{x}/T)`, per feature.

    Interpolates between mean (:math:`T \to \infty`) and max (:math:`T \to 0^+`); a negative
    temperature leans to the min.

    Args:
        temperature: :math:`T`, nonzero.
        learn: learn the inverse temperature :math:`\beta` (as PyG's ``SoftmaxAggregation``).
        channels: 1 (one :math:`\beta`) or F (one per feature; needs ``learn=True``).
    """

    name = "softmax"

    def __init__(self, temperature: float = 1.0, learn: bool = False, channels: int = 1) -> None:
        super().__init__()
        fn.check_temperature(temperature)
        self.initial_temperature = float(temperature)
        self.learn = learn
        beta = _scalar_or_channels(1.0 / temperature, channels, learn, "temperature")
        if learn:
            self.inverse_temperature = beta
        else:
            self.register_buffer("inverse_temperature", beta)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.inverse_temperature.fill_(1.0 / self.initial_temperature)

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        beta = per_column(self.inverse_temperature, x.size(1), "one inverse temperature per feature")
        return fn.softmax_readout(x, seg, 1.0 / beta)

    def extra_repr(self) -> str:
        return f"temperature={self.initial_temperature}, learn={self.learn}"


class PowerMeanReadout(Readout):
    r"""Generalized mean :math:`(\frac{1}{n_b}\sum_{i \in V_b} \mathbf{x}_i^{p})^{1/p}` of positive features.

    ``p = 1`` mean, ``p -> inf`` max; inputs below ``eps`` are clamped to ``eps``.

    Args:
        p: initial exponent, nonzero.
        learn: learn ``p`` (keep it away from 0 where ``1/p`` explodes).
        channels: 1 or F exponents.
    """

    name = "powermean"

    def __init__(self, p: float = 1.0, learn: bool = False, channels: int = 1, eps: float = 1e-6) -> None:
        super().__init__()
        if p == 0:
            raise ValueError("'p' must be nonzero (p -> 0 is the geometric mean)")
        self.initial_p, self.learn, self.eps = float(p), learn, eps
        exponent = _scalar_or_channels(p, channels, learn, "p")
        if learn:
            self.p = exponent
        else:
            self.register_buffer("p", exponent)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.p.fill_(self.initial_p)

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return fn.power_mean_readout(x, seg, per_column(self.p, x.size(1), "one exponent per feature"), self.eps)

    def extra_repr(self) -> str:
        return f"p={self.initial_p}, learn={self.learn}"


class WeightedReadout(Readout):
    r"""Weighted mean :math:`\sum_{i \in V_b} w_i \mathbf{x}_i / \sum_{i \in V_b} w_i` with external weights.

    The weights come with the call: ``readout(x, batch, weight=w)``, ``w: [N]``, ``[N, 1]``
    or ``[N, F]``, non-negative (a bool mask selects a region). With ``normalize=False`` it
    is the weighted sum. A graph whose weights are all zero gives 0.
    """

    name = "weighted"
    extra_inputs = ("weight",)

    def __init__(self, normalize: bool = True) -> None:
        super().__init__()
        self.normalize = normalize

    def compute(self, x: Tensor, seg: Segments, weight: Tensor | None = None) -> Tensor:
        if weight is None:
            raise ValueError("WeightedReadout needs per-node weights: call it with weight=<[N] tensor>")
        return fn.weighted_readout(x, seg, weight, self.normalize)

    def extra_repr(self) -> str:
        return f"normalize={self.normalize}"

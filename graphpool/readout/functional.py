r"""Readouts as functions: permutation-invariant reductions of each graph's node rows.

Every function here takes ``x: [N, F]`` and validated :class:`Segments` and returns
``[B, F]``; the modules in :mod:`graphpool.readout.modules` and :func:`global_pool` call
them, so the maths lives here once. Notation: graph :math:`b` has node set :math:`V_b` of
size :math:`n_b`; :math:`x_{i}` is the feature row of node :math:`i`; every operation acts on
each feature column independently. An empty graph (:math:`n_b = 0`) gives 0 for every
readout.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor

from graphpool.readout.kernels import (
    gather_rows,
    segment_max,
    segment_mean,
    segment_min,
    segment_select,
    segment_softmax,
    segment_sum,
)
from graphpool._validation import validation_enabled
from graphpool.readout.segments import Segments, segments_from

QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")
_HALF_PRECISION = frozenset({torch.float16, torch.bfloat16})
_Readout = TypeVar("_Readout", bound=Callable[..., Tensor])


def accumulates_in_float32(readout: _Readout) -> _Readout:
    """Run ``readout`` on a float32 copy of float16/bfloat16 ``x`` and return ``x``'s dtype.

    As :func:`torch.mean` does: a float16 sum of 1,100 values of 60 would overflow (65,504 is
    its largest value) and bfloat16's 8-bit mantissa would round a mean of 2,000 values.
    """

    @functools.wraps(readout)
    def wrapper(x: Tensor, seg: Segments, *args: Any, **kwargs: Any) -> Tensor:
        if x.dtype not in _HALF_PRECISION:
            return readout(x, seg, *args, **kwargs)
        return readout(x.float(), seg, *args, **kwargs).to(x.dtype)

    return wrapper  # type: ignore[return-value]


def check_temperature(temperature: float) -> None:
    """A softmax temperature must be a finite nonzero number (0 divides by zero; NaN poisons every weight)."""
    number = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
    if not number or not math.isfinite(temperature) or temperature == 0:
        raise ValueError(f"'temperature' must be a finite nonzero number, got {temperature!r}")


@accumulates_in_float32
def sum_readout(x: Tensor, seg: Segments) -> Tensor:
    r""":math:`\sum_{i \in V_b} x_i`: counts; grows with graph size. Integer ``x`` gives int64 sums (as torch.sum)."""
    return segment_sum(x, seg)


@accumulates_in_float32
def mean_readout(x: Tensor, seg: Segments) -> Tensor:
    r""":math:`\frac{1}{n_b}\sum_{i \in V_b} x_i`: proportions; invariant to graph size."""
    return segment_mean(x, seg)


def max_readout(x: Tensor, seg: Segments) -> Tensor:
    r""":math:`\max_{i \in V_b} x_i`: presence of a feature anywhere in the graph."""
    return segment_max(x, seg)


def min_readout(x: Tensor, seg: Segments) -> Tensor:
    r""":math:`\min_{i \in V_b} x_i`."""
    return segment_min(x, seg)


def median_readout(x: Tensor, seg: Segments) -> Tensor:
    r"""Lower median :math:`x_{(\lfloor (n_b - 1)/2 \rfloor)}` (0-based order statistic).

    Always an element of the input (as PyG's ``MedianAggregation``), so the gradient flows to
    exactly that element: a subgradient, differentiable wherever the values are distinct.
    """
    return segment_select(x, seg, [torch.div(seg.counts - 1, 2, rounding_mode="floor")])[0]


def quantile_readout(x: Tensor, seg: Segments, q: float = 0.5, method: str = "linear") -> Tensor:
    r"""The ``q``-quantile of each graph, as :func:`torch.quantile` computes it per graph.

    With position :math:`h = q (n_b - 1)`, ``method`` chooses between the order statistics
    :math:`x_{(\lfloor h \rfloor)}` and :math:`x_{(\lceil h \rceil)}`:
    ``"linear"`` interpolates
    :math:`x_{(\lfloor h\rfloor)} + (h - \lfloor h\rfloor)(x_{(\lceil h\rceil)} - x_{(\lfloor h\rfloor)})`
    (numpy's default), ``"lower"``, ``"higher"``, ``"nearest"`` (round half to even) and
    ``"midpoint"`` pick or average them. ``quantile(q=0.5, method="lower")`` is the median.
    """
    if not 0.0 <= q <= 1.0 or math.isnan(q):
        raise ValueError(f"'q' must lie in [0, 1], got {q}")
    if method not in QUANTILE_METHODS:
        raise ValueError(f"'method' must be one of {QUANTILE_METHODS}, got {method!r}")
    top = (seg.counts - 1).clamp(min=0)
    position = q * top.to(torch.float64)
    lower = position.floor().long()
    upper = position.ceil().long()
    if method == "lower":
        return segment_select(x, seg, [lower])[0]
    if method == "higher":
        return segment_select(x, seg, [upper])[0]
    if method == "nearest":
        return segment_select(x, seg, [position.round().long()])[0]
    low, high = segment_select(x, seg, [lower, upper])
    weight = torch.full_like(position, 0.5) if method == "midpoint" else position - lower
    return low + weight.to(x.dtype).unsqueeze(-1) * (high - low)


@accumulates_in_float32
def var_readout(x: Tensor, seg: Segments) -> Tensor:
    r"""Population variance :math:`\frac{1}{n_b}\sum_{i \in V_b} (x_i - \bar{x}_b)^2` (two-pass, stable).

    0 for graphs with fewer than two nodes. Matches PyG's ``VarAggregation`` (also population).
    """
    centred = x - gather_rows(segment_mean(x, seg), seg)
    return segment_mean(centred * centred, seg)


@accumulates_in_float32
def std_readout(x: Tensor, seg: Segments) -> Tensor:
    r"""Population standard deviation :math:`\sqrt{\mathrm{var}_b}`.

    Exactly 0 for constant graphs, with gradient 0 there (not NaN, which :math:`\sqrt{\cdot}`
    would give at 0). NaN or infinite inputs give NaN, as the variance does.
    """
    var = var_readout(x, seg)
    zero = var == 0
    return torch.where(zero, torch.zeros_like(var), torch.where(zero, torch.ones_like(var), var).sqrt())


@accumulates_in_float32
def softmax_readout(x: Tensor, seg: Segments, temperature: float | Tensor = 1.0) -> Tensor:
    r"""Softmax-weighted mean :math:`\sum_{i \in V_b} \alpha_i x_i`, :math:`\alpha_i = \mathrm{softmax}_{V_b}(x_i / T)`.

    Per feature column. :math:`T \to \infty` gives the mean, :math:`T \to 0^+` the max,
    :math:`T \to 0^-` the min. Equals PyG's ``SoftmaxAggregation(t=1/T)``.
    """
    if isinstance(temperature, Tensor):
        temperature = temperature.to(x.dtype)
    else:
        check_temperature(temperature)
    alpha = segment_softmax(x / temperature, seg)
    return segment_sum(alpha * x, seg)


@accumulates_in_float32
def power_mean_readout(x: Tensor, seg: Segments, p: float | Tensor = 1.0, eps: float = 1e-6) -> Tensor:
    r"""Generalized (power) mean :math:`\left(\frac{1}{n_b}\sum_{i \in V_b} x_i^{\,p}\right)^{1/p}`.

    Defined for positive inputs: values below ``eps`` are clamped to ``eps``. ``p = 1`` is
    the mean, ``p -> inf`` the max, ``p = -1`` the harmonic mean; ``p`` must be nonzero. It is
    computed as :math:`m_b \left(\frac{1}{n_b}\sum (x_i/m_b)^p\right)^{1/p}` with
    :math:`m_b = \max_{V_b} x`, so large ``p`` does not overflow (PyG clamps inputs to
    ``[0, 100]`` instead).
    """
    if isinstance(p, (int, float)) and p == 0:
        raise ValueError("'p' must be nonzero for the power mean (p -> 0 is the geometric mean)")
    if isinstance(p, Tensor):
        p = p.to(x.dtype)
    x = x.clamp(min=eps)
    scale = segment_max(x.detach(), seg).clamp(min=eps)
    ratio = x / gather_rows(scale, seg)
    out = scale * segment_mean(ratio.pow(p), seg).clamp(min=torch.finfo(x.dtype).tiny).pow(1.0 / p)
    return torch.where((seg.counts > 0).unsqueeze(-1), out, torch.zeros_like(out))


@accumulates_in_float32
def weighted_readout(x: Tensor, seg: Segments, weight: Tensor, normalize: bool = True) -> Tensor:
    r"""Weighted mean :math:`\sum_{i \in V_b} w_i x_i / \sum_{i \in V_b} w_i` (or the weighted sum).

    ``weight``: ``[N]`` or ``[N, 1]`` (one weight per node) or ``[N, F]`` (per feature),
    non-negative; a boolean mask selects nodes. A graph whose weights are all 0 gives 0.
    """
    w = _check_weight(weight, x)
    total = segment_sum(w * x, seg)
    if not normalize:
        return total
    mass = segment_sum(w, seg)
    return torch.where(mass > 0, total / torch.where(mass > 0, mass, torch.ones_like(mass)), torch.zeros_like(total))


def _check_weight(weight: Tensor, x: Tensor) -> Tensor:
    if not isinstance(weight, Tensor):
        raise TypeError(f"'weight' must be a torch.Tensor, got {type(weight).__name__}")
    w = weight.unsqueeze(-1) if weight.dim() == 1 else weight
    if w.dim() != 2 or w.size(0) != x.size(0) or w.size(1) not in (1, x.size(1)):
        raise ValueError(
            f"'weight' must have shape [N], [N, 1] or [N, F] = [{x.size(0)}, {x.size(1)}], got {tuple(weight.shape)}"
        )
    if w.dtype == torch.bool:
        return w.to(x.dtype)
    if not w.dtype.is_floating_point:
        raise ValueError(f"'weight' must be floating point or bool, got dtype {w.dtype}")
    if validation_enabled() and bool((w < 0).any()):
        raise ValueError("'weight' must be non-negative (they are normalised per graph)")
    return w.to(x.dtype)


# name -> (function, needs floating point x, names of its keyword options)
FUNCTIONAL: dict[str, tuple[Callable[..., Tensor], bool, tuple[str, ...]]] = {
    "sum": (sum_readout, False, ()),
    "mean": (mean_readout, True, ()),
    "max": (max_readout, False, ()),
    "min": (min_readout, False, ()),
    "median": (median_readout, False, ()),
    "quantile": (quantile_readout, True, ("q", "method")),
    "var": (var_readout, True, ()),
    "std": (std_readout, True, ()),
    "softmax": (softmax_readout, True, ("temperature",)),
    "powermean": (power_mean_readout, True, ("p", "eps")),
    "weighted": (weighted_readout, True, ("weight", "normalize")),
}


def check_features(x: Tensor, reduce: str, needs_float: bool) -> None:
    """Reject integer, boolean or complex ``x`` where the readout needs real floats."""
    if x.dtype.is_complex:
        raise ValueError(f"x must be real, got dtype {x.dtype}")
    if needs_float and not x.dtype.is_floating_point:
        raise ValueError(
            f"reduce '{reduce}' needs floating-point features, but x has dtype {x.dtype}; convert with x.float()"
        )
    if x.dtype == torch.bool:
        raise ValueError(f"x has dtype torch.bool; convert with x.float() or x.long() for reduce '{reduce}'")


def global_pool(
    x: Tensor,
    batch: Tensor | Any | None = None,
    *,
    ptr: Tensor | None = None,
    num_graphs: int | None = None,
    reduce: str = "mean",
    **options: Any,
) -> Tensor:
    r"""Pool the nodes of each graph into one vector: ``[N, F] -> [B, F]`` (``[N] -> [B]``).

    Args:
        x: node features ``[N, F]`` or ``[N]``.
        batch: ``[N]`` graph of each node (PyG's ``batch``; any order), or a PyG ``Batch``
            whose ``batch``, ``ptr`` and ``num_graphs`` are used. ``None``: one graph.
        ptr: ``[B + 1]`` CSR offsets of nodes grouped by graph (alternative to ``batch``).
        num_graphs: B. Give it when known: graphs at the end with no nodes are otherwise
            invisible to ``batch.max() + 1`` (they still get a row of zeros when given).
        reduce: one of ``sum, mean, max, min, median, quantile, var, std, softmax, powermean,
            weighted`` (aliases as in :func:`graphpool.readout.resolve`).
        **options: the reduce's own options: ``q``, ``method`` (quantile); ``temperature``
            (softmax); ``p``, ``eps`` (powermean); ``weight``, ``normalize`` (weighted).

    Returns:
        ``[B, F]``; an empty graph gives a row of zeros.

    Example:
        >>> import torch
        >>> from graphpool.readout import global_pool
        >>> x = torch.tensor([[1.0], [2.0], [4.0], [8.0]])
        >>> batch = torch.tensor([0, 0, 0, 1])
        >>> global_pool(x, batch, reduce="mean")
        tensor([[2.3333],
                [8.0000]])
        >>> global_pool(x, batch, num_graphs=3, reduce="median")
        tensor([[2.],
                [8.],
                [0.]])
    """
    from graphpool.readout.resolver import canonical_name

    name = canonical_name(reduce)
    if name not in FUNCTIONAL:
        from graphpool.readout.resolver import REGISTRY

        if name in REGISTRY:
            raise ValueError(
                f"reduce '{reduce}' has learnable parameters; use graphpool.readout.resolve({reduce!r}, ...) for "
                f"the module. Functional reduces: {', '.join(sorted(FUNCTIONAL))}"
            )
        raise ValueError(f"unknown readout {reduce!r}; valid names: {', '.join(sorted(FUNCTIONAL))}")
    function, needs_float, allowed = FUNCTIONAL[name]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"reduce '{name}' takes options {list(allowed) or 'none'}, got unexpected {unknown}")
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (1, 2):
        raise ValueError(f"x must be [N, F] or [N], got shape {tuple(x.shape)}")
    check_features(x, name, needs_float)
    seg = segments_from(x.size(0), batch, ptr, num_graphs, device=x.device, index_name="batch")
    x2d = x.unsqueeze(-1) if x.dim() == 1 else x
    out = function(x2d, seg, **options)
    return out.squeeze(-1) if x.dim() == 1 else out

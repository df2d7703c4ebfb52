r"""Readouts as one function: :func:`global_pool` computes any registered readout by name.

The maths lives in the readout classes (:mod:`graphpool.readout.moments`,
:mod:`~graphpool.readout.extremes`, :mod:`~graphpool.readout.order`,
:mod:`~graphpool.readout.means`); this function finds the class in the registry, checks the
options against its constructor and calls it. Readouts that need learnable weights
(``attention``) are modules only: use :func:`~graphpool.readout.resolve`.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from graphpool.ops import segments_from
from graphpool.ops.validation import check_tensor
from graphpool.readout.base import REGISTRY, Readout
from graphpool.readout.resolver import readout_class, refuse_unknown_options, resolve

_INSTANCES: dict[tuple[Any, ...], Readout] = {}  # readouts without learnable weights, by class and options
_MAX_INSTANCES = 256


def functional_names() -> list[str]:
    """The registered readouts :func:`global_pool` computes: those whose options all have defaults."""
    return sorted(name for name, cls in REGISTRY.items() if not cls.required_options())


def global_pool(
    x: Tensor,
    batch: Tensor | Any | None = None,
    *,
    ptr: Tensor | None = None,
    num_graphs: int | None = None,
    reduce: str = "mean",
    size: int | None = None,
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
        reduce: a registered readout name (see :func:`functional_names`: ``sum, mean, max,
            min, median, quantile, var, std, softmax, powermean, weighted``; aliases as in
            :func:`graphpool.readout.resolve`), or several joined by ``+`` (``"mean+max"``:
            concatenated, ``[B, 2F]``).
        size: PyG's name for ``num_graphs`` (``global_mean_pool(x, batch, size)``); give one of the two.
        **options: the readout's own options (its class's constructor arguments: ``q``,
            ``method`` of quantile; ``temperature`` of softmax; ``p``, ``eps`` of powermean;
            ``normalize`` of weighted) and per-node inputs (``weight`` of weighted).

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
    if size is not None:
        if num_graphs is not None:
            raise ValueError("'size' is PyG's name for 'num_graphs'; give one of them, not both")
        num_graphs = size
    readout, inputs = functional_readout(reduce, options)
    check_tensor("x", x)
    if x.dim() not in (1, 2):
        raise ValueError(f"x must be [N, F] or [N], got shape {tuple(x.shape)}")
    readout.check_features(x)
    seg = segments_from(x.size(0), batch, ptr, num_graphs, device=x.device, index_name="batch")
    out = readout.reduce_segments(x.unsqueeze(-1) if x.dim() == 1 else x, seg, **inputs)
    return out.squeeze(-1) if x.dim() == 1 else out


def functional_readout(
    reduce: str, options: dict[str, Any], argument: str = "reduce", module: str = "graphpool.readout.resolve"
) -> tuple[Readout, dict[str, Any]]:
    """The readout instance of name ``reduce`` with ``options`` (kept for the next call), and the per-node inputs
    among the options. A readout with learnable weights is refused, naming ``argument`` and the ``module``
    that builds it once: a function call would draw new weights every time."""
    if not isinstance(reduce, str):
        raise TypeError(
            f"'{argument}' must be a readout name such as 'mean', got {type(reduce).__name__}; a readout module is "
            "called itself: readout(x, batch)"
        )
    learnable = f"{argument} {reduce!r} has learnable parameters; use {module}({reduce!r}, ...) for the module"
    if "+" in reduce:  # a concatenation of option-free readouts
        if options:
            raise ValueError(f"options {sorted(options)} cannot be shared by the readouts of {reduce!r}")
        cached = _INSTANCES.get((reduce,))
        if cached is None:
            if any(part.strip() and readout_class(part.strip()).required_options() for part in reduce.split("+")):
                raise ValueError(learnable)
            cached = resolve(reduce)
            _remember((reduce,), cached)
        return cached, {}
    cls = readout_class(reduce)
    cached = None if options else _INSTANCES.get((cls,))  # a name alone, the common call: one lookup
    if cached is not None:
        return cached, {}
    if cls.required_options():
        raise ValueError(f"{learnable}. Functional reduces: {', '.join(functional_names())}")
    refuse_unknown_options(cls, list(options), cls.options() + cls.extra_inputs, argument)
    inputs = {k: v for k, v in options.items() if k in cls.extra_inputs}
    settings = {k: v for k, v in options.items() if k not in cls.extra_inputs}
    key = (cls, *sorted(settings.items()))
    try:
        return _INSTANCES[key], inputs
    except (KeyError, TypeError):  # not built yet, or an option that cannot be a key
        pass
    readout = cls(**settings)
    if any(True for _ in readout.parameters()):
        raise ValueError(f"{learnable} (with {settings})")
    _remember(key, readout)
    return readout, inputs


def _remember(key: tuple[Any, ...], readout: Readout) -> None:
    """Keep ``readout`` for the next call with ``key`` (at most ``_MAX_INSTANCES``; an unhashable key is not kept)."""
    if len(_INSTANCES) >= _MAX_INSTANCES:
        _INSTANCES.clear()
    try:
        _INSTANCES[key] = readout
    except TypeError:
        pass

"""Switch for the data-dependent input checks of graphpool's public functions.

Shape and dtype checks are free and always run. Checks that must read tensor *values*
(graph indices in range, ``ptr`` monotone, ``batch`` and ``ptr`` agreeing) cost one pass
over the index vector and, on CUDA, a device-to-host synchronisation. They run by default
and can be skipped on a hot path that is known to be well-formed:

>>> import graphpool
>>> with graphpool.validation(False):
...     pass  # calls in here skip the value checks

or globally with ``graphpool.set_validation(False)`` or the environment variable
``GRAPHPOOL_VALIDATE=0``. Under ``torch.compile`` the value checks are skipped.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

import numpy as np
import torch

from graphpool.ops.ranges import Range

_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag_from_environment(name: str, default: bool) -> bool:
    """The on/off environment variable ``name``: ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``
    (any case); unset, ``default``; anything else keeps ``default`` with a warning naming the variable."""
    text = os.environ.get(name)
    if text is None:
        return default
    if text.strip().lower() in _ON + _OFF:
        return text.strip().lower() in _ON
    warnings.warn(
        f"{name}={text!r} is not one of {', '.join(_ON + _OFF)}: it stays {'on' if default else 'off'}", stacklevel=2
    )
    return default


def check_switch(enabled: object) -> bool:
    """``enabled`` as a bool; anything but a bool (``"no"``, ``0``, ``None``) is a ``TypeError`` (``bool("no")``
    is True)."""
    if not isinstance(enabled, bool | np.bool_):
        raise TypeError(f"'enabled' must be True or False, got {enabled!r}")
    return bool(enabled)


def finite_and_non_negative(values: torch.Tensor) -> tuple[bool, bool]:
    """Whether every entry of ``values`` is finite, and whether every one is >= 0: both read with one host sync
    (weights that are normalised or summed into degrees are checked this way)."""
    finite, non_negative = torch.stack([torch.isfinite(values).all(), (values >= 0).all()]).tolist()
    return bool(finite), bool(non_negative)


_enabled: bool = flag_from_environment("GRAPHPOOL_VALIDATE", default=True)


def set_validation(enabled: bool) -> None:
    """Turn the value checks of public functions on or off for this process."""
    global _enabled
    _enabled = check_switch(enabled)


def validation_enabled() -> bool:
    """Whether value checks run now (off while ``torch.compile`` traces)."""
    return _enabled and not torch.compiler.is_compiling()


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Context manager that sets the value checks on or off and restores the previous state."""
    global _enabled
    previous, _enabled = _enabled, check_switch(enabled)
    try:
        yield
    finally:
        _enabled = previous


def check_tensor(name: str, value: object) -> None:
    """A ``TypeError`` naming ``name`` when ``value`` is not a ``torch.Tensor`` (a list or None would fail later
    inside torch, naming neither the argument nor what it should be)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor, got {type(value).__name__}")


def id_outside(ids: torch.Tensor, count: int) -> int | None:
    """The id of ``ids`` outside ``[0, count)`` to name in an error (the lowest when one is negative, else the
    highest), or ``None`` when all are inside; one pass (``aminmax``), a host sync."""
    if not ids.numel():
        return None
    low, high = (int(value) for value in torch.aminmax(ids))
    return low if low < 0 else high if high >= count else None


def check_graph(
    edge_index: torch.Tensor,
    num_nodes: int,
    edge_weight: torch.Tensor | None = None,
    node_key: torch.Tensor | None = None,
    nodes: str | None = None,
) -> None:
    """The graph a public graph primitive takes (a matching, an independent set, a normalisation, a pool):
    ``num_nodes`` a whole number >= 0, ``edge_index`` ``[2, E]`` of int32/int64 ids in ``[0, num_nodes)`` (read
    with validation on: a host sync), ``edge_weight`` ``[E]`` and ``node_key`` ``[N]`` where given; each error
    names its argument. ``nodes`` says where the node count comes from (default ``"num_nodes = N"``; a pool
    passes ``"'x' has N rows"``)."""
    Range(0, whole=True).check("num_nodes", num_nodes)
    check_tensor("edge_index", edge_index)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must be [2, E], got shape {tuple(edge_index.shape)}")
    if edge_index.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"'edge_index' must hold int32 or int64 node ids, got {edge_index.dtype}")
    if edge_weight is not None and edge_weight.shape != (edge_index.size(1),):
        raise ValueError(f"'edge_weight' must be [E] = [{edge_index.size(1)}], got {tuple(edge_weight.shape)}")
    if node_key is not None and node_key.shape != (num_nodes,):
        raise ValueError(f"'node_key' must be [N] = [{num_nodes}], got {tuple(node_key.shape)}")
    if validation_enabled() and (bad := id_outside(edge_index, num_nodes)) is not None:
        raise ValueError(f"'edge_index' refers to node {bad}, but {nodes or f'num_nodes = {num_nodes}'}")


def check_edge_weights(edge_weight: torch.Tensor | None, needs: str | None) -> None:
    """Raise a ``ValueError`` naming ``edge_weight`` when it holds NaN, an infinity or a negative weight (``needs``:
    what requires weights >= 0, e.g. ``"modularity"``; ``None``: nothing does, negative weights are fine); one
    read of the weights, a host sync."""
    if edge_weight is None or not edge_weight.numel():
        return
    weight = edge_weight.detach()
    finite, non_negative = finite_and_non_negative(weight)
    if not finite:
        raise ValueError("'edge_weight' must be finite; it holds NaN or infinite weights")
    if needs is not None and not non_negative:
        raise ValueError(f"'edge_weight' holds negative weights ({float(weight.min()):.3g}); {needs} needs >= 0")


def check_finite_rows(name: str, value: torch.Tensor, role: str = "") -> None:
    """With validation on, raise a ``ValueError`` naming ``name`` (then ``role``, what the values serve as) and its
    first row holding NaN or an infinity (a selector that places or ranks nodes by these values, or a mask made of
    positions, cannot place such a row; one read of the values, a host sync)."""
    if not validation_enabled() or not value.numel():
        return
    if bool(torch.isfinite(value.detach().sum())):  # ~10x faster than isfinite(value).all() on a CPU
        return  # (a sum of finite values can overflow: then the rows are checked one by one below)
    bad = torch.nonzero(~torch.isfinite(value.detach()).view(value.size(0), -1).all(dim=1))
    if bad.numel():
        more = f" and {bad.size(0) - 1} more" if bad.size(0) > 1 else ""
        raise ValueError(f"'{name}'{role} holds NaN or infinite values (row {int(bad[0, 0])}{more})")

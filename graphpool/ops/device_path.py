"""Switch between the host branches of the kernels and their device-generic torch counterparts.

On the CPU some kernels leave torch for something faster that exists only there: NumPy sorts of small
integer keys, numba kernels (order statistics, grouped maxima, CSR coalescing), ``np.searchsorted`` of
offsets, a dense per-cluster pass. Each has a counterpart in plain torch operations, which is what runs on a
GPU. The device path makes CPU tensors take that counterpart too, so that the code a GPU runs is tested on
any machine, and results can be compared between the two paths:

>>> import graphpool
>>> with graphpool.device_path():
...     pass  # CPU tensors in here take the torch branches a GPU takes

or for a whole process with ``graphpool.set_device_path(True)`` or the environment variable
``GRAPHPOOL_DEVICE_PATH=1`` (the test suite runs its readout, pooler and grid tests both ways).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from graphpool.ops.validation import check_switch, flag_from_environment, validation_enabled

_forced: bool = flag_from_environment("GRAPHPOOL_DEVICE_PATH", default=False)


def set_device_path(enabled: bool) -> None:
    """Make CPU tensors take the device-generic branches (``True``) or their host branches (``False``)."""
    global _forced
    _forced = check_switch(enabled)


def device_path_enabled() -> bool:
    """Whether the device path is forced on CPU now."""
    return _forced


@contextlib.contextmanager
def device_path(enabled: bool = True) -> Iterator[None]:
    """Context manager that sets the device path on (or off) and restores the previous state."""
    global _forced
    previous, _forced = _forced, check_switch(enabled)
    try:
        yield
    finally:
        _forced = previous


def resolve_device(name: str) -> torch.device:
    """``name`` as a :class:`torch.device`: ``"auto"`` is CUDA when there is a device, else the CPU; a
    ``ValueError`` naming the ``'device'`` when ``name`` is no device or asks for CUDA where there is none."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"'device' must be cpu, cuda, cuda:N or auto, got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"'device' {name!r}: no CUDA device is available here")
    return device


def sync_allowed(tensor: torch.Tensor) -> bool:
    """Whether a kernel may read ``tensor``'s values back to the host to choose a faster layout: on the host (no
    copy), or on a device with the value checks on (which synchronise anyway). On a device with validation off,
    and under ``torch.compile``, the kernels take layouts that need no value read back (an unsorted ``batch``
    assumed, offsets counted on the device, order statistics by sorting), so a step never waits for the host."""
    if torch.compiler.is_compiling():
        return False
    return on_host(tensor) or validation_enabled()


def on_host(tensor: torch.Tensor) -> bool:
    """Whether a kernel may take its host-only branch for ``tensor``: it is on the CPU and the device path is
    not forced."""
    return tensor.device.type == "cpu" and not _forced

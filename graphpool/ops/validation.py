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
from collections.abc import Iterator

import torch

_enabled: bool = os.environ.get("GRAPHPOOL_VALIDATE", "1").strip().lower() not in {"0", "false", "no", "off"}


def set_validation(enabled: bool) -> None:
    """Turn the value checks of public functions on or off for this process."""
    global _enabled
    _enabled = bool(enabled)


def validation_enabled() -> bool:
    """Whether value checks run now (off while ``torch.compile`` traces)."""
    return _enabled and not torch.compiler.is_compiling()


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Context manager that sets the value checks on or off and restores the previous state."""
    global _enabled
    previous = _enabled
    _enabled = bool(enabled)
    try:
        yield
    finally:
        _enabled = previous

"""Evaluation that leaves a model's mode as it found it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode (no dropout; batch norm reads its running statistics and does not update them)
    for the block, then give every submodule back the mode it had: a model in training stays in training.

    >>> model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    >>> with eval_mode(model):
    ...     model.training
    False
    >>> model.training
    True
    """
    modes = [(module, module.training) for model in modules for module in model.modules()]
    for model in modules:
        model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training

"""Evaluation and training that leave global state as they found it: a model's mode, torch's random generators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
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


@contextmanager
def seeded(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Run the block under torch's generators seeded with ``seed`` (the CPU's and, on CUDA, ``device``'s), then
    restore them: what a training function draws (weights, dropout) is its own, and the caller's draws after it
    come out as they would have without it.

    >>> _ = torch.manual_seed(1); before = torch.rand(1)
    >>> _ = torch.manual_seed(1)
    >>> with seeded(7):
    ...     _ = torch.rand(1)  # the block's own draws
    >>> bool(torch.rand(1) == before)  # the caller's next draw, as without the block
    True
    """
    device = torch.device(device)
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield

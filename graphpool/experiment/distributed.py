"""Multi-process data parallelism on torch.distributed (what ``torchrun`` sets up).

``torchrun --nproc_per_node=N -m graphpool classify ...`` starts N processes with ``RANK``,
``WORLD_SIZE`` and ``MASTER_ADDR``/``MASTER_PORT`` in their environment. Each process trains
the same model (``DistributedDataParallel`` averages the gradients) on its share of every
batch, evaluates its share of the validation and test graphs, and the counts are summed
across processes, so every process takes the same early-stopping decisions. Only rank 0
writes files. Backend: ``nccl`` for CUDA, ``gloo`` on CPU.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_environment(device: torch.device) -> bool:
    """Join the process group torchrun describes in the environment; ``False`` when there is none."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True


def is_main() -> bool:
    return world()[0] == 0


def sum_across(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all processes (identity in one process)."""
    _, size = world()
    if size == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()

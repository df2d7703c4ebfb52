r"""The *select* step's base class: node -> cluster, one :class:`~graphpool.cluster.Assignment`.

Every selector is a small module with one job: ``forward(x, edge_index, batch, num_graphs,
edge_weight=None, **inputs) -> Assignment``, where ``inputs`` are the per-node inputs it declares
in :attr:`Select.inputs` (``labels``, ``pos``, ``edge_attr``, ...); any other keyword is a ``TypeError``
naming it. Clusters never cross graphs. Selectors that need no gradient (given labels, matching,
independent sets, k-means, communities) return hard assignments; :class:`~graphpool.cluster.SoftSelect`
returns soft ones. The families live beside this module: ``labels``, ``matching``, ``kmeans``,
``communities``, ``soft``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from graphpool.cluster.assignment import Assignment, compact


class Select(nn.Module):
    """Base class of selectors.

    A subclass declares the per-node keyword inputs its ``forward`` reads in :attr:`inputs`;
    calling it with any other keyword raises a ``TypeError`` that names the keyword and lists
    the accepted ones (a misspelt ``edge_weights=`` is never silently dropped).
    """

    #: per-node keyword inputs the selector reads (e.g. ``labels``, ``pos``)
    inputs: tuple[str, ...] = ()
    #: whether it returns soft assignments (reduced as :math:`S^\top X`, so the width is kept)
    soft: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        check_keywords(
            type(self).__name__, kwargs, ("x", "edge_index", "batch", "num_graphs", "edge_weight", *self.inputs)
        )
        return super().__call__(*args, **kwargs)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
        **inputs: Any,
    ) -> Assignment:
        """``x [N, F]``, ``edge_index [2, E]``, ``batch [N]`` (any order) -> :class:`Assignment`."""
        raise NotImplementedError


def check_keywords(owner: str, given: dict[str, Any], accepted: Sequence[str]) -> None:
    """Raise a ``TypeError`` naming the first keyword of ``given`` that is not ``accepted`` (and listing those)."""
    unexpected = [key for key in given if key not in accepted]
    if unexpected:
        raise TypeError(f"{owner} got an unexpected keyword {unexpected[0]!r}; it accepts {', '.join(accepted)}")


def check_node_vector(name: str, value: Tensor, num_nodes: int) -> None:
    if not isinstance(value, Tensor) or value.dim() != 1 or value.numel() != num_nodes:
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"'{name}' must be a [N] tensor with N = {num_nodes} (one per node), got {shape}")


def split_by_graph(batch: Tensor, num_graphs: int) -> list[Tensor]:
    """Node ids of each graph (in node order)."""
    order = torch.argsort(batch, stable=True)
    return list(torch.split(order, torch.bincount(batch, minlength=num_graphs).tolist()))


def assignment_from_local(local: Tensor, batch: Tensor, num_graphs: int) -> Assignment:
    """Per-graph cluster labels (``[N]``, local to each graph) -> a batch :class:`Assignment`."""
    width = int(local.max()) + 1 if local.numel() else 1
    cluster, cluster_batch, _ = compact(batch * width + local, batch)
    return Assignment(cluster, int(cluster_batch.numel()), cluster_batch)

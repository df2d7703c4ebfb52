r"""The *lift* step: cluster vectors back to the nodes, :math:`X = S X'`, through one level or several.

Hard: each node takes its cluster's vector; soft: :math:`x_i = \sum_k s_{ik}\, x'_{bK+k}` for node :math:`i` of
graph :math:`b`. Through levels :math:`S_1, \dots, S_l` the lifts compose, :math:`X = S_1 \cdots S_l X'`. Used for
node-level outputs after pooling and to map cluster scores back to the nodes (explanations).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import Tensor


class Assignment(Protocol):
    """What a lift reads of an :class:`~graphpool.cluster.Assignment` (which imports this module)."""

    @property
    def cluster(self) -> Tensor: ...
    @property
    def num_clusters(self) -> int: ...
    @property
    def s(self) -> Tensor | None: ...
    @property
    def batch(self) -> Tensor: ...


def lift(assignment: Assignment, x: Tensor) -> Tensor:
    """``[C, F] -> [N, F]``: the vectors of the assignment's C clusters at its N nodes (:math:`S X'`)."""
    if x.dim() != 2 or x.size(0) != assignment.num_clusters:
        raise ValueError(f"'x' must be [C, F] with C = {assignment.num_clusters} clusters, got {tuple(x.shape)}")
    if assignment.s is None:
        return x.index_select(0, assignment.cluster)
    k = assignment.s.size(1)
    per_node = x.view(-1, k, x.size(1)).index_select(0, assignment.batch)  # [N, K, F]
    return torch.einsum("nk,nkf->nf", assignment.s.to(x.dtype), per_node)


def lift_through(assignments: Sequence[Assignment], x: Tensor, level: int = -1) -> Tensor:
    """Vectors of the clusters at ``level`` (``[C_l, F]``) back to the input nodes ``[N, F]``, the lifts composed."""
    for assignment in reversed(assignments[: (level % len(assignments)) + 1]):
        x = lift(assignment, x)
    return x


def cluster_of_nodes(assignments: Sequence[Assignment], level: int = -1) -> Tensor:
    """``[N]`` the cluster at ``level`` of every input node (hard views composed: a soft level's most likely)."""
    index = assignments[0].cluster
    for assignment in assignments[1 : (level % len(assignments)) + 1]:
        index = assignment.cluster[index]
    return index

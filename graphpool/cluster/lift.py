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

from graphpool.ops.validation import check_tensor


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
    # what it reads, by name: isinstance of a runtime Protocol costs ~30 us, six times the lift of a small batch
    if not all(hasattr(assignment, name) for name in ("cluster", "num_clusters", "s")):
        raise TypeError(f"'assignment' must be an Assignment, got {type(assignment).__name__}")
    check_tensor("x", x)
    if x.dim() != 2 or x.size(0) != assignment.num_clusters:
        raise ValueError(f"'x' must be [C, F] with C = {assignment.num_clusters} clusters, got {tuple(x.shape)}")
    if assignment.s is None:
        return x.index_select(0, assignment.cluster)
    k = assignment.s.size(1)
    per_node = x.view(-1, k, x.size(1)).index_select(0, assignment.batch)  # [N, K, F]
    return torch.einsum("nk,nkf->nf", assignment.s.to(x.dtype), per_node)


def lift_through(assignments: Sequence[Assignment], x: Tensor, level: int = -1) -> Tensor:
    """Vectors of the clusters at ``level`` (``[C_l, F]``) back to the input nodes ``[N, F]``, the lifts composed."""
    for assignment in reversed(levels_up_to(assignments, level)):
        x = lift(assignment, x)
    return x


def cluster_of_nodes(assignments: Sequence[Assignment], level: int = -1) -> Tensor:
    """``[N]`` the cluster at ``level`` of every input node (hard views composed: a soft level's most likely)."""
    chain = levels_up_to(assignments, level)
    index = chain[0].cluster
    for assignment in chain[1:]:
        index = assignment.cluster[index]
    return index


def levels_up_to(assignments: Sequence[Assignment], level: int) -> Sequence[Assignment]:
    """The assignments of levels ``0..level`` (``level`` in ``[-L, L)``, negative from the last), after checking
    that each level assigns the clusters of the one before (shapes only)."""
    count = len(assignments)
    if not count:
        raise ValueError("'assignments' is empty: there is no level to lift through")
    if not -count <= level < count:
        raise ValueError(f"'level' must be in [-{count}, {count}) ({count} levels), got {level}")
    for depth in range(1, count):
        nodes, clusters = assignments[depth].cluster.numel(), assignments[depth - 1].num_clusters
        if nodes != clusters:
            raise ValueError(
                f"level {depth} assigns {nodes} nodes, but level {depth - 1} has {clusters} clusters: the levels "
                "must chain (each assigns the clusters of the one before)"
            )
    return assignments[: level % count + 1]

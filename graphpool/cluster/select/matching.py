r"""Selectors from the graph's structure alone: Graclus matching and k-MIS (maximal k-independent sets).

Both are torch only (no ``torch-cluster``), run on CPU or GPU in rounds of O(E) scatter
operations, are deterministic for a seed, and keep every cluster inside one graph.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import coalesce

from graphpool.cluster.assignment import Assignment, compact
from graphpool.cluster.select.base import Select
from graphpool.ops.ranges import SEED, Range
from graphpool.ops.validation import check_edge_weights, check_finite_rows, check_graph


def _edge_keys(src: Tensor, dst: Tensor, seed: int) -> Tensor:
    """A seeded pseudo-random key per undirected edge, the same for (i, j) and (j, i) (a 31-bit hash)."""
    low, high = torch.minimum(src, dst), torch.maximum(src, dst)
    mask = (1 << 31) - 1
    key = (low * 0x9E3779B1 + high * 0x85EBCA77 + (seed + 1) * 0xC2B2AE3D) & mask
    key = (key ^ (key >> 15)) * 0x2C1B3C6D & mask
    return key ^ (key >> 13)


def local_index(batch: Tensor, num_graphs: int, order: Tensor | None = None) -> Tensor:
    """``[N]`` each node's position among the nodes of its graph (in node order; ``batch`` may be unsorted).

    Tie-breaking keys hashed from it are the same whether a graph is matched alone or in a batch.

    Args:
        order: a permutation of the nodes grouped by graph (graph 0's first) that sets the order within each
            graph; default node order (a stable sort of ``batch``).
    """
    counts = torch.bincount(batch, minlength=num_graphs)
    starts = torch.cumsum(counts, 0) - counts
    if order is None:
        order = torch.argsort(batch, stable=True)
    local = torch.empty_like(batch)
    local[order] = torch.arange(batch.numel(), device=batch.device) - starts[batch[order]]
    return local


def greedy_matching(
    edge_index: Tensor,
    num_nodes: int,
    edge_weight: Tensor | None = None,
    seed: int = 0,
    node_key: Tensor | None = None,
) -> Tensor:
    r"""Graclus-style greedy matching: pair each node with at most one neighbour, maximally.

    Rounds of handshakes: every unmatched node proposes to the unmatched neighbour with the
    largest normalised-cut weight :math:`w_{ij}(1/d_i + 1/d_j)`; ties go to the edge with the
    largest seeded pseudo-random key (the same for both directions of an edge), as Graclus and
    Metis visit nodes in random order. Mutual proposals are matched. Edges are thereby totally
    ordered, so the best remaining edge is matched in every round, and rounds run until no
    unmatched node has an unmatched neighbour: the matching is maximal on every graph (paths,
    rings and cliques, whose weights all tie, included), in O(log N) rounds on typical graphs.
    Deterministic for a given ``seed``. Torch-only (no ``torch-cluster``); O(E) per round.
    Edge directions are ignored: the matching is of :math:`A + A^\top` (an edge listed one way
    only is matched like one listed both ways).

    Args:
        node_key: ``[N]`` the ids the tie-breaking keys are hashed from (default the node ids;
            :func:`local_index` makes a batch match like its graphs one at a time).

    Returns:
        ``[N]`` partner of each node (itself when unmatched).

    Raises:
        ValueError: ``edge_weight`` holds a negative or non-finite weight (the degrees must be >= 0).

    >>> import torch
    >>> from graphpool.cluster import greedy_matching
    >>> path = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4], [1, 0, 2, 1, 3, 2, 4, 3]])  # 0 - 1 - 2 - 3 - 4
    >>> greedy_matching(path, 5).tolist()  # in a seeded random order: the pairs {0, 1} and {3, 4}; 2 stays alone
    [1, 0, 2, 4, 3]
    """
    check_graph(edge_index, num_nodes, edge_weight, node_key)
    # a NaN score is never the best; a negative weight can make a degree zero or negative
    check_edge_weights(edge_weight, "the normalised-cut weight w_ij (1/d_i + 1/d_j)")
    # the undirected graph A + A^T: a one-way edge could otherwise never be proposed back (no handshake)
    edge_index = edge_index.long()
    weight = (
        torch.ones(edge_index.size(1), device=edge_index.device)
        if edge_weight is None
        else edge_weight.detach().float()
    )
    keep = edge_index[0] != edge_index[1]
    both = torch.cat([edge_index[:, keep], edge_index[:, keep].flip(0)], dim=1)
    (src, dst), weight = coalesce(both, torch.cat([weight[keep], weight[keep]]), num_nodes=num_nodes, reduce="sum")
    degree = torch.zeros(num_nodes, device=src.device).index_add_(0, src, weight)
    score = weight * (1.0 / degree[src].clamp(min=1e-12) + 1.0 / degree[dst].clamp(min=1e-12))
    key = _edge_keys(src, dst, seed) if node_key is None else _edge_keys(node_key[src], node_key[dst], seed)
    partner = torch.arange(num_nodes, device=src.device)
    matched = torch.zeros(num_nodes, dtype=torch.bool, device=src.device)
    node = torch.arange(num_nodes, device=src.device)
    s, d, sc, k = src, dst, score, key  # the edges between unmatched nodes, dropped as their ends are matched
    # every round matches at least the best remaining edge (both its ends propose it), so at most N / 2
    # rounds have work; the bound makes that a guarantee rather than an argument
    for _ in range(num_nodes // 2 + 1):
        if not s.numel():
            break
        best = torch.full((num_nodes,), -torch.inf, device=src.device).scatter_reduce_(0, s, sc, "amax")
        tied = sc == best[s]
        best_key = torch.full((num_nodes,), -1, device=src.device).scatter_reduce_(0, s[tied], k[tied], "amax")
        chosen = tied & (k == best_key[s])  # equal keys (a hash collision): the lowest neighbour id
        choice = torch.full((num_nodes,), num_nodes, device=src.device).scatter_reduce_(0, s[chosen], d[chosen], "amin")
        proposes = choice < num_nodes
        mutual = proposes & (choice[torch.where(proposes, choice, node)] == node)
        partner = torch.where(mutual, choice, partner)
        matched |= mutual
        active = ~(matched[s] | matched[d])  # the remaining edges only: each round reads fewer
        s, d, sc, k = s[active], d[active], sc[active], k[active]
    return partner


class GraclusSelect(Select):
    """Greedy edge matching (Graclus-style): a maximal matching of every graph per level.

    Each cluster is a matched pair of neighbours or a single node. Uses ``edge_weight`` when
    given. A maximal matching leaves no two unmatched nodes adjacent, so a level keeps between
    half and two thirds of a path's or ring's nodes (half of a clique's or a graph with a
    perfect matching, but all but one of a star's: only one leaf can pair with the centre).
    Ties of the normalised-cut weight are broken by a seeded key per edge (``seed``), so the
    result is deterministic for a seed; relabelling the nodes of a graph with tied weights can
    change which pairs are formed (as in Graclus).
    """

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        SEED.check("seed", seed)
        self.seed = seed

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
    ) -> Assignment:
        partner = greedy_matching(edge_index, batch.numel(), edge_weight, self.seed, local_index(batch, num_graphs))
        representative = torch.minimum(partner, torch.arange(batch.numel(), device=batch.device))
        cluster, cluster_batch, _ = compact(batch * batch.numel() + representative, batch)
        return Assignment(cluster, int(cluster_batch.numel()), cluster_batch)


def _undirected(edge_index: Tensor) -> tuple[Tensor, Tensor]:
    """Both directions of every edge, self-loops dropped (distances ignore edge direction)."""
    src, dst = edge_index
    keep = src != dst
    src, dst = src[keep], dst[keep]
    return torch.cat([src, dst]), torch.cat([dst, src])


def _hop_max(values: Tensor, src: Tensor, dst: Tensor, hops: int) -> Tensor:
    """``[N]`` the largest value within ``hops`` steps of each node (itself included)."""
    for _ in range(hops):
        values = values.scatter_reduce(0, dst, values[src], "amax")
    return values


def _on_short_paths(undecided: Tensor, src: Tensor, dst: Tensor, hops: int) -> Tensor:
    """``[E]`` whether each edge can lie on a path of at most ``hops`` edges between two undecided nodes.

    Only such paths decide a round (the ranks the undecided nodes see, the nodes their joins cover), and the
    undecided set only shrinks, so the other edges can be dropped for good. An edge ``(u, v)`` lies on one
    exactly when ``d(u) + 1 + d(v) <= hops``, with ``d`` the distance to the nearest undecided node (at one
    hop: both ends undecided). As ``d(u)`` and ``d(v)`` differ by at most one, both are then at most
    ``hops // 2``: that many steps find them (larger ones read as at least ``hops // 2 + 1``).
    """
    if hops == 1:  # the same test on booleans, 1.3x faster on a million cells
        return undecided[src] & undecided[dst]
    distance = torch.where(undecided, 0, hops)
    for _ in range(hops // 2):
        distance = distance.scatter_reduce(0, dst, distance[src] + 1, "amin")
    return distance[src] + distance[dst] < hops


def maximal_independent_set(
    edge_index: Tensor,
    num_nodes: int,
    hops: int = 1,
    score: Tensor | None = None,
    seed: int = 0,
    node_key: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""A maximal k-independent set and, for every node, the set member that covers it.

    Members are pairwise more than ``hops`` edges apart, and every other node is within ``hops``
    of a member (maximality). Greedy by priority: the node with the highest ``score`` (ties: a
    seeded pseudo-random key) joins, its ``hops``-neighbourhood leaves, repeat; computed in
    parallel rounds (every undecided node that ranks first within its ``hops``-neighbourhood
    joins at once), which gives exactly the sequential greedy set in O(hops E) per round. Each
    node is then covered by the highest-priority member within ``hops`` of it.

    Args:
        edge_index: ``[2, E]``; directions are ignored.
        hops: k, the distance within which members exclude each other (1: a maximal independent set).
        score: ``[N]`` priority (higher joins first); default: the node degree, so hubs become centres.
        seed: seed of the tie-breaking keys.
        node_key: ``[N]`` the ids the tie-breaking keys are hashed from (default the node ids).

    Returns:
        ``(member [N] bool, cover [N] long)``: whether each node is in the set, and the member covering it.
    """
    check_graph(edge_index, num_nodes, node_key=node_key)
    Range(1, whole=True).check("hops", hops)
    device = edge_index.device
    src, dst = _undirected(edge_index)
    if score is None:
        score = torch.zeros(num_nodes, device=device).index_add_(0, src, torch.ones(src.numel(), device=device))
    elif score.shape != (num_nodes,):
        raise ValueError(f"'score' must be [N] = [{num_nodes}], got {tuple(score.shape)}")
    else:
        check_finite_rows("score", score)  # a NaN would rank first to join (argsort puts it last)
    ids = torch.arange(num_nodes, device=device) if node_key is None else node_key
    key = _edge_keys(ids, ids, seed)  # a seeded pseudo-random key per node
    order = torch.argsort(key, stable=True)  # tie-break first, then a stable sort by score
    order = order[torch.argsort(score[order].double(), stable=True)]
    rank = torch.empty(num_nodes, dtype=torch.long, device=device)
    rank[order] = torch.arange(num_nodes, device=device)  # distinct priorities, higher joins first
    undecided = torch.ones(num_nodes, dtype=torch.bool, device=device)
    member = torch.zeros(num_nodes, dtype=torch.bool, device=device)
    s, d = src, dst
    for _ in range(num_nodes + 1):  # the top-ranked undecided node joins in every round: at most N rounds
        if not bool(undecided.any()):
            break
        best = _hop_max(torch.where(undecided, rank, -1), s, d, hops)
        joins = undecided & (best == rank)
        member |= joins
        covered = _hop_max(joins.long(), s, d, hops).bool()
        undecided &= ~covered
        keep = _on_short_paths(undecided, s, d, hops)
        s, d = s[keep], d[keep]
    best_member = _hop_max(torch.where(member, rank, -1), src, dst, hops)
    return member, order[best_member]


class KMISSelect(Select):
    r"""Maximal k-independent sets (k-MIS; Bacciu et al., AAAI 2023, as tgp's KMIS).

    The members of a maximal k-independent set of each graph become the clusters' centres,
    and every node joins the highest-priority centre within ``hops`` edges. Centres are more
    than ``hops`` apart, so the coarse graph is a uniform downsampling: for ``hops=1`` a path
    keeps about a third to a half of its nodes; larger ``hops`` keep fewer.

    Args:
        hops: k (default 1).
        score: ``"degree"`` (hubs first, default) or ``"x"`` (the first feature, e.g. a
            precomputed importance); ties by a seeded key.
        seed: seed of the tie-breaking keys.
    """

    def __init__(self, hops: int = 1, score: str = "degree", seed: int = 0) -> None:
        super().__init__()
        Range(1, whole=True).check("hops", hops)
        SEED.check("seed", seed)
        if score not in ("degree", "x"):
            raise ValueError(f"'score' must be 'degree' or 'x', got {score!r}")
        self.hops, self.score, self.seed = hops, score, seed

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
    ) -> Assignment:
        score = None
        if self.score == "x":
            score = x[:, 0].detach()
            check_finite_rows("x[:, 0]", score, role=" (k-MIS's score)")  # argsort ranks a NaN first to join
        key = local_index(batch, num_graphs)
        _, cover = maximal_independent_set(edge_index, batch.numel(), self.hops, score, self.seed, key)
        cluster, cluster_batch, _ = compact(batch * batch.numel() + cover, batch)
        return Assignment(cluster, int(cluster_batch.numel()), cluster_batch)

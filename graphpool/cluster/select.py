r"""Selectors: the *select* step of cluster pooling, node -> cluster.

Every selector is a small module with one job: ``forward(x, edge_index, batch, num_graphs,
**inputs) -> Assignment``. Clusters never cross graphs. Selectors that need no gradient
(given labels, matching, k-means, communities) return hard assignments.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from graphpool.cluster.assignment import Assignment, compact


class Select(nn.Module):
    """Base class of selectors."""

    #: per-node keyword inputs the selector reads (e.g. ``labels``, ``pos``)
    inputs: tuple[str, ...] = ()
    #: learnable soft selectors return clusters already reduced as :math:`S^\top X` (the
    #: pool's readout is not applied to them, so they keep the feature width)
    soft: bool = False

    def forward(  # type: ignore[override]
        self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int, **inputs: Any
    ) -> Assignment:
        raise NotImplementedError


def _check_node_vector(name: str, value: Tensor, num_nodes: int) -> None:
    if not isinstance(value, Tensor) or value.dim() != 1 or value.numel() != num_nodes:
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"'{name}' must be a [N] tensor with N = {num_nodes} (one per node), got {shape}")


class LabelSelect(Select):
    r"""Clusters from labels supplied with the data: cell types, atom-group ids, regions.

    Nodes of one graph with the same label form one cluster; labels are local to each graph
    (label 3 in graph 0 and label 3 in graph 1 are two clusters).

    Args:
        num_labels: L. When given, every graph gets all L clusters, empty ones included
            (cluster ``b * L + l``), so that each graph pools to the same ``[L, F]`` layout
            (e.g. mean expression per cell type per tissue, empty types as zeros). When
            ``None``, only the (graph, label) pairs present become clusters.

    Call with ``labels=<[N] integer tensor, values in [0, L)>``.
    """

    inputs = ("labels",)

    def __init__(self, num_labels: int | None = None) -> None:
        super().__init__()
        if num_labels is not None and num_labels < 1:
            raise ValueError(f"'num_labels' must be >= 1, got {num_labels}")
        self.num_labels = num_labels

    def forward(  # type: ignore[override]
        self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int, labels: Tensor | None = None, **_: Any
    ) -> Assignment:
        if labels is None:
            raise ValueError("LabelSelect needs the cluster label of every node: pass labels=<[N] tensor>")
        _check_node_vector("labels", labels, batch.numel())
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(f"'labels' must hold integers, got dtype {labels.dtype}")
        labels = labels.long()
        if labels.numel() and int(labels.min()) < 0:
            raise ValueError(f"'labels' must be >= 0, got {int(labels.min())}")
        top = int(labels.max()) + 1 if labels.numel() else 1
        if self.num_labels is not None and top > self.num_labels:
            raise ValueError(f"'labels' holds {top - 1} but num_labels = {self.num_labels}; labels must be < it")
        width = self.num_labels or top
        key = batch * width + labels
        if self.num_labels is not None:
            graphs = torch.arange(num_graphs, device=batch.device)
            return Assignment(
                cluster=key,
                num_clusters=num_graphs * width,
                cluster_batch=graphs.repeat_interleave(width),
                label=torch.arange(width, device=batch.device).repeat(num_graphs),
            )
        cluster, cluster_batch, keys = compact(key, batch)
        return Assignment(cluster, keys.numel(), cluster_batch, label=keys % width)


def _edge_keys(src: Tensor, dst: Tensor, seed: int) -> Tensor:
    """A seeded pseudo-random key per undirected edge, the same for (i, j) and (j, i) (a 31-bit hash)."""
    low, high = torch.minimum(src, dst), torch.maximum(src, dst)
    mask = (1 << 31) - 1
    key = (low * 0x9E3779B1 + high * 0x85EBCA77 + (seed + 1) * 0xC2B2AE3D) & mask
    key = (key ^ (key >> 15)) * 0x2C1B3C6D & mask
    return key ^ (key >> 13)


def greedy_matching(edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None, seed: int = 0) -> Tensor:
    r"""Graclus-style greedy matching: pair each node with at most one neighbour, maximally.

    Rounds of handshakes: every unmatched node proposes to the unmatched neighbour with the
    largest normalised-cut weight :math:`w_{ij}(1/d_i + 1/d_j)`; ties go to the edge with the
    largest seeded pseudo-random key (the same for both directions of an edge), as Graclus and
    Metis visit nodes in random order. Mutual proposals are matched. Edges are thereby totally
    ordered, so the best remaining edge is matched in every round, and rounds run until no
    unmatched node has an unmatched neighbour: the matching is maximal on every graph (paths,
    rings and cliques, whose weights all tie, included), in O(log N) rounds on typical graphs.
    Deterministic for a given ``seed``. Torch-only (no ``torch-cluster``); O(E) per round.

    Returns:
        ``[N]`` partner of each node (itself when unmatched).
    """
    src, dst = edge_index
    keep = src != dst
    src, dst = src[keep], dst[keep]
    weight = torch.ones(src.numel(), device=src.device) if edge_weight is None else edge_weight[keep].float()
    degree = torch.zeros(num_nodes, device=src.device).index_add_(0, src, weight)
    score = weight * (1.0 / degree[src].clamp(min=1e-12) + 1.0 / degree[dst].clamp(min=1e-12))
    key = _edge_keys(src, dst, seed)
    partner = torch.arange(num_nodes, device=src.device)
    matched = torch.zeros(num_nodes, dtype=torch.bool, device=src.device)
    node = torch.arange(num_nodes, device=src.device)
    active = torch.ones(src.numel(), dtype=torch.bool, device=src.device)
    while bool(active.any()):
        s, d, sc, k = src[active], dst[active], score[active], key[active]
        best = torch.full((num_nodes,), -torch.inf, device=src.device).scatter_reduce_(0, s, sc, "amax")
        tied = sc == best[s]
        best_key = torch.full((num_nodes,), -1, device=src.device).scatter_reduce_(0, s[tied], k[tied], "amax")
        chosen = tied & (k == best_key[s])  # equal keys (a hash collision): the lowest neighbour id
        choice = torch.full((num_nodes,), num_nodes, device=src.device).scatter_reduce_(0, s[chosen], d[chosen], "amin")
        proposes = choice < num_nodes
        mutual = proposes & (choice[torch.where(proposes, choice, node)] == node)
        partner = torch.where(mutual, choice, partner)
        matched |= mutual
        active = ~(matched[src] | matched[dst])
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
        self.seed = seed

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
        **_: Any,
    ) -> Assignment:
        partner = greedy_matching(edge_index, batch.numel(), edge_weight, self.seed)
        representative = torch.minimum(partner, torch.arange(batch.numel(), device=batch.device))
        cluster, cluster_batch, _ = compact(batch * batch.numel() + representative, batch)
        return Assignment(cluster, int(cluster_batch.numel()), cluster_batch)


def _split_by_graph(batch: Tensor, num_graphs: int) -> list[Tensor]:
    """Node ids of each graph (in node order)."""
    order = torch.argsort(batch, stable=True)
    return list(torch.split(order, torch.bincount(batch, minlength=num_graphs).tolist()))


def _assignment_from_local(local: Tensor, batch: Tensor, num_graphs: int) -> Assignment:
    """Per-graph cluster labels (``[N]``, local to each graph) -> a batch :class:`Assignment`."""
    width = int(local.max()) + 1 if local.numel() else 1
    cluster, cluster_batch, _ = compact(batch * width + local, batch)
    return Assignment(cluster, int(cluster_batch.numel()), cluster_batch)


class _PointSelect(Select):
    """Shared argument handling of the k-means selectors: K and the points to cluster."""

    inputs = ("pos",)

    def __init__(self, num_clusters: int, on: str, seed: int) -> None:
        super().__init__()
        if num_clusters < 1:
            raise ValueError(f"'num_clusters' must be >= 1, got {num_clusters}")
        if on not in ("x", "pos", "both"):
            raise ValueError(f"'on' must be 'x', 'pos' or 'both', got {on!r}")
        self.num_clusters, self.on, self.seed = num_clusters, on, seed

    def points(self, x: Tensor, pos: Tensor | None) -> Tensor:
        """``[N, D]`` what is clustered: features, positions or both side by side (detached)."""
        if self.on != "x" and pos is None:
            raise ValueError(f"{type(self).__name__}(on={self.on!r}) needs node positions: pass pos=<[N, D] tensor>")
        chosen = {"x": lambda: x, "pos": lambda: pos, "both": lambda: torch.cat([pos, x], dim=1)}[self.on]()
        return chosen.detach()


class KMeansSelect(_PointSelect):
    """k-means clusters of each graph's nodes, on their features or positions (scikit-learn).

    Args:
        num_clusters: K per graph (a graph with fewer than K nodes gets one cluster per node).
        on: ``"x"`` (node features), ``"pos"`` (positions; call with ``pos=``) or ``"both"``
            (positions and features side by side; scale them comparably first).
        seed: random state of k-means++ initialisation: the same input gives the same clusters.
            Permuting the nodes of a graph permutes the input rows, which k-means++ may seed
            differently; with well-separated clusters the partition is the same.
        n_init: k-means restarts (the best inertia is kept).
    """

    def __init__(self, num_clusters: int, on: str = "x", seed: int = 0, n_init: int = 4) -> None:
        super().__init__(num_clusters, on, seed)
        self.n_init = n_init

    def forward(  # type: ignore[override]
        self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int, pos: Tensor | None = None, **_: Any
    ) -> Assignment:
        from sklearn.cluster import KMeans

        points = self.points(x, pos).to("cpu", torch.float64).numpy()
        local = torch.zeros(batch.numel(), dtype=torch.long)
        for nodes in _split_by_graph(batch.cpu(), num_graphs):
            k = min(self.num_clusters, nodes.numel())
            if k <= 1:
                continue
            labels = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.seed).fit_predict(points[nodes])
            local[nodes] = torch.as_tensor(labels, dtype=torch.long)
        return _assignment_from_local(local.to(batch.device), batch, num_graphs)


class BatchKMeansSelect(_PointSelect):
    """k-means of every graph at once in torch (Lloyd's algorithm), on CPU or GPU.

    The counterpart of :class:`KMeansSelect` for large batches and GPUs: distances come from
    one batched matrix product per iteration, no Python loop over graphs. Initial centres are
    K nodes per graph drawn with a seeded generator (not k-means++), so on ambiguous data the
    partition can differ from scikit-learn's.

    Args:
        num_clusters: K per graph (fewer for graphs with fewer nodes).
        on: ``"x"``, ``"pos"`` or ``"both"``, as in :class:`KMeansSelect`.
        iterations: maximum Lloyd iterations (stops early when no node changes cluster).
        seed: seed of the initial centres.
    """

    def __init__(self, num_clusters: int, on: str = "x", iterations: int = 50, seed: int = 0) -> None:
        super().__init__(num_clusters, on, seed)
        self.iterations = iterations

    def forward(  # type: ignore[override]
        self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int, pos: Tensor | None = None, **_: Any
    ) -> Assignment:
        from torch_geometric.utils import to_dense_batch

        order = torch.argsort(batch, stable=True)  # to_dense_batch needs nodes grouped by graph
        points = self.points(x, pos).float()[order]
        k = self.num_clusters
        dense, mask = to_dense_batch(points, batch[order], batch_size=num_graphs)  # [B, n_max, D]
        counts = mask.sum(1)
        # initial centres: the K nodes of each graph with the smallest seeded random keys
        g = torch.Generator(device="cpu").manual_seed(self.seed)
        keys = torch.rand(mask.shape, generator=g).to(points.device).masked_fill(~mask, 2.0)
        first = keys.argsort(dim=1)[:, :k]  # [B, min(K, n_max)]
        width = first.size(1)
        centres = dense.gather(1, first.unsqueeze(-1).expand(-1, -1, dense.size(-1)))  # [B, width, D]
        valid = torch.arange(width, device=points.device) < counts.unsqueeze(1)  # [B, width]
        label = torch.zeros(mask.shape, dtype=torch.long, device=points.device)
        for _ in range(self.iterations):
            distance = torch.cdist(dense, centres).masked_fill(~valid.unsqueeze(1), torch.inf)  # [B, n_max, width]
            new_label = distance.argmin(-1)
            if torch.equal(new_label, label) and _ > 0:
                break
            label = new_label
            one_hot = torch.nn.functional.one_hot(label, width).to(dense.dtype) * mask.unsqueeze(-1)
            mass = one_hot.sum(1)  # [B, width]
            moved = one_hot.transpose(1, 2) @ dense / mass.clamp(min=1).unsqueeze(-1)
            centres = torch.where((mass > 0).unsqueeze(-1), moved, centres)  # an emptied cluster keeps its centre
        local = torch.empty_like(batch)
        local[order] = label[mask]
        return _assignment_from_local(local, batch, num_graphs)


class CommunitySelect(Select):
    """Communities of each graph's structure (networkx Louvain modularity), not learned.

    Args:
        resolution: Louvain resolution; larger gives more, smaller communities.
        seed: random state of Louvain's node order (the same input gives the same clusters).
    """

    def __init__(self, resolution: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        self.resolution, self.seed = resolution, seed

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
        **_: Any,
    ) -> Assignment:
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(batch.numel()))
        edges = edge_index.t().tolist()
        weights = [1.0] * len(edges) if edge_weight is None else edge_weight.tolist()
        graph.add_weighted_edges_from((u, v, w) for (u, v), w in zip(edges, weights, strict=True) if u != v)
        local = torch.zeros(batch.numel(), dtype=torch.long)
        communities = nx.community.louvain_communities(graph, resolution=self.resolution, seed=self.seed)
        # edges never cross graphs, so each community lies in one graph; number them per graph
        for number, members in enumerate(sorted(communities, key=min)):
            local[list(members)] = number
        return _assignment_from_local(local.to(batch.device), batch, num_graphs)


class ProductSelect(Select):
    """Intersections of two selectors' clusters: nodes share a cluster when both agree.

    ``ProductSelect(KMeansSelect(8, on="pos"), LabelSelect())`` gives *cell type within
    spatial neighbourhood* clusters, the middle tier of cell -> type-in-neighbourhood ->
    tissue. Empty intersections are not created.
    """

    def __init__(self, first: Select, second: Select) -> None:
        super().__init__()
        for part in (first, second):
            if not isinstance(part, Select):
                raise TypeError(f"ProductSelect combines selectors, got {type(part).__name__}")
        self.first, self.second = first, second
        self.inputs = tuple(sorted(set(first.inputs) | set(second.inputs)))

    def forward(  # type: ignore[override]
        self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int, **inputs: Any
    ) -> Assignment:
        a = self.first(x, edge_index, batch, num_graphs, **inputs)
        b = self.second(x, edge_index, batch, num_graphs, **inputs)
        if not (isinstance(a, Assignment) and isinstance(b, Assignment)):
            raise TypeError("ProductSelect combines hard selectors; learnable (soft) ones cannot be intersected")
        cluster, cluster_batch, _ = compact(a.cluster * b.num_clusters + b.cluster, batch)
        return Assignment(cluster, int(cluster_batch.numel()), cluster_batch)

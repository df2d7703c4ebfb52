"""k-means selectors: clusters of each graph's nodes by their features or positions."""

from __future__ import annotations

import torch
from torch import Tensor

from graphpool.cluster.assignment import Assignment
from graphpool.cluster.select.base import Select, assignment_from_local, split_by_graph
from graphpool.ops.ranges import SEED, Range
from graphpool.ops.validation import check_finite_rows


class _PointSelect(Select):
    """Shared argument handling of the k-means selectors: K and the points to cluster."""

    inputs = ("pos",)

    def __init__(self, num_clusters: int, on: str, seed: int) -> None:
        super().__init__()
        Range(1, whole=True).check("num_clusters", num_clusters)
        SEED.check("seed", seed)
        if on not in ("x", "pos", "both"):
            raise ValueError(f"'on' must be 'x', 'pos' or 'both', got {on!r}")
        self.num_clusters, self.on, self.seed = num_clusters, on, seed

    def points(self, x: Tensor, pos: Tensor | None) -> Tensor:
        """``[N, D]`` what is clustered: features, positions or both side by side (detached)."""
        if self.on != "x" and pos is None:
            raise ValueError(f"{type(self).__name__}(on={self.on!r}) needs node positions: pass pos=<[N, D] tensor>")
        if self.on != "pos":
            check_finite_rows("x", x)
        if self.on == "x" or pos is None:
            return x.detach()
        check_finite_rows("pos", pos)
        return (pos if self.on == "pos" else torch.cat([pos, x], dim=1)).detach()


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
        Range(1, whole=True).check("n_init", n_init)
        self.n_init = n_init

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
        pos: Tensor | None = None,
    ) -> Assignment:
        from sklearn.cluster import KMeans

        points = self.points(x, pos).to("cpu", torch.float64).numpy()
        local = torch.zeros(batch.numel(), dtype=torch.long)
        for nodes in split_by_graph(batch.cpu(), num_graphs):
            k = min(self.num_clusters, nodes.numel())
            if k <= 1:
                continue
            labels = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.seed).fit_predict(points[nodes])
            local[nodes] = torch.as_tensor(labels, dtype=torch.long)
        return assignment_from_local(local.to(batch.device), batch, num_graphs)


class BatchKMeansSelect(_PointSelect):
    """k-means of every graph at once in torch (Lloyd's algorithm), on CPU or GPU.

    The counterpart of :class:`KMeansSelect` for large batches and GPUs: distances come from
    one batched matrix product per iteration, no Python loop over graphs. On ambiguous data the
    partition can differ from scikit-learn's (k-means++ with restarts).

    Args:
        num_clusters: K per graph (fewer for graphs with fewer nodes).
        on: ``"x"``, ``"pos"`` or ``"both"``, as in :class:`KMeansSelect`.
        iterations: maximum Lloyd iterations (stops early when no node changes cluster).
        seed: seed of the initial centres of ``init="random"``.
        init: ``"random"``: K nodes per graph drawn with the seeded generator (by node position, so
            a relabelling of the nodes can change them); ``"farthest"``: farthest-point seeding, the
            node nearest the graph's mean first, then repeatedly the node farthest from the centres
            chosen, which depends on the points only (permutation invariant up to exact ties).
    """

    def __init__(
        self, num_clusters: int, on: str = "x", iterations: int = 50, seed: int = 0, init: str = "random"
    ) -> None:
        super().__init__(num_clusters, on, seed)
        Range(1, whole=True).check("iterations", iterations)
        if init not in ("random", "farthest"):
            raise ValueError(f"'init' must be 'random' or 'farthest', got {init!r}")
        self.iterations, self.init = iterations, init

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        batch: Tensor,
        num_graphs: int,
        edge_weight: Tensor | None = None,
        pos: Tensor | None = None,
    ) -> Assignment:
        from torch_geometric.utils import to_dense_batch

        if batch.numel() == 0:  # no nodes: no clusters
            return assignment_from_local(batch, batch, num_graphs)
        order = torch.argsort(batch, stable=True)  # to_dense_batch needs nodes grouped by graph
        points = self.points(x, pos).float()[order]
        k = self.num_clusters
        dense, mask = to_dense_batch(points, batch[order], batch_size=num_graphs)  # [B, n_max, D]
        counts = mask.sum(1)
        first = self._initial(dense, mask, counts, k)  # [B, min(K, n_max)] node slots of the initial centres
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
        return assignment_from_local(local, batch, num_graphs)

    def _initial(self, dense: Tensor, mask: Tensor, counts: Tensor, k: int) -> Tensor:
        """``[B, min(K, n_max)]`` the slots of each graph's initial centres."""
        if self.init == "random":  # the K nodes of each graph with the smallest seeded random keys
            g = torch.Generator(device="cpu").manual_seed(self.seed)
            keys = torch.rand(mask.shape, generator=g).to(dense.device).masked_fill(~mask, 2.0)
            return keys.argsort(dim=1)[:, :k]
        mean = (dense * mask.unsqueeze(-1)).sum(1) / counts.clamp(min=1).unsqueeze(-1)  # [B, D]
        nearest = torch.cdist(dense, mean.unsqueeze(1)).squeeze(-1).masked_fill(~mask, torch.inf)
        chosen = [nearest.argmin(1)]
        gap = torch.full(mask.shape, torch.inf, device=dense.device)
        for _ in range(1, min(k, mask.size(1))):
            last = dense.gather(1, chosen[-1].view(-1, 1, 1).expand(-1, 1, dense.size(-1)))  # [B, 1, D]
            gap = torch.minimum(gap, torch.cdist(dense, last).squeeze(-1))
            chosen.append(gap.masked_fill(~mask, -1.0).argmax(1))
        return torch.stack(chosen, 1)

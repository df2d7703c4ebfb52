r"""Tissue cellular neighbourhoods: groups of nearby cells with a recurring composition, found without labels.

A neighbourhood (TCN, niche, spatial domain) is one id per cell such that cells sharing an id are
surrounded by a similar mix of cell types, in every sample: the methods are fitted on all samples at
once, so neighbourhood 3 means the same thing in every sample. :func:`neighbourhoods` finds K of them:

``"composition"`` (the "cellular neighbourhood" recipe of Schürch et al. 2020)
    each cell's window of its ``window`` nearest cells (itself included) becomes the mean of their
    features (with one-hot types: the share of each type), :math:`c_i = \frac{1}{w}\sum_{j \in W(i)} x_j`;
    k-means on the :math:`c_i`. O(N w F) time and memory.
``"utag"`` (after UTAG, Kim et al. 2022)
    the features averaged over the cell graph ``hops`` times, :math:`X' = (D^{-1}(A + I))^h X`, then
    k-means (UTAG itself clusters with Leiden; k-means gives exactly K). O(h E F).
``"louvain"``
    Louvain communities (networkx) of each sample's cell graph, then k-means of the communities by their
    mean features, weighted by their sizes, so that ids agree across samples. The slowest (networkx).
``"learned"`` (after CytoCommunity, Hu et al. 2024)
    a GNN (``layers`` :class:`~graphpool.ops.csr.CSRGraphConv` layers of width ``hidden``: GraphConv with mean
    aggregation on the cell graph as a CSR matrix, so that no ``[E, hidden]`` message tensor is ever made) and a sparse soft cluster
    pool (:func:`graphpool.cluster.pooler`) trained on every sample at once to minimise its
    unsupervised loss (``loss``: ``"mincut"``, ``"dmon"`` or ``"justbalance"``); the weights are
    shared, so the K clusters are aligned across samples. ``repeats`` runs with different seeds are
    aligned to the first (Hungarian matching of their hard labels) and their soft assignments averaged
    (the consensus); each cell takes the argmax. O(E (F + hidden) + N K) memory per step.

Every result gives the id of every cell, and per neighbourhood its composition, size and spatial extent
(:class:`Neighbourhoods`); :func:`agreement` scores ids against annotated regions (AMI, ARI and the
Hungarian-matched macro-F1).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from torch_geometric.data import Batch, Data

from graphpool.cells.graph import tissue_graphs
from graphpool.cells.table import CellTable, read_cells
from graphpool.cluster import UNSUPERVISED_POOLERS
from graphpool.ops.csr import CSRGraphConv, csr_adjacency

#: the methods of :func:`neighbourhoods`
METHODS = ("composition", "utag", "louvain", "learned")
#: the unsupervised losses the learned method can minimise: the soft poolers whose losses find clusters alone
LOSSES = UNSUPERVISED_POOLERS


@dataclass(frozen=True)
class Neighbourhoods:
    """Neighbourhoods of every cell of a table.

    Attributes:
        table: the cells (``table.frame`` row ``i`` is cell ``i``).
        labels: ``[cells]`` the neighbourhood of each cell, ``0 .. K-1``, numbered by decreasing size.
        probabilities: ``[cells, K]`` the soft assignment (``"learned"``), else ``None``.
        composition: ``[K, types]`` the share of each cell type among the neighbourhood's cells (with
            no cell types: the mean of each marker).
        summary: one row per neighbourhood: ``cells``, ``share`` (of all cells), ``samples`` (in how
            many samples it occurs), ``patches`` (connected pieces of the cell graph it forms, summed
            over samples) and ``radius`` (the median over samples of its cells' radius of gyration,
            :math:`\\sqrt{\\mathrm{mean}\\,\\lVert p - \\bar p\\rVert^2}`, in the table's units).
        method: the method that found them.
        edges: ``[2, E]`` the cell graph used, as pairs of table rows (both directions).
    """

    table: CellTable
    labels: np.ndarray
    probabilities: np.ndarray | None
    composition: pd.DataFrame
    summary: pd.DataFrame
    method: str
    edges: np.ndarray

    @property
    def num_neighbourhoods(self) -> int:
        """K."""
        return len(self.summary)

    def cells(self) -> pd.DataFrame:
        """One row per cell: ``sample``, ``x``, ``y``, ``cell_type`` (when given) and ``neighbourhood``."""
        columns = [c for c in ("sample", "cell_id", "x", "y", "cell_type") if c in self.table.frame]
        frame = self.table.frame[columns].copy()
        frame["neighbourhood"] = self.labels
        return frame

    def to_anndata(self, adata: Any = None, key: str = "graphpool") -> Any:
        """The results in AnnData's layout, written into ``adata`` (the one the table was read from) or a new one.

        Sets ``obs[f"{key}_neighbourhood"]`` (categorical), ``obsm[f"{key}_neighbourhood_probabilities"]``
        (learned method), ``obsp[f"{key}_connectivities"]`` (the cell graph, CSR) and ``uns[key]``
        (``method``, ``composition`` (cell types x neighbourhoods, the transpose of :attr:`composition`, so
        that type names are index values and any name writes), ``summary``, ``abundance`` as DataFrames). A new AnnData holds
        the cells' ``obs`` (sample, type), the markers as ``X`` (when the table has markers) and
        ``obsm["spatial"]``, ready for ``sq.pl.spatial_scatter``.

        Raises:
            ValueError: ``adata`` does not have one row per cell of the table.
        """
        import anndata

        cells = len(self.table.frame)
        if adata is None:
            columns = [c for c in ("sample", "cell_id", "cell_type") if c in self.table.frame]
            obs = self.table.frame[columns].astype(str).set_axis([str(i) for i in range(cells)])
            markers = self.table.frame[self.table.markers].to_numpy(np.float32) if self.table.markers else None
            adata = anndata.AnnData(
                X=markers,
                obs=obs,
                obsm={"spatial": self.table.frame[["x", "y"]].to_numpy()},
                var=pd.DataFrame(index=list(self.table.markers)) if markers is not None else None,
            )
        elif adata.n_obs != cells:
            raise ValueError(f"'adata' has {adata.n_obs} cells but the neighbourhoods were found for {cells}")
        names = [str(i) for i in range(self.num_neighbourhoods)]
        adata.obs[f"{key}_neighbourhood"] = pd.Categorical.from_codes(self.labels, categories=names)
        if self.probabilities is not None:
            adata.obsm[f"{key}_neighbourhood_probabilities"] = self.probabilities
        ones = np.ones(self.edges.shape[1], dtype=np.float32)
        adata.obsp[f"{key}_connectivities"] = sp.csr_matrix((ones, tuple(self.edges)), shape=(cells, cells))

        def named(frame: pd.DataFrame) -> pd.DataFrame:  # h5ad needs string column and index names
            return frame.set_axis([str(c) for c in frame.columns], axis=1).set_axis([str(i) for i in frame.index])

        adata.uns[key] = {
            "method": self.method,
            # types x neighbourhoods: type names (F4/80, CD16/32) become index values, not HDF5 keys, which
            # anndata refuses to hold a '/'
            "composition": named(self.composition.T),
            "summary": named(self.summary),
            "abundance": named(self.abundance()),
        }
        return adata

    def abundance(self) -> pd.DataFrame:
        """``[samples, K]`` the share of each sample's cells in each neighbourhood (rows sum to 1)."""
        return sample_abundance(self.table, self.labels, self.num_neighbourhoods)


def neighbourhoods(
    source: Any,
    k: int,
    method: str = "composition",
    *,
    graph: str | None = None,
    window: int = 10,
    hops: int = 3,
    resolution: float = 1.0,
    loss: str = "mincut",
    hidden: int = 64,
    layers: int = 2,
    epochs: int = 200,
    lr: float = 0.01,
    repeats: int = 3,
    batch_cells: int = 200_000,
    seed: int = 0,
    progress: bool = False,
    **read_options: Any,
) -> Neighbourhoods:
    """K tissue cellular neighbourhoods of the cells of ``source``, fitted on all its samples at once.

    Args:
        source: a :class:`CellTable`, or what :func:`read_cells` reads (a path, DataFrame or AnnData),
            read with ``read_options`` (``label`` defaults to ``None``).
        k: K, the number of neighbourhoods (2 <= K <= the number of cells).
        method: one of :data:`METHODS` (see the module docs).
        graph: the cell graph of ``"utag"``, ``"louvain"`` and ``"learned"`` (see :func:`parse_graph`;
            ``"given"`` for the table's own, e.g. squidpy's ``obsp["spatial_connectivities"]``).
            Default: ``"given"`` when the table has its own graph, else ``"knn:10"``.
        window: the cells per window of ``"composition"`` (Schürch et al. used 10).
        hops: the averaging steps of ``"utag"``.
        resolution: the Louvain resolution of ``"louvain"`` (higher: more, smaller communities).
        loss, hidden, layers, epochs, lr, repeats: the ``"learned"`` method's loss (:data:`LOSSES`),
            GNN width and depth, full passes over the samples, Adam learning rate, and seeds in the consensus.
        batch_cells: the learned method's mini-batches hold whole samples, about this many cells each.
        seed: seeds k-means, Louvain and the learned method (run ``r`` uses ``seed + r``).
        progress: show a progress bar of the learned method's training.

    Raises:
        ValueError: an unknown method or loss, K < 2 or K larger than the number of cells, a
            non-positive window, hops, epochs, repeats or layers.
    """
    table = source if isinstance(source, CellTable) else read_cells(source, **{"label": None, **read_options})
    if method not in METHODS:
        raise ValueError(f"'method' must be one of {METHODS}, got {method!r}")
    cells = len(table.frame)
    if not 2 <= k <= cells:
        raise ValueError(f"'k' must be between 2 and the number of cells ({cells}), got {k}")
    for name, value in (
        ("window", window),
        ("hops", hops),
        ("epochs", epochs),
        ("repeats", repeats),
        ("layers", layers),
    ):
        if value < 1:
            raise ValueError(f"'{name}' must be >= 1, got {value}")
    if loss not in LOSSES:
        raise ValueError(f"'loss' must be one of {LOSSES}, got {loss!r}")
    graphs = tissue_graphs(table, graph or ("given" if table.edges is not None else "knn:10"))
    probabilities = None
    if method == "composition":
        labels = _kmeans(np.concatenate([_window_mean(g, window) for g in graphs]), k, seed)
    elif method == "utag":
        labels = _kmeans(np.concatenate([_graph_mean(g, hops) for g in graphs]), k, seed)
    elif method == "louvain":
        labels = _louvain(graphs, k, resolution, seed)
    else:
        probabilities = _learned(graphs, k, loss, hidden, layers, epochs, lr, repeats, batch_cells, seed, progress)
        labels = probabilities.argmax(1)
    order = np.concatenate([g.row.numpy() for g in graphs])  # graph order -> table rows
    labels, probabilities = _by_size(labels, probabilities, k)
    per_row = np.empty(cells, dtype=np.int64)
    per_row[order] = labels
    if probabilities is not None:
        probabilities_per_row = np.empty_like(probabilities)
        probabilities_per_row[order] = probabilities
        probabilities = probabilities_per_row
    return Neighbourhoods(
        table,
        per_row,
        probabilities,
        type_composition(table, per_row, k),
        _summary(table, graphs, per_row, k),
        method,
        np.concatenate([g.row.numpy()[g.edge_index.numpy()] for g in graphs], axis=1),
    )


def agreement(truth: ArrayLike, predicted: ArrayLike, ignore: Sequence[Any] = ()) -> dict[str, float]:
    """How well neighbourhood ids ``predicted`` recover annotated regions ``truth`` (one per cell).

    Returns ``ami`` (adjusted mutual information), ``ari`` (adjusted Rand index) and ``macro_f1``: the
    F1 of every annotated region against the neighbourhood matched to it one-to-one by the Hungarian
    algorithm on their overlaps, averaged over regions (a region left unmatched scores 0); and the
    counts ``scored`` and ``unannotated``. Cells without a region (NaN, ``None``) are left out of
    every score and counted as ``unannotated``; cells whose region is in ``ignore`` (e.g.
    ``"NoAnnotation"``) are left out too.

    >>> scores = agreement(["a", "a", "b", "b", None], [1, 1, 0, 0, 1])
    >>> {name: round(value, 3) for name, value in scores.items()}
    {'ami': 1.0, 'ari': 1.0, 'macro_f1': 1.0, 'scored': 4, 'unannotated': 1}
    """
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    truth_array, predicted_array = np.asarray(truth, dtype=object), np.asarray(predicted)
    if truth_array.shape != predicted_array.shape:
        raise ValueError(f"'truth' has {truth_array.shape[0]} cells but 'predicted' has {predicted_array.shape[0]}")
    unannotated = pd.isna(truth_array)
    ignored = {str(value) for value in ignore if not pd.isna(value)}
    keep = ~unannotated & ~np.isin(truth_array.astype(str), list(ignored))
    if not keep.any():
        raise ValueError("no cells left to score: every cell is unannotated or its region is in 'ignore'")
    truth_array, predicted_array = truth_array[keep].astype(str), predicted_array[keep]
    overlap = pd.crosstab(truth_array, predicted_array)
    rows, columns = linear_sum_assignment(-overlap.to_numpy())
    f1 = np.zeros(len(overlap))
    both = overlap.to_numpy()[rows, columns]
    f1[rows] = 2 * both / (overlap.sum(axis=1).to_numpy()[rows] + overlap.sum(axis=0).to_numpy()[columns])
    return {
        "ami": float(adjusted_mutual_info_score(truth_array, predicted_array)),
        "ari": float(adjusted_rand_score(truth_array, predicted_array)),
        "macro_f1": float(f1.mean()),
        "scored": int(keep.sum()),
        "unannotated": int(unannotated.sum()),
    }


def _window_mean(graph: Data, window: int) -> np.ndarray:
    """``[n, F]`` the mean features of each cell's ``window`` nearest cells (itself included)."""
    n = graph.num_nodes
    w = min(window, n)
    _, nearest = cKDTree(graph.pos.numpy()).query(graph.pos.numpy(), k=w)
    nearest = np.asarray(nearest).reshape(n, w)
    mean = sp.csr_matrix((np.full(n * w, 1.0 / w), nearest.ravel(), np.arange(0, n * w + 1, w)), shape=(n, n))
    return np.asarray(mean @ graph.x.numpy(), dtype=np.float32)


def _graph_mean(graph: Data, hops: int) -> np.ndarray:
    """``[n, F]`` the features averaged ``hops`` times over each cell and its graph neighbours."""
    n = graph.num_nodes
    source, target = graph.edge_index.numpy()
    adjacency = sp.csr_matrix((np.ones(source.size), (target, source)), shape=(n, n)) + sp.identity(n, format="csr")
    mean = sp.diags(1.0 / np.asarray(adjacency.sum(axis=1)).ravel()) @ adjacency
    x = graph.x.numpy().astype(np.float64)
    for _ in range(hops):
        x = mean @ x
    return x.astype(np.float32)


def _kmeans(points: np.ndarray, k: int, seed: int, weight: np.ndarray | None = None) -> np.ndarray:
    from sklearn.cluster import KMeans

    distinct = len(np.unique(points, axis=0))
    if distinct < k:
        raise ValueError(f"'k' = {k} is more than the {distinct} distinct cell surroundings")
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(points, sample_weight=weight)


def _louvain(graphs: Sequence[Data], k: int, resolution: float, seed: int) -> np.ndarray:
    """Each sample's Louvain communities (:class:`~graphpool.cluster.CommunitySelect`, one sample at a time),
    grouped across samples by k-means of their mean features, weighted by their sizes."""
    from graphpool.cluster import CommunitySelect
    from graphpool.readout import global_pool

    select = CommunitySelect(resolution, seed)
    means, sizes, communities, found_so_far = [], [], [], 0
    for graph in graphs:
        found = select(graph.x, graph.edge_index, torch.zeros(graph.num_nodes, dtype=torch.long), 1)
        means.append(global_pool(graph.x, found.cluster, num_graphs=found.num_clusters, reduce="mean"))
        sizes.append(found.sizes())
        communities.append(found.cluster + found_so_far)  # numbered across samples
        found_so_far += found.num_clusters
    if found_so_far < k:
        raise ValueError(
            f"'k' = {k} is more than the {found_so_far} Louvain communities found; raise 'resolution' (now {resolution})"
        )
    weight = torch.cat(sizes).double().numpy()
    community_labels = _kmeans(torch.cat(means).numpy(), k, seed, weight=weight)
    return community_labels[torch.cat(communities).numpy()]


class _Learner(torch.nn.Module):
    """``layers`` CSR GraphConv (mean) + ReLU layers, then one of graphpool's soft poolers with its unsupervised loss."""

    def __init__(self, in_channels: int, k: int, loss: str, hidden: int, layers: int) -> None:
        from graphpool.cluster import pooler

        super().__init__()
        widths = [in_channels] + [hidden] * layers
        self.convs = torch.nn.ModuleList(CSRGraphConv(a, b) for a, b in itertools.pairwise(widths))
        self.pool = pooler(loss, in_channels=hidden, clusters=k)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The assignment ``[N, K]`` and the loss (the sum of the pool's weighted auxiliary losses)."""
        x = batch.x
        for conv in self.convs:
            x = torch.relu(conv(x, batch.adjacency))
        out = self.pool(x, batch.edge_index, batch=batch.batch, num_graphs=batch.num_graphs)
        return out.assignment.s, sum(out.aux_loss.values())


def _batches(graphs: Sequence[Data], batch_cells: int, generator: torch.Generator | None) -> list[Batch]:
    order = torch.randperm(len(graphs), generator=generator).tolist() if generator else range(len(graphs))
    batches: list[Batch] = []
    current: list[Data] = []
    size = 0
    for i in order:
        if current and size + graphs[i].num_nodes > batch_cells:
            batches.append(Batch.from_data_list(current))
            current, size = [], 0
        current.append(graphs[i])
        size += graphs[i].num_nodes
    batches.append(Batch.from_data_list(current))
    for batch in batches:  # each cell gathers its neighbours (edges j -> i): the transposed edge list as rows
        edges = batch.edge_index.flip(0)
        batch.adjacency = csr_adjacency(edges, torch.ones(edges.size(1)), batch.num_nodes)
    return batches


def _learned(
    graphs: Sequence[Data],
    k: int,
    loss: str,
    hidden: int,
    layers: int,
    epochs: int,
    lr: float,
    repeats: int,
    batch_cells: int,
    seed: int,
    progress: bool,
) -> np.ndarray:
    from tqdm.auto import tqdm

    graphs = [Data(x=g.x, edge_index=g.edge_index) for g in graphs]
    runs = []
    bar = tqdm(total=repeats * epochs, desc=f"{loss} neighbourhoods", unit="epoch", disable=not progress, leave=False)
    for run in range(repeats):
        torch.manual_seed(seed + run)
        generator = torch.Generator().manual_seed(seed + run)
        model = _Learner(graphs[0].num_features, k, loss, hidden, layers)
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        fixed = _batches(graphs, batch_cells, None)
        for _ in range(epochs):  # one batch: collated once; several: whole samples reshuffled every epoch
            for batch in fixed if len(fixed) == 1 else _batches(graphs, batch_cells, generator):
                optimiser.zero_grad()
                _, value = model(batch)
                value.backward()
                optimiser.step()
            bar.update(1)
            bar.set_postfix(run=run + 1, loss=f"{value.item():.3f}")
        model.eval()
        with torch.no_grad():
            runs.append(torch.cat([model(b)[0] for b in _batches(graphs, batch_cells, None)]).numpy())
    bar.close()
    return _consensus(runs, k)


def _consensus(runs: Sequence[np.ndarray], k: int) -> np.ndarray:
    """The mean of the runs' ``[N, K]`` assignments after matching each run's clusters to the first run's."""
    reference = runs[0].argmax(1)
    total = runs[0].astype(np.float64)
    for run in runs[1:]:
        overlap = np.zeros((k, k))
        np.add.at(overlap, (run.argmax(1), reference), 1)
        mine, theirs = linear_sum_assignment(-overlap)
        aligned = np.empty_like(run)
        aligned[:, theirs] = run[:, mine]
        total += aligned
    return (total / len(runs)).astype(np.float32)


def _by_size(labels: np.ndarray, probabilities: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Renumber the ids by decreasing size (ties by the old id), so that 0 is the largest."""
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    new = np.empty(k, dtype=np.int64)
    new[order] = np.arange(k)
    return new[labels], None if probabilities is None else probabilities[:, order]


def type_composition(table: CellTable, labels: np.ndarray, k: int) -> pd.DataFrame:
    """``[K, types]`` the share of each cell type among the cells with each id (``labels`` per table row).

    Without cell types: the mean of each marker. An id no cell has gets a row of NaN; ids outside
    ``0 .. K-1`` (e.g. -1 for cells not assigned) are left out.
    """
    if table.cell_types:
        counts = pd.crosstab(labels, table.frame["cell_type"]).reindex(
            index=range(k), columns=table.cell_types, fill_value=0
        )
        composition = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    else:
        composition = table.frame[table.markers].groupby(labels).mean().reindex(range(k))
    composition.index.name = "neighbourhood"
    composition.columns.name = None
    return composition


def sample_abundance(table: CellTable, labels: np.ndarray, k: int) -> pd.DataFrame:
    """``[samples, K]`` the share of each sample's cells with each id (``labels`` per table row; rows sum to 1)."""
    counts = pd.crosstab(table.frame["sample"], labels)
    counts = counts.reindex(index=table.samples, columns=range(k), fill_value=0)
    counts.columns.name = "neighbourhood"
    return counts.div(counts.sum(axis=1), axis=0)


def _summary(table: CellTable, graphs: Sequence[Data], labels: np.ndarray, k: int) -> pd.DataFrame:
    from scipy.sparse.csgraph import connected_components

    sizes = np.bincount(labels, minlength=k)
    samples = np.zeros(k, dtype=np.int64)
    patches = np.zeros(k, dtype=np.int64)
    radii: list[list[float]] = [[] for _ in range(k)]
    for graph in graphs:
        own = labels[graph.row.numpy()]
        source, target = graph.edge_index.numpy()
        same = own[source] == own[target]
        n = graph.num_nodes
        adjacency = sp.csr_matrix((np.ones(int(same.sum())), (source[same], target[same])), shape=(n, n))
        _, component = connected_components(adjacency, directed=False)
        pos = graph.pos.numpy().astype(np.float64)
        for label in np.unique(own):
            mine = own == label
            samples[label] += 1
            patches[label] += np.unique(component[mine]).size
            radii[label].append(float(np.sqrt(((pos[mine] - pos[mine].mean(0)) ** 2).sum(1).mean())))
    summary = pd.DataFrame(
        {
            "cells": sizes,
            "share": sizes / max(sizes.sum(), 1),
            "samples": samples,
            "patches": patches,
            "radius": [float(np.median(r)) if r else np.nan for r in radii],
        },
        index=pd.RangeIndex(k, name="neighbourhood"),
    )
    return summary

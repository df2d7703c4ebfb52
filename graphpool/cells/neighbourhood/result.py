"""What every neighbourhood method returns: each cell's id; per neighbourhood its composition, size and extent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from torch_geometric.data import Data

from graphpool.cells.table import CellTable


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


def by_size(labels: np.ndarray, probabilities: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray | None]:
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


def summarise(table: CellTable, graphs: Sequence[Data], labels: np.ndarray, k: int) -> pd.DataFrame:
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

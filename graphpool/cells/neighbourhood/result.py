"""What every neighbourhood method returns: each cell's id; per neighbourhood its composition, size and extent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike
from torch_geometric.data import Data

from graphpool.cells.neighbourhood.annotate import DEFAULT_KEY, write
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
        params: every setting that decided the result (``method``, ``k``, ``seed``, ``graph``, the method's
            options, the keys the table was read with), as :func:`~graphpool.cells.neighbourhoods` records them.
    """

    table: CellTable
    labels: np.ndarray
    probabilities: np.ndarray | None
    composition: pd.DataFrame
    summary: pd.DataFrame
    method: str
    edges: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

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

    def to_anndata(self, adata: Any = None, key_added: str = DEFAULT_KEY, overwrite: bool = False) -> Any:
        """The results written into ``adata`` (the one the table was read from) or a new AnnData, under
        ``key_added`` in scanpy's layout (:mod:`~graphpool.cells.neighbourhood.annotate`: ``obs``, ``obsm``,
        ``uns`` with ``params``, the colours, the graph in ``obsp``); returns the AnnData.

        A new AnnData holds the cells' ``obs`` (sample, type), the markers as ``X`` (when the table has
        markers) and ``obsm["spatial"]``, ready for ``sq.pl.spatial_scatter``.

        Raises:
            ValueError: ``adata`` does not have one row per cell, or ``key_added`` is taken and ``overwrite`` is
                off (nothing is written).
        """
        import anndata

        if adata is None:
            cells = len(self.table.frame)
            columns = [c for c in ("sample", "cell_id", "cell_type") if c in self.table.frame]
            obs = self.table.frame[columns].astype(str).set_axis([str(i) for i in range(cells)])
            markers = self.table.frame[self.table.markers].to_numpy(np.float32) if self.table.markers else None
            adata = anndata.AnnData(
                X=markers,
                obs=obs,
                obsm={"spatial": self.table.frame[["x", "y"]].to_numpy()},
                var=pd.DataFrame(index=list(self.table.markers)) if markers is not None else None,
            )
        tables = {  # types x neighbourhoods: type names (F4/80, CD16/32) become index values, not HDF5 keys, which
            # anndata refuses to hold a '/'
            "composition": self.composition.T,
            "summary": self.summary,
            "abundance": self.abundance(),
        }
        return write(adata, key_added, self.labels, self.probabilities, self.edges, self.params, tables, overwrite)

    def plot_map(self, sample: str | None = None, truth: ArrayLike | None = None, unit: str = "") -> Any:
        """A figure: the cells of ``sample`` (default: the first) coloured by neighbourhood, and with ``truth``
        (one annotation per table row, e.g. compartments; missing values drawn grey) a second panel of it
        beside, its regions coloured as the neighbourhoods they overlap most. Points scaled to the density, y
        downwards, a scale bar in ``unit`` (:mod:`graphpool.cells.figures`). Save it with
        :func:`graphpool.cells.figures.save`."""
        from graphpool.cells.figures import categorical_map, matched_colours, palette
        from graphpool.experiment import pyplot

        name = self.table.samples[0] if sample is None else sample
        if name not in self.table.samples:
            raise ValueError(f"'sample' {name!r} is not a sample of the table (e.g. {self.table.samples[:3]})")
        mine = (self.table.frame["sample"] == name).to_numpy()
        where = "" if len(self.table.samples) == 1 else f"{name}: "  # a table of one tissue: no sample to name
        pos = self.table.frame.loc[mine, ["x", "y"]].to_numpy()
        k = self.num_neighbourhoods
        plt = pyplot()
        panels = 1 if truth is None else 2
        figure, axes = plt.subplots(1, panels, figsize=(5.6 * panels, 4.6), squeeze=False)
        names = [str(i) for i in range(k)]
        categorical_map(
            axes[0, 0], pos, self.labels[mine], names, palette(k), title=f"{where}{self.method} neighbourhoods",
            unit=unit, legend_title="neighbourhood",
        )  # fmt: skip
        if truth is not None:
            every = np.asarray(truth, dtype=object)
            if len(every) != len(self.labels):
                raise ValueError(f"'truth' has {len(every)} values but the table has {len(self.labels)} cells")
            values = pd.Series(every[mine])
            annotated = values.notna().to_numpy()
            regions = sorted(values[annotated].astype(str).unique())
            codes = np.full(len(values), len(regions))
            codes[annotated] = pd.Categorical(values[annotated].astype(str), categories=regions).codes
            colours = matched_colours(self.labels[mine][annotated], codes[annotated], k, len(regions))
            unannotated = ["not annotated"] if (~annotated).any() else []
            categorical_map(
                axes[0, 1], pos, codes, regions + unannotated, colours + ["#cccccc"] * len(unannotated),
                title=f"{where}annotation", unit=unit, legend_title="annotation",
            )  # fmt: skip
        figure.tight_layout()
        return figure

    def plot_composition(self, scale: str = "log2") -> Any:
        """A figure: the composition heatmap (:func:`graphpool.cells.figures.composition_heatmap`), rows and
        columns ordered by similarity. ``scale="log2"``: each cell type's log2 enrichment in each neighbourhood
        against the whole table (:func:`~graphpool.cells.figures.log2_enrichment`), so that rare defining types
        show; ``"share"``: the raw shares. A marker-only table shows each marker's mean, as z-scores across
        neighbourhoods (``"log2"``) or as it is (``"share"``)."""
        from graphpool.cells.figures import composition_heatmap, log2_enrichment, palette

        if scale not in ("log2", "share"):
            raise ValueError(f"'scale' must be 'log2' or 'share', got {scale!r}")
        values, diverging = self.composition, scale == "log2"
        if self.table.cell_types:
            label = "log2 enrichment vs all cells" if diverging else "share of its cells"
            if diverging:
                values = log2_enrichment(values, self.table.frame["cell_type"].value_counts(normalize=True))
        else:
            label = "marker mean, z-score across neighbourhoods" if diverging else "marker mean"
            if diverging:
                values = (values - values.mean()) / values.std(ddof=0).replace(0, 1)
        sizes, k = self.summary["cells"].tolist(), self.num_neighbourhoods
        what = "cell types" if self.table.cell_types else "markers"
        title = f"{what} of the {self.method} neighbourhoods"  # ("composition: composition" for that method)
        return composition_heatmap(values, sizes, diverging=diverging, label=label, title=title, colours=palette(k))

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

r"""Tissue cellular neighbourhoods: groups of nearby cells with a recurring composition, found without labels.

A neighbourhood (TCN, niche, spatial domain) is one id per cell such that cells sharing an id are
surrounded by a similar mix of cell types, in every sample: the methods are fitted on all samples at
once, so neighbourhood 3 means the same thing in every sample. :func:`neighbourhoods` finds K of them,
by one of four methods, each a module with its options dataclass and its ``fit_*`` function:

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
    the features averaged ``smoothing`` (10) times over the cell graph as UTAG does, standardised, then
    optionally a GNN (``layers`` :class:`~graphpool.ops.csr.CSRGraphConv` layers: GraphConv with mean
    aggregation as one sparse product; none by default) and a sparse soft cluster pool
    (:func:`graphpool.cluster.pooler`, an MLP assignment) trained on every sample at once to minimise its
    unsupervised loss (``loss``: by default ``"cutbalance"``, MinCut's cut with JustBalance's balance weighted
    0.3, which keeps the clusters compact and in use without making them equal; or ``"mincut"``, ``"dmon"``,
    ``"justbalance"``, ``"acc"``); the weights are shared, so the K clusters are aligned across samples.
    ``repeats`` (3) runs with different seeds are aligned to the first (Hungarian matching of their hard
    labels) and their soft assignments averaged (the consensus); each cell takes the argmax.
    O(E (F + hidden) + N K) memory per step.

Every result gives the id of every cell, and per neighbourhood its composition, size and spatial extent
(:class:`Neighbourhoods`); :func:`agreement` scores ids against annotated regions (AMI, ARI and the
Hungarian-matched macro-F1).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd
from torch_geometric.data import Data

from graphpool.cells.graph import tissue_graphs
from graphpool.cells.neighbourhood.annotate import DEFAULT_KEY, check_key
from graphpool.cells.neighbourhood.choose_k import KStability, k_stability, parse_k_range
from graphpool.cells.neighbourhood.composition import CompositionOptions, fit_composition
from graphpool.cells.neighbourhood.learned import LOSSES, LearnedOptions, consensus, fit_learned
from graphpool.cells.neighbourhood.louvain import LouvainOptions, fit_louvain
from graphpool.cells.neighbourhood.result import (
    Neighbourhoods,
    by_size,
    sample_abundance,
    summarise,
    type_composition,
)
from graphpool.cells.neighbourhood.scoring import agreement
from graphpool.cells.neighbourhood.utag import UtagOptions, fit_utag
from graphpool.cells.table import DEFAULT_CONNECTIVITY_KEY, CellTable, is_annotated_data, read_cells
from graphpool.ops.ranges import SEED, check_whole

if TYPE_CHECKING:
    from anndata import AnnData

MethodOptions = CompositionOptions | UtagOptions | LouvainOptions | LearnedOptions

#: each method's options dataclass and its fit: (cell graphs, K, options, seed, progress) -> ``[cells]`` ids, or
#: ``[cells, K]`` soft assignments (the learned method)
_METHODS: dict[str, tuple[type, Callable[..., np.ndarray]]] = {
    "composition": (CompositionOptions, fit_composition),
    "utag": (UtagOptions, fit_utag),
    "louvain": (LouvainOptions, fit_louvain),
    "learned": (LearnedOptions, fit_learned),
}
#: the arguments of :func:`read_cells` a caller may give :func:`neighbourhoods` for a source it reads
_READ_OPTIONS = frozenset(inspect.signature(read_cells).parameters) - {"source"}
#: the methods of :func:`neighbourhoods`
METHODS = tuple(_METHODS)

__all__ = [
    "LOSSES",
    "METHODS",
    "CompositionOptions",
    "KStability",
    "LearnedOptions",
    "LouvainOptions",
    "MethodOptions",
    "Neighbourhoods",
    "UtagOptions",
    "agreement",
    "check_k",
    "choose_k",
    "consensus",
    "k_stability",
    "method_options",
    "neighbourhoods",
    "parse_k_range",
    "sample_abundance",
    "type_composition",
]


def method_options(method: str, **settings: Any) -> MethodOptions:
    """The options dataclass of ``method`` built from ``settings``; a setting of another method is a
    ``ValueError`` naming it and its method (never silently ignored)."""
    if method not in _METHODS:
        raise ValueError(f"'method' must be one of {METHODS}, got {method!r}")
    own = _METHODS[method][0]
    names = {field.name for field in fields(own)}
    for name in settings:
        if name not in names:
            owners = [m for m, (options, _) in _METHODS.items() if name in {f.name for f in fields(options)}]
            where = f"an option of {owners[0]!r}, not of" if owners else "an argument of neither read_cells nor"
            raise ValueError(f"'{name}' is {where} {method!r} (its options: {sorted(names)})")
    return own(**settings)


def check_k(k: int, cells: int) -> None:
    """A ``ValueError`` unless ``2 <= k <= cells``: K neighbourhoods of ``cells`` cells."""
    if not 2 <= k <= cells:
        raise ValueError(f"'k' must be between 2 and the number of cells ({cells}), got {k}")


@overload
def neighbourhoods(
    source: CellTable | pd.DataFrame | str | Path,
    k: int,
    method: str = ...,
    *,
    graph: str | None = ...,
    seed: int = ...,
    progress: bool = ...,
    options: MethodOptions | None = ...,
    **settings: Any,
) -> Neighbourhoods: ...


@overload
def neighbourhoods(  # type: ignore[overload-cannot-match]  # anndata ships no types: AnnData is Any to mypy
    source: AnnData,
    k: int,
    method: str = ...,
    *,
    graph: str | None = ...,
    seed: int = ...,
    progress: bool = ...,
    options: MethodOptions | None = ...,
    key_added: str | None = ...,
    copy: bool = ...,
    overwrite: bool = ...,
    library_key: str | None = ...,
    **settings: Any,
) -> AnnData | None: ...


def neighbourhoods(
    source: Any,
    k: int,
    method: str = "composition",
    *,
    graph: str | None = None,
    seed: int = 0,
    progress: bool = False,
    options: MethodOptions | None = None,
    key_added: str | None = None,
    copy: bool = False,
    overwrite: bool = False,
    library_key: str | None = None,
    **settings: Any,
) -> Any:
    """K tissue cellular neighbourhoods of the cells of ``source``, fitted on all its samples at once.

    An AnnData is annotated the way ``sc.tl.leiden`` annotates it: the results are written into it (or into a
    copy, returned, with ``copy=True``) under ``key_added`` (:mod:`~graphpool.cells.neighbourhood.annotate`:
    ``obs[key_added]``, ``obsm[key_added]``, ``uns[key_added]["params"]``, ``uns[f"{key_added}_colors"]``),
    so that several methods live side by side under their own keys. Any other source returns a
    :class:`Neighbourhoods` (write it into an AnnData later with :meth:`Neighbourhoods.to_anndata`).

    >>> from graphpool.cells import simulate
    >>> found = neighbourhoods(simulate("arrangement", 4, seed=0), 3, "utag")
    >>> found.labels.shape, found.params["hops"]
    ((910,), 3)

    Args:
        source: an AnnData (positions in ``obsm[spatial_key]``, squidpy's graph in ``obsp[connectivity_key]``
            when present), a :class:`CellTable`, or what :func:`read_cells` reads (a path, DataFrame), read with
            the settings that are :func:`read_cells` arguments (``cell_type``, ``markers``, ``spatial_key``,
            ``connectivity_key``, ...; ``label`` defaults to ``None``).
        k: K, the number of neighbourhoods (2 <= K <= the number of cells).
        method: one of :data:`METHODS` (see the module docs).
        graph: the cell graph of ``"utag"``, ``"louvain"`` and ``"learned"`` (see :func:`parse_graph`;
            ``"given"`` for the table's own, e.g. squidpy's ``obsp["spatial_connectivities"]``).
            Default: ``"given"`` when the table has its own graph, else ``"knn:10"``.
        seed: seeds k-means, Louvain and the learned method (run ``r`` uses ``seed + r``).
        progress: show a progress bar of the learned method's training.
        options: the method's options (:class:`CompositionOptions` ``window``, :class:`UtagOptions` ``hops``,
            :class:`LouvainOptions` ``resolution``, :class:`LearnedOptions` ``loss``, ``loss_weights``,
            ``smoothing``, ``hidden``, ``layers``, ``assign_hidden``, ``epochs``, ``lr``, ``repeats``,
            ``batch_cells``); or give them as keywords (``window=5``).
        key_added: (AnnData) where the results go; default ``"graphpool_neighbourhood"``.
        copy: (AnnData) annotate and return a copy instead of ``source`` itself.
        overwrite: (AnnData) replace results already under ``key_added`` (else that is an error).
        library_key: (AnnData) the ``obs`` column of the samples (squidpy's name); ``None``: one tissue.

    Returns:
        ``None`` (AnnData, annotated in place), the annotated copy (``copy=True``), else a :class:`Neighbourhoods`.

    Raises:
        ValueError: an unknown method or loss, an option of another method, K < 2 or K larger than the number
            of cells, a non-positive window, hops, epochs or repeats, negative smoothing or layers; for an
            AnnData a ``key_added`` already used (without ``overwrite``) or holding ``/``, a ``library_key``
            or ``spatial_key`` it lacks (the message lists what it has); the AnnData arguments with another
            source. Nothing is written into the AnnData when any check fails.
    """
    if method not in _METHODS:
        raise ValueError(f"'method' must be one of {METHODS}, got {method!r}")
    SEED.check("seed", seed)
    read_options, method_settings = _split_settings(settings)
    if options is not None and method_settings:
        raise ValueError(f"give the method's options as 'options' or as keywords, not both: {sorted(method_settings)}")
    chosen = method_options(method, **method_settings) if options is None else options
    if not isinstance(chosen, _METHODS[method][0]):
        raise TypeError(f"'options' of type {type(chosen).__name__} do not belong to method {method!r}")
    is_anndata = is_annotated_data(source)
    if is_anndata:
        key = DEFAULT_KEY if key_added is None else key_added
        check_key(source, key, overwrite)
        read_options = _anndata_read_options(source, library_key, read_options)
    else:
        given = [name for name, value in (("key_added", key_added), ("copy", copy), ("overwrite", overwrite),
                                          ("library_key", library_key)) if value not in (None, False)]  # fmt: skip
        if given:
            raise ValueError(
                f"{given[0]!r} is for an AnnData source (which it annotates); with a {type(source).__name__} use "
                "Neighbourhoods.to_anndata(adata, key_added=...) or read_cells' 'sample'"
            )
    check_whole("k", k)
    table = _table(source, read_options)
    check_k(k, len(table.frame))
    graph = graph or ("given" if table.edges is not None else "knn:10")
    graphs = tissue_graphs(table, graph)
    fitted = _METHODS[method][1](graphs, k, chosen, seed, progress)
    probabilities = fitted if fitted.ndim == 2 else None
    labels, probabilities = by_size(fitted.argmax(1) if probabilities is not None else fitted, probabilities, k)
    params = {"method": method, "k": k, "seed": seed, "graph": graph, **_option_values(chosen), **read_options}
    if is_anndata:  # squidpy's names of the keys the AnnData was read with
        params = {"library_key": params.pop("sample"), "spatial_key": "spatial", **params}
        params.setdefault("connectivity_key", DEFAULT_CONNECTIVITY_KEY)
    result = _per_row(table, graphs, labels, probabilities, k, method, params)
    if not is_anndata:
        return result
    target = source.copy() if copy else source
    result.to_anndata(target, key, overwrite)
    return target if copy else None


def _anndata_read_options(adata: Any, library_key: str | None, read_options: dict[str, Any]) -> dict[str, Any]:
    """The :func:`read_cells` settings of an AnnData source: ``library_key`` as the sample column (checked)."""
    if "sample" in read_options:
        raise ValueError("an AnnData's samples are named by 'library_key' (squidpy's name), not 'sample'")
    if library_key is not None and library_key not in adata.obs:
        raise ValueError(f"'library_key' {library_key!r} is not a column of adata.obs (it has {list(adata.obs)})")
    return {"sample": library_key, **read_options}


def _option_values(options: MethodOptions) -> dict[str, Any]:
    """The method's options as a flat dict, the learned method's loss weights as used (its defaults resolved)."""
    values = {field.name: getattr(options, field.name) for field in fields(options)}
    if isinstance(options, LearnedOptions):
        values["loss_weights"] = options.weights
    return values


def choose_k(
    source: Any, ks: Sequence[int], method: str = "utag", runs: int = 3, seed: int = 0, **settings: Any
) -> KStability:
    """The stability of every K of ``ks`` for ``method`` (:func:`~graphpool.cells.neighbourhood.k_stability`),
    ``runs`` seeds each; ``settings`` as for :func:`neighbourhoods` (the method's options, ``graph``)."""
    read_options, method_settings = _split_settings(settings)
    table = _table(source, read_options)
    fit = lambda k, run_seed: neighbourhoods(table, k, method, seed=run_seed, **method_settings).labels
    return k_stability(fit, ks, runs, seed, method)


def _split_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``settings`` split into the arguments of :func:`read_cells` and the rest (the method's options, ``graph``)."""
    read_options = {name: value for name, value in settings.items() if name in _READ_OPTIONS}
    return read_options, {name: value for name, value in settings.items() if name not in _READ_OPTIONS}


def _table(source: Any, read_options: dict[str, Any]) -> CellTable:
    """``source`` as a cell table: as it is, or read with ``read_options`` and no sample labels."""
    if not isinstance(source, CellTable):
        return read_cells(source, **{"label": None, **read_options})
    if read_options:
        raise ValueError(
            f"{next(iter(read_options))!r} is a setting of read_cells, but 'source' is a CellTable, already read: "
            "give it to read_cells, or pass the table as it is stored"
        )
    return source


def _per_row(
    table: CellTable,
    graphs: list[Data],
    labels: np.ndarray,
    probabilities: np.ndarray | None,
    k: int,
    method: str,
    params: dict[str, Any],
) -> Neighbourhoods:
    """The result with the ids (and soft assignments) moved from graph order to the table's row order."""
    order = np.concatenate([g.row.numpy() for g in graphs])  # graph order -> table rows
    per_row = np.empty(len(table.frame), dtype=np.int64)
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
        summarise(table, graphs, per_row, k),
        method,
        np.concatenate([g.row.numpy()[g.edge_index.numpy()] for g in graphs], axis=1),
        params,
    )

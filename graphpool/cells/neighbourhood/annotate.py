"""Neighbourhoods written into an AnnData the way scanpy's tools write theirs (``sc.tl.leiden``'s layout).

Under ``key`` (``key_added``):

- ``obs[key]``: categorical, categories ``"0" .. "K-1"`` (0 the largest);
- ``obsm[key]``: ``[cells, K]`` the soft assignment (learned method only);
- ``uns[key]``: ``params`` (every setting that decides the result: method, k, seed, graph, the method's
  options, the table's keys; a setting left unset is absent), ``composition`` (cell types x neighbourhoods),
  ``summary`` and ``abundance`` (samples x neighbourhoods) as DataFrames with string labels and text columns
  (:func:`h5ad_frame`; anndata 0.12 writes them without a warning, tested);
- ``uns[f"{key}_colors"]``: one hex colour per neighbourhood, the colours graphpool's figures use and
  scanpy/squidpy plots reuse;
- the cell graph: ``obsp[f"{key}_connectivities"]``, unless it was the AnnData's own graph
  (``uns[key]["params"]["connectivity_key"]`` names it then).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from graphpool.cells.table import DEFAULT_CONNECTIVITY_KEY

#: the default ``key_added`` of :func:`graphpool.cells.neighbourhoods`
DEFAULT_KEY = "graphpool_neighbourhood"


def check_key(adata: Any, key: str, overwrite: bool) -> None:
    """A ``ValueError`` when ``key`` cannot name results in ``adata``: empty, holding a ``/`` (an HDF5 path
    separator), or already used in ``obs``, ``obsm``, ``obsp`` or ``uns`` while ``overwrite`` is off."""
    if not isinstance(key, str) or not key or "/" in key:
        raise ValueError(f"'key_added' must be a non-empty name without '/', got {key!r}")
    if overwrite:
        return
    taken = [
        f"{where}[{name!r}]"
        for where, names in (
            ("obs", adata.obs.columns),
            ("obsm", adata.obsm.keys()),
            ("obsp", adata.obsp.keys()),
            ("uns", adata.uns.keys()),
        )
        for name in (key, f"{key}_colors", f"{key}_connectivities")
        if name in names
    ]
    if taken:
        raise ValueError(
            f"'key_added' {key!r} is taken: the AnnData already holds {', '.join(taken)}; pass another key_added "
            "or overwrite=True"
        )


def write(
    adata: Any,
    key: str,
    labels: np.ndarray,
    probabilities: np.ndarray | None,
    edges: np.ndarray,
    params: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    overwrite: bool = False,
) -> Any:
    """Write neighbourhoods into ``adata`` under ``key`` (see the module docs); returns ``adata``.

    Args:
        labels: ``[cells]`` ids ``0 .. K-1``; probabilities: ``[cells, K]`` or ``None``; edges: ``[2, E]`` the cell
            graph as row pairs; params: the settings (``None`` values are left out); tables: DataFrames for
            ``uns[key]`` (composition, summary, abundance), stored with :func:`h5ad_frame`.

    Raises:
        ValueError: ``adata`` does not have one row per cell, or ``key`` is taken (:func:`check_key`); nothing
            is written then.
    """
    from graphpool.cells.figures import palette

    cells, k = len(labels), len(tables["summary"])
    if adata.n_obs != cells:
        raise ValueError(f"'adata' has {adata.n_obs} cells but the neighbourhoods were found for {cells}")
    check_key(adata, key, overwrite)
    for store, name in ((adata.obsp, f"{key}_connectivities"), (adata.obsm, key)):  # an overwritten run's
        if name in store:  # graph and soft assignment must not outlive it
            del store[name]
    adata.obs[key] = pd.Categorical.from_codes(labels, categories=[str(i) for i in range(k)])
    if probabilities is not None:
        adata.obsm[key] = probabilities
    params = {name: _storable(value) for name, value in params.items() if value is not None}
    own = params.get("connectivity_key", DEFAULT_CONNECTIVITY_KEY)
    if params.get("graph") == "given" and own in adata.obsp:  # the AnnData's own graph: named, not copied
        params["connectivity_key"] = own
    else:
        ones = np.ones(edges.shape[1], dtype=np.float32)
        adata.obsp[f"{key}_connectivities"] = sp.csr_matrix((ones, tuple(edges)), shape=(cells, cells))
        params.pop("connectivity_key", None)
    adata.uns[key] = {"params": params, **{name: h5ad_frame(table) for name, table in tables.items()}}
    adata.uns[f"{key}_colors"] = palette(k)
    return adata


def _storable(value: Any) -> Any:
    """``value`` as h5ad stores it: mappings with text keys (``label_names={0: "healthy"}``), tuples as lists."""
    if isinstance(value, dict):
        return {str(key): _storable(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_storable(item) for item in value]
    return value


def h5ad_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as every anndata writes it: string column and index labels, no axis names, and text columns
    (object dtype) as strings, a missing value as ``""`` (HDF5 has no missing string)."""
    named = frame.set_axis([str(c) for c in frame.columns], axis=1).set_axis([str(i) for i in frame.index])
    named.columns.name = named.index.name = None
    for column in named.columns[named.dtypes == object]:
        named[column] = named[column].where(named[column].notna(), "").astype(str)
    return named

"""Cell tables: one row per cell with a position, a cell type and/or markers, a sample and its label.

:func:`read_cells` reads a CSV/TSV/Parquet file, a pandas DataFrame or an AnnData object and
checks it: every problem is reported with the column, the sample and the rows (0-based
positions among the data rows, header excluded) that cause it, and nothing is dropped.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graphpool.ops.ranges import check_distinct

_SHOWN = 10  # rows listed in an error message


@dataclass(frozen=True)
class CellTable:
    """A checked cell table.

    Attributes:
        frame: the cells, one row each, with columns renamed to ``x``, ``y``, ``sample`` and,
            where given, ``cell_type``, ``label``, ``group``, ``cell_id`` (markers keep their names).
        cell_types: the sorted type names (index ``i`` is one-hot position ``i``); empty without types.
        markers: the marker columns (numeric), possibly empty.
        samples: sample names in order of first appearance.
        classes: the label values, sorted, or in the order of ``label_names`` (empty without labels).
        edges: ``[2, E]`` a given cell graph as pairs of rows of ``frame`` (from an AnnData's
            ``obsp``, e.g. squidpy's ``spatial_connectivities``), used by ``graph="given"``; else ``None``.
    """

    frame: pd.DataFrame
    cell_types: list[str]
    markers: list[str]
    samples: list[str]
    classes: list[Any]
    edges: np.ndarray | None = None

    @property
    def sample_table(self) -> pd.DataFrame:
        """One row per sample: ``sample``, ``cells`` and (where given) ``label`` and ``group``."""
        columns = [c for c in ("label", "group") if c in self.frame]
        grouped = self.frame.groupby("sample", sort=False)
        table = grouped.size().rename("cells").to_frame()
        for column in columns:
            table[column] = grouped[column].first()
        return table.reset_index()


def _rows(mask: np.ndarray | pd.Series) -> str:
    rows = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(r) for r in rows[:_SHOWN])
    return f"rows {shown}" + (f" (and {rows.size - _SHOWN} more)" if rows.size > _SHOWN else "")


#: squidpy's key of the cell graph in ``obsp`` (``sq.gr.spatial_neighbors``), read when present
DEFAULT_CONNECTIVITY_KEY = "spatial_connectivities"


def is_annotated_data(source: Any) -> bool:
    """Whether ``source`` is an AnnData (duck-typed: anndata need not be installed to ask)."""
    return hasattr(source, "obsm") and hasattr(source, "obs")


def open_table(source: Any) -> Any:
    """A cell table as it is stored: a path's CSV/TSV/Parquet as a DataFrame (``.tsv``/``.tab``: tab-separated),
    a ``.h5ad`` path as an AnnData (needs anndata); a DataFrame (index reset) or an AnnData passes through.

    Raises:
        FileNotFoundError: the path does not exist or is a folder.
        ImportError: naming the package a format needs (pyarrow for Parquet, anndata for ``.h5ad``).
        ValueError: the file cannot be read as its format (empty, not text, a row longer than the header).
    """
    if is_annotated_data(source):
        return source
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"'source' must be a path, a pandas DataFrame or an AnnData, got {type(source).__name__}")
    path = Path(source)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"cell table {str(path)!r} {what}")
    suffixes = "".join(path.suffixes[-2:]).lower()
    tab = any(suffixes.endswith(s) for s in (".tsv", ".tsv.gz", ".tab"))
    kind = "h5ad" if suffixes.endswith(".h5ad") else "parquet" if suffixes.endswith((".parquet", ".pq")) else "text"
    try:
        if kind == "h5ad":
            import anndata

            return anndata.read_h5ad(path)
        if kind == "parquet":
            return pd.read_parquet(path)
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # a row longer than the header loses fields
            # index_col=False: rows one field longer than the header are an error, not a table shifted by one
            return pd.read_csv(path, sep="\t" if tab else ",", index_col=False)
    except ImportError as error:
        package = "anndata" if kind == "h5ad" else "pyarrow"
        raise ImportError(f"reading {path.name} needs {package}: pip install {package} ({error})") from error
    except (ValueError, OSError, pd.errors.ParserWarning) as error:  # pandas', pyarrow's, h5py's: no file named
        format_name = {"h5ad": "an AnnData (.h5ad)", "parquet": "a Parquet", "text": "a TSV" if tab else "a CSV"}
        raise ValueError(
            f"cell table {str(path)!r} cannot be read as {format_name[kind]} file: {str(error).strip()}"
        ) from error


def _natural_order(names: list[str]) -> list[str]:
    """Type names sorted as numbers when every one is a number (0, 1, 2, 10), else as text."""
    try:
        numbers = {name: float(name) for name in names}
    except ValueError:
        return sorted(names)
    if not all(np.isfinite(list(numbers.values()))):  # "nan", "inf": names, not numbers
        return sorted(names)
    return sorted(names, key=numbers.__getitem__)


def _from_anndata(adata: Any, spatial_key: str, markers: Sequence[str] | str | None) -> tuple[pd.DataFrame, list[str]]:
    """``obs`` plus the ``obsm[spatial_key]`` coordinates as ``x``/``y`` (and markers from ``X``)."""
    if spatial_key not in adata.obsm:
        raise ValueError(f"AnnData has no obsm[{spatial_key!r}] (it has {list(adata.obsm.keys())})")
    coordinates = np.asarray(adata.obsm[spatial_key])
    if coordinates.ndim == 2 and coordinates.shape[1] == 3:
        raise ValueError(
            f"obsm[{spatial_key!r}] has shape {coordinates.shape}: 3-D positions are not supported (the cell graphs "
            "are 2-D, and dropping z would make cells stacked in z neighbours); pass one z-plane as [cells, 2]"
        )
    if coordinates.ndim != 2 or coordinates.shape[1] != 2:
        raise ValueError(f"obsm[{spatial_key!r}] must be [cells, 2], got shape {coordinates.shape}")
    frame = adata.obs.reset_index(drop=True).copy()
    frame["x"], frame["y"] = coordinates[:, 0], coordinates[:, 1]
    names: list[str] = []
    if markers is not None:
        names = list(adata.var_names) if markers == "all" else list(markers)
        missing = [m for m in names if m not in adata.var_names]
        if missing:
            raise ValueError(f"markers {missing} are not among the AnnData var_names")
        columns = [list(adata.var_names).index(m) for m in names]
        values = adata.X[:, columns]
        values = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
        for name, column in zip(names, values.T, strict=True):
            frame[name] = column
    return frame, names


def _given_edges(adata: Any, key: str, samples: np.ndarray) -> np.ndarray:
    """``obsp[key]`` as ``[2, E]`` row pairs, checked: the right size, no edge between two samples."""
    matrix = adata.obsp[key]
    if matrix.shape != (adata.n_obs, adata.n_obs):
        raise ValueError(f"obsp[{key!r}] must be [cells, cells] = [{adata.n_obs}, {adata.n_obs}], got {matrix.shape}")
    import scipy.sparse as sp

    coo = sp.coo_matrix(matrix)
    keep = coo.row != coo.col
    pairs = np.stack([coo.row[keep], coo.col[keep]]).astype(np.int64)
    across = samples[pairs[0]] != samples[pairs[1]]
    if across.any():
        i, j = pairs[:, np.flatnonzero(across)[0]]
        raise ValueError(
            f"obsp[{key!r}] joins cells of different samples ({int(across.sum())} edges, e.g. cell {i} of "
            f"{samples[i]!r} and cell {j} of {samples[j]!r}): build it per sample (squidpy: library_key=...)"
        )
    return pairs


def read_cells(
    source: Any,
    *,
    x: str = "x",
    y: str = "y",
    cell_type: str | None = "cell_type",
    sample: str | None = "sample",
    label: str | None = "label",
    markers: Sequence[str] | str | None = None,
    group: str | None = None,
    cell_id: str | None = None,
    spatial_key: str = "spatial",
    connectivity_key: str | None = DEFAULT_CONNECTIVITY_KEY,
    label_names: Mapping[Any, str] | None = None,
) -> CellTable:
    """Read and check a cell table.

    Args:
        source: a path (``.csv``, ``.tsv``, ``.parquet``, ``.h5ad``), a pandas DataFrame, or an
            AnnData object (coordinates from ``obsm[spatial_key]``, the other columns from ``obs``,
            markers from ``X``).
        x, y: coordinate columns (an AnnData's positions are ``obsm[spatial_key]``: giving other names
            than ``"x"``/``"y"`` for one is an error, not silently ignored).
        cell_type: the cell-type column, or ``None`` for marker-only tables.
        sample: the tissue-sample column; one graph per sample. ``None``: every cell is in one
            sample named ``"all"`` (a table of one tissue).
        label: the per-sample label column (every cell of a sample must agree), or ``None``.
        markers: numeric marker columns used as node features (``"all"`` for every AnnData var).
        group: a per-sample grouping column (e.g. donor or patient) for grouped cross-validation.
        cell_id: a cell identifier column, unique within each sample.
        spatial_key: the AnnData ``obsm`` key of the coordinates.
        connectivity_key: the AnnData ``obsp`` key of a precomputed cell graph (squidpy's
            ``spatial_neighbors`` writes ``spatial_connectivities``); read when present (another key must be
            present), used by :func:`tissue_graphs` with ``graph="given"``. ``None``: never read.
        label_names: a name for every value of the label column, in the order the classes should take
            (e.g. ``{0: "compartmentalised", 1: "mixed"}``); the labels become the names everywhere (tables,
            figures). Values and keys are compared as text, so ``{"0": ...}`` names the integer 0.

    Raises:
        ValueError: naming the column, sample and rows of every problem found: missing or
            twice-named columns, a column given two roles (the label among the markers), non-numeric
            (complex, dates, durations), missing or (for float32) too large coordinates and markers,
            missing types, samples or labels, values of two types written alike, duplicated cell ids,
            samples whose cells disagree on their label or group.

    >>> import pandas as pd
    >>> from graphpool.cells import read_cells
    >>> cells = pd.DataFrame({
    ...     "sample": ["s1", "s1", "s2"], "x": [0.0, 1.0, 0.0], "y": [0.0, 0.0, 1.0],
    ...     "cell_type": ["tumour", "T cell", "tumour"], "CD8": [0.1, 2.5, 0.0], "label": [1, 1, 0],
    ... })
    >>> table = read_cells(cells, markers=["CD8"], label_names={0: "non-responder", 1: "responder"})
    >>> table.samples, table.cell_types, table.markers, table.classes
    (['s1', 's2'], ['T cell', 'tumour'], ['CD8'], ['non-responder', 'responder'])
    """
    if isinstance(markers, str) and markers != "all":
        raise ValueError(
            f"'markers' must be 'all' or a list of column names, got the string {markers!r} (one: [{markers!r}])"
        )
    marker_names: list[str] = []
    source = open_table(source)
    if is_annotated_data(source):
        if (x, y) != ("x", "y"):
            raise ValueError(
                f"'x'/'y' ({x!r}, {y!r}) name table columns; an AnnData's positions are obsm[spatial_key] "
                f"(spatial_key={spatial_key!r}): drop them"
            )
        if connectivity_key not in (None, DEFAULT_CONNECTIVITY_KEY) and connectivity_key not in source.obsp:
            raise ValueError(
                f"'connectivity_key' {connectivity_key!r} is not in the AnnData's obsp (it has {list(source.obsp)})"
            )
        frame, marker_names = _from_anndata(source, spatial_key, markers)
    else:
        frame = source
    roles = {"x": x, "y": y, "sample": sample, "cell_type": cell_type, "label": label, "group": group}
    wanted = {role: column for role, column in {**roles, "cell_id": cell_id}.items() if column is not None}
    if markers is not None and not is_annotated_data(source):  # a file or frame: markers are its columns
        named = set(wanted.values())
        marker_names = [c for c in frame.columns if c not in named] if markers == "all" else list(markers)
    for column in dict.fromkeys([*wanted.values(), *marker_names]):
        held = int((frame.columns == column).sum())
        if held > 1:
            raise ValueError(f"the cell table has {held} columns named {column!r}: rename or drop all but one")
    _check_roles(wanted, marker_names)
    missing = [c for c in [*wanted.values(), *marker_names] if c not in frame.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not in the cell table; it has {list(frame.columns)}")
    if cell_type is None and not marker_names:
        raise ValueError("give 'cell_type' or 'markers' (or both): the cells need features")
    if len(frame) == 0:
        raise ValueError("the cell table has no rows")
    out = pd.DataFrame({role: frame[column].to_numpy() for role, column in wanted.items()})
    if sample is None:
        out["sample"] = "all"
    for name in marker_names:
        out[name] = frame[name].to_numpy()
    _check_values(out, wanted, marker_names, every=markers == "all")
    for role in ("sample", "cell_type"):
        if role in out:
            out[role] = _as_text(out[role], wanted.get(role, role))
    _check_per_sample(out, wanted)
    types = _natural_order(out["cell_type"].unique().tolist()) if "cell_type" in out else []
    classes = _sorted_labels(out["label"], wanted["label"]) if "label" in out else []
    if label_names is not None:
        classes = _named_labels(out, wanted.get("label"), label_names)
    edges = None
    if is_annotated_data(source) and connectivity_key is not None and connectivity_key in source.obsp:
        edges = _given_edges(source, connectivity_key, out["sample"].to_numpy())
    return CellTable(out, types, marker_names, list(pd.unique(out["sample"])), classes, edges)


def _check_roles(wanted: dict[str, str], marker_names: list[str]) -> None:
    """Each column in one role: the label among the markers would leak it into the features, ``x == y`` would put
    every cell on a diagonal. The sample column may also be the group (grouping by sample is no grouping)."""
    role_of: dict[str, str] = {}
    for role, column in wanted.items():
        if column in role_of and {role_of[column], role} != {"sample", "group"}:
            raise ValueError(
                f"column {column!r} is given as both {role_of[column]!r} and {role!r}: one role per column"
            )
        role_of.setdefault(column, role)
    for name in marker_names:
        if name in role_of:
            raise ValueError(f"column {name!r} is given as both {role_of[name]!r} and a marker: one role per column")
    check_distinct("'markers'", marker_names)


def _as_text(values: pd.Series, column: str) -> pd.Series:
    """``values`` as text, refusing different values written alike (``1`` and ``'1'`` would be one sample)."""
    text = values.astype(str)
    if pd.api.types.infer_dtype(values, skipna=True).startswith("mixed"):  # one type cannot collide with itself
        per_text = values.groupby(text.to_numpy(), sort=False).nunique()
        if (per_text > 1).any():
            first, second = pd.unique(values[text == per_text.index[per_text.to_numpy() > 1][0]])[:2]
            raise ValueError(
                f"column {column!r} holds different values written alike: {first!r} and {second!r}; give it one type"
            )
    return text


def _sorted_labels(labels: pd.Series, column: str) -> list[Any]:
    """The distinct labels, sorted; labels of types that do not compare (``1`` and ``'b'``) are refused."""
    values = labels.unique().tolist()
    try:
        return sorted(values)
    except TypeError:
        kinds = ", ".join(sorted({type(v).__name__ for v in values}))
        raise ValueError(f"column {column!r} mixes value types ({kinds}) that do not sort: give it one type") from None


def _named_labels(out: pd.DataFrame, column: str | None, names: Mapping[Any, str]) -> list[str]:
    """Replace the ``label`` values of ``out`` by their ``names`` (in place); the classes in ``names``' order."""
    if column is None:
        raise ValueError("'label_names' names the values of the label column, but 'label' is None")
    by_text = {str(value): str(name) for value, name in names.items()}
    text = out["label"].astype(str)
    unnamed = sorted(set(text) - set(by_text))
    if unnamed:
        raise ValueError(f"'label_names' has no name for the {column!r} value(s) {unnamed} (it names {list(by_text)})")
    if len(set(by_text.values())) != len(by_text):
        raise ValueError(f"'label_names' gives two values the same name: {by_text}")
    out["label"] = text.map(by_text)
    present = set(out["label"])
    return [name for name in by_text.values() if name in present]


def _check_values(out: pd.DataFrame, wanted: dict[str, str], marker_names: list[str], every: bool = False) -> None:
    """Coordinates and markers numeric, finite and within float32 (made float64 in place); no missing values.
    ``every``: the markers are every column without another role (``markers="all"``)."""
    for role in ("x", "y", *marker_names):
        column = wanted.get(role, role)
        values = pd.to_numeric(out[role], errors="coerce")
        for dtype in (out[role].dtype, values.dtype):  # to_numeric makes dates integers, object complex complex
            kind = {"c": "complex", "M": "dates", "m": "durations"}.get(dtype.kind)
            if kind is not None:  # a cast would drop the imaginary part, or count nanoseconds since 1970
                raise ValueError(f"column {column!r} must hold real numbers, not {kind} ({dtype})")
        bad = values.isna() & out[role].notna()
        if bad.any():
            examples = ", ".join(repr(v) for v in out[role][bad].head(3))
            hint = (
                "; markers 'all' takes every column not given another role: name the marker columns instead"
                if every and role in marker_names
                else ""
            )
            raise ValueError(f"column {column!r} must be numeric; {_rows(bad)} hold {examples}{hint}")
        out[role] = values.astype(np.float64)
        infinite = np.isinf(out[role].to_numpy())
        if infinite.any():
            raise ValueError(f"column {column!r} has infinite values in {_rows(infinite)}")
        beyond = np.abs(out[role].to_numpy()) > np.finfo(np.float32).max  # the graphs hold float32
        if beyond.any():
            raise ValueError(
                f"column {column!r} has values beyond float32's range (3.4e38) in {_rows(beyond)}: "
                "the cell graphs hold float32; rescale it"
            )
    for role, column in [*wanted.items(), *((m, m) for m in marker_names)]:
        empty = out[role].isna()
        if empty.any():
            raise ValueError(f"column {column!r} has missing values (NaN or empty) in {_rows(empty)}")


def _check_per_sample(out: pd.DataFrame, wanted: dict[str, str]) -> None:
    """Cell ids unique within each sample; one label and one group per sample."""
    if "cell_id" in out:
        duplicated = out.duplicated(["sample", "cell_id"], keep=False)
        if duplicated.any():
            first = out.loc[duplicated, "sample"].iloc[0]
            raise ValueError(
                f"column {wanted['cell_id']!r} repeats cell ids within a sample (e.g. {first!r}): {_rows(duplicated)}"
            )
    for role in ("label", "group"):
        if role not in out:
            continue
        counts = out.groupby("sample", sort=False)[role].nunique()
        mixed = counts[counts > 1]
        if len(mixed):
            name = mixed.index[0]
            held = out.loc[out["sample"] == name, role]
            common = held.value_counts().index.tolist()[0]  # the value most of its cells hold (ties: first seen)
            rows = _rows((out["sample"] == name) & (out[role] != common))
            raise ValueError(
                f"column {wanted[role]!r} must hold one value per sample, but {len(mixed)} sample(s) disagree: "
                f"sample {name!r} has {sorted(held.unique().tolist(), key=str)} ({rows} differ from the value of "
                f"most of its cells, {common!r})"
            )

"""TU benchmark datasets from a local folder in TUDataset raw format, and the GIN paper's 10-fold splits.

Local layout: ``ROOT/NAME/raw/NAME_A.txt, NAME_graph_indicator.txt, ...`` (what PyG's
``TUDataset`` reads). The raw files are checked (:func:`check_raw`), then copied into a
writable cache before PyG processes them, so a shared read-only data folder is never
written to. The cache folder is keyed on the source folder and its files (path, names, sizes,
modification times): a changed, added or removed file gives a fresh copy, never a stale one.
A missing folder or required file is an error; only ``root=None`` downloads (PyG, needs a network).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_geometric.datasets import TUDataset
from torch_geometric.transforms import OneHotDegree
from torch_geometric.utils import degree


def default_cache() -> Path:
    """``$GRAPHPOOL_CACHE``, else ``~/.cache/graphpool``."""
    return Path(os.environ.get("GRAPHPOOL_CACHE", Path.home() / ".cache" / "graphpool"))


def load_tu(
    name: str,
    root: str | Path | None = None,
    cache: str | Path | None = None,
    node_attributes: bool = False,
    log: bool = True,
) -> TUDataset:
    """A TU dataset; graphs without node features get one-hot degree features (as in the literature).

    Args:
        name: e.g. ``"MUTAG"``, ``"IMDB-BINARY"``.
        root: folder holding ``NAME/raw/``; ``None`` downloads with PyG.
        cache: writable folder for PyG's processed files (default :func:`default_cache`).
        node_attributes: append the continuous node attributes where the dataset has them
            (ENZYMES: 18) to the one-hot node labels.
        log: let PyG print "Processing... Done!" the first time the raw files are processed.
    """
    cache_root = Path(cache) if cache is not None else default_cache()
    dataset_root = cache_root / "TU"
    try:  # (a file where the folder should be, or a folder without write permission)
        dataset_root.mkdir(parents=True, exist_ok=True)
        if not os.access(dataset_root, os.W_OK):
            raise PermissionError(13, "not writable")
    except OSError as error:
        raise ValueError(
            f"the cache folder {dataset_root} cannot be made or written to ({error.strerror}); give another "
            "(cache=, else $GRAPHPOOL_CACHE)"
        ) from None
    if root is not None:
        source = Path(root) / name / "raw"
        if not source.is_dir():
            raise FileNotFoundError(
                f"no TU raw folder at {source} (expected {name}_A.txt and friends there)" + _held(root, name)
            )
        check_raw(source, name)
        if node_attributes and not (source / f"{name}_node_attributes.txt").is_file():
            raise ValueError(
                f"'node_attributes': {name} has no continuous node attributes (no {name}_node_attributes.txt in {source})"
            )
        dataset_root = cache_root / "TU" / _fingerprint(source)
        _copy(source, dataset_root / name / "raw")
    dataset = _TUDataset(str(dataset_root), name, use_node_attr=node_attributes, log=log)
    if node_attributes and not dataset.num_node_attributes:  # downloaded by PyG: known once read
        raise ValueError(f"'node_attributes': {name} has no continuous node attributes")
    if dataset.num_node_features == 0:
        max_degree = max(int(degree(g.edge_index[0], g.num_nodes).max()) if g.num_edges else 0 for g in dataset)
        dataset = _TUDataset(str(dataset_root), name, transform=OneHotDegree(max_degree), log=log)
    return dataset


class _TUDataset(TUDataset):
    """PyG's ``TUDataset`` with the ``log`` switch of its base class, which its constructor does not pass on."""

    def __init__(self, *args: Any, log: bool = True, **kwargs: Any) -> None:
        self._quiet = not log
        super().__init__(*args, **kwargs)

    def _process(self) -> None:
        self.log: bool = self.log and not self._quiet  # read by the base class before it prints "Processing..."
        super()._process()


def _fingerprint(source: Path) -> str:
    """A short hash of the folder's resolved path and each file's name, size and modification time."""
    digest = hashlib.sha256(str(source.resolve()).encode())
    for file in sorted(source.iterdir()):
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def _copy(source: Path, target: Path) -> None:
    """Copy the raw files once into a cache folder of their own (written whole, then renamed)."""
    if target.is_dir():
        return
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for file in sorted(source.iterdir()):
        if file.is_file():
            shutil.copy2(file, partial / file.name)
    try:
        partial.rename(target)
    except OSError:  # another process finished the same copy first
        shutil.rmtree(partial, ignore_errors=True)


def _rows(path: Path, columns: int | None = None, number: Callable[[str], Any] = int) -> list[list]:
    """Rows of comma-separated numbers (``int`` or :func:`_finite`), ``columns`` of them per row (``None``: as
    many as the first row has); a ValueError names the file, the line and the text."""
    rows: list[list] = []
    first = 0
    with open(path) as handle:
        for line, raw in enumerate(handle, start=1):
            text = raw.strip()
            if not text:  # a blank line (often the last) carries nothing
                continue
            parts = [part.strip() for part in text.split(",")]
            if columns is None and rows and len(parts) != len(rows[0]):
                widths = f"{len(parts)} value(s) but line {first} has {len(rows[0])}"
                raise ValueError(f"{path.name}: line {line}: {text!r} has {widths}")
            try:
                if columns is not None and len(parts) != columns:
                    raise ValueError
                rows.append([number(part) for part in parts])
            except ValueError:
                count = columns or len(parts)
                kind = "integer" if number is int else "finite number"
                one = "an integer" if number is int else "a finite number"
                what = one if count == 1 else f"{'two' if count == 2 else count} {kind}s"
                raise ValueError(f"{path.name}: line {line}: {text!r} is not {what}") from None
            first = first or line
    return rows


def _finite(text: str) -> float:
    """``float(text)``, refusing NaN and infinities (an attribute read as NaN poisons training silently)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _integer_lines(path: Path) -> list[int]:
    """One integer per non-empty line; a ValueError names the file, the line and the text."""
    return [row[0] for row in _rows(path, 1)]


def _held(root: str | Path, name: str) -> str:
    """``"; did you mean 'MUTAG'? ROOT holds DD, MUTAG"``: the datasets with a raw folder under ``root`` (or that
    ``root`` is the dataset's own folder)."""
    if (Path(root) / "raw").is_dir() and Path(root).name == name:
        return f"; {root} is the dataset's own folder: pass the folder above it, {Path(root).parent}, as the root"
    held = sorted(p.parent.name for p in Path(root).glob("*/raw") if p.is_dir())
    if not held:
        return ""
    like = [h for h in held if h.lower() == name.lower()]
    return (f"; did you mean {like[0]!r}?" if like else ";") + f" {root} holds {', '.join(held)}"


def check_raw(folder: Path, name: str) -> None:
    """Check a TU raw folder before PyG reads it; errors name the file, the line and what was wrong.

    Checked: the required files exist (``NAME_A``, ``NAME_graph_indicator``,
    ``NAME_graph_labels``); numbers parse; graph ids run 1..G without decreasing and every
    graph has a node; edges join nodes 1..N of one graph; the per-graph, per-node and per-edge
    files have one line per graph, node and edge.
    """
    files = {kind: folder / f"{name}_{kind}.txt" for kind in ("A", "graph_indicator", "graph_labels")}
    for path in files.values():
        if not path.is_file():
            raise FileNotFoundError(f"{path.name} is missing from {folder} (a TU dataset needs it)")
    indicator = _integer_lines(files["graph_indicator"])
    nodes, graphs = len(indicator), max(indicator, default=0)
    for line, (previous, current) in enumerate(zip([1, *indicator], indicator, strict=False), start=1):
        if current < 1 or current < previous:
            problem = "graph ids must be >= 1" if current < 1 else "graph ids must not decrease"
            raise ValueError(f"{files['graph_indicator'].name}: line {line}: {problem} (got {current})")
    present = set(indicator)
    missing = next((g for g in range(1, graphs + 1) if g not in present), None)
    if missing is not None:
        raise ValueError(f"{files['graph_indicator'].name}: graph {missing} has no nodes")
    labels = len(_integer_lines(files["graph_labels"]))
    if labels != graphs:
        raise ValueError(
            f"{files['graph_labels'].name} has {labels} lines but {files['graph_indicator'].name} names {graphs} graphs"
        )
    edges = _rows(files["A"], 2)
    for line, (i, j) in enumerate(edges, start=1):
        for node in (i, j):
            if not 1 <= node <= nodes:
                raise ValueError(f"{files['A'].name}: line {line}: node {node} is out of range 1..{nodes}")
        if indicator[i - 1] != indicator[j - 1]:
            raise ValueError(
                f"{files['A'].name}: line {line}: edge {i} -> {j} joins graph {indicator[i - 1]} and "
                f"graph {indicator[j - 1]}; edges must stay within one graph"
            )
    for kind, expected, what in (
        ("node_labels", nodes, "nodes"),
        ("node_attributes", nodes, "nodes"),
        ("edge_labels", len(edges), "edges"),
        ("edge_attributes", len(edges), "edges"),
        ("graph_attributes", graphs, "graphs"),
    ):
        path = folder / f"{name}_{kind}.txt"
        number = int if kind.endswith("labels") else _finite  # labels are classes, attributes finite numbers
        if path.is_file() and (count := len(_rows(path, number=number))) != expected:
            source = files["graph_indicator"].name if what != "edges" else files["A"].name
            raise ValueError(f"{path.name} has {count} lines but {source} has {expected} {what}")


def gin_folds(name: str, gin_root: str | Path, tu_root: str | Path | None = None) -> list[tuple[Tensor, Tensor]]:
    """The published 10-fold splits of the GIN paper, as ``[(train_idx, test_idx)] * 10``.

    Reads ``gin_root/NAME/10fold_idx/{train,test}_idx-{1..10}.txt`` (0-based indices into the
    GIN-format file). When ``tu_root/NAME/gin_to_tu_index.txt`` exists (MUTAG, whose TU order
    differs), indices are mapped to the TU order with it.
    """
    folder = Path(gin_root) / name / "10fold_idx"
    if not folder.is_dir():
        raise FileNotFoundError(f"no GIN fold folder at {folder}")
    mapping = None
    if tu_root is not None and (Path(tu_root) / name / "gin_to_tu_index.txt").exists():
        mapping = torch.tensor(_integer_lines(Path(tu_root) / name / "gin_to_tu_index.txt"), dtype=torch.long)

    def read(kind: str, fold: int) -> Tensor:
        path = folder / f"{kind}_idx-{fold}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path.name} is missing from {folder} (the GIN folds need 10 of each)")
        index = torch.tensor(_integer_lines(path), dtype=torch.long)
        if mapping is None:
            return index
        outside = index[(index < 0) | (index >= mapping.numel())]
        if outside.numel():
            raise ValueError(
                f"{path.name}: index {int(outside[0])} is out of range 0..{mapping.numel() - 1} of gin_to_tu_index.txt"
            )
        return mapping[index]

    return [(read("train", fold), read("test", fold)) for fold in range(1, 11)]

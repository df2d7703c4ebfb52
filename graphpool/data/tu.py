"""TU benchmark datasets from a local folder in TUDataset raw format, and the GIN paper's 10-fold splits.

Local layout: ``ROOT/NAME/raw/NAME_A.txt, NAME_graph_indicator.txt, ...`` (what PyG's
``TUDataset`` reads). The raw files are copied into a writable cache before PyG processes
them, so a shared read-only data folder is never written to. When ``ROOT/NAME/raw`` is
missing, PyG downloads the dataset into the cache (needs a network).
"""

from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.datasets import TUDataset
from torch_geometric.transforms import OneHotDegree
from torch_geometric.utils import degree


def default_cache() -> Path:
    """``$GRAPHPOOL_CACHE``, else ``~/.cache/graphpool``."""
    return Path(os.environ.get("GRAPHPOOL_CACHE", Path.home() / ".cache" / "graphpool"))


def load_tu(
    name: str, root: str | Path | None = None, cache: str | Path | None = None, node_attributes: bool = False
) -> TUDataset:
    """A TU dataset; graphs without node features get one-hot degree features (as in the literature).

    Args:
        name: e.g. ``"MUTAG"``, ``"IMDB-BINARY"``.
        root: folder holding ``NAME/raw/``; ``None`` downloads with PyG.
        cache: writable folder for PyG's processed files (default :func:`default_cache`).
        node_attributes: append the continuous node attributes where the dataset has them
            (ENZYMES: 18) to the one-hot node labels.
    """
    cache_root = Path(cache) if cache is not None else default_cache()
    target = cache_root / "TU" / name / "raw"
    if root is not None:
        source = Path(root) / name / "raw"
        if not source.is_dir():
            raise FileNotFoundError(f"no TU raw folder at {source} (expected {name}_A.txt and friends there)")
        _copy_if_changed(source, target)
    dataset = TUDataset(str(cache_root / "TU"), name, use_node_attr=node_attributes)
    if dataset.num_node_features == 0:
        max_degree = max(int(degree(g.edge_index[0], g.num_nodes).max()) if g.num_edges else 0 for g in dataset)
        dataset = TUDataset(str(cache_root / "TU"), name, transform=OneHotDegree(max_degree))
    return dataset


def _copy_if_changed(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    changed = False
    for file in sorted(source.iterdir()):
        if file.is_file() and (not (target / file.name).exists() or not filecmp.cmp(file, target / file.name)):
            shutil.copy2(file, target / file.name)
            changed = True
    processed = target.parent / "processed"
    if changed and processed.exists():  # stale processing of older raw files
        shutil.rmtree(processed)


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
        mapping = torch.tensor([int(v) for v in (Path(tu_root) / name / "gin_to_tu_index.txt").read_text().split()])

    def read(kind: str, fold: int) -> Tensor:
        index = torch.tensor([int(v) for v in (folder / f"{kind}_idx-{fold}.txt").read_text().split()])
        return mapping[index] if mapping is not None else index

    return [(read("train", fold), read("test", fold)) for fold in range(1, 11)]

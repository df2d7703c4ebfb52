"""Benchmark building cell graphs, and check cluster selectors against the spleen's compartments.

Part 1 (synthetic): one sample of N cells (default 1,000,000) at uniform random positions with
20 cell types. Timed, each in a fresh process with its peak memory: the k=6 kNN edges
(graphpool.cells.neighbour_edges, scipy cKDTree), scikit-learn's NearestNeighbors k=6 search
alone (the reference), Delaunay edges, the whole table -> graph path (read_cells +
tissue_graphs: checks, one-hot features, edges), and K = 8 tissue cellular neighbourhoods of the
whole tissue (graphpool.cells.neighbourhoods, each call whole: table to result) by composition
k-means, by UTAG-style averaging + k-means, and learned (a k=10 graph, GraphConv x 2 + sparse
MinCut pool) with one training epoch (one forward + backward over the tissue) and the inference
pass. Louvain is left out at this size (networkx: about 16 s per 82,000 cells).

Part 2 (real, when ``--spleen`` points at ../shared/datasets/cells/codex-spleen): for each
CODEX spleen (~82,000 cells), the graph build, hierarchical pooling of the whole sample (three
tiers of Graclus matching; a sparse MinCut selection with K = 16, forward + backward), and how
well unsupervised cluster selectors recover the anatomical compartments (adjusted Rand index on
the annotated cells, K = 4 compartments): k-means on positions, on positions + types, and on
each cell's neighbourhood composition (the mean of the one-hot types over 1 or 3 hops of the
kNN graph, i.e. "cellular neighbourhoods"), and Louvain communities of the graph.

    python scripts/bench_cells.py
    python scripts/bench_cells.py --cells 100000 --spleen ../shared/datasets/cells/codex-spleen
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _measure import count, peak_mb, start_measuring, write_json

PARTS = (
    "knn_edges",
    "sklearn_knn_search",
    "delaunay_edges",
    "table_to_graph",
    "neighbourhoods_composition",
    "neighbourhoods_utag",
    "neighbourhoods_learned_epoch",
)


def synthetic_table(cells: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    side = (cells / 1000) ** 0.5 * 100
    return pd.DataFrame(
        {
            "sample": "tissue",
            "x": rng.uniform(0, side, cells),
            "y": rng.uniform(0, side, cells),
            "cell_type": rng.integers(0, 20, cells).astype(str),
            "label": 0,
        }
    )


def run_part(part: str, path: str) -> dict[str, float]:
    from graphpool.cells import neighbour_edges, neighbourhoods, read_cells, tissue_graphs

    frame = pd.read_pickle(path)
    points = frame[["x", "y"]].to_numpy()
    neighbour_edges(points[:1000], "knn:6")  # warm-up
    before = start_measuring()
    start = time.perf_counter()
    if part == "knn_edges":
        edges = neighbour_edges(points, "knn:6")[0].size(1)
    elif part == "sklearn_knn_search":
        from sklearn.neighbors import NearestNeighbors

        NearestNeighbors(n_neighbors=7).fit(points).kneighbors(points)
        edges = 0
    elif part == "delaunay_edges":
        edges = neighbour_edges(points, "delaunay")[0].size(1)
    elif part.startswith("neighbourhoods"):
        method = part.split("_")[1]
        options = {"epochs": 1, "repeats": 1, "batch_cells": len(frame)} if method == "learned" else {}
        result = neighbourhoods(frame, 8, method, label=None, **options)
        edges = result.edges.shape[1]
    else:
        graph = tissue_graphs(read_cells(frame), "knn:6")[0]
        edges = graph.edge_index.size(1)
    return {
        "seconds": time.perf_counter() - start,
        "peak_mb": peak_mb(),
        "added_mb": peak_mb() - before,
        "edges": edges,
    }


def synthetic(cells: int, in_process: bool = False) -> dict[str, dict[str, float]]:
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "cells.pkl")
        synthetic_table(cells).to_pickle(path)
        print(
            f"{cells:,} cells in one sample; "
            + ("every part in this process" if in_process else "each part in a fresh process")
        )
        print(f"{'part':<30}{'seconds':>10}{'peak MB':>10}{'added MB':>10}{'edges':>14}")
        for part in PARTS:
            if in_process:  # a smoke run: memory is not isolated per part
                row = run_part(part, path)
            else:
                done = subprocess.run(
                    [sys.executable, __file__, "--part", part, "--data", path],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row = json.loads(done.stdout.strip().splitlines()[-1])
            results[part] = row
            print(
                f"{part:<30}{row['seconds']:>10.2f}{row['peak_mb']:>10.0f}{row['added_mb']:>10.0f}{row['edges']:>14,}",
                flush=True,
            )
    return results


def neighbourhood_composition(
    types: torch.Tensor, edge_index: torch.Tensor, num_types: int, hops: int = 1
) -> torch.Tensor:
    """``[N, T]``: cell-type shares around each cell: the mean readout over a cell and its graph
    neighbours, applied ``hops`` times (mean-aggregation message passing, no weights)."""
    from graphpool.readout import global_pool

    composition = torch.nn.functional.one_hot(types, num_types).float()
    loops = torch.arange(types.numel()).repeat(2, 1)
    source, target = torch.cat([edge_index, loops], dim=1)
    for _ in range(hops):
        composition = global_pool(composition[source], target, num_graphs=types.numel(), reduce="mean")
    return composition


def spleen(folder: Path) -> dict[str, dict[str, float]]:
    from sklearn.metrics import adjusted_rand_score

    from graphpool.cells import read_cells, tissue_graphs
    from graphpool.cluster import (
        BatchKMeansSelect,
        CommunitySelect,
        GraclusSelect,
        HierarchicalPool,
        KMeansSelect,
        pooler,
    )

    results = {}
    print(f"\nCODEX spleens ({folder}): build, pooling, and compartment recovery (ARI, annotated cells)")
    header = f"{'sample':<10}{'cells':>8}{'graph s':>9}{'3 x graclus s':>15}{'mincut s':>10}"
    names = ("kmeans_pos", "kmeans_pos_type", "kmeans_1hop", "kmeans_3hop", "batch_kmeans_3hop", "louvain")
    print(header + "".join(f"{s:>28}" for s in names))
    for path in sorted(folder.glob("BALBc-*.csv")):
        frame = pd.read_csv(path).assign(sample=path.stem)
        start = time.perf_counter()
        table = read_cells(frame, x="x_coordinate", y="y_coordinate", cell_type="CellType", label=None)
        graph = tissue_graphs(table, "knn:6")[0]
        graph_seconds = time.perf_counter() - start
        n, num_types = graph.num_nodes, len(table.cell_types)
        batch = torch.zeros(n, dtype=torch.long)
        start = time.perf_counter()
        pool = HierarchicalPool([GraclusSelect(), GraclusSelect(), GraclusSelect()], reduce="mean", readout="mean")
        tiers = pool(graph.x, graph.edge_index, batch=batch, num_graphs=1, pos=graph.pos).levels
        pool_seconds = time.perf_counter() - start
        start = time.perf_counter()
        torch.manual_seed(0)
        x = graph.x.clone().requires_grad_(True)
        soft = pooler("mincut", in_channels=num_types, clusters=16)(x, graph.edge_index, batch=batch, num_graphs=1)
        (soft.x.square().sum() + sum(soft.aux_loss.values())).backward()
        soft_seconds = time.perf_counter() - start
        sizes = " -> ".join(str(t.x.size(0)) for t in tiers)
        compartments = frame["Compartment"].to_numpy()[graph.row.numpy()]
        annotated = compartments != "NoAnnotation"
        pos = (graph.pos - graph.pos.mean(0)) / graph.pos.std(0)
        near = neighbourhood_composition(graph.cell_type, graph.edge_index, num_types, hops=1)
        wider = neighbourhood_composition(graph.cell_type, graph.edge_index, num_types, hops=3)
        one_hot = graph.x[:, :num_types]
        inputs = {
            "kmeans_pos": (KMeansSelect(4, on="pos"), pos, pos),
            "kmeans_pos_type": (KMeansSelect(4, on="both"), one_hot, pos),
            "kmeans_1hop": (KMeansSelect(4, on="x"), near, None),
            "kmeans_3hop": (KMeansSelect(4, on="x"), wider, None),
            "batch_kmeans_3hop": (BatchKMeansSelect(4, on="x"), wider, None),
            "louvain": (CommunitySelect(resolution=0.05), one_hot, None),
        }
        row = {"cells": n, "graph_seconds": graph_seconds, "graclus3_seconds": pool_seconds, "tiers": sizes}
        row["mincut16_fwd_bwd_seconds"] = soft_seconds
        for name, (selector, x, positions) in inputs.items():
            start = time.perf_counter()
            cluster = selector(x, graph.edge_index, batch, 1, pos=positions).cluster.numpy()
            row[name] = adjusted_rand_score(compartments[annotated], cluster[annotated])
            row[name + "_seconds"] = time.perf_counter() - start
            row[name + "_clusters"] = int(np.unique(cluster).size)
        results[path.stem] = row
        cells = "".join(f"{row[s]:>14.3f} ({row[s + '_seconds']:>5.1f} s, {row[s + '_clusters']:>3})" for s in names)
        print(
            f"{path.stem:<10}{n:>8,}{graph_seconds:>9.2f}{pool_seconds:>15.2f}{soft_seconds:>10.2f}{cells}", flush=True
        )
        print(f"{'':<10}graclus tiers: {sizes} clusters", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=count, default=1_000_000)
    parser.add_argument("--spleen", type=Path, default=None, help="the codex-spleen folder (optional)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--part", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--in-process", action="store_true", help="every part in this process (a quick smoke run: memory not isolated)"
    )
    args = parser.parse_args()
    if args.part:
        print(json.dumps(run_part(args.part, args.data)))
        return
    print(f"torch {torch.__version__} | {torch.get_num_threads()} threads")
    results: dict[str, object] = {"cells": args.cells, "synthetic": synthetic(args.cells, args.in_process)}
    if args.spleen is not None:
        results["spleen"] = spleen(args.spleen)
    write_json(args.json, results)


if __name__ == "__main__":
    main()

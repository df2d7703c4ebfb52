"""Benchmark hierarchical cluster pooling at tissue scale, and sparse vs dense soft pooling.

Part 1: a synthetic tissue of N cells (default 1,000,000) at uniform random positions, 20
cell types in spatial patches, a symmetric k=6 nearest-neighbour graph (graphpool.cells.neighbour_edges) and
32 features per cell. Timed: the global mean readout (the reference), given-assignment
pooling by cell type (reduce, and reduce + connect), one Graclus level, and learnable soft
assignment with K=64 (DiffPool and MinCut, forward + backward). Each runs in its own
process; "peak MB" is the process's peak resident memory during the run (the tissue and
torch included), "added MB" that peak minus the resident memory just before the run.

Also timed on the tissue: a 2-level MinCut network (GraphConv -> pool K=64 -> GraphConv -> pool
K=8 -> sum readout), forward + backward.

Part 2: graphs of 5,000, 20,000 and 100,000 nodes: PyG's dense_diff_pool / dense_mincut_pool
(dense N x N adjacency) against graphpool's sparse pooler("diffpool") / pooler("mincut") and, when
tgp (torch-geometric-pool, which needs torch-scatter) is installed, tgp's get_pooler("diffpool") /
get_pooler("mincut") (tgp's names "diff", "mincut") in both its batched (dense) and its unbatched (sparse-loss, "_u") mode, time
(median of 3 forward + backward passes after a warm-up on a 200-node graph) and memory, each in a
process whose address space is capped (--dense-cap-gb): a dense run that needs more fails there and
is reported as failed.

With --device cuda every part runs on the GPU (the tissue is built on the CPU, then moved); "peak MB" is then
the peak of GPU memory allocated during the run (torch.cuda.max_memory_allocated) and "added MB" that peak
minus what was allocated just before.

With --spleen FOLDER (the codex-spleen folder of ../shared/datasets/cells), the same 2-level MinCut
network runs on each whole CODEX spleen (its k=6 cell graph, one-hot cell types as features).

    python scripts/bench_cluster.py                 # 1,000,000 cells
    python scripts/bench_cluster.py --cells 100000  # quicker
    python scripts/bench_cluster.py --device cuda --cells 10000000 --skip-dense
    python scripts/bench_cluster.py --cells 2000 --skip-dense --spleen ../shared/datasets/cells/codex-spleen
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from _measure import (
    add_allocator_option,
    apply_allocator_option,
    count,
    device_label,
    peak_mb,
    positive,
    start_measuring,
    synchronize,
    write_json,
)

NUM_TYPES, FEATURES, NEIGHBOURS, SOFT_K = 20, 32, 6, 64
REPEATS = {"global_mean": 9, "given_reduce": 9}
DENSE_REPEATS = 3  # the dense comparison: median of 3 forward + backward passes after a warm-up


def build_tissue(cells: int, seed: int = 0) -> dict[str, torch.Tensor]:
    from graphpool.cells import neighbour_edges

    g = torch.Generator().manual_seed(seed)
    side = (cells / 1000) ** 0.5 * 100  # ~1000 cells per 100 x 100 patch
    pos = torch.rand(cells, 2, generator=g, dtype=torch.float64) * side
    patch = (pos // 100).long()
    patch_type = torch.randint(0, NUM_TYPES, (int(patch.max()) + 1, int(patch.max()) + 1), generator=g)
    types = torch.where(
        torch.rand(cells, generator=g) < 0.7,
        patch_type[patch[:, 0], patch[:, 1]],
        torch.randint(0, NUM_TYPES, (cells,), generator=g),
    )
    t0 = time.perf_counter()
    edge_index, _ = neighbour_edges(pos.numpy(), f"knn:{NEIGHBOURS}")
    knn_s = time.perf_counter() - t0
    x = torch.randn(cells, FEATURES, generator=g)
    return {"x": x, "pos": pos.float(), "types": types, "edge_index": edge_index, "knn_s": torch.tensor(knn_s)}


def run_part(part: str, data_path: str, device: str) -> dict[str, float]:
    """Run one measurement in this (fresh) process on ``device``; returns seconds and memory."""
    data = {name: value.to(device) for name, value in torch.load(data_path).items()}
    small = _first_nodes(data, 2000)
    measure(part, small)  # warm-up on a small slice: first calls pay one-off initialisation
    before = start_measuring(device)
    times = []
    for _ in range(REPEATS.get(part, 1)):  # the millisecond parts: median of several runs
        t0 = time.perf_counter()
        measure(part, data)
        synchronize(device)
        times.append(time.perf_counter() - t0)
    peak = peak_mb(device)
    return {"seconds": statistics.median(times), "peak_mb": peak, "added_mb": peak - before}


def _first_nodes(data: dict[str, torch.Tensor], n: int) -> dict[str, torch.Tensor]:
    edge_index = data["edge_index"]
    keep = (edge_index < n).all(0)
    return {"x": data["x"][:n], "types": data["types"][:n], "edge_index": edge_index[:, keep]}


def measure(part: str, data: dict[str, torch.Tensor]) -> None:
    from graphpool.cluster import GraclusSelect, LabelSelect, coarsen_edges, pooler
    from graphpool.readout import global_pool

    x, edge_index, types = data["x"], data["edge_index"], data["types"]
    batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
    torch.manual_seed(0)
    if part == "global_mean":
        global_pool(x, batch, num_graphs=1, reduce="mean")
    elif part in ("given_reduce", "given_level"):
        assignment = LabelSelect(num_labels=NUM_TYPES)(x, edge_index, batch, 1, labels=types)
        global_pool(x, assignment.cluster, num_graphs=assignment.num_clusters, reduce="mean")
        if part == "given_level":
            coarsen_edges(edge_index, assignment)
    elif part == "graclus_level":
        assignment = GraclusSelect()(x, edge_index, batch, 1)
        global_pool(x, assignment.cluster, num_graphs=assignment.num_clusters, reduce="mean")
        coarsen_edges(edge_index, assignment)
    elif part == "mincut_network_fwd_bwd":
        mincut_network(x, edge_index)
    elif part in ("diffpool_fwd_bwd", "mincut_fwd_bwd"):
        pool = pooler(part.split("_")[0], in_channels=FEATURES, clusters=SOFT_K).to(x.device)
        leaf = x.clone().requires_grad_(True)
        out = pool(leaf, edge_index, batch=batch, num_graphs=1)
        (out.x.square().sum() + sum(out.aux_loss.values())).backward()
    else:
        raise ValueError(part)


def mincut_network(x: torch.Tensor, edge_index: torch.Tensor, width: int = 32) -> None:
    """GraphConv -> MinCut K=64 -> GraphConv -> MinCut K=8 -> GraphConv -> sum readout, forward + backward."""
    from torch_geometric.nn import GraphConv

    from graphpool.cluster import HierarchicalPool, pooler

    first = GraphConv(x.size(1), width).to(x.device)
    levels = [pooler("mincut", in_channels=width, clusters=k) for k in (64, 8)]
    network = HierarchicalPool(levels, readout="sum", between=[GraphConv(width, width), GraphConv(width, width)])
    network = network.to(x.device)
    leaf = x.clone().requires_grad_(True)
    batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
    result = network(first(leaf, edge_index).relu(), edge_index, batch=batch, num_graphs=1)
    (result.out.square().sum() + sum(result.aux_loss.values())).backward()


def spleens(folder: Path) -> list[dict[str, float | str]]:
    """The 2-level MinCut network on each whole CODEX spleen: seconds (after a warm-up) and added memory."""
    from graphpool.cells import read_cells, tissue_graphs

    rows = []
    for path in sorted(folder.glob("BALBc-*.csv")):
        frame = pd.read_csv(path).assign(sample=path.stem)
        table = read_cells(frame, x="x_coordinate", y="y_coordinate", cell_type="CellType", label=None)
        graph = tissue_graphs(table, "knn:6")[0]
        mincut_network(graph.x[:500], graph.edge_index[:, (graph.edge_index < 500).all(0)])  # warm-up
        before = start_measuring()
        t0 = time.perf_counter()
        mincut_network(graph.x, graph.edge_index)
        seconds = time.perf_counter() - t0
        rows.append({"sample": path.stem, "cells": graph.num_nodes, "seconds": seconds, "added_mb": peak_mb() - before})
        print(
            f"{path.stem:<10}{graph.num_nodes:>8,} cells{seconds:>8.2f} s{rows[-1]['added_mb']:>8.0f} MB added",
            flush=True,
        )
    return rows


def dense_comparison(nodes: int, cap_gb: float, options: list[str], k: int = 16) -> list[dict[str, float | str]]:
    """PyG dense vs graphpool sparse soft pooling on one graph, each in a fresh, memory-capped process."""
    rows = []
    impls = ["pyg_dense", "graphpool_sparse"]
    if importlib.util.find_spec("tgp") is not None:
        impls += ["tgp_dense", "tgp_sparse"]
    for method in ("diffpool", "mincut"):
        for impl in impls:
            out = subprocess.run(
                [sys.executable, __file__, "--dense-part", f"{impl}:{method}:{nodes}:{k}:{cap_gb}", *options],
                check=False,
                capture_output=True,
                text=True,
            )
            lines = out.stdout.strip().splitlines()
            if out.returncode or not lines:
                result = {"failed": f"exit {out.returncode}: {out.stderr.strip().splitlines()[-1:]}"}
            else:
                result = json.loads(lines[-1])
            rows.append({"nodes": nodes, "method": method, "impl": impl, **result})
    return rows


def run_dense_part(spec: str) -> dict[str, float]:
    from torch_geometric.nn import dense_diff_pool, dense_mincut_pool
    from torch_geometric.utils import to_dense_adj

    from graphpool.cells import neighbour_edges
    from graphpool.cluster import pooler

    impl, method, nodes, k, cap_gb = spec.split(":")
    nodes, k = int(nodes), int(k)
    cap = int(float(cap_gb) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))  # a run needing more fails here, not the machine
    torch.manual_seed(0)
    pool = pooler(method, in_channels=FEATURES, clusters=k)
    dense = dense_diff_pool if method == "diffpool" else dense_mincut_pool
    if impl.startswith("tgp"):
        from tgp.poolers import get_pooler

        name = {"diffpool": "diff", "mincut": "mincut"}[method]  # tgp's names
        tgp_pool = get_pooler(name if impl == "tgp_dense" else f"{name}_u", in_channels=FEATURES, k=k)

    def graph(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        pos = torch.rand(n, 2, generator=g)
        return torch.randn(n, FEATURES, generator=g, requires_grad=True), neighbour_edges(
            pos.numpy(), f"knn:{NEIGHBOURS}"
        )[0]

    def step(x: torch.Tensor, edge_index: torch.Tensor) -> None:
        if impl == "pyg_dense":
            adj = to_dense_adj(edge_index, max_num_nodes=x.size(0))
            out, _, loss_a, loss_b = dense(x.unsqueeze(0), adj, pool.select.logits(x, edge_index).unsqueeze(0))
        elif impl.startswith("tgp"):
            result = tgp_pool(x, adj=edge_index, batch=torch.zeros(x.size(0), dtype=torch.long))
            out, (loss_a, loss_b) = result.x, list(result.loss.values())
        else:
            result = pool(x, edge_index, batch=torch.zeros(x.size(0), dtype=torch.long), num_graphs=1)
            out, (loss_a, loss_b) = result.x, list(result.aux_loss.values())
        (out.square().sum() + loss_a + loss_b).backward()

    step(*graph(200))  # warm-up: first calls pay one-off initialisation, in both implementations
    x, edge_index = graph(nodes)
    before = start_measuring()
    times = []
    try:
        for _ in range(DENSE_REPEATS):
            t0 = time.perf_counter()
            step(x, edge_index)
            times.append(time.perf_counter() - t0)
    except (MemoryError, RuntimeError) as error:
        return {"failed": f"{type(error).__name__} under a {cap_gb} GB cap: {str(error)[:80]}"}
    return {"seconds": statistics.median(times), "peak_mb": peak_mb(), "added_mb": peak_mb() - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=count, default=1_000_000)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the tissue parts run")
    parser.add_argument("--part", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dense-part", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--skip-dense", action="store_true", help="skip the dense comparison")
    parser.add_argument("--dense-nodes", default="5000,20000,100000", help="graph sizes of the dense comparison")
    parser.add_argument("--dense-cap-gb", type=positive, default=16.0, help="address-space cap of each dense run")
    parser.add_argument("--spleen", type=Path, default=None, help="the codex-spleen folder (optional)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--in-process", action="store_true", help="every part in this process (a quick smoke run: memory not isolated)"
    )
    add_allocator_option(parser)
    args = parser.parse_args()
    allocator = apply_allocator_option(args)
    options = ["--keep-freed-memory"] * args.keep_freed_memory  # each part's process sets it again
    if args.part:
        print(json.dumps(run_part(args.part, args.data, args.device)))
        return
    if args.dense_part:
        print(json.dumps(run_dense_part(args.dense_part)))
        return

    where = device_label(args.device)
    print(f"torch {torch.__version__} | {where} | {allocator} | {args.cells:,} cells, k={NEIGHBOURS}")
    t0 = time.perf_counter()
    data = build_tissue(args.cells)
    print(
        f"tissue built in {time.perf_counter() - t0:.1f} s (k-NN search {float(data['knn_s']):.1f} s), "
        f"{data['edge_index'].size(1):,} directed edges"
    )
    results: dict[str, object] = {
        "cells": args.cells,
        "edges": data["edge_index"].size(1),
        "device": where,
        "allocator": allocator,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "tissue.pt")
        torch.save(data, path)
        print(f"{'part':<22}{'seconds':>10}{'peak MB':>10}{'added MB':>10}")
        for part in (
            "global_mean",
            "given_reduce",
            "given_level",
            "graclus_level",
            "diffpool_fwd_bwd",
            "mincut_fwd_bwd",
            "mincut_network_fwd_bwd",
        ):
            if args.in_process:  # a smoke run: memory is not isolated per part
                row = run_part(part, path, args.device)
            else:
                out = subprocess.run(
                    [sys.executable, __file__, "--part", part, "--data", path, "--device", args.device, *options],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row = json.loads(out.stdout.strip().splitlines()[-1])
            results[part] = row
            print(f"{part:<22}{row['seconds']:>10.3f}{row['peak_mb']:>10.0f}{row['added_mb']:>10.0f}", flush=True)
    base = results["global_mean"]["seconds"]  # type: ignore[index]
    for part in ("given_reduce", "given_level"):
        print(f"{part} / global mean: {results[part]['seconds'] / base:.1f}x")  # type: ignore[index]
    if not args.skip_dense:
        print(f"\none graph, K=16, forward + backward (each run capped at {args.dense_cap_gb:g} GB of address space)")
        print(f"{'nodes':>8}  {'method':<10}{'implementation':<18}{'seconds':>10}{'peak MB':>10}{'added MB':>10}")
        rows = []
        for nodes in (int(n) for n in args.dense_nodes.split(",")):
            for row in dense_comparison(nodes, args.dense_cap_gb, options):
                rows.append(row)
                head = f"{nodes:>8,}  {row['method']:<10}{row['impl']:<18}"
                if "failed" in row:
                    print(f"{head}failed: {row['failed']}", flush=True)
                else:
                    print(f"{head}{row['seconds']:>10.3f}{row['peak_mb']:>10.0f}{row['added_mb']:>10.0f}", flush=True)
            sparse = {r["method"]: r for r in rows if r["nodes"] == nodes and r["impl"] == "graphpool_sparse"}
            for r in rows:
                if (
                    r["nodes"] == nodes
                    and r["impl"] != "graphpool_sparse"
                    and "failed" not in r
                    and "failed" not in sparse[r["method"]]
                ):
                    s_row = sparse[r["method"]]
                    print(
                        f"{'':>10}{r['method']}: graphpool sparse vs {r['impl']}: "
                        f"{r['seconds'] / s_row['seconds']:.1f}x faster, "
                        f"{r['added_mb'] / max(s_row['added_mb'], 1):.0f}x less added memory"
                    )
        results["dense_comparison"] = rows
    if args.spleen is not None:
        print("\n2-level MinCut network (K=64, then 8), forward + backward, on each whole CODEX spleen")
        results["spleens"] = spleens(args.spleen)
    if importlib.util.find_spec("tgp") is None:
        print("tgp (torch-geometric-pool) is not installed (it hard-requires torch-scatter): not compared")
    write_json(args.json, results)


if __name__ == "__main__":
    main()

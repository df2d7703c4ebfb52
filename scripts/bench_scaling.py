"""How the cost grows with the number of nodes N: graphpool and PyG side by side, on a log-log plot.

Readouts (forward): N from 1e3 to 1e7 nodes in graphs of 15-45 nodes (B = N / 30), F features;
sum, mean, max and median of graphpool (``global_pool``) and PyG (``global_add_pool``,
``global_mean_pool``, ``global_max_pool``, ``MedianAggregation``; PyG's median only up to
``--pyg-median-max`` nodes: it takes ~18 s at 1e7). Soft cluster pooling (forward + backward): one
graph of N nodes (random positions, k=6 nearest neighbours), K=16 clusters, graphpool's sparse
``pooler("mincut")`` against PyG's ``dense_mincut_pool`` (dense N x N adjacency; up to
``--dense-max`` nodes).

Each point is the median of a few calls after a warm-up. The slope of log(time) against log(N),
fitted over the points with N >= 1e5 (below, fixed per-call costs flatten every curve), is printed
and drawn: 1 means the cost grows linearly with N.

    python scripts/bench_scaling.py --plot docs/figures/scaling.png --json results/bench_scaling.json
    python scripts/bench_scaling.py --max-nodes 1e5      # quick
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from _measure import add_allocator_option, apply_allocator_option, positive, write_json
from torch_geometric import nn as pyg
from torch_geometric.nn import aggr as pyg_aggr

import graphpool
from graphpool.readout import global_pool

FEATURES = 16
REDUCES = ("sum", "mean", "max", "median")


def seconds(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def readout_points(sizes: list[int], pyg_median_max: int) -> list[dict]:
    points = []
    median = pyg_aggr.MedianAggregation()
    pyg_pools = {"sum": pyg.global_add_pool, "mean": pyg.global_mean_pool, "max": pyg.global_max_pool}
    for nodes in sizes:
        g = torch.Generator().manual_seed(0)
        graphs = max(1, nodes // 30)
        counts = torch.randint(15, 46, (graphs,), generator=g)
        counts = (counts * nodes / counts.sum()).round().long().clamp(min=1)  # about N nodes in all
        batch = torch.repeat_interleave(torch.arange(graphs), counts)
        x = torch.randn(len(batch), FEATURES, generator=g)
        repeats = 5 if len(batch) <= 1_000_000 else 3
        for reduce in REDUCES:
            ours = seconds(partial(global_pool, x, batch, num_graphs=graphs, reduce=reduce), repeats)
            points.append({"part": "readout", "reduce": reduce, "library": "graphpool", "nodes": len(batch), "s": ours})
            if reduce == "median" and len(batch) > pyg_median_max:
                continue
            if reduce == "median":
                theirs = seconds(partial(median, x, batch, dim_size=graphs), min(repeats, 3))
            else:
                theirs = seconds(partial(pyg_pools[reduce], x, batch, graphs), repeats)
            points.append({"part": "readout", "reduce": reduce, "library": "pyg", "nodes": len(batch), "s": theirs})
        print(f"readouts at {len(batch):>10,} nodes done", flush=True)
    return points


def soft_pool_points(sizes: list[int], dense_max: int) -> list[dict]:
    from torch_geometric.nn import dense_mincut_pool
    from torch_geometric.utils import to_dense_adj

    from graphpool.cells import neighbour_edges
    from graphpool.cluster import pooler

    points = []
    torch.manual_seed(0)
    pool = pooler("mincut", in_channels=FEATURES, clusters=16)
    for nodes in sizes:
        g = torch.Generator().manual_seed(0)
        pos = torch.rand(nodes, 2, generator=g)
        edge_index = neighbour_edges(pos.numpy(), "knn:6")[0]
        x = torch.randn(nodes, FEATURES, generator=g, requires_grad=True)
        batch = torch.zeros(nodes, dtype=torch.long)

        def ours(x: torch.Tensor = x, edge_index: torch.Tensor = edge_index, batch: torch.Tensor = batch) -> None:
            out = pool(x, edge_index, batch=batch, num_graphs=1)
            (out.x.square().sum() + sum(out.aux_loss.values())).backward()

        def theirs(x: torch.Tensor = x, edge_index: torch.Tensor = edge_index, nodes: int = nodes) -> None:
            adj = to_dense_adj(edge_index, max_num_nodes=nodes)
            out, _, loss_a, loss_b = dense_mincut_pool(
                x.unsqueeze(0), adj, pool.select.logits(x, edge_index).unsqueeze(0)
            )
            (out.square().sum() + loss_a + loss_b).backward()

        repeats = 3
        points.append({"part": "soft pool", "library": "graphpool", "nodes": nodes, "s": seconds(ours, repeats)})
        if nodes <= dense_max:
            points.append({"part": "soft pool", "library": "pyg", "nodes": nodes, "s": seconds(theirs, repeats)})
        print(f"soft pool at {nodes:>10,} nodes done", flush=True)
    return points


def slope(points: list[dict], since: int = 100_000) -> float | None:
    """The least-squares slope of log(s) against log(N) over the points with N >= ``since``."""
    chosen = [p for p in points if p["nodes"] >= since]
    if len(chosen) < 2:
        return None
    return float(np.polyfit(np.log10([p["nodes"] for p in chosen]), np.log10([p["s"] for p in chosen]), 1)[0])


def curves(points: list[dict]) -> dict[str, list[dict]]:
    """Points grouped into curves named ``part / reduce / library``."""
    named: dict[str, list[dict]] = {}
    for p in points:
        name = (
            " / ".join(str(p[k]) for k in ("reduce", "library") if k in p) if p["part"] == "readout" else p["library"]
        )
        named.setdefault(f"{p['part']}: {name}", []).append(p)
    return named


def plot(points: list[dict], path: Path) -> None:
    from graphpool.experiment import pyplot

    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = dict(zip(REDUCES, ("#4477aa", "#228833", "#cc6677", "#aa7733"), strict=True))
    for name, curve in curves(points).items():
        part = curve[0]["part"]
        axis = axes[0 if part == "readout" else 1]
        fitted = slope(curve)
        label = name.split(": ", 1)[1] + (f" (slope {fitted:.2f})" if fitted is not None else "")
        style = "-" if curve[0]["library"] == "graphpool" else "--"
        colour = colours.get(curve[0].get("reduce"), "#4477aa" if curve[0]["library"] == "graphpool" else "#cc6677")
        axis.loglog(
            [p["nodes"] for p in curve], [p["s"] for p in curve], style, marker="o", ms=3, color=colour, label=label
        )
    axes[0].set_title(f"readouts, forward (graphs of 15-45 nodes, F={FEATURES})", fontsize=10)
    axes[1].set_title("soft cluster pooling (MinCut, K=16), fwd + bwd, one graph", fontsize=10)
    for axis in axes:
        axis.set_xlabel("nodes N")
        axis.set_ylabel("seconds")
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-nodes", type=positive, default=1e7, help="the largest N of the readouts")
    parser.add_argument("--soft-max-nodes", type=positive, default=1e6, help="the largest N of the soft pool")
    parser.add_argument("--pyg-median-max", type=positive, default=1e6)
    parser.add_argument("--dense-max", type=positive, default=2e4, help="PyG's dense pooling up to this N")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    add_allocator_option(parser)
    args = parser.parse_args()
    allocator = apply_allocator_option(args)
    graphpool.set_validation(False)  # the checks read values: time the kernels
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, validation off, {allocator}")
    decades = [int(10**e) for e in range(3, 8) if 10**e <= args.max_nodes]
    soft = sorted({n for e in range(3, 8) for n in (int(10**e), int(3 * 10**e)) if n <= args.soft_max_nodes})
    points = readout_points(decades, int(args.pyg_median_max)) + soft_pool_points(soft, int(args.dense_max))
    print(f"\n{'curve':<38}{'slope (N >= 1e5)':>18}   seconds at each N")
    for name, curve in curves(points).items():
        fitted = slope(curve)
        shown = f"{fitted:.2f}" if fitted is not None else "-"
        timings = ", ".join(f"{p['nodes']:.0e}: {p['s']:.3g}" for p in curve)
        print(f"{name:<38}{shown:>18}   {timings}")
    if args.plot:
        plot(points, args.plot)
        print(f"wrote {args.plot}")
    write_json(args.json, points)


if __name__ == "__main__":
    main()

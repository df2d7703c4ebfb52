"""Soft pooling of batches of graphs of unequal size: the per-graph products on the padded layout against the
sparse block product, and the layout graphpool chooses.

A soft pool's per-graph products :math:`S_b^\\top [X \\mid AS \\mid S]` (``graphpool.cluster.reduce.block_product``)
can be batched dense products on a ``[B, n_max, .]`` layout padded to the largest graph, or one sparse product
with the block matrix of the assignments (N K entries, no padding). This times ``soft_pool`` forward + backward
(its outputs ``x``, ``adj`` and ``gram``) on batches of 128 graphs with each layout forced, and says which one
graphpool takes (``padding_pays``); the layouts alternate so that machine noise hits them alike, and the ratios are the
medians of the per-round ratios.

    python scripts/bench_soft_batches.py --root ../shared/datasets/TU   # DD and NCI109 batches, and generated
    python scripts/bench_soft_batches.py --rounds 3                     # generated batches only
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch_geometric.data import Batch, Data

from graphpool.cluster import reduce
from graphpool.ops import segments_from

#: the settings of PADDING_PER_CLUSTER that force a layout: 0 always pads, 10**9 never does
LAYOUTS = {"padded": 0, "sparse": 10**9}


def ring(n: int) -> Data:
    nodes = torch.arange(n)
    edges = torch.stack([nodes, nodes.roll(1)])
    return Data(edge_index=torch.cat([edges, edges.flip(0)], 1), num_nodes=n)


def cases(root: Path | None) -> list[tuple[str, list[Data], int]]:
    """``(name, graphs of one batch, K)``: K about graphpool's default, a quarter of the mean graph size (rounded)."""
    found = [
        ("128 rings of 30 nodes", [ring(30)] * 128, 8),
        ("127 rings of 100 nodes and one of 300", [ring(100)] * 127 + [ring(300)], 25),
        ("128 rings of 200 nodes", [ring(200)] * 128, 50),
    ]
    if root is not None:
        from graphpool.data import load_tu

        for name in ("NCI109", "DD"):
            graphs = list(load_tu(name, root=root, log=False))
            k = round(0.25 * sum(g.num_nodes for g in graphs) / len(graphs))
            found.append((f"{name}, 128 graphs drawn", random.Random(0).sample(graphs, 128), k))
    return found


def step(batch: Batch, k: int, features: int = 64) -> Callable[[], None]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch.num_nodes, features, generator=generator, requires_grad=True)
    s = torch.softmax(torch.randn(batch.num_nodes, k, generator=generator), -1).requires_grad_()
    seg = segments_from(batch.num_nodes, batch.batch, dim_size=batch.num_graphs)

    def run() -> None:
        pooled = reduce.soft_pool(x, batch.edge_index, s, seg)
        (pooled.x.sum() + pooled.adj.sum() + pooled.gram.square().sum()).backward()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, help="a folder of TU raw datasets (DD and NCI109 batches)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    chosen_setting = reduce.PADDING_PER_CLUSTER
    print(f"torch {torch.__version__} | {torch.get_num_threads()} thread(s) | PADDING_PER_CLUSTER {chosen_setting}")
    print(f"{'batch':40} {'N':>7} {'n_max':>6} {'K':>4} {'padded ms':>10} {'sparse ms':>10} {'chosen':>7} {'ratio':>6}")
    for name, graphs, k in cases(args.root):
        batch = Batch.from_data_list(graphs)
        run = step(batch, k)
        times: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
        for round_ in range(args.rounds + 1):  # the first round warms up
            for layout, setting in LAYOUTS.items():
                reduce.PADDING_PER_CLUSTER = setting
                start = time.perf_counter()
                run()
                if round_:
                    times[layout].append(time.perf_counter() - start)
        reduce.PADDING_PER_CLUSTER = chosen_setting
        ratio = statistics.median(s / p for s, p in zip(times["sparse"], times["padded"], strict=True))
        largest = int(torch.bincount(batch.batch).max())
        chosen = "padded" if reduce.padding_pays(batch.num_graphs, largest, batch.num_nodes, k) else "sparse"
        padded, sparse = (1e3 * statistics.median(times[layout]) for layout in ("padded", "sparse"))
        print(
            f"{name:40} {batch.num_nodes:7d} {largest:6d} {k:4d} {padded:10.1f} {sparse:10.1f} {chosen:>7} {ratio:6.2f}"
        )
    print("ratio: sparse / padded time (below 1: the sparse block product is faster)")


if __name__ == "__main__":
    main()

"""Epoch time of graphpool's GraphClassifier against the same architecture written plainly with PyG.

A 5-layer GIN (width 64, batch norm, sum readout, batch 128) on ENZYMES (or any TU dataset). The plain model
has the same layers and head, with PyG's ``global_add_pool`` as the readout. Epochs of the two alternate so
that machine noise hits both alike; the ratio is graphpool / PyG (below 1: graphpool faster).

    python scripts/bench_training.py --root ../shared/datasets/TU
    python scripts/bench_training.py --root ../shared/datasets/TU --dataset IMDB-BINARY --epochs 10

With ``--pool NAME --levels L`` a third and fourth network join the alternation: the same GIN followed by
L levels of a hard pooler (message passing after each), once with the levels computed in every step and
once pre-coarsened (computed once per graph beforehand, ``graphpool.models.precoarsen``); their epochs are
reported against the flat graphpool GIN's.

    python scripts/bench_training.py --root ../shared/datasets/TU --dataset DD --pool graclus --levels 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch
from torch import nn
from torch_geometric.loader import DataLoader
from torch_geometric.nn import GINConv, global_add_pool

from graphpool.data import load_tu
from graphpool.models import GraphClassifier, ModelConfig, precoarsen


class PlainGIN(nn.Module):
    """The same network as GraphClassifier(ModelConfig(backbone="gin", readout="sum")), written directly."""

    def __init__(self, in_channels: int, classes: int, hidden: int = 64, layers: int = 5) -> None:
        super().__init__()

        def mlp(a: int) -> nn.Module:
            return nn.Sequential(nn.Linear(a, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, hidden))

        self.convs = nn.ModuleList(
            GINConv(mlp(in_channels if i == 0 else hidden), train_eps=True) for i in range(layers)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, classes))

    def forward(self, data):  # noqa: ANN001, ANN201
        h = data.x
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = norm(conv(h, data.edge_index)).relu()
        return self.head(global_add_pool(h, data.batch, data.num_graphs))


def epoch(model: nn.Module, loader: DataLoader, optimiser: torch.optim.Optimizer, graphpool_model: bool) -> float:
    model.train()
    start = time.perf_counter()
    for data in loader:
        logits = model(data).logits if graphpool_model else model(data)
        loss = nn.functional.cross_entropy(logits, data.y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ENZYMES")
    parser.add_argument("--root", default="../shared/datasets/TU")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--pool", default=None, help="a hard pooler (graclus, kmis, ...) to time beside the flat GIN")
    parser.add_argument("--levels", type=int, default=2)
    args = parser.parse_args()
    dataset = load_tu(args.dataset, args.root)
    graphs = [dataset[i] for i in range(len(dataset))]
    torch.manual_seed(0)
    ours = GraphClassifier(
        ModelConfig(in_channels=dataset.num_features, num_classes=dataset.num_classes, readout="sum")
    )
    plain = PlainGIN(dataset.num_features, dataset.num_classes)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in plain.parameters())
    loader = DataLoader(graphs, batch_size=128, shuffle=True)
    optimisers = {
        "graphpool": torch.optim.Adam(ours.parameters(), 1e-3),
        "pyg": torch.optim.Adam(plain.parameters(), 1e-3),
    }
    models = {"graphpool": (ours, loader, True), "pyg": (plain, loader, False)}
    if args.pool:
        config = ModelConfig(
            in_channels=dataset.num_features, num_classes=dataset.num_classes, pool=args.pool, levels=args.levels
        )
        start = time.perf_counter()
        coarse = precoarsen(graphs, config)
        print(
            f"pre-coarsening {len(graphs)} graphs ({args.pool}, {args.levels} levels): {time.perf_counter() - start:.1f} s"
        )
        models["online"] = (GraphClassifier(config), loader, True)
        pre = GraphClassifier(replace(config, precoarsened=True))
        models["precoarsened"] = (pre, DataLoader(coarse, batch_size=128, shuffle=True), True)
        optimisers.update(
            {name: torch.optim.Adam(models[name][0].parameters(), 1e-3) for name in ("online", "precoarsened")}
        )
    times: dict[str, list[float]] = {name: [] for name in models}
    for name, (model, data, is_ours) in models.items():  # warm-up
        epoch(model, data, optimisers[name], is_ours)
    for _ in range(args.epochs):
        for name, (model, data, is_ours) in models.items():
            times[name].append(epoch(model, data, optimisers[name], is_ours))
    ratio = statistics.median(a / b for a, b in zip(times["graphpool"], times["pyg"], strict=True))
    print(
        f"{args.dataset}: {len(graphs)} graphs, 5-layer GIN, width 64, sum readout, batch 128, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print(
        f"epoch time (median of {args.epochs}): graphpool {1e3 * statistics.median(times['graphpool']):.1f} ms, "
        f"plain PyG {1e3 * statistics.median(times['pyg']):.1f} ms, ratio {ratio:.3f}"
    )
    for name in ("online", "precoarsened") if args.pool else ():
        relative = statistics.median(a / b for a, b in zip(times[name], times["graphpool"], strict=True))
        print(
            f"{args.pool} x {args.levels} levels, {name}: epoch {1e3 * statistics.median(times[name]):.1f} ms, "
            f"{relative:.2f}x the flat graphpool GIN's"
        )


if __name__ == "__main__":
    main()

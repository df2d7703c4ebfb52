"""Epoch time of graphpool's GraphClassifier against the same architecture written plainly with PyG.

A 5-layer GIN (width 64, batch norm, sum readout, batch 128) on ENZYMES (or any TU dataset). The plain model
has the same layers and head, with PyG's ``global_add_pool`` as the readout. Epochs of the two alternate so
that machine noise hits both alike; the ratio is graphpool / PyG (below 1: graphpool faster).

    python scripts/bench_training.py --root ../shared/datasets/TU
    python scripts/bench_training.py --root ../shared/datasets/TU --dataset IMDB-BINARY --epochs 10
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch_geometric.loader import DataLoader
from torch_geometric.nn import GINConv, global_add_pool

from graphpool.data import load_tu
from graphpool.models import GraphClassifier, ModelConfig


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
    times: dict[str, list[float]] = {"graphpool": [], "pyg": []}
    epoch(ours, loader, optimisers["graphpool"], True)  # warm-up
    epoch(plain, loader, optimisers["pyg"], False)
    for _ in range(args.epochs):
        times["graphpool"].append(epoch(ours, loader, optimisers["graphpool"], True))
        times["pyg"].append(epoch(plain, loader, optimisers["pyg"], False))
    ratio = statistics.median(a / b for a, b in zip(times["graphpool"], times["pyg"], strict=True))
    print(
        f"{args.dataset}: {len(graphs)} graphs, 5-layer GIN, width 64, sum readout, batch 128, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print(
        f"epoch time (median of {args.epochs}): graphpool {1e3 * statistics.median(times['graphpool']):.1f} ms, "
        f"plain PyG {1e3 * statistics.median(times['pyg']):.1f} ms, ratio {ratio:.3f}"
    )


if __name__ == "__main__":
    main()

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

With ``--compile`` it times instead a 3-layer GraphSAGE whose aggregation (``--aggr``) and global pool are
graphpool readouts, eager against ``torch.compile(fullgraph=True, dynamic=True)`` (validation off, the
graph count passed), after counting the compiled model's graph breaks with ``torch._dynamo.explain``. The
compiled model's first epoch (which compiles) is reported on its own.

    python scripts/bench_training.py --root ../shared/datasets/TU --compile --aggr median

With ``--device cuda`` the models train on the GPU (each batch is moved there, as a training loop does; an
epoch ends with a synchronisation).

    python scripts/bench_training.py --root ../shared/datasets/TU --device cuda
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from dataclasses import replace

import torch
from _measure import count, device_label, synchronize
from torch import nn
from torch_geometric.loader import DataLoader
from torch_geometric.nn import GINConv, global_add_pool

import graphpool
from graphpool.data import load_tu
from graphpool.models import GraphClassifier, ModelConfig, precoarsen
from graphpool.readout import resolve


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

    def forward(self, data):
        h = data.x
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = norm(conv(h, data.edge_index)).relu()
        return self.head(global_add_pool(h, data.batch, data.num_graphs))


class SageNet(nn.Module):
    """3 SAGEConv layers with a graphpool readout as ``aggr=``, a graphpool global pool, a linear head; tensors in."""

    def __init__(self, in_channels: int, classes: int, aggr: str, pool: str = "sum", hidden: int = 64) -> None:
        super().__init__()
        from torch_geometric.nn import SAGEConv

        widths = [in_channels, hidden, hidden, hidden]
        self.convs = nn.ModuleList(
            SAGEConv(a, b, aggr=resolve(aggr, in_channels=a)) for a, b in itertools.pairwise(widths)
        )
        self.pool = resolve(pool, in_channels=hidden)
        self.head = nn.Linear(self.pool.get_out_channels(hidden), classes)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor, num_graphs: int) -> torch.Tensor:
        for conv in self.convs:
            x = conv(x, edge_index).relu()
        return self.head(self.pool(x, batch, dim_size=num_graphs))


def compile_comparison(
    graphs: list, in_channels: int, classes: int, aggr: str, epochs: int, device: torch.device
) -> None:
    """Eager against compiled epochs of SageNet, alternating; graph breaks counted first."""
    graphpool.set_validation(False)  # value checks read tensors back: they cannot be compiled
    torch.manual_seed(0)
    eager = SageNet(in_channels, classes, aggr).to(device)
    twin = SageNet(in_channels, classes, aggr).to(device)
    twin.load_state_dict(eager.state_dict())
    compiled = torch.compile(twin, fullgraph=True, dynamic=True)
    loader = DataLoader(graphs, batch_size=128, shuffle=True)
    first = next(iter(loader)).to(device)
    explained = torch._dynamo.explain(twin)(first.x, first.edge_index, first.batch, first.num_graphs)
    print(
        f"SAGE x 3 (aggr={aggr}) + sum pool: {explained.graph_break_count} graph break(s), "
        f"{explained.graph_count} graph(s)"
    )

    def run(model: nn.Module, optimiser: torch.optim.Optimizer) -> float:
        start = time.perf_counter()
        for data in loader:
            data = data.to(device)
            loss = nn.functional.cross_entropy(model(data.x, data.edge_index, data.batch, data.num_graphs), data.y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        synchronize(device)
        return time.perf_counter() - start

    optimisers = {
        "eager": torch.optim.Adam(eager.parameters(), 1e-3),
        "compiled": torch.optim.Adam(twin.parameters(), 1e-3),
    }
    models = {"eager": eager, "compiled": compiled}
    first_epoch = {name: run(models[name], optimisers[name]) for name in models}  # the compiled one compiles here
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(epochs):
        for name, model in models.items():
            times[name].append(run(model, optimisers[name]))
    ratio = statistics.median(a / b for a, b in zip(times["compiled"], times["eager"], strict=True))
    print(
        f"first epoch: eager {first_epoch['eager']:.2f} s, compiled {first_epoch['compiled']:.2f} s (compiling); "
        f"then (median of {epochs}): eager {1e3 * statistics.median(times['eager']):.1f} ms, "
        f"compiled {1e3 * statistics.median(times['compiled']):.1f} ms, ratio compiled / eager {ratio:.3f}"
    )


def epoch(
    model: nn.Module, loader: DataLoader, optimiser: torch.optim.Optimizer, graphpool_model: bool, device: torch.device
) -> float:
    model.train()
    start = time.perf_counter()
    for data in loader:
        data = data.to(device)
        logits = model(data).logits if graphpool_model else model(data)
        loss = nn.functional.cross_entropy(logits, data.y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ENZYMES")
    parser.add_argument("--root", default="../shared/datasets/TU")
    parser.add_argument("--epochs", type=count, default=10)
    parser.add_argument("--pool", default=None, help="a hard pooler (graclus, kmis, ...) to time beside the flat GIN")
    parser.add_argument("--levels", type=count, default=2)
    parser.add_argument("--compile", action="store_true", help="eager vs torch.compile of a 3-layer SAGE instead")
    parser.add_argument("--aggr", default="mean", help="with --compile: the graphpool readout used as aggr=")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    device = torch.device(args.device)
    dataset = load_tu(args.dataset, args.root)
    graphs = [dataset[i] for i in range(len(dataset))]
    if args.compile:
        compile_comparison(graphs, dataset.num_features, dataset.num_classes, args.aggr, args.epochs, device)
        return
    torch.manual_seed(0)
    ours = GraphClassifier(
        ModelConfig(in_channels=dataset.num_features, num_classes=dataset.num_classes, readout="sum")
    ).to(device)
    plain = PlainGIN(dataset.num_features, dataset.num_classes).to(device)
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
        models["online"] = (GraphClassifier(config).to(device), loader, True)
        pre = GraphClassifier(replace(config, precoarsened=True)).to(device)
        models["precoarsened"] = (pre, DataLoader(coarse, batch_size=128, shuffle=True), True)
        optimisers.update(
            {name: torch.optim.Adam(models[name][0].parameters(), 1e-3) for name in ("online", "precoarsened")}
        )
    times: dict[str, list[float]] = {name: [] for name in models}
    for name, (model, data, is_ours) in models.items():  # warm-up
        epoch(model, data, optimisers[name], is_ours, device)
    for _ in range(args.epochs):
        for name, (model, data, is_ours) in models.items():
            times[name].append(epoch(model, data, optimisers[name], is_ours, device))
    ratio = statistics.median(a / b for a, b in zip(times["graphpool"], times["pyg"], strict=True))
    print(
        f"{args.dataset}: {len(graphs)} graphs, 5-layer GIN, width 64, sum readout, batch 128, "
        f"{device_label(device)}, "
        f"torch {torch.__version__}"
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

r"""After CytoCommunity (Hu et al. 2024): one of graphpool's soft poolers trained on every sample at once.

The features are first averaged ``smoothing`` times over the cell graph, :math:`X' = (D^{-1}(A + I))^h X`
(UTAG's operator, computed once: a tissue compartment is wider than a GNN's few hops), and standardised; then
``layers`` :class:`~graphpool.ops.csr.CSRGraphConv` layers of width ``hidden`` (GraphConv with mean aggregation
on the cell graph as a CSR matrix, so that no ``[E, hidden]`` message tensor is ever made; none by default),
then a soft pooler (:func:`graphpool.cluster.pooler`, its assignment an MLP of ``assign_hidden`` units) whose
unsupervised loss (``loss``: a name of :data:`LOSSES`, e.g. ``"cutbalance"``, ``"mincut"``, ``"dmon"``,
``"justbalance"``, ``"acc"``) is minimised with the terms weighted by ``loss_weights``; the weights are shared,
so the K clusters are aligned across samples. O(E (F + hidden) + N K) memory per step.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch_geometric.data import Batch, Data

from graphpool.cells.neighbourhood.utag import graph_mean
from graphpool.cluster import UNSUPERVISED_POOLERS, check_loss_weights
from graphpool.models.modes import seeded
from graphpool.ops.csr import CSRGraphConv, csr_adjacency
from graphpool.ops.device_path import resolve_device
from graphpool.ops.ranges import Range, check_ranges

#: the unsupervised losses the learned method can minimise: the soft poolers whose losses find clusters alone
LOSSES = UNSUPERVISED_POOLERS


@dataclass(frozen=True)
class LearnedOptions:
    """Options of the ``"learned"`` method.

    Attributes:
        loss: the soft pooler whose losses are minimised (:data:`LOSSES`).
        loss_weights: weights of the loss's terms (the others weigh 1); ``None``: :data:`DEFAULT_WEIGHTS` of
            ``loss`` (the default loss, ``"cutbalance"``: MinCut's cut with JustBalance's balance at 0.3, which keeps
            every cluster in use and leaves their sizes free; ``"mincut"``: orthogonality at 0.1).
        smoothing: the averaging steps over the cell graph before the network (0: the cells' own features).
        hidden, layers: the GNN's width and depth (0 layers: the smoothed features go to the assignment).
        assign_hidden: hidden units of the assignment MLP (0: one linear layer).
        epochs: full passes over the samples; lr: Adam's learning rate.
        repeats: seeds in the consensus.
        batch_cells: mini-batches hold whole samples, about this many cells each.
        device: where the network trains: ``"cpu"``, ``"cuda"`` (``"cuda:1"``), or ``"auto"`` (CUDA when
            there is a device); the smoothing runs on the CPU (scipy) either way.
    """

    loss: str = "cutbalance"
    loss_weights: dict[str, float] | None = field(default=None, hash=False)
    smoothing: int = 10
    hidden: int = 64
    layers: int = 0
    assign_hidden: int = 64
    epochs: int = 20
    lr: float = 0.03
    repeats: int = 3
    batch_cells: int = 200_000
    device: str = "cpu"

    RANGES: ClassVar[dict[str, Range]] = {
        **{name: Range(1) for name in ("hidden", "epochs", "repeats", "batch_cells")},
        **{name: Range(0) for name in ("smoothing", "layers", "assign_hidden")},
        "lr": Range(0, low_open=True),
    }

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"'loss' must be one of {LOSSES}, got {self.loss!r}")
        check_ranges(self, self.RANGES)
        check_loss_weights(self.loss, self.loss_weights or {})
        self.torch_device()  # an unknown or absent device is named now, not after the smoothing

    def torch_device(self) -> torch.device:
        """``device`` as a :class:`torch.device` (:func:`~graphpool.ops.device_path.resolve_device`)."""
        return resolve_device(self.device)

    @property
    def weights(self) -> dict[str, float]:
        """The loss terms' weights used: ``loss_weights``, or the loss's :data:`DEFAULT_WEIGHTS`."""
        return dict(self.loss_weights) if self.loss_weights is not None else dict(DEFAULT_WEIGHTS.get(self.loss, {}))


#: the loss weights of the learned method when none are given (chosen on one spleen, docs/cells.md): the cut with
#: JustBalance's balance at 0.3 (at 1 the clusters come out near equal; at 0.1-0.2 some seeds merge two
#: compartments); MinCut's orthogonality at 0.1 (at 1 it forces K equal clusters: each spleen compartment came out
#: at 25 % +- 1 %; at 0.1 it keeps them apart, but still about equal)
DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {"cutbalance": {"balance": 0.3}, "mincut": {"ortho": 0.1}}


class _Learner(torch.nn.Module):
    """``layers`` CSR GraphConv (mean) + ReLU layers, then one of graphpool's soft poolers with its unsupervised loss."""

    def __init__(self, in_channels: int, k: int, options: LearnedOptions) -> None:
        from graphpool.cluster import pooler

        super().__init__()
        widths = [in_channels] + [options.hidden] * options.layers
        self.convs = torch.nn.ModuleList(CSRGraphConv(a, b) for a, b in itertools.pairwise(widths))
        self.pool = pooler(
            options.loss,
            in_channels=widths[-1],
            clusters=k,
            hidden=options.assign_hidden,
            loss_weights=options.weights,
        )

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The assignment ``[N, K]`` and the loss (the sum of the pool's weighted auxiliary losses); ``batch`` as
        :func:`prepared` leaves it."""
        x = batch.x
        for conv in self.convs:
            x = torch.relu(conv(x, batch.gather))
        out = self.pool(x, batch.edge_index, batch=batch.batch, num_graphs=batch.num_graphs, adjacency=batch.adjacency)
        return out.assignment.s, sum(out.aux_loss.values())


def batches(graphs: Sequence[Data], batch_cells: int, generator: torch.Generator | None) -> list[Batch]:
    """Whole samples collated into batches of about ``batch_cells`` cells (in a ``generator`` order, if given)."""
    order = torch.randperm(len(graphs), generator=generator).tolist() if generator else range(len(graphs))
    batches: list[Batch] = []
    current: list[Data] = []
    size = 0
    for i in order:
        if current and size + graphs[i].num_nodes > batch_cells:
            batches.append(Batch.from_data_list(current))
            current, size = [], 0
        current.append(graphs[i])
        size += graphs[i].num_nodes
    batches.append(Batch.from_data_list(current))
    return batches


def prepared(batch: Batch, device: torch.device, layers: int) -> Batch:
    """``batch`` on ``device`` with its cell graph as CSR matrices built there once: ``adjacency`` (the pool's
    :math:`A`, coalesced once instead of in every step) and, for GNN ``layers``, ``gather`` (each cell gathers its
    neighbours: the transposed edge list as rows)."""
    batch = batch.to(device)
    ones = torch.ones(batch.edge_index.size(1), device=device)
    batch.adjacency = csr_adjacency(batch.edge_index, ones, batch.num_nodes)
    if layers:
        edges = batch.edge_index.flip(0)
        batch.gather = csr_adjacency(edges, ones, batch.num_nodes)
    return batch


def train_learner(
    graphs: Sequence[Data], k: int, options: LearnedOptions, seed: int, report: Callable[[float], None] | None = None
) -> np.ndarray:
    """One run: a fresh :class:`_Learner` seeded with ``seed``, trained ``options.epochs`` epochs with Adam on the
    pool's summed auxiliary losses; returns its ``[cells, K]`` assignment. ``report`` gets each epoch's last loss.
    torch's global generators are left as they were."""
    device = options.torch_device()
    with seeded(seed, device):
        generator = torch.Generator().manual_seed(seed)
        model = _Learner(graphs[0].num_features, k, options).to(device)
        optimiser = torch.optim.Adam(model.parameters(), lr=options.lr)
        model.train()
        fixed = batches(graphs, options.batch_cells, None)
        if len(fixed) == 1:  # one batch stays on the device, prepared once; several move there one at a time
            fixed = [prepared(fixed[0], device, options.layers)]
        for _ in range(options.epochs):  # one batch: collated once; several: whole samples reshuffled every epoch
            value = torch.zeros(())
            shuffled = fixed if len(fixed) == 1 else batches(graphs, options.batch_cells, generator)
            for batch in shuffled:
                batch = batch if len(fixed) == 1 else prepared(batch, device, options.layers)
                optimiser.zero_grad()
                _, value = model(batch)
                value.backward()
                optimiser.step()
            if report is not None:
                report(float(value.item()))
        model.eval()
        with torch.no_grad():
            ready = fixed if len(fixed) == 1 else (prepared(b, device, options.layers) for b in fixed)  # one at a time
            return torch.cat([model(b)[0] for b in ready]).cpu().numpy()


def fit_learned(
    graphs: Sequence[Data], k: int, options: LearnedOptions, seed: int, progress: bool = False
) -> np.ndarray:
    """``[cells, K]`` the consensus soft assignment of every cell of ``graphs`` (in graph order).

    The features are averaged ``options.smoothing`` times over each graph and standardised over all cells;
    ``options.repeats`` runs (seeds ``seed + r``) of :func:`train_learner`, aligned to the first run by
    Hungarian matching of their hard labels and averaged (:func:`consensus`).
    """
    from tqdm.auto import tqdm

    features = [torch.from_numpy(graph_mean(g, options.smoothing)) for g in graphs]
    every = torch.cat(features)
    mean = every.mean(0)
    std = every.std(0).clamp(min=1e-6) if every.size(0) > 1 else torch.ones(every.size(1))  # one cell: no spread
    graphs = [Data(x=(x - mean) / std, edge_index=g.edge_index) for x, g in zip(features, graphs, strict=True)]
    total = options.repeats * options.epochs
    bar = tqdm(total=total, desc=f"{options.loss} neighbourhoods", unit="epoch", disable=not progress, leave=False)
    runs = [
        train_learner(graphs, k, options, seed + run, partial(_advance, bar, run)) for run in range(options.repeats)
    ]
    bar.close()
    return consensus(runs, k)


def _advance(bar: Any, run: int, loss: float) -> None:
    bar.update(1)
    bar.set_postfix(run=run + 1, loss=f"{loss:.3f}")


def consensus(runs: Sequence[np.ndarray], k: int) -> np.ndarray:
    """The mean of the runs' ``[N, K]`` assignments after matching each run's clusters to the first run's."""
    reference = runs[0].argmax(1)
    total = runs[0].astype(np.float64)
    for run in runs[1:]:
        overlap = np.zeros((k, k))
        np.add.at(overlap, (run.argmax(1), reference), 1)
        mine, theirs = linear_sum_assignment(-overlap)
        aligned = np.empty_like(run)
        aligned[:, theirs] = run[:, mine]
        total += aligned
    return (total / len(runs)).astype(np.float32)

r"""Graph classifiers: a message-passing backbone, any readout or hierarchical pool, an MLP head.

.. math::
    h^{(l)} = \mathrm{ReLU}(\mathrm{BN}(\mathrm{conv}_l(h^{(l-1)}, A))), \quad
    z = \mathrm{MLP}\big(\rho(\mathrm{JK}(h^{(1)}, \dots, h^{(L)}))\big)

with JK the jumping-knowledge combination of the layers (``"last"``, ``"cat"`` or ``"max"``)
(structure-agnostic baselines: ``backbone="mlp"`` applies the same node-wise MLPs without
any edges, :math:`z = \mathrm{MLP}(\rho(\mathrm{MLP}(x)))` as in Errica et al.'s baseline
(DeepSets); ``layers=0`` pools the input features themselves, :math:`z = \mathrm{MLP}(\rho(x))`.)
and :math:`\rho` a readout of :mod:`graphpool.readout`, the cell-type pool, or one level of
cluster pooling (:class:`~graphpool.cluster.HierarchicalPool`: Graclus, DiffPool, MinCut,
DMoN) followed by a GCN layer on the coarsened graph :math:`(S^\top X, S^\top A S)` and the
readout of its clusters. That layer is needed: without it, a sum (mean) readout of the clusters
would equal the plain sum (sum / K) of the nodes for any assignment, since each node's
assignment weights add up to one. Built from a small :class:`ModelConfig`, so the command line
can name every part.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv

from graphpool.cluster import DiffPoolSelect, DMoNSelect, GraclusSelect, HierarchicalPool, MinCutSelect, TypePool
from graphpool.readout import resolve

#: message-passing layers of the backbone (``mlp``: node-wise, no edges)
BACKBONES = ("gin", "gcn", "sage", "gat", "mlp")
#: pooling of the node embeddings: a readout (``none``), a cluster pool, or one readout per cell type
POOLS = ("none", "graclus", "diffpool", "mincut", "dmon", "celltype")
#: how the layers' embeddings are combined: the last, concatenated, or their maximum
JUMPING_KNOWLEDGE = ("last", "cat", "max")


@dataclass(kw_only=True)
class ModelConfig:
    """Everything that defines a :class:`GraphClassifier` (all plain values, so it can be saved as JSON); built by keyword."""

    in_channels: int
    num_classes: int
    backbone: str = "gin"
    hidden: int = 64
    layers: int = 5
    dropout: float = 0.5
    jumping_knowledge: str = "last"
    readout: str = "sum"
    pool: str = "none"
    clusters: int = 16  # K of learnable pools; the number of cell types T of pool "celltype"
    head_layers: int = 2

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("backbone", self.backbone, BACKBONES),
            ("pool", self.pool, POOLS),
            ("jumping_knowledge", self.jumping_knowledge, JUMPING_KNOWLEDGE),
        ):
            if value not in choices:
                raise ValueError(f"'{name}' must be one of {choices}, got {value!r}")
        for name in ("in_channels", "num_classes", "hidden", "layers", "clusters", "head_layers"):
            lowest = 0 if name == "layers" else 1  # 0 layers: the structure-agnostic baseline
            if getattr(self, name) < lowest:
                raise ValueError(f"'{name}' must be >= {lowest}, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"'dropout' must be in [0, 1), got {self.dropout}")
        resolve(self.readout, in_channels=self.hidden)  # fails early, listing the valid names

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ModelOutput:
    """Logits ``[B, classes]``, auxiliary losses of learnable pools, and node embeddings ``[N, F]``."""

    logits: Tensor
    aux_loss: dict[str, Tensor] = field(default_factory=dict)
    node_embeddings: Tensor | None = None


class NodeBatchNorm(nn.BatchNorm1d):
    """Batch normalisation of node rows that also takes a batch of one row (one one-node graph).

    ``nn.BatchNorm1d`` refuses to train on a single row (no variance to estimate): a batch
    holding only methane (``C``) would crash. Such a batch is normalised with the running
    statistics (as in evaluation) and does not update them; every other batch is as usual.
    """

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        if self.training and x.size(0) <= 1:
            return nn.functional.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        return super().forward(x)


class NodeMLP(nn.Module):
    """A layer that ignores the edges: the node-wise MLP of a structure-agnostic (DeepSets) baseline."""

    def __init__(self, mlp: nn.Module) -> None:
        super().__init__()
        self.mlp = mlp

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.mlp(x)


def _conv(kind: str, in_channels: int, out_channels: int) -> nn.Module:
    if kind in ("gin", "mlp"):
        mlp = nn.Sequential(
            nn.Linear(in_channels, out_channels),
            NodeBatchNorm(out_channels),
            nn.ReLU(),
            nn.Linear(out_channels, out_channels),
        )
        return GINConv(mlp, train_eps=True) if kind == "gin" else NodeMLP(mlp)
    if kind == "gcn":
        return GCNConv(in_channels, out_channels)
    if kind == "sage":
        return SAGEConv(in_channels, out_channels)
    return GATConv(in_channels, out_channels, heads=4, concat=False)


class GraphClassifier(nn.Module):
    """Backbone + readout (or hierarchical pool) + MLP head; ``forward(data) -> ModelOutput``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.convs = nn.ModuleList(
            _conv(c.backbone, c.in_channels if i == 0 else c.hidden, c.hidden) for i in range(c.layers)
        )
        self.norms = nn.ModuleList(NodeBatchNorm(c.hidden) for _ in range(c.layers))
        width = c.in_channels if c.layers == 0 else c.hidden * c.layers if c.jumping_knowledge == "cat" else c.hidden
        self.pool = self._pool(width)
        pooled = self.pool.get_out_channels(width)
        if isinstance(self.pool, HierarchicalPool):
            # message passing on the coarsened graph before the readout: without it one pooling level
            # followed by a sum (mean) readout is the plain sum (/ K) of the nodes, whatever the clusters
            self.coarse = GCNConv(pooled, c.hidden)
            self.coarse_norm = NodeBatchNorm(c.hidden)
            self.coarse_readout = resolve(c.readout, in_channels=c.hidden)
            pooled = self.coarse_readout.get_out_channels(c.hidden)
        head: list[nn.Module] = []
        for _ in range(c.head_layers - 1):
            head += [nn.Linear(pooled, c.hidden), nn.ReLU()]
            pooled = c.hidden
        # dropout before the last layer of the head, as in the GIN paper (not after every conv)
        self.head = nn.Sequential(*head, nn.Dropout(c.dropout), nn.Linear(pooled, c.num_classes))

    def _pool(self, width: int) -> nn.Module:
        c = self.config
        if c.pool == "none":
            return resolve(c.readout, in_channels=width)
        if c.pool == "celltype":
            return TypePool(c.clusters, resolve(c.readout, in_channels=width))
        selector = {
            "graclus": lambda: GraclusSelect(),
            "diffpool": lambda: DiffPoolSelect(width, c.clusters),
            "mincut": lambda: MinCutSelect(width, c.clusters),
            "dmon": lambda: DMoNSelect(width, c.clusters),
        }[c.pool]()
        cluster_readout = resolve(c.readout, in_channels=width) if c.pool == "graclus" else "sum"
        return HierarchicalPool([selector], readout=cluster_readout, global_readout="sum")

    def embed(self, data: Batch) -> Tensor:
        """Node embeddings ``[N, F]`` after the backbone and jumping knowledge (the input features with 0 layers).

        A ``gcn`` backbone weighs its edges by ``data.edge_weight`` when the graphs carry one; the
        other backbones use the edges unweighted.
        """
        h, states = data.x.float(), []
        if not self.convs:
            return h
        weight = data.get("edge_weight") if self.config.backbone == "gcn" else None
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = norm(conv(h, data.edge_index) if weight is None else conv(h, data.edge_index, weight)).relu()
            states.append(h)
        if self.config.jumping_knowledge == "cat":
            return torch.cat(states, dim=-1)
        if self.config.jumping_knowledge == "max":
            return torch.stack(states).amax(0)
        return h

    def forward(self, data: Batch) -> ModelOutput:
        return self.classify(self.embed(data), data)

    def classify(self, h: Tensor, data: Batch) -> ModelOutput:
        """Pool node embeddings ``h [N, F]`` (from :meth:`embed`) per graph of ``data`` and apply the head."""
        num_graphs = int(data.num_graphs) if hasattr(data, "num_graphs") else 1
        batch = data.batch if getattr(data, "batch", None) is not None else torch.zeros_like(h[:, 0], dtype=torch.long)
        if isinstance(self.pool, TypePool):
            if data.get("cell_type") is None:
                raise ValueError("pool 'celltype' needs the type of every node as data.cell_type")
            return ModelOutput(self.head(self.pool(h, batch, num_graphs, labels=data.cell_type)), {}, h)
        if isinstance(self.pool, HierarchicalPool):
            result = self.pool(h, data.edge_index, batch, num_graphs)
            level = result.levels[-1]
            z = self.coarse_norm(self.coarse(level.x, level.edge_index, level.edge_weight)).relu()
            return ModelOutput(self.head(self.coarse_readout(z, level.batch, dim_size=num_graphs)), result.aux_loss, h)
        return ModelOutput(self.head(self.pool(h, batch, dim_size=num_graphs)), {}, h)

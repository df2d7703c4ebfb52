r"""Graph classifiers: a message-passing backbone, any readout or hierarchical pool, an MLP head.

.. math::
    h^{(l)} = \mathrm{ReLU}(\mathrm{BN}(\mathrm{conv}_l(h^{(l-1)}, A))), \quad
    z = \mathrm{MLP}\big(\rho(\mathrm{JK}(h^{(1)}, \dots, h^{(L)}))\big)

with JK the jumping-knowledge combination of the layers (``"last"``, ``"cat"`` or ``"max"``)
(structure-agnostic baselines: ``backbone="mlp"`` applies the same node-wise MLPs without
any edges, :math:`z = \mathrm{MLP}(\rho(\mathrm{MLP}(x)))` as in Errica et al.'s baseline
(DeepSets); ``layers=0`` pools the input features themselves, :math:`z = \mathrm{MLP}(\rho(x))`.)
and :math:`\rho` a readout of :mod:`graphpool.readout` or the cell-type pool. With a cluster
pool (``pool`` one of :data:`graphpool.cluster.POOLERS`) the network is hierarchical, as in the
DiffPool, MinCutPool and DMoN papers: message passing, then ``levels`` times pool -> message
passing on the coarse graph (a weighted ``GraphConv``, BN, ReLU), then the readout:

.. math::
    (X_l, A_l) = \mathrm{pool}_l(H_{l-1}, A_{l-1}), \quad
    H_l = \mathrm{ReLU}(\mathrm{BN}(\mathrm{GraphConv}_l(X_l, A_l))), \quad
    z = \mathrm{MLP}(\rho(H_L)) \;\text{or}\; \mathrm{MLP}(\rho(H_0) \,\|\, \dots \,\|\, \rho(H_L))

(``level_readouts``). The message passing after each pool is what lets the clusters matter:
without it, a sum readout of clusters reduced by a sum equals the plain sum of the nodes for
any assignment, since each node's assignment weights add up to one. The auxiliary losses of
learnable pools come back in :class:`ModelOutput` and the trainer adds them. Built from a small
:class:`ModelConfig`, so the command line can name every part.

The model is backbone -> one pooling stage -> head: the stage is a readout, a
:class:`~graphpool.cluster.TypePool`, or a :class:`~graphpool.cluster.HierarchicalPool` whose levels are
the pools above (the level loop lives there alone; precoarsened levels are its per-level selector inputs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GATConv, GCNConv, GINConv, GINEConv, GraphConv, SAGEConv

from graphpool.cluster import (
    HARD_POOLERS,
    POOLERS,
    SOFT_POOLERS,
    Assignment,
    Coarsen,
    HierarchicalPool,
    Pool,
    PrecomputedSelect,
    TypePool,
    check_loss_weights,
    pooler,
    takes_clusters,
)
from graphpool.cluster.connect import edge_features
from graphpool.cluster.resolver import Names
from graphpool.ops.ranges import Range, check_ranges
from graphpool.ops.validation import validation_enabled
from graphpool.readout import resolve

#: message-passing layers of the backbone (``gine``: GIN with edge features; ``mlp``: node-wise, no edges)
BACKBONES = ("gin", "gine", "gcn", "sage", "gat", "mlp")
#: pooling of the node embeddings: a readout alone (``none``), one readout per cell type, or a cluster pooler
POOLS = Names(lambda: ("none", "celltype", *POOLERS))  # read at every use: registered poolers are in it
#: how the layers' embeddings are combined: the last, concatenated, or their maximum
JUMPING_KNOWLEDGE = ("last", "cat", "max")


def is_hard_pool(pool: str) -> bool:
    """Whether ``pool`` is a cluster pooler that is not learned (one of :data:`~graphpool.cluster.HARD_POOLERS`):
    the pools whose levels can be computed once per graph (:func:`precoarsen`)."""
    return pool in HARD_POOLERS


#: the assignment temperature of a pool when the config gives none: MinCut's assignments stayed nearly uniform at
#: 1 (each node spread over 8 of 15 clusters; the cut loss's trivial minimum) and sharp at 0.1 (1.6 of 15), 4 points
#: more validation accuracy on the hard pooling benchmark; DiffPool and JustBalance did not gain (docs/hierarchical.md)
RECIPE_TEMPERATURE: dict[str, float] = {"mincut": 0.1}

#: what the head predicts: class logits, or numeric targets (standardised, see :class:`TargetScale`)
TASKS = ("classification", "regression")


@dataclass(kw_only=True)
class ModelConfig:
    """Everything that defines a :class:`GraphClassifier` (all plain values, so it can be saved as JSON); built by keyword.

    ``num_classes`` is the head's output width: the classes, or under ``task="regression"`` the
    number of numeric targets (1 for one property such as log S).
    """

    in_channels: int
    num_classes: int
    task: str = "classification"
    backbone: str = "gin"
    hidden: int = 64
    layers: int = 5
    dropout: float = 0.5
    jumping_knowledge: str = "last"
    readout: str = "sum"
    pool: str = "none"
    clusters: int = 16  # K of the first pooling level; the number of cell types T of pool "celltype"
    levels: int = 1  # pooling levels of a cluster pool, each followed by message passing
    ratio: float = 0.25  # each later level keeps ceil(ratio * K) clusters
    reduce: str = "sum"  # readout of each cluster of a hard (not learned) pool
    level_readouts: bool = False  # readout of every level (input nodes included), concatenated
    given: str = "cell_type"  # the Data attribute holding the labels of pool "given"
    precoarsened: bool = False  # a hard pool reads its levels from the graphs (see precoarsen); others refuse it
    head_layers: int = 2
    edge_channels: int = 0  # D, the width of data.edge_attr the model reads (backbone "gine"; 0: edges unfeatured)
    loss_weights: dict[str, float] = field(default_factory=dict)  # weights of a soft pool's loss terms (others: 1)
    # tau of a soft pool's softmax(scores / tau), lower is sharper; None: the pool's RECIPE_TEMPERATURE (else 1)
    temperature: float | None = None
    assign_hidden: int = 0  # hidden units of a soft pool's assignment MLP (0: one linear layer, as MinCutPool's)

    #: the range of each numeric setting (the command line checks its options against them too)
    RANGES: ClassVar[dict[str, Range]] = {
        "in_channels": Range(1),
        "num_classes": Range(1),
        "hidden": Range(1),
        "layers": Range(0),  # 0 layers: the structure-agnostic baseline
        "clusters": Range(1),
        "levels": Range(1),
        "head_layers": Range(1),
        "edge_channels": Range(0),
        "temperature": Range(0, low_open=True),
        "assign_hidden": Range(0),
        "dropout": Range(0, 1, high_open=True),
        "ratio": Range(0, 1, low_open=True),
    }

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("backbone", self.backbone, BACKBONES),
            ("pool", self.pool, POOLS),
            ("jumping_knowledge", self.jumping_knowledge, JUMPING_KNOWLEDGE),
            ("task", self.task, TASKS),
        ):
            if value not in choices:
                raise ValueError(f"'{name}' must be one of {choices}, got {value!r}")
        check_ranges(self, {name: r for name, r in self.RANGES.items() if getattr(self, name) is not None})
        if self.task == "classification" and self.num_classes < 2:  # cross-entropy over one class is 0: no training
            raise ValueError(
                f"'num_classes' must be >= 2 for classification, got {self.num_classes} (a head of one class always "
                "predicts it); for one numeric target use task='regression'"
            )
        if (self.backbone == "gine") != (self.edge_channels > 0):
            raise ValueError(
                "backbone 'gine' reads edge features: give 'edge_channels' (the width of data.edge_attr) >= 1 with it, "
                f"and only with it (got backbone {self.backbone!r}, edge_channels {self.edge_channels})"
            )
        if self.precoarsened and not is_hard_pool(self.pool):
            raise ValueError(
                f"'precoarsened' applies to hard cluster pools; pool {self.pool!r} has no levels to precompute "
                "(a readout has none, a soft pool learns its own)"
            )
        check_loss_weights(self.pool, self.loss_weights)
        for name in ("readout", "reduce"):  # fail early, listing the valid names
            if "weight" in resolve(getattr(self, name), in_channels=self.hidden).extra_inputs:
                raise ValueError(
                    f"'{name}' {getattr(self, name)!r} weighs each node by a weight= input, which this model has none "
                    "to give; in a model of your own, pool with global_pool(x, batch, reduce='weighted', weight=w)"
                )

    @property
    def reads_levels(self) -> bool:
        """Whether the model reads its pooling levels from the graphs (``precoarsened`` and a hard pool)."""
        return self.precoarsened  # only a hard pool may be precoarsened (checked in __post_init__)

    @property
    def levels_prefix(self) -> str:
        """The prefix of the levels :func:`precoarsen` stores (``{prefix}cluster_1``, ...), naming what they depend on.

        ``"graclus_"``; k-means adds its K and ratio (``"kmeans_k16_r0.25_"``), given labels their attribute
        (``"given_cell_type_"``): a model reads only levels computed as it would compute them, and a
        model of fewer levels reads the first ones.
        """
        if self.pool == "kmeans":
            return f"kmeans_k{self.clusters}_r{self.ratio:g}_"
        if self.pool == "given":
            return f"given_{self.given}_"
        return f"{self.pool}_"

    def reads_features(self, x: Tensor | None) -> bool:
        """Whether ``x`` is the ``[N, in_channels]`` node features the model reads."""
        return x is not None and x.dim() == 2 and x.size(1) == self.in_channels

    def level_clusters(self) -> list[int]:
        """K of every pooling level: ``clusters``, then ``ceil(ratio * K)`` per further level."""
        sizes = [self.clusters]
        for _ in range(1, self.levels):
            sizes.append(max(1, math.ceil(self.ratio * sizes[-1])))
        return sizes

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ModelOutput:
    """Logits ``[B, classes]`` (regression: standardised predictions ``[B, targets]``), auxiliary losses of learnable pools, node embeddings ``[N, F]``, and the
    assignment of every pooling level (the first maps the input nodes to the first level's clusters)."""

    logits: Tensor
    aux_loss: dict[str, Tensor] = field(default_factory=dict)
    node_embeddings: Tensor | None = None
    assignments: list[Assignment] = field(default_factory=list)


class TargetScale(nn.Module):
    r"""The standardisation of regression targets, :math:`z = (y - \mu) / \sigma`, kept with the weights.

    The head of a regression model predicts :math:`z`; :meth:`forward` maps it back to the targets'
    units, :math:`\hat y = \sigma z + \mu`. :math:`\mu, \sigma` (``[targets]`` buffers, saved in the
    ``state_dict``) are set by :meth:`fit` from the training targets only, so no test value leaks
    into the model; a constant target gets :math:`\sigma = 1`.
    """

    mean: Tensor
    std: Tensor

    def __init__(self, targets: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(targets))
        self.register_buffer("std", torch.ones(targets))

    def fit(self, y: Tensor) -> TargetScale:
        r"""Set :math:`\mu, \sigma` from training targets ``y [n, targets]`` (or ``[n]``); returns ``self``."""
        y = y.reshape(y.size(0), -1).to(self.mean)
        if y.size(0) == 0 or not torch.isfinite(y).all():
            raise ValueError(f"regression targets must be finite and at least one, got {y.size(0)} row(s)")
        std = y.std(0, unbiased=False)
        self.mean.copy_(y.mean(0))
        self.std.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        return self

    def standardise(self, y: Tensor) -> Tensor:
        """Targets ``[B]`` or ``[B, targets]`` -> ``[B, targets]`` standardised."""
        return (y.reshape(y.size(0), -1).to(self.mean) - self.mean) / self.std

    def forward(self, z: Tensor) -> Tensor:
        """Standardised predictions ``[B, targets]`` -> predictions in the targets' units."""
        return z * self.std + self.mean


class NodeBatchNorm(nn.BatchNorm1d):
    """Batch normalisation of node rows that also takes a batch of one row (one one-node graph).

    ``nn.BatchNorm1d`` refuses to train on a single row (no variance to estimate): a batch
    holding only methane (``C``) would crash. Such a batch is normalised with the running
    statistics (as in evaluation) and does not update them; every other batch is as usual.
    """

    def forward(self, x: Tensor) -> Tensor:
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


def _conv(kind: str, in_channels: int, out_channels: int, edge_channels: int = 0) -> nn.Module:
    if kind in ("gin", "gine", "mlp"):
        mlp = nn.Sequential(
            nn.Linear(in_channels, out_channels),
            NodeBatchNorm(out_channels),
            nn.ReLU(),
            nn.Linear(out_channels, out_channels),
        )
        if kind == "gine":  # GIN with the edge features added to each message: ReLU(x_j + Linear(e_ji))
            return GINEConv(mlp, train_eps=True, edge_dim=edge_channels)
        return GINConv(mlp, train_eps=True) if kind == "gin" else NodeMLP(mlp)
    if kind == "gcn":
        return GCNConv(in_channels, out_channels)
    if kind == "sage":
        return SAGEConv(in_channels, out_channels)
    return GATConv(in_channels, out_channels, heads=4, concat=False)


class GraphClassifier(nn.Module):
    """Backbone + readout (or hierarchical pooling) + MLP head; ``forward(data) -> ModelOutput``.

    Under ``task="regression"`` the head predicts standardised targets and ``scale``
    (:class:`TargetScale`) maps them back; :meth:`predict` gives classes or values either way.

    >>> import torch
    >>> from torch_geometric.data import Batch, Data
    >>> from graphpool.models import GraphClassifier, ModelConfig
    >>> ring = lambda n: Data(x=torch.ones(n, 3), edge_index=torch.stack([torch.arange(n), (torch.arange(n) + 1) % n]))
    >>> graphs = Batch.from_data_list([ring(5), ring(8)])
    >>> model = GraphClassifier(ModelConfig(in_channels=3, num_classes=2, pool="mincut", clusters=4))
    >>> out = model(graphs)
    >>> out.logits.shape, sorted(out.aux_loss)  # add the pool's losses to the task's
    (torch.Size([2, 2]), ['level0.mincut', 'level0.ortho'])
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.convs = nn.ModuleList(
            _conv(c.backbone, c.in_channels if i == 0 else c.hidden, c.hidden, c.edge_channels) for i in range(c.layers)
        )
        self.norms = nn.ModuleList(NodeBatchNorm(c.hidden) for _ in range(c.layers))
        width = c.in_channels if c.layers == 0 else c.hidden * c.layers if c.jumping_knowledge == "cat" else c.hidden
        # the pooling stage: a readout, a readout per cell type, or levels of a cluster pool (HierarchicalPool)
        if c.pool == "celltype":
            self.stage: nn.Module = TypePool(c.clusters, resolve(c.readout, in_channels=width))
        elif c.pool == "none":
            self.stage = resolve(c.readout, in_channels=width)
        else:
            pools, convs = self._levels(width)
            self.stage = HierarchicalPool(
                pools,
                readout=c.readout,
                between=convs,
                norm=NodeBatchNorm,
                activation="relu",
                level_readouts=c.level_readouts,
                in_channels=width,
            )
        pooled = self.stage.get_out_channels(width)
        head: list[nn.Module] = []
        for _ in range(c.head_layers - 1):
            head += [nn.Linear(pooled, c.hidden), nn.ReLU()]
            pooled = c.hidden
        # dropout before the last layer of the head, as in the GIN paper (not after every conv)
        self.head = nn.Sequential(*head, nn.Dropout(c.dropout), nn.Linear(pooled, c.num_classes))
        self.scale = TargetScale(c.num_classes) if c.task == "regression" else None

    def predict(self, output: ModelOutput) -> Tensor:
        """The prediction of a forward pass: the class ``[B]`` (argmax), or ``[B, targets]`` values in their units."""
        return output.logits.argmax(-1) if self.scale is None else self.scale(output.logits)

    @property
    def levels(self) -> nn.ModuleList:
        """The pooling levels of a cluster pool (empty for a readout or the cell-type pool)."""
        return self.stage.levels if isinstance(self.stage, HierarchicalPool) else nn.ModuleList()

    def _levels(self, width: int) -> tuple[list[Pool], list[nn.Module]]:
        """The pools of the config's levels and, after each, a weighted ``GraphConv`` to ``hidden`` channels."""
        c, pools, convs = self.config, [], []
        for k in c.level_clusters():
            if c.reads_levels:
                level = Pool(PrecomputedSelect(), reduce=c.reduce, in_channels=width)
            else:
                options = self._soft_options() if c.pool in SOFT_POOLERS else {"reduce": c.reduce}
                level = pooler(c.pool, in_channels=width, clusters=_level_k(c.pool, k), **options)
            pools.append(level)
            convs.append(GraphConv(level.get_out_channels(width), c.hidden))
            width = c.hidden
        return pools, convs

    def _soft_options(self) -> dict[str, Any]:
        """A soft pool's options from the config: its loss weights, and the assignment's temperature and
        MLP width where they differ from the defaults (a registered selector need not take them then)."""
        c = self.config
        options: dict[str, Any] = {"loss_weights": c.loss_weights}
        temperature = c.temperature if c.temperature is not None else RECIPE_TEMPERATURE.get(c.pool, 1.0)
        if temperature != 1.0:
            options["temperature"] = temperature
        if c.assign_hidden:
            options["hidden"] = c.assign_hidden
        return options

    def embed(self, data: Batch) -> Tensor:
        """Node embeddings ``[N, F]`` after the backbone and jumping knowledge (the input features with 0 layers).

        A ``gcn`` backbone weighs its edges by ``data.edge_weight`` when the graphs carry one, a
        ``gine`` backbone adds ``data.edge_attr`` to its messages; the others use the edges unweighted.
        """
        x = data.get("x")
        if not self.config.reads_features(x):
            got = "none" if x is None else f"shape {tuple(x.shape)}"
            raise ValueError(f"the model reads data.x [N, {self.config.in_channels}]; the graphs have {got}")
        h, states = x.float(), []
        if not self.convs:
            return h
        if data.get("edge_index") is None:
            raise ValueError("the model reads data.edge_index [2, E]; the graphs have none")
        edges = {}
        if self.config.backbone == "gcn" and data.get("edge_weight") is not None:
            edges["edge_weight"] = data.edge_weight
        if self.config.backbone == "gine":
            edges["edge_attr"] = self._edge_attr(data)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = norm(conv(h, data.edge_index, **edges)).relu()
            states.append(h)
        if self.config.jumping_knowledge == "cat":
            return torch.cat(states, dim=-1)
        if self.config.jumping_knowledge == "max":
            return torch.stack(states).amax(0)
        return h

    def _edge_attr(self, data: Batch) -> Tensor | None:
        """``[E, D]`` the edge features the model reads (``None`` when it reads none), checked against the config."""
        if not self.config.edge_channels:
            return None
        attr = data.get("edge_attr")
        attr = None if attr is None else edge_features(attr)
        if attr is None or attr.dim() != 2 or attr.size(1) != self.config.edge_channels:
            got = "none" if attr is None else f"shape {tuple(attr.shape)}"
            raise ValueError(
                f"the model reads data.edge_attr of width {self.config.edge_channels}; the graphs have {got}"
            )
        return attr.float()

    def forward(self, data: Batch) -> ModelOutput:
        return self.classify(self.embed(data), data)

    def classify(self, h: Tensor, data: Batch) -> ModelOutput:
        """Pool node embeddings ``h [N, F]`` (from :meth:`embed`) per graph of ``data`` and apply the head."""
        num_graphs = int(data.num_graphs) if hasattr(data, "num_graphs") else 1
        batch = data.batch if getattr(data, "batch", None) is not None else torch.zeros_like(h[:, 0], dtype=torch.long)
        c = self.config
        if isinstance(self.stage, TypePool):
            types = data.get("cell_type")
            if types is None:
                raise ValueError("pool 'celltype' needs the type of every node as data.cell_type")
            if (
                validation_enabled()
                and types.numel()
                and not types.is_floating_point()
                and int(types.max()) >= c.clusters
            ):
                raise ValueError(
                    f"data.cell_type holds type {int(types.max())}, but the model has clusters={c.clusters} types "
                    f"(0 to {c.clusters - 1}): build it with clusters = the number of cell types"
                )
            return ModelOutput(self.head(self.stage(h, batch, num_graphs, labels=types)), {}, h)
        if not isinstance(self.stage, HierarchicalPool):
            return ModelOutput(self.head(self.stage(h, batch, dim_size=num_graphs)), {}, h)
        labels, level_inputs = None, None
        if c.reads_levels:  # the levels stored on the graphs by precoarsen: a selector input per level
            missing = f"{c.levels_prefix}cluster_{c.levels}"
            if missing not in data:
                raise ValueError(
                    f"the batch has no {missing} (level {c.levels} as this model's config computes it): build the "
                    "graphs with precoarsen(graphs, config)"
                )
            stored = [Coarsen.level(data, depth, prefix=c.levels_prefix) for depth in range(1, c.levels + 1)]
            level_inputs = [{"cluster": cluster, "cluster_batch": graphs} for cluster, graphs in stored]
        elif c.pool == "given":
            labels = data.get(c.given)
            if labels is None:
                raise ValueError(f"pool 'given' needs the label of every node as data.{c.given}")
        # every level pools the graph as given: its edge weights and positions (as Coarsen does)
        edge_weight = data.get("edge_weight")
        edge_weight = None if edge_weight is None else edge_weight.to(h.dtype)
        edge_attr = self._edge_attr(data)
        out = self.stage(
            h,
            data.edge_index,
            edge_weight,
            batch,
            num_graphs,
            labels=labels,
            pos=data.get("pos"),
            level_inputs=level_inputs,
            edge_attr=None if edge_attr is None else edge_attr.to(h.dtype),
        )
        return ModelOutput(self.head(out.out), out.aux_loss, h, [level.assignment for level in out.levels])


def _level_k(pool: str, k: int) -> int | None:
    """The K a level of ``pool`` is built with: none for given labels (their number) and poolers that find their own."""
    return k if pool != "given" and takes_clusters(pool) else None


def precoarsen(graphs: list[Data], config: ModelConfig) -> list[Data]:
    """The graphs with the levels of ``config.pool`` computed once (:class:`~graphpool.cluster.Coarsen`).

    A model built with ``replace(config, precoarsened=True)`` then reads them instead of selecting in
    every step. The levels are those the model would compute, except for k-means, which
    clusters the input features here and the learned embeddings online.
    """
    if not is_hard_pool(config.pool):
        raise ValueError(f"only hard cluster pools can be precomputed; pool {config.pool!r} is not one")
    levels, width = [], config.in_channels
    for k in config.level_clusters():
        levels.append(pooler(config.pool, width, _level_k(config.pool, k), reduce=config.reduce))
        width = levels[-1].get_out_channels(width)
    coarsen = Coarsen(levels, labels=config.given, prefix=config.levels_prefix)
    return [coarsen(graph) for graph in graphs]

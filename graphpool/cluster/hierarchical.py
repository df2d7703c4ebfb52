r"""Hierarchical pooling: pooling levels in sequence, optionally with message passing between
them, and a global readout of the last level.

.. math::
    (X_1, A_1) = \mathrm{pool}_1(X, A), \quad X_1 \leftarrow \mathrm{MP}_1(X_1, A_1), \quad \dots,
    \quad z = \rho(X_L)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from torch import Tensor, nn

from graphpool.cluster.pool import Pool, PoolingOutput
from graphpool.cluster.select import Select
from graphpool.cluster.soft import call_layer
from graphpool.ops import segments_from
from graphpool.readout import Readout, resolve


@dataclass(frozen=True)
class HierarchicalOutput:
    """What :class:`HierarchicalPool` returns: the graph vectors and every level behind them.

    Attributes:
        out: ``[B, F_out]`` one vector per graph.
        levels: the pooling outputs, first (finest) to last; ``x`` is after the level's message passing.
        aux_loss: auxiliary losses of the learnable levels, named ``level{i}.{loss}``; add them to the loss.
    """

    out: Tensor
    levels: list[PoolingOutput]
    aux_loss: dict[str, Tensor] = field(default_factory=dict)

    def node_to_cluster(self, level: int = -1) -> Tensor:
        """``[N]`` the cluster at ``level`` of every input node (hard views composed)."""
        index = self.levels[0].assignment.cluster
        for tier in self.levels[1 : (level % len(self.levels)) + 1]:
            index = tier.assignment.cluster[index]
        return index

    def lift(self, x: Tensor, level: int = -1) -> Tensor:
        """Vectors of the clusters at ``level`` ``[C, F]`` back to the input nodes ``[N, F]`` (lifts composed)."""
        for tier in reversed(self.levels[: (level % len(self.levels)) + 1]):
            x = tier.lift(x)
        return x


class HierarchicalPool(nn.Module):
    r"""Pooling levels in sequence, message passing between them, and a final global readout.

    Plugs into a PyG model like a global readout: ``forward(x, edge_index, edge_weight, batch)``
    returns a :class:`HierarchicalOutput` whose ``out`` is ``[B, F_out]``.

    Args:
        levels: :class:`Pool` modules (or bare selectors, wrapped as ``Pool(select, reduce=reduce)``),
            finest first, e.g. ``[pooler("graclus"), pooler("graclus")]``.
        readout: the global readout of the last level (name, list of names or module).
        between: optional message-passing layers, one per level (``None`` to skip one), applied
            to each level's coarse graph as ``layer(x, edge_index[, edge_weight])``. Without them,
            a level of linear reduce (sum) followed by a sum readout is the plain sum of the nodes.
        reduce: readout per cluster of the bare hard selectors in ``levels``.

    Per-node inputs: ``labels`` (for a given-label first level; later levels receive the labels
    of the previous level's clusters), ``pos`` (carried to the clusters as means).

    >>> import torch
    >>> from graphpool.cluster import HierarchicalPool, LabelSelect
    >>> pool = HierarchicalPool([LabelSelect(num_labels=2)], readout="sum", reduce="mean")
    >>> x = torch.tensor([[1.0], [3.0], [10.0]])
    >>> pool(x, torch.tensor([[0, 1], [1, 0]]), labels=torch.tensor([0, 0, 1])).out  # 2.0 + 10.0
    tensor([[12.]])
    """

    def __init__(
        self,
        levels: Sequence[Pool | Select],
        readout: Any = "sum",
        between: Sequence[nn.Module | None] | None = None,
        reduce: Any = "sum",
    ) -> None:
        super().__init__()
        if len(levels) == 0:
            raise ValueError("'levels' needs at least one pool")
        pools = []
        for level in levels:
            if isinstance(level, Select):
                level = Pool(level, reduce="sum" if level.soft else reduce)
            if not isinstance(level, Pool):
                raise TypeError(f"'levels' takes graphpool.cluster pools or selectors, got {type(level).__name__}")
            pools.append(level)
        if between is not None and len(between) != len(pools):
            raise ValueError(f"'between' needs one layer (or None) per level: {len(pools)}, got {len(between)}")
        self.levels = nn.ModuleList(pools)
        self.between = nn.ModuleList(nn.Identity() if m is None else m for m in (between or [None] * len(pools)))
        self.readout: Readout = resolve(readout)

    def get_out_channels(self, in_channels: int) -> int:
        """Width of ``out`` for inputs of width ``in_channels``.

        Raises:
            ValueError: a ``between`` layer does not say its width (no ``out_channels`` attribute).
        """
        width = in_channels
        for pool, layer in zip(self.levels, self.between, strict=True):
            width = pool.get_out_channels(width)
            if not isinstance(layer, nn.Identity):
                if not isinstance(getattr(layer, "out_channels", None), int):
                    raise ValueError(f"cannot tell the width of {type(layer).__name__}: it has no 'out_channels'")
                width = layer.out_channels
        return self.readout.get_out_channels(width)

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        batch: Tensor | None = None,
        num_graphs: int | None = None,
        *,
        labels: Tensor | None = None,
        pos: Tensor | None = None,
    ) -> HierarchicalOutput:
        seg = segments_from(x.size(0), batch, None, num_graphs, device=x.device, index_name="batch")
        batch, num_graphs = seg.index, seg.num_segments
        outputs: list[PoolingOutput] = []
        aux_loss: dict[str, Tensor] = {}
        if labels is not None and "labels" not in self.levels[0].select.inputs:
            raise TypeError(f"got 'labels', but the first level ({type(self.levels[0].select).__name__}) reads none")
        for depth, (pool, layer) in enumerate(zip(self.levels, self.between, strict=True)):
            inputs = {"labels": labels} if "labels" in pool.select.inputs else {}
            out = pool(x, edge_index, edge_weight, batch, num_graphs, pos=pos, **inputs)
            if not isinstance(layer, nn.Identity):  # message passing on the coarse graph
                out = replace(out, x=call_layer(layer, out.x, out.edge_index, out.edge_weight))
            x = out.x
            outputs.append(out)
            aux_loss.update({f"level{depth}.{name}": value for name, value in out.aux_loss.items()})
            edge_index, edge_weight, batch, pos = out.edge_index, out.edge_weight, out.batch, out.pos
            labels = out.assignment.label
        return HierarchicalOutput(self.readout(x, batch, dim_size=num_graphs), outputs, aux_loss)

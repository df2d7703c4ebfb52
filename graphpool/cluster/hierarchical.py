r"""Hierarchical pooling: pooling levels in sequence, message passing between them, and a global readout
of the last level (or of every level): the one place where the levels of a graphpool model are walked.

.. math::
    (X_1, A_1) = \mathrm{pool}_1(X, A), \quad X_1 \leftarrow \sigma(\mathrm{norm}(\mathrm{MP}_1(X_1, A_1))),
    \quad \dots, \quad z = \rho(X_L) \;\text{or}\; \rho_0(X) \,\|\, \rho_1(X_1) \,\|\, \dots \,\|\, \rho_L(X_L)

:class:`~graphpool.models.GraphClassifier` and :class:`~graphpool.cluster.Coarsen` run their levels
through :class:`HierarchicalPool`, so online, precomputed and stand-alone levels are the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch_geometric.nn import Sequential as PyGSequential

from graphpool.cluster.layers import call_layer
from graphpool.cluster.lift import cluster_of_nodes, lift_through
from graphpool.cluster.pool import ACTIVATIONS, Pool, PoolingOutput
from graphpool.cluster.select.base import Select
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
        return cluster_of_nodes([tier.assignment for tier in self.levels], level)

    def lift(self, x: Tensor, level: int = -1) -> Tensor:
        """Vectors of the clusters at ``level`` ``[C, F]`` back to the input nodes ``[N, F]`` (lifts composed)."""
        return lift_through([tier.assignment for tier in self.levels], x, level)


class HierarchicalPool(nn.Module):
    r"""Pooling levels in sequence, message passing between them, and a final global readout.

    Plugs into a PyG model like a global readout: ``forward(x, edge_index, edge_weight, batch)``
    returns a :class:`HierarchicalOutput` whose ``out`` is ``[B, F_out]``.

    Args:
        levels: :class:`Pool` modules (or bare selectors, wrapped as ``Pool(select, reduce=reduce)``),
            finest first, e.g. ``[pooler("graclus"), pooler("graclus")]``.
        readout: the global readout (name, list of names or module; a name that needs the feature
            width, such as ``"attention"``, is built with the width of the level it reads).
        between: optional layers, one per level (``None`` to skip one), applied to each level's coarse
            graph: any module; a PyG ``MessagePassing`` layer or ``Sequential`` gets ``edge_index`` and,
            where its ``forward`` takes them, ``edge_weight`` and ``edge_attr`` (the coarse edges' features,
            :attr:`PoolingOutput.edge_attr`, e.g. for ``GINEConv``); a plain module gets ``x`` alone. Without them, a level of
            linear reduce (sum) followed by a sum readout is the plain sum of the nodes.
        reduce: readout per cluster of the bare hard selectors in ``levels``.
        norm: a factory ``width -> module`` applied after each ``between`` layer (e.g. ``nn.BatchNorm1d``;
            needs the layer's ``out_channels``), or ``None``.
        activation: applied after the norm: ``"relu"``, ``"selu"``, ``"tanh"`` or ``None``.
        level_readouts: read out the input nodes and every level, and concatenate them (the last level's
            readout last); otherwise the last level's alone.
        in_channels: F, the width of the input nodes; needed by ``level_readouts`` and by width-dependent readouts.

    Edge features ``edge_attr`` ``[E, D]`` are pooled with the edges at every level (each level's
    :attr:`PoolingOutput.edge_attr`) and given to the ``between`` layers that read them.

    Per-node inputs: ``labels`` (for a given-label first level; later levels receive the labels
    of the previous level's clusters), ``pos`` (carried to the clusters as means), and
    ``level_inputs``: one dict per level of further selector inputs (the ``cluster`` /
    ``cluster_batch`` of a precomputed level, see :meth:`~graphpool.cluster.Coarsen.level`).

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
        *,
        norm: Callable[[int], nn.Module] | None = None,
        activation: str | None = None,
        level_readouts: bool = False,
        in_channels: int | None = None,
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
        for layer in between or ():
            if layer is not None and not isinstance(layer, nn.Module):
                raise TypeError(f"'between' takes torch modules (or None), got {type(layer).__name__}")
        if activation is not None and activation not in ACTIVATIONS:
            raise ValueError(f"'activation' must be one of {tuple(ACTIVATIONS)} or None, got {activation!r}")
        if norm is not None and not callable(norm):
            raise TypeError(
                f"'norm' must make a module from a width (e.g. torch.nn.BatchNorm1d), got {type(norm).__name__}"
            )
        if level_readouts and in_channels is None:
            raise ValueError("'level_readouts' reads the input nodes too: pass in_channels (their width F)")
        self.levels = nn.ModuleList(pools)
        self.between = nn.ModuleList(nn.Identity() if m is None else m for m in (between or [None] * len(pools)))
        self.activation = activation
        self.norms = nn.ModuleList(
            nn.Identity() if norm is None or isinstance(layer, nn.Identity) else norm(_width_of(layer))
            for layer in self.between
        )
        widths = self._widths(in_channels, strict=in_channels is not None)
        self.readout: Readout = resolve(readout, in_channels=widths[-1] if in_channels is not None else None)
        self.level_readouts = nn.ModuleList(
            resolve(readout, in_channels=width) for width in (widths[:-1] if level_readouts else [])
        )

    @property
    def pools(self) -> list[Pool]:
        """The levels, typed (``levels`` is the ``nn.ModuleList`` that registers them)."""
        return [cast(Pool, level) for level in self.levels]

    def _widths(self, in_channels: int | None, strict: bool = True) -> list[int | None]:
        """The width of the input nodes and of every level after its layer, as far as they are known (``None``:
        not declared; ``strict``: each must be, a ``between`` layer without ``out_channels`` is an error).

        Raises:
            ValueError: what feeds a soft level features of another width than its ``in_channels`` (named:
                ``in_channels``, the level before it or the ``between`` layer before it); a hard level takes any.
        """
        widths, source = [in_channels], "'in_channels' is {}"
        for depth, (pool, layer) in enumerate(zip(self.pools, self.between, strict=True)):
            width, expected = widths[-1], getattr(pool.select, "in_channels", None)
            if width is not None and expected is not None and width != expected:
                raise ValueError(
                    f"{source.format(width)}, but level {depth} ({type(pool.select).__name__}) was built for "
                    f"in_channels={expected}"
                )
            width = expected if width is None else width
            width, source = (
                (None if width is None else pool.get_out_channels(width)),
                f"level {depth} gives {{}} features",
            )
            if not isinstance(layer, nn.Identity):
                width = _width_of(layer) if strict else _declared_width(layer)
                source = f"'between[{depth}]' ({type(layer).__name__}) gives {{}} features"
            widths.append(width)
        return widths

    def get_out_channels(self, in_channels: int) -> int:
        """Width of ``out`` for inputs of width ``in_channels``.

        Raises:
            ValueError: a ``between`` layer does not say its width (no ``out_channels`` attribute).
        """
        widths = cast(list[int], self._widths(in_channels))  # strict: every width known
        read = [*self.level_readouts, self.readout]
        return sum(r.get_out_channels(w) for r, w in zip(read, widths[-len(read) :], strict=True))

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        batch: Tensor | None = None,
        num_graphs: int | None = None,
        *,
        labels: Tensor | None = None,
        pos: Tensor | None = None,
        level_inputs: Sequence[dict[str, Any]] | None = None,
        edge_attr: Tensor | None = None,
    ) -> HierarchicalOutput:
        seg = segments_from(x.size(0), batch, None, num_graphs, device=x.device, index_name="batch")
        batch, num_graphs = seg.index, seg.num_segments
        first = self.pools[0].select
        if labels is not None and "labels" not in first.inputs:
            raise TypeError(f"got 'labels', but the first level ({type(first).__name__}) reads none")
        if level_inputs is not None and len(level_inputs) != len(self.levels):
            raise ValueError(f"'level_inputs' needs one dict per level: {len(self.levels)}, got {len(level_inputs)}")
        outputs: list[PoolingOutput] = []
        aux_loss: dict[str, Tensor] = {}
        pooled = [r(x, batch, dim_size=num_graphs) for r in self.level_readouts[:1]]
        for depth, (pool, layer, norm) in enumerate(zip(self.pools, self.between, self.norms, strict=True)):
            inputs = dict(level_inputs[depth]) if level_inputs is not None else {}
            if "labels" in pool.select.inputs:
                inputs["labels"] = labels
            out = pool(x, edge_index, edge_weight, batch, num_graphs, pos=pos, edge_attr=edge_attr, **inputs)
            if not isinstance(layer, nn.Identity):  # message passing on the coarse graph, then norm and activation
                h = norm(call_layer(layer, out.x, out.edge_index, out.edge_weight, out.edge_attr))
                out = replace(out, x=h if self.activation is None else ACTIVATIONS[self.activation](h))
            x = out.x
            outputs.append(out)
            aux_loss.update({f"level{depth}.{name}": value for name, value in out.aux_loss.items()})
            edge_index, edge_weight, edge_attr, batch, pos = (
                out.edge_index,
                out.edge_weight,
                out.edge_attr,
                out.batch,
                out.pos,
            )
            labels = out.assignment.label
            if depth + 1 < len(self.level_readouts):
                pooled.append(self.level_readouts[depth + 1](x, batch, dim_size=num_graphs))
        pooled.append(self.readout(x, batch, dim_size=num_graphs))
        return HierarchicalOutput(pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=-1), outputs, aux_loss)


def _declared_width(layer: nn.Module) -> int | None:
    """The output width a ``between`` layer declares, ``None`` when it declares none: its ``out_channels`` (PyG's
    layers and ``Linear``) or ``out_features`` (``torch.nn.Linear``); for a GIN(E) layer that of its network
    ``nn``; for a container (``torch.nn.Sequential``, PyG's ``Sequential``) that of the last module in it that
    declares one (activations, norms and dropout keep the width). Other modules are not looked into: a
    submodule's width need not be the output's (GINEConv's edge projection is ``edge_dim -> in_channels``)."""
    for name in ("out_channels", "out_features"):
        if isinstance(width := getattr(layer, name, None), int):
            return width
    inner = getattr(layer, "nn", None)
    if isinstance(inner, nn.Module):
        return _declared_width(inner)
    if isinstance(layer, (nn.Sequential, PyGSequential)):
        widths = [w for child in layer.children() if (w := _declared_width(child)) is not None]
        return widths[-1] if widths else None
    return None


def _width_of(layer: nn.Module) -> int:
    """:func:`_declared_width`, which must be known."""
    width = _declared_width(layer)
    if width is None:
        raise ValueError(f"cannot tell the width of {type(layer).__name__}: it has no 'out_channels'")
    return width

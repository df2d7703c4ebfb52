"""Calling any layer on a (coarse) graph: a PyG layer or ``Sequential`` gets the edges and what it reads of their
weights and features; a plain module gets the node features alone."""

from __future__ import annotations

import functools
import inspect

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing


def call_layer(
    layer: nn.Module,
    x: Tensor,
    edge_index: Tensor,
    edge_weight: Tensor | None = None,
    edge_attr: Tensor | None = None,
) -> Tensor:
    """``layer(x)``, or for a graph layer ``layer(x, edge_index[, edge_weight=...][, edge_attr=...])``.

    A graph layer is a PyG ``MessagePassing`` layer, a PyG ``Sequential`` whose inputs include
    ``edge_index``, or any module whose ``forward`` takes ``edge_index``. The weights are passed
    when given and the layer takes ``edge_weight`` (GCN, GraphConv, a ``Sequential("x, edge_index,
    edge_weight", ...)``), the edge features when given and it takes ``edge_attr`` (GINE, GAT,
    Transformer); GIN and the like get the edges only; other modules (an MLP) get ``x``.
    """
    takes = _inputs_of(layer)
    if not isinstance(layer, MessagePassing) and "edge_index" not in takes:
        return layer(x)
    given = {"edge_weight": edge_weight, "edge_attr": edge_attr}
    return layer(x, edge_index, **{name: value for name, value in given.items() if value is not None and name in takes})


def _inputs_of(layer: nn.Module) -> frozenset[str]:
    """The argument names of ``layer``'s forward (a PyG ``Sequential`` keeps them in its ``signature``)."""
    parameters = getattr(getattr(layer, "signature", None), "param_dict", None)
    if isinstance(parameters, dict):
        return frozenset(parameters)
    if torch.compiler.is_compiling():  # traced once into a constant; the cache would only draw dynamo's warning
        return _forward_parameters.__wrapped__(type(layer))
    return _forward_parameters(type(layer))  # type: ignore[arg-type]  # (classes hash; Module's stub says not)


@functools.cache
def _forward_parameters(kind: type[nn.Module]) -> frozenset[str]:
    return frozenset(inspect.signature(kind.forward).parameters)

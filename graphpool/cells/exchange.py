"""Cell graphs to and from networkx, attributes included, for networkx's own analyses.

Nodes carry ``x`` (feature list), ``pos`` ((x, y)), ``cell_type`` (the name, where types are
known) and ``row``; edges carry ``edge_weight`` where the graph has one; the graph carries
``sample`` and ``y``.

>>> import torch
>>> from torch_geometric.data import Data
>>> data = Data(x=torch.eye(2), pos=torch.zeros(2, 2), edge_index=torch.tensor([[0, 1], [1, 0]]))
>>> to_networkx(data).number_of_edges()
1
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import networkx as nx
import torch
from torch_geometric.data import Data

from graphpool.ops.ranges import check_not_one_string
from graphpool.ops.validation import id_outside

_NODE_TENSORS = ("x", "pos", "row")


def to_networkx(data: Data, cell_types: Sequence[str] | None = None) -> nx.Graph:
    """An undirected :class:`networkx.Graph` of ``data``; ``cell_types`` names ``data.cell_type``.

    Raises:
        ValueError: ``data`` is not undirected (an edge without its reverse, two directions of different weights),
            an edge listed twice with two weights, or an edge to a node the graph does not have.
    """
    if (bad := id_outside(data.edge_index, data.num_nodes)) is not None:
        raise ValueError(
            f"data.edge_index holds {bad}, but the graph has {data.num_nodes} nodes (0 to {data.num_nodes - 1})"
        )
    check_not_one_string("'cell_types'", cell_types, "names")
    graph = nx.Graph(sample=getattr(data, "sample", None), y=data.y.tolist() if data.y is not None else None)
    columns = {name: data[name].tolist() for name in _NODE_TENSORS if data.get(name) is not None}
    types = data.get("cell_type")
    if types is not None and cell_types is not None and (bad := id_outside(types, len(cell_types))) is not None:
        raise ValueError(
            f"data.cell_type holds {bad}, but 'cell_types' names {len(cell_types)} types (0 to {len(cell_types) - 1})"
        )
    for node in range(data.num_nodes):
        attributes = {name: values[node] for name, values in columns.items()}
        if "pos" in attributes:
            attributes["pos"] = tuple(attributes["pos"])
        if types is not None:
            attributes["cell_type"] = cell_types[int(types[node])] if cell_types is not None else int(types[node])
        graph.add_node(node, **attributes)
    weights = data.get("edge_weight")
    listed = weights.tolist() if weights is not None else [None] * data.edge_index.size(1)
    weight_of: dict[tuple[int, int], float | None] = {}
    for (i, j), weight in zip(map(tuple, data.edge_index.t().tolist()), listed, strict=True):
        if (i, j) in weight_of and not _same(weight, weight_of[i, j]):  # a repeat of the same weight is one edge
            raise ValueError(f"edge ({i}, {j}) is listed twice, weighing {weight_of[i, j]} and {weight}")
        weight_of[i, j] = weight
    for (i, j), weight in weight_of.items():  # each undirected edge once, in both directions and of one weight
        if (j, i) not in weight_of:
            raise ValueError(
                f"edge ({i}, {j}) has no reverse edge ({j}, {i}): make it undirected first "
                "(torch_geometric.utils.to_undirected); to_networkx builds an undirected graph"
            )
        if not _same(weight, weight_of[j, i]):
            raise ValueError(
                f"edge ({i}, {j}) weighs {weight} and ({j}, {i}) {weight_of[j, i]}: an undirected edge has one"
            )
        graph.add_edge(i, j, **({"edge_weight": weight} if weights is not None else {}))
    return graph


def _same(a: float | None, b: float | None) -> bool:
    """Equal weights, NaN equal to NaN (the same stored value both ways)."""
    return a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b))


def from_networkx(graph: nx.Graph, cell_types: Sequence[str] | None = None) -> Data:
    """The inverse of :func:`to_networkx` (nodes must be 0..N-1; edges come back in both directions).

    Raises:
        ValueError: a directed graph or a multigraph, nodes not 0..N-1, an attribute on some nodes (edges) but
            not all or of the wrong kind (rows and type indices must be integers, ``x`` and ``pos`` lists of
            one length), or a type name not in ``cell_types``.
    """
    check_not_one_string("'cell_types'", cell_types, "names")
    if graph.is_directed() or graph.is_multigraph():
        raise ValueError(
            f"'graph' is a {type(graph).__name__}: from_networkx reads an undirected nx.Graph (to_networkx's); "
            "convert it first, e.g. nx.Graph(graph.to_undirected())"
        )
    nodes = sorted(graph.nodes)
    if nodes != list(range(len(nodes))):
        raise ValueError("the networkx graph's nodes must be 0..N-1 (use nx.convert_node_labels_to_integers)")
    data = Data(num_nodes=len(nodes))
    for name in _NODE_TENSORS:
        if _on_all("node", name, [graph.nodes[n] for n in nodes]):
            values = [graph.nodes[n][name] for n in nodes]
            data[name] = _integers("node", name, values) if name == "row" else _tensor("node", name, values)
    if _on_all("node", "cell_type", [graph.nodes[n] for n in nodes]):
        names = [graph.nodes[n]["cell_type"] for n in nodes]
        if cell_types is None:
            if text := next((t for t in names if isinstance(t, str)), None):
                raise ValueError(
                    f"node attribute 'cell_type' holds names ({text!r}): give 'cell_types', the names in index order"
                )
            data.cell_type = _integers("node", "cell_type", names)
        else:
            index = {name: i for i, name in enumerate(cell_types)}
            unknown = next((n for n, t in zip(nodes, names, strict=True) if t not in index), None)
            if unknown is not None:
                raise ValueError(
                    f"cell type {names[unknown]!r} of node {unknown} is not in 'cell_types' {list(cell_types)}"
                )
            data.cell_type = torch.tensor([index[t] for t in names])
    pairs = sorted({(i, j) for a, b in graph.edges for i, j in ((a, b), (b, a))})
    data.edge_index = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
    if _on_all("edge", "edge_weight", [graph.edges[e] for e in graph.edges]):
        data.edge_weight = _tensor("edge", "edge_weight", [graph.edges[i, j]["edge_weight"] for i, j in pairs])
    if graph.graph.get("sample") is not None:
        data.sample = graph.graph["sample"]
    if graph.graph.get("y") is not None:
        data.y = torch.tensor(graph.graph["y"])
    return data


def _tensor(kind: str, name: str, values: list) -> torch.Tensor:
    """``values`` as a float tensor: numbers (edge weights) or lists of numbers of one length (``x``, ``pos``)."""
    shape = "numbers" if name == "edge_weight" else "lists of numbers of one length"
    try:
        tensor = torch.tensor(values, dtype=torch.float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{kind} attribute {name!r} must be {shape} on every {kind} ({error})") from None
    if tensor.dim() != (1 if name == "edge_weight" else 2):
        raise ValueError(f"{kind} attribute {name!r} must be {shape} on every {kind}, got shape {tuple(tensor.shape)}")
    return tensor


def _integers(kind: str, name: str, values: list) -> torch.Tensor:
    """``values`` as a long tensor, refusing what is not a whole number (a row of 1.5 is no row)."""
    bad = next((i for i, v in enumerate(values) if not _whole(v)), None)
    if bad is not None:
        raise ValueError(f"{kind} attribute {name!r} must be integers, one per {kind}, got {values[bad]!r}")
    return torch.tensor([int(v) for v in values], dtype=torch.long)


def _whole(value: object) -> bool:
    """Whether ``value`` is an integer, or a real number that is one (``2.0``)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer()


def _on_all(kind: str, name: str, attributes: list[dict]) -> bool:
    """Whether every node (edge) carries attribute ``name``; on some but not all is an error (nothing dropped)."""
    having = sum(name in values for values in attributes)
    if 0 < having < len(attributes):
        raise ValueError(
            f"{kind} attribute {name!r} is on {having} of the {len(attributes)} {kind}s: give it to all or to none"
        )
    return having > 0

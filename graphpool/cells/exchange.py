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

from collections.abc import Sequence

import networkx as nx
import torch
from torch_geometric.data import Data

from graphpool.ops.validation import id_outside

_NODE_TENSORS = ("x", "pos", "row")


def to_networkx(data: Data, cell_types: Sequence[str] | None = None) -> nx.Graph:
    """An undirected :class:`networkx.Graph` of ``data``; ``cell_types`` names ``data.cell_type``.

    Raises:
        ValueError: ``data`` is not undirected: an edge without its reverse, or two directions of different weights.
    """
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
    weight_of = dict(zip(map(tuple, data.edge_index.t().tolist()), listed, strict=True))
    for (i, j), weight in weight_of.items():  # each undirected edge once, in both directions and of one weight
        if (j, i) not in weight_of:
            raise ValueError(
                f"edge ({i}, {j}) has no reverse edge ({j}, {i}): make it undirected first "
                "(torch_geometric.utils.to_undirected); to_networkx builds an undirected graph"
            )
        if weight != weight_of[j, i]:
            raise ValueError(
                f"edge ({i}, {j}) weighs {weight} and ({j}, {i}) {weight_of[j, i]}: an undirected edge has one"
            )
        graph.add_edge(i, j, **({"edge_weight": weight} if weights is not None else {}))
    return graph


def from_networkx(graph: nx.Graph, cell_types: Sequence[str] | None = None) -> Data:
    """The inverse of :func:`to_networkx` (nodes must be 0..N-1; edges come back in both directions).

    Raises:
        ValueError: nodes not 0..N-1, an attribute on some nodes (edges) but not all, or a type name not in
            ``cell_types``.
    """
    nodes = sorted(graph.nodes)
    if nodes != list(range(len(nodes))):
        raise ValueError("the networkx graph's nodes must be 0..N-1 (use nx.convert_node_labels_to_integers)")
    data = Data(num_nodes=len(nodes))
    for name in _NODE_TENSORS:
        if _on_all("node", name, [graph.nodes[n] for n in nodes]):
            values = [list(graph.nodes[n][name]) if name != "row" else graph.nodes[n][name] for n in nodes]
            data[name] = torch.tensor(values, dtype=torch.long if name == "row" else torch.float)
    if _on_all("node", "cell_type", [graph.nodes[n] for n in nodes]):
        names = [graph.nodes[n]["cell_type"] for n in nodes]
        if cell_types is None:
            data.cell_type = torch.tensor([int(t) for t in names])
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
        data.edge_weight = torch.tensor([graph.edges[i, j]["edge_weight"] for i, j in pairs])
    if graph.graph.get("sample") is not None:
        data.sample = graph.graph["sample"]
    if graph.graph.get("y") is not None:
        data.y = torch.tensor(graph.graph["y"])
    return data


def _on_all(kind: str, name: str, attributes: list[dict]) -> bool:
    """Whether every node (edge) carries attribute ``name``; on some but not all is an error (nothing dropped)."""
    having = sum(name in values for values in attributes)
    if 0 < having < len(attributes):
        raise ValueError(
            f"{kind} attribute {name!r} is on {having} of the {len(attributes)} {kind}s: give it to all or to none"
        )
    return having > 0

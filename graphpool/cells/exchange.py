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

_NODE_TENSORS = ("x", "pos", "row")


def to_networkx(data: Data, cell_types: Sequence[str] | None = None) -> nx.Graph:
    """An undirected :class:`networkx.Graph` of ``data``; ``cell_types`` names ``data.cell_type``."""
    graph = nx.Graph(sample=getattr(data, "sample", None), y=data.y.tolist() if data.y is not None else None)
    columns = {name: data[name].tolist() for name in _NODE_TENSORS if data.get(name) is not None}
    types = data.get("cell_type")
    for node in range(data.num_nodes):
        attributes = {name: values[node] for name, values in columns.items()}
        if "pos" in attributes:
            attributes["pos"] = tuple(attributes["pos"])
        if types is not None:
            attributes["cell_type"] = cell_types[int(types[node])] if cell_types is not None else int(types[node])
        graph.add_node(node, **attributes)
    weights = data.get("edge_weight")
    for e, (i, j) in enumerate(data.edge_index.t().tolist()):
        graph.add_edge(i, j, **({"edge_weight": float(weights[e])} if weights is not None else {}))
    return graph


def from_networkx(graph: nx.Graph, cell_types: Sequence[str] | None = None) -> Data:
    """The inverse of :func:`to_networkx` (nodes must be 0..N-1; edges come back in both directions)."""
    nodes = sorted(graph.nodes)
    if nodes != list(range(len(nodes))):
        raise ValueError("the networkx graph's nodes must be 0..N-1 (use nx.convert_node_labels_to_integers)")
    data = Data(num_nodes=len(nodes))
    for name in _NODE_TENSORS:
        if nodes and all(name in graph.nodes[n] for n in nodes):
            values = [list(graph.nodes[n][name]) if name != "row" else graph.nodes[n][name] for n in nodes]
            data[name] = torch.tensor(values, dtype=torch.long if name == "row" else torch.float)
    if nodes and all("cell_type" in graph.nodes[n] for n in nodes):
        names = [graph.nodes[n]["cell_type"] for n in nodes]
        index = {name: i for i, name in enumerate(cell_types)} if cell_types is not None else None
        data.cell_type = torch.tensor([index[t] if index is not None else int(t) for t in names])
    pairs = sorted({(i, j) for a, b in graph.edges for i, j in ((a, b), (b, a))})
    data.edge_index = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
    if pairs and all("edge_weight" in graph.edges[i, j] for i, j in pairs):
        data.edge_weight = torch.tensor([graph.edges[i, j]["edge_weight"] for i, j in pairs])
    if graph.graph.get("sample") is not None:
        data.sample = graph.graph["sample"]
    if graph.graph.get("y") is not None:
        data.y = torch.tensor(graph.graph["y"])
    return data

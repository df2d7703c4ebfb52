"""networkx export and import keep the graph and its attributes."""

import networkx as nx
import pytest
import torch
from torch_geometric.data import Data

from graphpool.cells import from_networkx, read_cells, simulate, tissue_graphs, to_networkx
from graphpool.cells.graph import neighbour_edges


def test_round_trip_and_networkx_sees_the_same_graph() -> None:
    table = read_cells(simulate("count", samples=2, seed=0))
    graph = tissue_graphs(table, "knn:5", edge_weight="distance")[0]
    exported = to_networkx(graph, table.cell_types)
    assert exported.number_of_nodes() == graph.num_nodes and exported.number_of_edges() == graph.edge_index.size(1) // 2
    assert exported.graph["sample"] == graph.sample
    node = exported.nodes[7]
    assert node["cell_type"] == table.cell_types[int(graph.cell_type[7])] and node["pos"] == tuple(
        graph.pos[7].tolist()
    )
    degrees = torch.bincount(graph.edge_index[0], minlength=graph.num_nodes)
    assert [d for _, d in sorted(exported.degree())] == degrees.tolist()
    back = from_networkx(exported, table.cell_types)
    for name in ("x", "pos", "row", "cell_type", "edge_index", "y"):
        assert torch.equal(back[name], graph[name]), name
    torch.testing.assert_close(back.edge_weight, graph.edge_weight)
    assert back.sample == graph.sample


def test_a_networkx_analysis_on_the_cell_graph() -> None:
    """Connected components of a radius graph: two separate clusters of cells."""
    points = [[0, 0], [1, 0], [0, 1], [50, 50], [51, 50]]
    edge_index, _ = neighbour_edges(points, "radius:2")
    from torch_geometric.data import Data

    graph = to_networkx(Data(x=torch.eye(5), pos=torch.tensor(points, dtype=torch.float), edge_index=edge_index))
    assert sorted(map(sorted, nx.connected_components(graph))) == [[0, 1, 2], [3, 4]]


def _path(edge_index: list[list[int]], weights: list[float] | None = None):
    from torch_geometric.data import Data

    data = Data(x=torch.eye(3), edge_index=torch.tensor(edge_index))
    if weights is not None:
        data.edge_weight = torch.tensor(weights)
    return data


# an edge in one direction only, or two directions of different weights, became one undirected edge unsaid
def test_to_networkx_refuses_a_graph_that_is_not_undirected() -> None:
    import pytest

    with pytest.raises(ValueError, match=r"edge \(0, 1\) has no reverse edge \(1, 0\): make it undirected"):
        to_networkx(_path([[0, 1], [1, 2]]))
    with pytest.raises(ValueError, match=r"edge \(0, 1\) weighs 1.0 and \(1, 0\) 2.0"):
        to_networkx(_path([[0, 1], [1, 0]], [1.0, 2.0]))
    assert to_networkx(_path([[0, 1], [1, 0]], [1.5, 1.5])).edges[0, 1]["edge_weight"] == 1.5


# an attribute on some nodes or edges only was dropped for all; an unknown type name was a bare KeyError
def test_from_networkx_refuses_attributes_on_some_nodes_or_edges_and_unknown_types() -> None:
    import pytest

    graph = nx.path_graph(3)
    graph.nodes[0]["pos"] = (0.0, 0.0)
    with pytest.raises(ValueError, match=r"node attribute 'pos' is on 1 of the 3 nodes"):
        from_networkx(graph)
    graph = nx.path_graph(3)
    graph.edges[0, 1]["edge_weight"] = 2.0
    with pytest.raises(ValueError, match=r"edge attribute 'edge_weight' is on 1 of the 2 edges"):
        from_networkx(graph)
    graph = nx.path_graph(2)
    nx.set_node_attributes(graph, {0: "T", 1: "NK"}, "cell_type")
    with pytest.raises(ValueError, match=r"cell type 'NK' of node 1 is not in 'cell_types' \['B', 'T'\]"):
        from_networkx(graph, ["B", "T"])


# a cell type beyond the names was an IndexError, and a negative one took a name from the end of the list
@pytest.mark.parametrize("types", [[0, 1, 2], [0, -1, 1]])
def test_to_networkx_names_a_cell_type_without_a_name(types: list[int]) -> None:
    data = Data(x=torch.randn(3, 1), edge_index=torch.tensor([[0, 1], [1, 0]]), cell_type=torch.tensor(types))
    bad = next(t for t in types if t not in (0, 1))
    with pytest.raises(ValueError, match=rf"data.cell_type holds {bad}, but 'cell_types' names 2 types \(0 to 1\)"):
        to_networkx(data, ["a", "b"])


# an edge to node 5 of a 2-node graph added a node 5 without attributes
def test_to_networkx_refuses_an_edge_beyond_the_nodes() -> None:
    data = Data(x=torch.eye(2), edge_index=torch.tensor([[0, 5], [5, 0]]))
    with pytest.raises(ValueError, match=r"data.edge_index holds 5, but the graph has 2 nodes \(0 to 1\)"):
        to_networkx(data)


# NaN != NaN: an edge of NaN weight both ways was "weighs nan and (1, 0) nan: an undirected edge has one"; and an
# edge listed twice was named by its last weight against its reverse's
def test_to_networkx_compares_weights_as_stored() -> None:
    graph = to_networkx(_path([[0, 1], [1, 0]], [float("nan")] * 2))
    assert torch.isnan(torch.tensor(graph.edges[0, 1]["edge_weight"]))
    with pytest.raises(ValueError, match=r"edge \(0, 1\) is listed twice, weighing 1.0 and 2.0"):
        to_networkx(_path([[0, 1, 0], [1, 0, 1]], [1.0, 1.0, 2.0]))
    assert to_networkx(_path([[0, 1, 0], [1, 0, 1]], [1.0, 1.0, 1.0])).number_of_edges() == 1  # repeats: one edge


# a DiGraph's edge became both directions, a MultiGraph failed with "too many values to unpack"
@pytest.mark.parametrize("kind", [nx.DiGraph, nx.MultiGraph, nx.MultiDiGraph])
def test_from_networkx_refuses_directed_and_multigraphs(kind) -> None:
    graph = kind()
    graph.add_edge(0, 1)
    with pytest.raises(ValueError, match=rf"'graph' is a {kind.__name__}: from_networkx reads an undirected nx.Graph"):
        from_networkx(graph)


# a row of 1.5 became 1, a cell type of 1.5 type 1; text types without names failed in int(): "invalid literal";
# a ragged or scalar x, a text weight failed inside torch.tensor without the attribute's name
@pytest.mark.parametrize(
    ("set_up", "message"),
    [
        (lambda g: nx.set_node_attributes(g, {0: 1.5, 1: 2}, "row"), r"node attribute 'row' must be integers.*1.5"),
        (lambda g: nx.set_node_attributes(g, {0: None, 1: 2}, "row"), r"node attribute 'row' must be integers.*None"),
        (
            lambda g: nx.set_node_attributes(g, {0: 1.5, 1: 2}, "cell_type"),
            r"node attribute 'cell_type' must be integers.*1.5",
        ),
        (
            lambda g: nx.set_node_attributes(g, {0: "T", 1: "B"}, "cell_type"),
            r"node attribute 'cell_type' holds names \('T'\): give 'cell_types'",
        ),
        (lambda g: nx.set_node_attributes(g, {0: [1.0, 2.0], 1: [1.0]}, "x"), r"node attribute 'x' must be"),
        (lambda g: nx.set_node_attributes(g, {0: 1.0, 1: 2.0}, "x"), r"node attribute 'x' must be"),
        (lambda g: nx.set_edge_attributes(g, {(0, 1): "a"}, "edge_weight"), r"edge attribute 'edge_weight' must be"),
    ],
)
def test_from_networkx_names_an_attribute_of_the_wrong_kind(set_up, message: str) -> None:
    graph = nx.path_graph(2)
    set_up(graph)
    with pytest.raises(ValueError, match=message):
        from_networkx(graph)


# one string for the names was read letter by letter: cell_types="tumour" named type 0 't', type 1 'u'
def test_one_string_for_the_type_names_is_refused() -> None:
    data = Data(x=torch.ones(2, 1), edge_index=torch.tensor([[0, 1], [1, 0]]), cell_type=torch.tensor([0, 1]))
    message = r"'cell_types' takes a list of names, got the str 'tumour' \(one: \['tumour'\]\)"
    with pytest.raises(TypeError, match=message):
        to_networkx(data, cell_types="tumour")
    with pytest.raises(TypeError, match=message):
        from_networkx(to_networkx(data, cell_types=["t", "u"]), cell_types="tumour")

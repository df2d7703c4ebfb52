"""Cell graphs: kNN, radius and Delaunay edges against brute force; per-sample graphs."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import Delaunay
from sklearn.neighbors import NearestNeighbors
from torch_geometric.data import Data

from graphpool.cells import neighbour_edges, parse_graph, read_cells, simulate, tissue_graphs


def _pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.t().tolist()))


def _check_simple(edge_index: torch.Tensor) -> None:
    pairs = edge_index.t().tolist()
    assert pairs == sorted(pairs) and len(pairs) == len(set(map(tuple, pairs)))  # sorted, no duplicates
    assert all(i != j for i, j in pairs)
    assert _pairs(edge_index) == {(j, i) for i, j in pairs}


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 60), st.integers(1, 8), st.integers(0, 10_000))
def test_knn_is_the_union_of_each_cells_k_nearest(n: int, k: int, seed: int) -> None:
    points = np.random.default_rng(seed).uniform(0, 100, (n, 2))
    edge_index, length = neighbour_edges(points, f"knn:{k}")
    _check_simple(edge_index)
    kk = min(k, n - 1)
    _, neighbours = NearestNeighbors(n_neighbors=kk + 1).fit(points).kneighbors(points)
    expected = {(i, int(j)) for i in range(n) for j in neighbours[i] if j != i}
    expected |= {(j, i) for i, j in expected}
    assert _pairs(edge_index) == expected
    np.testing.assert_allclose(
        length.numpy(), np.linalg.norm(points[edge_index[0]] - points[edge_index[1]], axis=1), rtol=1e-6
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 50), st.floats(1, 50), st.integers(0, 10_000))
def test_radius_is_every_pair_closer_than_r(n: int, radius: float, seed: int) -> None:
    points = np.random.default_rng(seed).uniform(0, 100, (n, 2))
    edge_index, _ = neighbour_edges(points, f"radius:{radius}")
    _check_simple(edge_index)
    expected = {
        (i, j) for i, j in itertools.permutations(range(n), 2) if np.linalg.norm(points[i] - points[j]) <= radius
    }
    assert _pairs(edge_index) == expected


def test_delaunay_is_the_triangulation_and_can_cut_long_edges() -> None:
    points = np.random.default_rng(0).uniform(0, 100, (40, 2))
    edge_index, length = neighbour_edges(points, "delaunay")
    _check_simple(edge_index)
    expected = set()
    for triangle in Delaunay(points).simplices:
        expected |= {(int(a), int(b)) for a, b in itertools.permutations(triangle, 2)}
    assert _pairs(edge_index) == expected
    short, short_length = neighbour_edges(points, "delaunay:15")
    kept = {pair for pair, d in zip(map(tuple, edge_index.t().tolist()), length.tolist(), strict=True) if d <= 15}
    assert _pairs(short) == kept and 0 < len(kept) < len(expected)
    assert float(short_length.max()) <= 15
    # collinear or tiny inputs: consecutive cells along the line
    line, _ = neighbour_edges([[0, 0], [2, 0], [1, 0]], "delaunay")
    assert _pairs(line) == {(0, 2), (2, 0), (2, 1), (1, 2)}
    assert neighbour_edges([[1.0, 1.0]], "knn:6")[0].shape == (2, 0)


@pytest.mark.parametrize("graph", ["delaunay", "knn:4", "radius:1.5", "delaunay:3"])
def test_cells_sharing_a_position_stay_connected(graph: str) -> None:
    """60 cells on integer coordinates, 28 of them on positions another cell holds: Qhull drops
    duplicate points, which left 28 cells with no edge. Coincident cells are neighbours of each other
    (length 0) and of every neighbour of their position."""
    rng = np.random.default_rng(0)
    unique = rng.permutation(np.array([(i, j) for i in range(8) for j in range(8)]))[:32].astype(float)
    points = np.concatenate([unique, unique[rng.integers(0, 32, 28)]])[rng.permutation(60)]
    edge_index, length = neighbour_edges(points, graph)
    _check_simple(edge_index)
    if graph in ("delaunay", "knn:4"):
        assert set(edge_index[0].tolist()) == set(range(60))  # no cell is left alone
    pairs = _pairs(edge_index)
    same = [(i, j) for i in range(60) for j in range(60) if i != j and (points[i] == points[j]).all()]
    assert same and all(pair in pairs for pair in same)
    assert all(
        float(d) == 0.0
        for (i, j), d in zip(map(tuple, edge_index.t().tolist()), length.tolist(), strict=True)
        if (points[i] == points[j]).all()
    )
    if graph.startswith("delaunay"):  # distinct positions: the triangulation of the distinct points
        _, first, group = np.unique(points, axis=0, return_index=True, return_inverse=True)
        distinct = {(int(group[i]), int(group[j])) for i, j in pairs if group[i] != group[j]}
        expected, _ = neighbour_edges(points[first], graph)
        assert distinct == _pairs(expected)


def test_tissue_graphs_warn_nothing_under_copy_on_write() -> None:
    """pandas' copy-on-write (the default from pandas 3) hands out read-only arrays; torch warned on each."""
    import warnings

    import pandas as pd

    table = read_cells(simulate("count", 4, seed=0))
    with pd.option_context("mode.copy_on_write", True), warnings.catch_warnings():
        warnings.simplefilter("error")
        graphs = tissue_graphs(table, "knn:3")
    assert len(graphs) == 4


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("knn", "needs a value"),
        ("knn:2.5", "positive integer"),
        ("grid:3", "must be one of"),
        ("radius:-1", "> 0"),
        ("radius:a", "not a number"),
        ("radius:nan", "a finite number > 0"),  # was accepted: no pair is within NaN, a graph without edges
        ("radius:inf", "a finite number > 0"),  # was accepted: every pair of a sample, N^2 edges
        ("delaunay:nan", "a finite number > 0"),
        ("knn:inf", "positive integer"),  # was an OverflowError from int()
        ("knn:nan", "positive integer"),
    ],
)
def test_bad_graph_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_graph(spec)


def test_bad_positions() -> None:
    with pytest.raises(ValueError, match=r"'pos' must be \[N, 2\]"):
        neighbour_edges(np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"NaN or infinite values in rows \[1\]"):
        neighbour_edges([[0.0, 0.0], [np.nan, 1.0], [1.0, 1.0]])


def test_tissue_graphs_hold_one_graph_per_sample_with_features_and_provenance() -> None:
    frame = simulate("presence", samples=6, seed=2)
    frame["CD8"] = np.arange(len(frame), dtype=float)
    table = read_cells(frame, markers=["CD8"])
    graphs = tissue_graphs(table, "knn:4", features="both", edge_weight="distance")
    assert [g.sample for g in graphs] == table.samples
    for graph in graphs:
        cells = table.frame.iloc[graph.row.numpy()]
        assert (cells["sample"] == graph.sample).all()
        names = np.array(table.cell_types)[graph.cell_type.numpy()]
        assert (names == cells["cell_type"].to_numpy()).all()
        assert torch.equal(graph.x[:, :-1].argmax(1), graph.cell_type) and torch.equal(
            graph.x[:, -1], torch.tensor(cells["CD8"].to_numpy(), dtype=torch.float)
        )
        assert graph.y.item() == table.classes.index(cells["label"].iloc[0])
        xy = torch.tensor(cells[["x", "y"]].to_numpy())  # the table's float64 coordinates
        torch.testing.assert_close(graph.pos, xy.float())
        lengths = (xy[graph.edge_index[0]] - xy[graph.edge_index[1]]).norm(dim=1).float()
        torch.testing.assert_close(graph.edge_weight, lengths)
    with pytest.raises(ValueError, match="needs markers"):
        tissue_graphs(read_cells(frame), features="markers")


# a cell type at or beyond num_types gave a wider matrix than [samples, num_types], unsaid
def test_proportions_refuse_a_cell_type_beyond_num_types() -> None:
    from graphpool.cells import proportions

    graph = Data(x=torch.ones(4, 1), cell_type=torch.tensor([0, 2, 2, 1]))
    assert proportions([graph], 3).tolist() == [[0.25, 0.25, 0.5]]
    with pytest.raises(ValueError, match=r"sample 0 holds cell type 2, but num_types = 2 \(types 0 to 1\)"):
        proportions([graph], 2)
    with pytest.raises(ValueError, match="sample 0 holds cell type -1"):
        proportions([Data(x=torch.ones(1, 1), cell_type=torch.tensor([-1]))], 2)
    # a graph of a table read without types: "'GlobalStorage' object has no attribute 'cell_type'"
    with pytest.raises(ValueError, match=r"sample 1 has no cell types \(data.cell_type\): proportions count them"):
        proportions([graph, Data(x=torch.ones(1, 1))], 3)

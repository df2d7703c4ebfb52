"""The coarsened adjacency equals S^T A S computed densely."""

import pytest
import torch
from torch_geometric.utils import to_dense_adj

from graphpool.cluster import Assignment, LabelSelect, coarsen_edges


def _case(seed: int):
    g = torch.Generator().manual_seed(seed)
    n = 12
    edge_index = torch.randint(0, n, (2, 40), generator=g)
    weight = torch.rand(40, generator=g)
    labels = torch.randint(0, 4, (n,), generator=g)
    batch = torch.zeros(n, dtype=torch.long)
    return edge_index, weight, LabelSelect()(torch.zeros(n, 1), edge_index, batch, 1, labels=labels)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("path", ["count pairs", "sort edges"])
def test_matches_dense_product(seed: int, self_loops: bool, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from graphpool.cluster import connect

    if path == "sort edges":  # the path taken for many clusters
        monkeypatch.setattr(connect, "_few_clusters", lambda clusters, edges: False)
    edge_index, weight, assignment = _case(seed)
    s = assignment.dense(torch.float64)
    a = to_dense_adj(edge_index, edge_attr=weight.double(), max_num_nodes=12)[0]
    expected = s.t() @ a @ s
    if not self_loops:
        expected.fill_diagonal_(0)
    coarse, coarse_weight = coarsen_edges(edge_index, assignment, weight.double(), self_loops=self_loops)
    actual = to_dense_adj(coarse, edge_attr=coarse_weight, max_num_nodes=assignment.num_clusters)[0]
    torch.testing.assert_close(actual, expected)


def test_unweighted_edges_count_as_one() -> None:
    edge_index = torch.tensor([[0, 1, 1, 2, 0, 2], [1, 0, 2, 1, 2, 0]])
    a = Assignment(torch.tensor([0, 0, 1]), 2, torch.tensor([0, 0]))
    coarse, weight = coarsen_edges(edge_index, a)
    assert coarse.tolist() == [[0, 1], [1, 0]] and weight.tolist() == [2.0, 2.0]


def test_errors() -> None:
    a = Assignment(torch.tensor([0, 0, 1]), 2, torch.tensor([0, 0]))
    with pytest.raises(ValueError, match=r"'edge_index' must be \[2, E\]"):
        coarsen_edges(torch.tensor([0, 1]), a)
    with pytest.raises(ValueError, match="refers to node 5 but the assignment covers 3"):
        coarsen_edges(torch.tensor([[0], [5]]), a)
    with pytest.raises(ValueError, match=r"'edge_weight' must be \[E\]"):
        coarsen_edges(torch.tensor([[0], [1]]), a, torch.ones(3))

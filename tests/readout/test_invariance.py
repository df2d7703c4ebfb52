"""Permutation invariance and batch consistency, property-based with hypothesis."""

import pytest
import torch
from cases import CASES
from hypothesis import given, settings
from hypothesis import strategies as st

from graphpool.readout import global_pool
from graphpool.testing import assert_batch_consistent, assert_permutation_invariant

graph_sizes = st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=8)


def _readout(case):
    def readout(x, batch, num_graphs):
        return global_pool(x, batch, num_graphs=num_graphs, reduce=case.reduce, **case.options)

    return readout


def _features(sizes, seed, positive):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(sum(sizes), 3, generator=g, dtype=torch.float64)
    if positive:
        x = x.abs() + 0.1
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes, dtype=torch.long))
    return x, batch, g


@settings(max_examples=25, deadline=None)
@given(sizes=graph_sizes, seed=st.integers(0, 2**31 - 1))
def test_permutation_invariance(sizes: list[int], seed: int) -> None:
    for case in CASES:
        x, batch, g = _features(sizes, seed, case.positive)
        assert_permutation_invariant(_readout(case), x, batch, len(sizes), generator=g, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(sizes=graph_sizes, seed=st.integers(0, 2**31 - 1))
def test_batch_consistency(sizes: list[int], seed: int) -> None:
    for case in CASES:
        x, _batch, _ = _features(sizes, seed, case.positive)
        graphs = list(torch.split(x, sizes))
        assert_batch_consistent(_readout(case), graphs, atol=1e-10)


def test_helpers_catch_a_readout_that_is_not_invariant() -> None:
    # The first node of each graph counts double: not permutation invariant.
    def biased(x, batch, num_graphs):
        first = torch.ones(x.size(0), 1, dtype=x.dtype)
        first[0] = 2.0
        return global_pool(x * first, batch, num_graphs=num_graphs, reduce="sum")

    x = torch.arange(12.0).view(6, 2)
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    try:
        assert_permutation_invariant(biased, x, batch, 2, generator=torch.Generator().manual_seed(0))
    except AssertionError:
        return
    raise AssertionError("assert_permutation_invariant accepted a readout that is not invariant")


# the helpers' own input: no graphs was torch.cat's "expected a non-empty list", a batch past num_graphs an
# IndexError from the graph permutation
def test_helpers_name_their_bad_input() -> None:
    import pytest

    readout = lambda x, batch, num_graphs: global_pool(x, batch, num_graphs=num_graphs)
    with pytest.raises(ValueError, match=r"'graphs' is empty: give at least one node feature matrix"):
        assert_batch_consistent(readout, [])
    with pytest.raises(ValueError, match=r"'batch' holds graph 2 but num_graphs = 2"):
        assert_permutation_invariant(readout, torch.ones(3, 2), torch.tensor([0, 1, 2]), 2)


# a readout module passed as it is: the checks called readout(x, batch, num_graphs), which an Aggregation reads as
# ptr = num_graphs ("'ptr' must be a torch.Tensor, got int"), so only a hand-written lambda worked
def test_helpers_take_a_readout_module_as_it_is() -> None:
    from torch_geometric.nn.aggr import MedianAggregation

    from graphpool.readout import resolve

    x, batch = torch.randn(7, 3, dtype=torch.float64), torch.tensor([0, 0, 0, 1, 1, 2, 2])
    for readout in (resolve("median"), resolve("mean+max")):
        assert_permutation_invariant(readout, x, batch, 4)  # a trailing empty graph included
        assert_batch_consistent(readout, [x[:3], x[3:5], x[5:0], x[5:]])
    assert_permutation_invariant(MedianAggregation(), x, batch, 3)  # (PyG's fails on an empty graph alone)
    assert_batch_consistent(MedianAggregation(), [x[:3], x[3:5], x[5:]])


# graphs of unequal widths failed in torch.cat ("Sizes of tensors must match except in dimension 0")
def test_batch_consistency_names_graphs_of_another_width() -> None:
    from graphpool.readout import resolve

    with pytest.raises(ValueError, match=r"'graphs' must all be \[n_b, F\] with one F: graph 1 is \(2, 5\), graph 0"):
        assert_batch_consistent(resolve("sum"), [torch.randn(3, 4), torch.randn(2, 5)])

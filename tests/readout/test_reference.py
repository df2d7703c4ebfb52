"""Every functional readout against the naive per-graph reference."""

import pytest
import torch
from cases import CASES, Case
from reference import random_batch, reference_pool

from graphpool.readout import global_pool, resolve

# empty graphs in the middle and at the end, single-node graphs, a large one
SIZES = [3, 0, 1, 7, 2, 0, 12, 1, 5, 0]


def _inputs(case: Case, ties: bool = False, seed: int = 0):
    x, batch = random_batch(SIZES, 4, seed=seed, ties=ties)
    if case.positive:
        x = x.abs() + 0.1
    return x, batch


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_matches_reference_with_batch(case: Case, ties: bool) -> None:
    x, batch = _inputs(case, ties)
    expected = reference_pool(x, batch, len(SIZES), case.reduce, **case.options)
    actual = global_pool(x, batch, num_graphs=len(SIZES), reduce=case.reduce, **case.options)
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matches_reference_with_ptr(case: Case) -> None:
    x, batch = _inputs(case, seed=1)
    ptr = torch.tensor([0] + SIZES).cumsum(0)
    expected = reference_pool(x, batch, len(SIZES), case.reduce, **case.options)
    torch.testing.assert_close(global_pool(x, ptr=ptr, reduce=case.reduce, **case.options), expected)
    torch.testing.assert_close(global_pool(x, batch, ptr=ptr, reduce=case.reduce, **case.options), expected)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_unsorted_batch(case: Case) -> None:
    x, batch = _inputs(case, seed=2)
    perm = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(3))
    expected = reference_pool(x, batch, len(SIZES), case.reduce, **case.options)
    actual = global_pool(x[perm], batch[perm], num_graphs=len(SIZES), reduce=case.reduce, **case.options)
    torch.testing.assert_close(actual, expected)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_one_graph_when_no_batch(case: Case) -> None:
    x, _ = _inputs(case, seed=4)
    expected = reference_pool(x, torch.zeros(x.size(0), dtype=torch.long), 1, case.reduce, **case.options)
    torch.testing.assert_close(global_pool(x, reduce=case.reduce, **case.options), expected)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_one_dimensional_features(case: Case) -> None:
    x, batch = _inputs(case, seed=5)
    if case.parts > 1:  # parts side by side: [B, parts], from the function and the module alike
        expected = reference_pool(x[:, :1], batch, len(SIZES), case.reduce, **case.options)
        actual = global_pool(x[:, 0], batch, num_graphs=len(SIZES), reduce=case.reduce, **case.options)
        torch.testing.assert_close(actual, expected)
        module = resolve(case.reduce, **case.options)
        torch.testing.assert_close(module(x[:, 0], batch, dim_size=len(SIZES), dim=0), expected)
        return
    expected = reference_pool(x[:, :1], batch, len(SIZES), case.reduce, **case.options)[:, 0]
    actual = global_pool(x[:, 0], batch, num_graphs=len(SIZES), reduce=case.reduce, **case.options)
    assert actual.shape == (len(SIZES),)
    torch.testing.assert_close(actual, expected)


@pytest.mark.parametrize("size", [1, 2, 600, 3000])
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "median"])
def test_large_groups_take_the_same_answer(size: int, reduce: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Large groups take other kernel paths: one amax per group for max/min (threshold lowered
    # here to reach it), wide size classes for the median.
    from graphpool.ops import kernels

    monkeypatch.setattr(kernels, "_LOOP_MIN_AVG_ROWS", 2)
    sizes = [size, 0, size + 1, 3]
    x, batch = random_batch(sizes, 3, seed=6)
    expected = reference_pool(x, batch, len(sizes), reduce)
    torch.testing.assert_close(global_pool(x, batch, num_graphs=len(sizes), reduce=reduce), expected)


@pytest.mark.parametrize("reduce", ["sum", "max", "min", "median"])
def test_integer_features(reduce: str) -> None:
    x, batch = random_batch(SIZES, 3, seed=7, ties=True)
    xi = x.long()
    expected = reference_pool(xi, batch, len(SIZES), reduce)
    actual = global_pool(xi, batch, num_graphs=len(SIZES), reduce=reduce)
    assert actual.dtype == torch.long
    assert torch.equal(actual, expected)


def test_weighted_matches_reference() -> None:
    x, batch = random_batch(SIZES, 4, seed=8)
    w = torch.rand(x.size(0), generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    w[batch == 3] = 0.0  # a graph whose weights are all zero gives 0
    expected = x.new_zeros(len(SIZES), 4)
    for b in range(len(SIZES)):
        rows, wb = x[batch == b], w[batch == b]
        if wb.sum() > 0:
            expected[b] = (wb[:, None] * rows).sum(0) / wb.sum()
    actual = global_pool(x, batch, num_graphs=len(SIZES), reduce="weighted", weight=w)
    torch.testing.assert_close(actual, expected)
    mask = w > 0.5
    masked = global_pool(x, batch, num_graphs=len(SIZES), reduce="weighted", weight=mask)
    torch.testing.assert_close(
        masked, global_pool(x, batch, num_graphs=len(SIZES), reduce="weighted", weight=mask.double())
    )
    unnormalised = global_pool(x, batch, num_graphs=len(SIZES), reduce="weighted", weight=w, normalize=False)
    torch.testing.assert_close(unnormalised, global_pool(w[:, None] * x, batch, num_graphs=len(SIZES), reduce="sum"))


def test_quantile_half_lower_is_median() -> None:
    x, batch = random_batch(SIZES, 4, seed=10)
    torch.testing.assert_close(
        global_pool(x, batch, reduce="quantile", q=0.5, method="lower"), global_pool(x, batch, reduce="median")
    )


@pytest.mark.parametrize("reduce", ["median", "quantile"])
def test_order_statistics_sorted_on_several_threads(reduce: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from graphpool.ops import kernels

    monkeypatch.setattr(kernels, "_PARALLEL_SORT_MIN_ELEMENTS", 1)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    x, batch = random_batch(SIZES * 5, 7, seed=12)
    options = {"q": 0.3} if reduce == "quantile" else {}
    expected = reference_pool(x, batch, len(SIZES) * 5, reduce, **options)
    actual = global_pool(x, batch, num_graphs=len(SIZES) * 5, reduce=reduce, **options)
    torch.testing.assert_close(actual, expected)


@pytest.mark.parametrize("num_graphs", [7, 40_000])
def test_unsorted_batch_with_many_graphs(num_graphs: int) -> None:
    # up to 32,767 graphs the grouping sorts int16 keys with NumPy, beyond with torch (int32)
    g = torch.Generator().manual_seed(13)
    batch = torch.randint(0, num_graphs, (3000,), generator=g)
    x = torch.randn(3000, 2, generator=g, dtype=torch.float64)
    expected = x.new_zeros(num_graphs, 2).index_add_(0, batch, x)
    torch.testing.assert_close(global_pool(x, batch, num_graphs=num_graphs, reduce="sum"), expected)
    for reduce in ("median", "max"):
        out = global_pool(x, batch, num_graphs=num_graphs, reduce=reduce)
        for b in batch[:20].tolist():  # spot-check graphs against the reference
            torch.testing.assert_close(
                out[b], reference_pool(x[batch == b], torch.zeros_like(batch[batch == b]), 1, reduce)[0]
            )


# several quantiles at once, as PyG's QuantileAggregation takes them: a list of q was refused ("'q' must be a number
# in [0, 1]"), so PyG code did not carry over and each quantile sorted the nodes again
@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint"])
def test_several_quantiles_are_each_quantile_side_by_side(method: str) -> None:
    from graphpool.readout import QuantileReadout

    x, batch = random_batch(SIZES, 4, seed=13)
    qs = [0.1, 0.5, 0.9, 0.5]
    together = global_pool(x, batch, num_graphs=len(SIZES), reduce="quantile", q=qs, method=method)
    alone = [global_pool(x, batch, num_graphs=len(SIZES), reduce="quantile", q=q, method=method) for q in qs]
    assert torch.equal(together, torch.cat(alone, dim=-1))  # q-major, as PyG lays them out
    assert QuantileReadout(qs).get_out_channels(4) == 16
    # on the last of several feature dimensions, e.g. the heads of a message [N, H, C]
    heads = x.view(-1, 2, 2)
    stacked = QuantileReadout(qs, method)(heads, batch, dim_size=len(SIZES), dim=0)
    assert stacked.shape == (len(SIZES), 2, 8)
    for part, q in zip(stacked.split(2, dim=-1), qs, strict=True):
        assert torch.equal(part, QuantileReadout(q, method)(heads, batch, dim_size=len(SIZES), dim=0))


def test_several_quantiles_match_pyg() -> None:
    pyg = pytest.importorskip("torch_geometric.nn.aggr")
    from graphpool.readout import QuantileReadout

    x, batch = random_batch([3, 5, 1, 8], 3, seed=14)
    qs = [0.25, 0.75]
    expected = pyg.QuantileAggregation(qs, interpolation="linear")(x, batch, dim_size=4)
    torch.testing.assert_close(QuantileReadout(qs)(x, batch, dim_size=4), expected)


@pytest.mark.parametrize("q", [[], [0.5, 1.5], "0.5", [0.5, float("nan")]])
def test_a_bad_list_of_quantiles_is_named(q) -> None:
    from graphpool.readout import QuantileReadout

    with pytest.raises(ValueError, match=r"'q' must be"):
        QuantileReadout(q)


# inside a MultiReadout, a readout of several parts (quantiles) was unflattened as one: on inputs of several
# feature dimensions its columns came out interleaved
def test_several_quantiles_inside_a_multi_readout_keep_their_layout() -> None:
    from graphpool.readout import MultiReadout, QuantileReadout, SumReadout

    x, batch = random_batch(SIZES, 4, seed=15)
    heads = x.view(-1, 2, 2)
    multi = MultiReadout([SumReadout(), QuantileReadout([0.2, 0.8])])(heads, batch, dim_size=len(SIZES), dim=0)
    expected = torch.cat(
        [
            SumReadout()(heads, batch, dim_size=len(SIZES), dim=0),
            QuantileReadout([0.2, 0.8])(heads, batch, dim_size=len(SIZES), dim=0),
        ],
        dim=-1,
    )
    assert torch.equal(multi, expected)


# a MultiReadout inside another was one part: on inputs of several feature dimensions its columns interleaved
def test_a_multi_readout_inside_another_keeps_its_layout() -> None:
    from graphpool.readout import MaxReadout, MeanReadout, MultiReadout, SumReadout

    x, batch = random_batch(SIZES, 4, seed=16)
    heads = x.view(-1, 2, 2)
    nested = MultiReadout([SumReadout(), MultiReadout([MeanReadout(), MaxReadout()])])
    flat = MultiReadout([SumReadout(), MeanReadout(), MaxReadout()])
    assert torch.equal(nested(heads, batch, dim_size=len(SIZES), dim=0), flat(heads, batch, dim_size=len(SIZES), dim=0))

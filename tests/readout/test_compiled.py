"""The compiled (numba) order statistics give exactly what the NumPy path gives: values and gradients."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphpool.ops import compiled, kernels
from graphpool.ops.compiled import network, selection_network
from graphpool.ops.segments import segments_from
from graphpool.readout import global_pool

pytestmark = pytest.mark.skipif(compiled.numba is None, reason="numba is not installed")


@pytest.mark.parametrize("width", [1, 2, 4, 8, 16, 32, 64])
def test_every_network_sorts_every_zero_one_input(width: int) -> None:
    """The 0-1 principle: a comparator network sorts all inputs iff it sorts all 0/1 inputs (sampled above 16)."""
    pairs = network(width)
    rng = np.random.default_rng(width)
    inputs = (
        ((np.arange(1 << width)[:, None] >> np.arange(width)) & 1)
        if width <= 16
        else rng.integers(0, 2, (20_000, width))
    )
    data = inputs.copy()
    for a, b in pairs:
        low, high = np.minimum(data[:, a], data[:, b]), np.maximum(data[:, a], data[:, b])
        data[:, a], data[:, b] = low, high
    assert (np.diff(data, axis=1) >= 0).all()


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13, 16, 17, 31, 45, 64])
def test_selection_networks_select_every_rank(count: int) -> None:
    """The 0-1 principle holds for selection too: position k ends up holding the k-th smallest of every input
    iff it does so for every 0/1 input (all of them up to 13 items, sampled above); median and quantile pairs."""
    rng = np.random.default_rng(count)
    inputs = (
        ((np.arange(1 << count)[:, None] >> np.arange(count)) & 1)
        if count <= 13
        else rng.integers(0, 2, (20_000, count)) * (rng.random((20_000, 1)) < 0.98)
    )
    expected = np.sort(inputs, axis=1)
    for ranks in {((count - 1) // 2,), (0,), (count - 1,), (count // 3, count // 3 + 1 if count > 1 else 0)}:
        pairs = selection_network(count, ranks)
        assert len(pairs) <= len([pair for pair in network(1 << (count - 1).bit_length()) if pair[1] < count])
        data = inputs.copy()
        for a, b in pairs:
            data[:, a], data[:, b] = np.minimum(data[:, a], data[:, b]), np.maximum(data[:, a], data[:, b])
        for k in ranks:
            assert np.array_equal(data[:, k], expected[:, k]), (count, ranks, k)


def test_pruning_leaves_out_pairs_a_median_does_not_need() -> None:
    assert len(selection_network(32, (15,))) < len(network(32))
    assert len(selection_network(4, (0,))) == 3  # the minimum of 4: the two largest are never compared


def test_more_ranks_than_fit_in_one_packed_key_agree() -> None:
    x = torch.randn(60, 3, generator=torch.Generator().manual_seed(0))
    seg = segments_from(60, torch.arange(60) // 20, dim_size=3)
    ranks = [torch.full((3,), k) for k in range(12)]
    got, expected = _both(kernels.segment_select, x, seg, ranks)
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))


def _both(function, *args):
    """``function(*args)`` with the compiled path, then with the NumPy path."""
    results = []
    for enabled in (True, False):
        previous, compiled.ENABLED = compiled.ENABLED, enabled
        try:
            results.append(function(*args))
        finally:
            compiled.ENABLED = previous
    return results


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 80), min_size=1, max_size=12),
    channels=st.integers(1, 5),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.int32, torch.int64]),
    reduce=st.sampled_from(["median", "quantile"]),
    shuffle=st.booleans(),
    nan=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_compiled_and_numpy_paths_agree_bit_for_bit(sizes, channels, dtype, reduce, shuffle, nan, seed) -> None:
    """Empty graphs, graphs above the network's 64 rows, ties (few distinct values), NaN, unsorted batches."""
    g = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    x = torch.randint(-4, 5, (len(batch), channels), generator=g).to(dtype)
    if dtype.is_floating_point:
        x = x + torch.randn(x.shape, generator=g, dtype=dtype).round(decimals=1)
        if nan:
            x[torch.rand(x.shape, generator=g) < 0.05] = float("nan")
    if shuffle:
        order = torch.randperm(len(batch), generator=g)
        x, batch = x[order], batch[order]
    if reduce == "quantile" and not dtype.is_floating_point:  # quantiles interpolate: floats only
        x = x.double()
    options = {"q": 0.3} if reduce == "quantile" else {}
    got, expected = _both(lambda: global_pool(x, batch, num_graphs=len(sizes), reduce=reduce, **options))
    assert got.dtype == expected.dtype and torch.equal(got.isnan(), expected.isnan())
    assert torch.equal(got.nan_to_num(), expected.nan_to_num())


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(65, 400), min_size=1, max_size=4),
    channels=st.integers(1, 40),
    pattern=st.sampled_from(["random", "ties", "ascending", "descending", "constant", "organ pipe"]),
    q=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_quickselect_of_large_graphs_equals_sorting(sizes, channels, pattern, q, seed) -> None:
    """Graphs above 64 rows, in column blocks of 16 and on orders that trouble a quickselect, against torch.sort
    (quickselect takes these graphs here; by default it starts above QUICKSELECT_MIN_ROWS)."""
    previous, compiled.QUICKSELECT_MIN_ROWS = compiled.QUICKSELECT_MIN_ROWS, 64
    try:
        _check_quickselect(sizes, channels, pattern, q, seed)
    finally:
        compiled.QUICKSELECT_MIN_ROWS = previous


def _check_quickselect(sizes, channels, pattern, q, seed) -> None:
    g = torch.Generator().manual_seed(seed)
    columns = []
    for n in sizes:
        base = {
            "random": torch.randn(n, channels, generator=g),
            "ties": torch.randint(-2, 3, (n, channels), generator=g).float(),
            "ascending": torch.arange(n).float().unsqueeze(1).expand(n, channels),
            "descending": torch.arange(n, 0, -1).float().unsqueeze(1).expand(n, channels),
            "constant": torch.full((n, channels), 1.5),
            "organ pipe": torch.minimum(torch.arange(n), n - 1 - torch.arange(n))
            .float()
            .unsqueeze(1)
            .expand(n, channels),
        }[pattern]
        columns.append(base.contiguous())
    x = torch.cat(columns)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    counts = torch.tensor(sizes)
    ranks = [(q * (counts - 1)).floor().long(), (counts - 1) // 2]
    seg = segments_from(len(x), batch, dim_size=len(sizes))
    got, expected = _both(kernels.segment_select, x, seg, ranks)
    for k, a, b in zip(ranks, got, expected, strict=True):
        reference = torch.stack([part.sort(0).values[int(r)] for part, r in zip(x.split(sizes), k, strict=True)])
        assert torch.equal(a, reference) and torch.equal(b, reference)

    def gradient():
        leaf = x.clone().requires_grad_()
        low, high = kernels.segment_select(leaf, seg, ranks)
        return torch.autograd.grad((low * 2 + high).sum(), leaf)[0]

    got, expected = _both(gradient)
    assert torch.equal(got, expected)


def test_quickselect_takes_graphs_above_its_threshold_by_default() -> None:
    x = torch.randn(1200, 3, generator=torch.Generator().manual_seed(0))
    batch = torch.tensor([0] * 600 + [1] * 600)
    got, expected = _both(lambda: global_pool(x, batch, num_graphs=2, reduce="median"))
    assert compiled.selects(10) and not compiled.selects(9) and compiled.selects(6) and not compiled.selects(7)
    assert torch.equal(got, expected)


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 150), min_size=1, max_size=8).filter(lambda sizes: sum(sizes) > 0),
    seed=st.integers(0, 2**16),
)
def test_compiled_and_numpy_gradients_agree(sizes, seed) -> None:
    """Two ranks (interpolated quantile), ties: the gradient goes to the same first row on both paths."""
    g = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    x = torch.randint(-3, 4, (len(batch), 3), generator=g).double()  # ties: the gradient goes to the first
    weights = torch.randn(len(sizes), 3, generator=g, dtype=torch.float64)

    def gradient():
        leaf = x.clone().requires_grad_()
        out = global_pool(leaf, batch, num_graphs=len(sizes), reduce="quantile", q=0.7)  # two ranks, interpolated
        return torch.autograd.grad((out * weights).sum(), leaf)[0]

    got, expected = _both(gradient)
    assert torch.equal(got, expected)


def test_nan_columns_are_nan_on_both_paths() -> None:
    x = torch.tensor([[1.0, 2.0], [float("nan"), 3.0], [0.5, -1.0], [2.0, 2.0]])
    batch = torch.tensor([0, 0, 0, 1])
    got, expected = _both(lambda: global_pool(x, batch, reduce="median"))
    assert torch.equal(got.isnan(), expected.isnan()) and got[0, 0].isnan()
    assert torch.equal(got.nan_to_num(), expected.nan_to_num())


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=10),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.int32, torch.int64]),
    reduce=st.sampled_from(["max", "min"]),
    nan=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_compiled_and_scatter_extremes_agree(sizes, dtype, reduce, nan, seed) -> None:
    """The compiled max/min (threshold lowered to every size) against scatter_reduce: values, NaN, empty graphs."""
    g = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    x = torch.randint(-9, 10, (len(batch), 3), generator=g).to(dtype)
    if nan and dtype.is_floating_point and len(batch):
        x[int(torch.randint(len(batch), (1,), generator=g)), 1] = float("nan")
    with pytest.MonkeyPatch.context() as patch:  # every size takes the compiled path
        patch.setattr(compiled, "EXTREME_MIN_VALUES", 0)
        got, expected = _both(lambda: global_pool(x, batch, num_graphs=len(sizes), reduce=reduce))
    assert got.dtype == expected.dtype
    assert torch.equal(got.isnan(), expected.isnan()) and torch.equal(got.nan_to_num(), expected.nan_to_num())


@pytest.mark.parametrize(
    ("graphs", "rows", "features"),
    [(4, 16_000, 128), (16, 20_000, 1), (64, 80, 1024)],  # values above the threshold; rows above it; wide rows
)
def test_compiled_max_takes_few_large_graphs(graphs: int, rows: int, features: int) -> None:
    """Above the thresholds in few graphs (the amax loop or scatter_reduce without numba): same maxima and gradient."""
    g = torch.Generator().manual_seed(graphs)
    sizes = torch.randint(rows // 2, rows + rows // 2, (graphs,), generator=g)
    sizes[1] = 0  # an empty graph
    batch = torch.repeat_interleave(torch.arange(graphs), sizes)
    x = torch.randint(-20, 20, (len(batch), features), generator=g).float()  # ties within graphs
    x[3, 0] = float("nan")
    assert compiled.extreme_pays(len(batch), features)

    def gradient():
        leaf = x.clone().requires_grad_()
        out = global_pool(leaf, batch, num_graphs=graphs, reduce="max")
        return out, torch.autograd.grad(out.nan_to_num().square().sum(), leaf)[0]

    (got, got_grad), (expected, expected_grad) = _both(gradient)
    assert torch.equal(got.isnan(), expected.isnan()) and torch.equal(got.nan_to_num(), expected.nan_to_num())
    assert torch.equal(got_grad.nan_to_num(), expected_grad.nan_to_num())


def test_compiled_max_runs_above_its_threshold_with_gradients() -> None:
    """300k rows in 10,000 graphs, on several threads: the same maxima and gradient (ties shared) as scatter_reduce."""
    g = torch.Generator().manual_seed(0)
    sizes = torch.randint(1, 60, (10_000,), generator=g)
    batch = torch.repeat_interleave(torch.arange(10_000), sizes)
    x = torch.randint(-50, 50, (len(batch), 8), generator=g).float()  # ties within graphs
    assert compiled.extreme_pays(len(batch), 8)

    def gradient():
        leaf = x.clone().requires_grad_()
        out = global_pool(leaf, batch, num_graphs=10_000, reduce="max")
        return out, torch.autograd.grad(out.square().sum(), leaf)[0]

    (got, got_grad), (expected, expected_grad) = _both(gradient)
    assert torch.equal(got, expected) and torch.equal(got_grad, expected_grad)


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(st.integers(-2, 7), max_size=25), groups=st.integers(0, 8), sort=st.booleans())
def test_sorted_offsets_are_the_offsets_of_sorted_valid_ids(ids, groups, sort) -> None:
    """One pass: the offsets when the ids are non-decreasing and in [0, B), else None (never a write out of bounds)."""
    index = np.array(sorted(ids) if sort else ids, dtype=np.int64)
    got = compiled.sorted_offsets(index, groups)
    if list(index) != sorted(index) or any(not 0 <= i < groups for i in index):
        assert got is None
    else:
        counts = np.bincount(index, minlength=groups)
        np.testing.assert_array_equal(got, np.concatenate([[0], np.cumsum(counts)]))


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(st.integers(-2, 9), max_size=40), groups=st.integers(0, 10))
def test_stable_grouping_is_the_stable_argsort_and_its_offsets(ids, groups) -> None:
    """The counting sort gives NumPy's stable argsort and the offsets of the groups, or None for an id outside
    [0, B) (never a write out of bounds)."""
    index = np.array(ids, dtype=np.int64)
    got = compiled.stable_grouping(index, groups)
    if any(not 0 <= i < groups for i in index):
        assert got is None
    else:
        order, ptr = got
        np.testing.assert_array_equal(order, np.argsort(index, kind="stable"))
        np.testing.assert_array_equal(ptr, np.concatenate([[0], np.cumsum(np.bincount(index, minlength=groups))]))


def test_unsorted_segments_group_their_rows_alike_on_both_paths() -> None:
    """Segments of unsorted ids take the counting sort with numba: the same permutation and offsets as without."""
    index = torch.randint(0, 300, (5_000,), generator=torch.Generator().manual_seed(0))

    def layout():
        seg = segments_from(index.numel(), index, None, 301)
        return seg.perm, seg.ptr

    (perm, ptr), (expected_perm, expected_ptr) = _both(layout)
    assert torch.equal(perm, expected_perm) and torch.equal(ptr, expected_ptr)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=8),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    reduce=st.sampled_from(["max", "min"]),
    nan=st.booleans(),
    strided=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_compiled_and_torch_extreme_gradients_agree(sizes, dtype, reduce, nan, strided, seed) -> None:
    """The compiled backward of max/min against the torch one, bit for bit: ties shared, NaN columns, empty
    graphs, an upstream gradient that is not contiguous."""
    g = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    x = torch.randint(-3, 4, (len(batch), 5), generator=g).to(dtype)  # few values: many ties
    if nan and len(batch):
        x[int(torch.randint(len(batch), (1,), generator=g)), 1] = float("nan")
    upstream = torch.randn(5, len(sizes), generator=g, dtype=dtype)
    upstream = upstream.t() if strided else upstream.t().contiguous()

    def gradient():
        leaf = x.clone().requires_grad_()
        out = global_pool(leaf, batch, num_graphs=len(sizes), reduce=reduce)
        return torch.autograd.grad(out, leaf, upstream)[0]

    got, expected = _both(gradient)
    assert got.dtype == expected.dtype and torch.equal(got, expected)


def test_the_compiled_extreme_backward_runs_on_several_threads() -> None:
    """Runs of graphs shared by two threads (from 65,536 rows): the same gradient as torch's (the tests' processes
    run one torch thread, so the kernel is called with two)."""
    g = torch.Generator().manual_seed(1)
    sizes = torch.randint(0, 40, (8_000,), generator=g)
    batch = torch.repeat_interleave(torch.arange(8_000), sizes)
    x = torch.randint(-5, 5, (len(batch), 16), generator=g).float()
    assert compiled._extreme_workers(len(batch), x.numel(), 2) == 2
    upstream = torch.randn(8_000, 16, generator=g)
    seg = segments_from(len(batch), batch, None, 8_000)
    out = kernels.segment_max(x, seg)
    got = compiled.segment_extreme_backward(x.numpy(), seg.ptr.numpy(), out.numpy(), upstream.numpy(), 2)
    previous, compiled.ENABLED = compiled.ENABLED, False
    try:
        leaf = x.clone().requires_grad_()
        expected = torch.autograd.grad(global_pool(leaf, batch, num_graphs=8_000, reduce="max"), leaf, upstream)[0]
    finally:
        compiled.ENABLED = previous
    assert torch.equal(torch.from_numpy(got), expected)

"""Work handed to torch's OpenMP team (graphpool.ops.openmp) gives what the Python threads give."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphpool.ops import compiled, openmp
from graphpool.readout import global_pool

pytestmark = pytest.mark.skipif(not openmp.available(), reason="needs numba and GNU OpenMP (torch's, on Linux)")


@pytest.fixture(scope="module")
def doubling():
    """A C callback: ``out[i] = 2 i`` for every item ``i`` it takes; ``data = [counter, items, out...]``."""
    import numba

    def body(address):  # pragma: no cover - compiled
        data = openmp.header(address, 2 + openmp.SLOTS)
        out = openmp.array1(data, 2, np.int64)
        item = openmp.take(data, 0)
        while item < data[1]:
            out[item] += 2 * item
            item = openmp.take(data, 0)

    return numba.cfunc(numba.types.void(numba.types.voidptr), nogil=True)(body)


@pytest.mark.parametrize("threads", [1, 2, 5])
@pytest.mark.parametrize("items", [0, 1, 7, 10_000])
def test_every_item_is_taken_exactly_once(doubling, threads, items) -> None:
    out = np.zeros(items, dtype=np.int64)
    data = np.array([0, items, *openmp.describe(out)], dtype=np.int64)
    openmp.run(doubling.address, data, threads)
    assert np.array_equal(out, 2 * np.arange(items))  # += : an item taken twice would show
    assert data[0] == items + threads  # each thread's last take finds nothing left


def test_describe_refuses_what_a_callback_cannot_view() -> None:
    with pytest.raises(ValueError, match="C-contiguous"):
        openmp.describe(np.zeros((4, 4))[:, ::2])
    with pytest.raises(ValueError, match="3 dimensions"):
        openmp.describe(np.zeros((1, 1, 1, 1)))


@settings(max_examples=25, deadline=None)
@given(
    small=st.integers(64, 400),
    large=st.integers(0, 3),
    channels=st.integers(1, 40),
    dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int64]),
    track=st.booleans(),
    nan=st.booleans(),
    threads=st.sampled_from([2, 3]),
    seed=st.integers(0, 2**16),
)
def test_team_and_python_threads_select_the_same(small, large, channels, dtype, track, nan, threads, seed) -> None:
    """Chunks of small graphs (selection networks) and column blocks of large ones (quickselect), every dtype."""
    rng = np.random.default_rng(seed)
    sizes = np.concatenate([rng.integers(1, 65, small), rng.integers(compiled.QUICKSELECT_MIN_ROWS + 1, 900, large)])
    rng.shuffle(sizes)
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    grouped = rng.integers(-5, 6, (int(ptr[-1]), channels)).astype(dtype)
    if nan and np.dtype(dtype).kind == "f":
        grouped[rng.random(grouped.shape) < 0.01] = np.nan
    ranks = np.stack([(sizes - 1) // 2, rng.integers(0, sizes)]).astype(np.int64)
    graphs = np.arange(len(sizes), dtype=np.int64)
    team = compiled.select_ranks(grouped, ptr, graphs, ranks, track, threads)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(openmp, "available", lambda: False)
        python = compiled.select_ranks(grouped, ptr, graphs, ranks, track, threads)
    assert np.array_equal(team[0], python[0], equal_nan=np.dtype(dtype).kind == "f")
    assert np.array_equal(team[1], python[1]) and team[2] == python[2]
    for b in range(len(sizes)):  # and both are the order statistics (columns without NaN: the caller sets those)
        ordered = np.sort(grouped[ptr[b] : ptr[b + 1]], axis=0)
        clean = ~np.isnan(ordered).any(0) if np.dtype(dtype).kind == "f" else np.ones(channels, dtype=bool)
        for r in range(2):
            assert np.array_equal(team[0][r, b, clean], ordered[ranks[r, b], clean])


@settings(max_examples=15, deadline=None)
@given(
    graphs=st.integers(1, 600),
    channels=st.integers(1, 12),
    dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int64]),
    largest=st.booleans(),
    nan=st.booleans(),
    threads=st.sampled_from([2, 3]),
    seed=st.integers(0, 2**16),
)
def test_team_and_python_threads_take_the_same_extremes(graphs, channels, dtype, largest, nan, threads, seed) -> None:
    """Runs of graphs (empty ones among them) for max and min, every dtype: the same as NumPy's per graph."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 400, graphs)
    sizes[rng.integers(graphs)] += 131_072  # enough rows for a second thread (one per 65,536 rows)
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    x = rng.integers(-50, 50, (int(ptr[-1]), channels)).astype(dtype)
    if nan and np.dtype(dtype).kind == "f":
        x[rng.random(x.shape) < 1e-4] = np.nan
    team = compiled.segment_extreme(x, ptr, largest, threads)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(openmp, "available", lambda: False)
        python = compiled.segment_extreme(x, ptr, largest, threads)
    expected, nan_ok = np.zeros_like(team), np.dtype(dtype).kind == "f"
    for b in range(graphs):
        if sizes[b]:
            expected[b] = (np.max if largest else np.min)(x[ptr[b] : ptr[b + 1]], axis=0)  # NaN wins, as in torch
    assert np.array_equal(team, expected, equal_nan=nan_ok) and np.array_equal(python, expected, equal_nan=nan_ok)


def test_median_with_gradients_on_the_team_equals_the_numpy_path() -> None:
    g = torch.Generator().manual_seed(0)
    sizes = torch.randint(1, 60, (300,), generator=g)
    batch = torch.repeat_interleave(torch.arange(300), sizes)
    x = torch.randn(len(batch), 16, generator=g).round(decimals=1).requires_grad_(True)
    weights = torch.randn(300, 16, generator=g)
    results = []
    for enabled in (True, False):
        previous, compiled.ENABLED = compiled.ENABLED, enabled
        try:
            out = global_pool(x, batch, num_graphs=300, reduce="median")
            (grad,) = torch.autograd.grad((out * weights).sum(), x)
        finally:
            compiled.ENABLED = previous
        results.append((out, grad))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


@settings(max_examples=10, deadline=None)
@given(
    graphs=st.integers(1, 400),
    channels=st.integers(1, 8),
    dtype=st.sampled_from([np.float32, np.float64]),
    largest=st.booleans(),
    threads=st.sampled_from([2, 3]),
    seed=st.integers(0, 2**16),
)
def test_team_and_python_threads_share_the_same_extreme_gradients(graphs, channels, dtype, largest, threads, seed):
    """The backward of max/min in runs of graphs: the same on the team as on Python threads, and each graph's
    gradient shared evenly among the rows that tie for its extreme."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 300, graphs)
    sizes[rng.integers(graphs)] += 131_072  # a second thread
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    x = rng.integers(-20, 20, (int(ptr[-1]), channels)).astype(dtype)
    out = compiled.segment_extreme(x, ptr, largest, 1)
    grad = rng.standard_normal((graphs, channels)).astype(dtype)
    team = compiled.segment_extreme_backward(x, ptr, out, grad, threads)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(openmp, "available", lambda: False)
        python = compiled.segment_extreme_backward(x, ptr, out, grad, threads)
    assert np.array_equal(team, python)
    for b in np.flatnonzero(sizes)[:20]:
        rows = x[ptr[b] : ptr[b + 1]]
        hit = rows == out[b]
        np.testing.assert_array_equal(team[ptr[b] : ptr[b + 1]], np.where(hit, grad[b] / hit.sum(0).astype(dtype), 0))

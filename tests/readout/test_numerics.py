"""Numerics at the edges: integer sums promote, half precision accumulates in float32, NaN propagates."""

import math

import pytest
import torch

from graphpool.grid import GlobalPool
from graphpool.grid.pool import pool_grid
from graphpool.readout import global_pool, resolve

INTEGER_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_integer_sum_promotes_to_int64_like_torch_sum(dtype: torch.dtype) -> None:
    x = torch.ones(300, 1, dtype=dtype)
    expected = torch.sum(x, dim=0, keepdim=True)
    assert expected.dtype == torch.int64 and int(expected) == 300
    for out in (
        global_pool(x, reduce="sum"),
        global_pool(x, torch.zeros(300, dtype=torch.long), reduce="sum"),
        resolve("sum")(x, torch.zeros(300, dtype=torch.long)),
    ):
        assert out.dtype == torch.int64
        assert torch.equal(out, expected)


def test_integer_sum_of_image_agrees_between_paths() -> None:
    image = torch.ones(2, 3, 20, 15, dtype=torch.uint8)
    dense = GlobalPool("sum")(image)  # the dense path: torch.sum
    readout_path = pool_grid(image, resolve("sum"), dense=False)  # the graph readout
    assert dense.dtype == readout_path.dtype == torch.int64
    assert torch.equal(dense, readout_path) and int(dense[0, 0]) == 300


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_mean_accumulates_in_float32(dtype: torch.dtype) -> None:
    x = torch.full((2000, 3), 60.0, dtype=dtype)
    batch = torch.zeros(2000, dtype=torch.long)
    for reduce, expected in (("mean", 60.0), ("var", 0.0), ("std", 0.0), ("softmax", 60.0), ("powermean", 60.0)):
        out = global_pool(x, batch, reduce=reduce)
        assert out.dtype == dtype, reduce
        assert torch.equal(out, torch.full_like(out, expected)), (reduce, out)
        module = resolve(reduce)(x, batch)
        assert module.dtype == dtype and torch.equal(module, out), reduce


@pytest.mark.parametrize("n", [3, 7, 2000, 4097])
@pytest.mark.parametrize("value", [60.0, -3.0, 1000.0])  # sums exactly representable in float32
def test_constant_graph_mean_is_exact_and_std_zero(n: int, value: float) -> None:
    """Mean divides the sum by n, as torch.mean (x * (1/n) gave 60.000004 for 2,000 nodes of 60)."""
    x = torch.full((n, 2), value)
    assert torch.equal(global_pool(x, reduce="mean"), x.mean(0, keepdim=True))
    assert torch.equal(global_pool(x, reduce="std"), torch.zeros(1, 2))
    assert torch.equal(resolve("std")(x.requires_grad_()), torch.zeros(1, 2))


def test_float16_mean_of_1100_nodes_is_finite() -> None:
    x = torch.full((1100, 1), 60.0, dtype=torch.float16)
    assert float(global_pool(x, reduce="mean")) == 60.0
    assert torch.equal(global_pool(x, reduce="mean"), x.mean(0, keepdim=True))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_sum_and_weighted_match_float32_rounded(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    x = torch.rand(3000, 4).to(dtype)
    batch = torch.sort(torch.randint(0, 3, (3000,))).values
    expected = global_pool(x.float(), batch, reduce="sum").to(dtype)
    assert torch.equal(global_pool(x, batch, reduce="sum"), expected)
    weight = torch.rand(3000).to(dtype)
    expected = global_pool(x.float(), batch, reduce="weighted", weight=weight.float()).to(dtype)
    assert torch.equal(global_pool(x, batch, reduce="weighted", weight=weight), expected)


def test_half_backward_has_input_dtype() -> None:
    x = torch.rand(50, 2, dtype=torch.bfloat16, requires_grad=True)
    global_pool(x, reduce="std").sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.bfloat16


NAN_CASES = [
    ("sum", {}),
    ("mean", {}),
    ("max", {}),
    ("min", {}),
    ("median", {}),
    ("var", {}),
    ("std", {}),
    ("softmax", {}),
    ("powermean", {}),
    *[("quantile", {"q": q, "method": m}) for q in (0.0, 0.5, 1.0) for m in ("linear", "lower", "higher", "nearest")],
]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
@pytest.mark.parametrize(("reduce", "options"), NAN_CASES)
def test_non_finite_values_give_what_torch_gives(reduce: str, options: dict, bad: float) -> None:
    """A NaN in a graph gives NaN for that graph (as torch's reductions); the other graphs are unaffected."""
    values = torch.tensor([1.0, bad, 2.0])
    reference = {
        "sum": values.sum(),
        "mean": values.mean(),
        "max": values.amax(),
        "min": values.amin(),
        "median": values.median(),
        "var": values.var(unbiased=False),
        "std": values.std(unbiased=False),
        "quantile": torch.quantile(values, options.get("q", 0.5), interpolation=options.get("method", "linear")),
    }.get(reduce)
    alone = global_pool(values.unsqueeze(1), reduce=reduce, **options)
    # batched with a larger graph: padding and neighbours must not leak into graph 0
    x = torch.cat([values, torch.tensor([5.0, 6.0, 7.0, 8.0])]).unsqueeze(1)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    batched = global_pool(x, batch, reduce=reduce, **options)
    shuffled = torch.tensor([3, 0, 4, 1, 5, 2, 6])
    unsorted = global_pool(x[shuffled], batch[shuffled], reduce=reduce, **options)
    exact = {"rtol": 0, "atol": 0, "equal_nan": True}
    torch.testing.assert_close(batched[0], alone[0], **exact)
    torch.testing.assert_close(unsorted, batched, **exact)
    if reference is not None:
        torch.testing.assert_close(alone[0], reference.view(1), **exact)
    if math.isnan(bad):  # NaN: every reduce propagates it
        assert alone.isnan().all()
    torch.testing.assert_close(batched[1], global_pool(x[3:], reduce=reduce, **options)[0], **exact)


def test_std_of_nan_is_nan_like_var() -> None:
    x = torch.tensor([[1.0], [math.nan], [2.0]])
    assert global_pool(x, reduce="var").isnan().all()
    assert global_pool(x, reduce="std").isnan().all()
    assert resolve("std")(x).isnan().all()


def test_order_statistics_with_nan_do_not_depend_on_the_batch() -> None:
    """The issue's case: quantile(q=1, 'higher') of [1, nan, 2] was inf when batched with a 4-node graph."""
    x = torch.tensor([[1.0], [math.nan], [2.0], [5.0], [6.0], [7.0], [8.0]])
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    out = global_pool(x, batch, reduce="quantile", q=1.0, method="higher")
    assert out[0].isnan().all() and float(out[1]) == 8.0
    assert global_pool(x[:3], reduce="quantile", q=1.0, method="higher").isnan().all()


def test_nan_only_in_one_column_leaves_other_columns() -> None:
    x = torch.tensor([[1.0, 1.0], [math.nan, 3.0], [2.0, 2.0]])
    out = global_pool(x, reduce="median")
    assert out[0, 0].isnan() and float(out[0, 1]) == 2.0


def test_median_gradient_with_nan_is_finite_elsewhere() -> None:
    x = torch.tensor([[1.0], [math.nan], [2.0], [5.0], [6.0]], requires_grad=True)
    batch = torch.tensor([0, 0, 0, 1, 1])
    global_pool(x, batch, reduce="median").nansum().backward()
    assert x.grad is not None and torch.equal(x.grad[3:], torch.tensor([[1.0], [0.0]]))


@pytest.mark.parametrize("temperature", [0.0, math.nan, math.inf, -math.inf])
def test_softmax_temperature_is_checked_in_both_forms(temperature: float) -> None:
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="'temperature' must be a finite nonzero number"):
        global_pool(x, reduce="softmax", temperature=temperature)
    with pytest.raises(ValueError, match="'temperature' must be a finite nonzero number"):
        resolve("softmax", temperature=temperature)


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("grouped", [True, False])
def test_sums_of_large_graphs_do_not_depend_on_the_thread_count(reduce: str, grouped: bool) -> None:
    """A graph of more than 2^16 rows is summed in chunks of 2^16 (on CPU: every thread takes a share of one large
    graph), fixed by the graph sizes: one thread and two give the same bits; on whole numbers, whose float32 sums
    are exact in any order, the float64 sum's value exactly (a row left out or read twice would show)."""
    sizes = [150_000, 0, 7, 2**16 + 1, 3]
    g = torch.Generator().manual_seed(0)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    x = torch.randn(batch.numel(), 3, generator=g) + 1.0
    whole = torch.randint(-8, 9, x.shape, generator=g).float()
    if not grouped:
        perm = torch.randperm(batch.numel(), generator=g)
        x, whole, batch = x[perm], whole[perm], batch[perm]
    threads = torch.get_num_threads()
    try:
        results = []
        for count in (1, 2):
            torch.set_num_threads(count)
            results.append(global_pool(x, batch, num_graphs=len(sizes), reduce=reduce))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(results[0], results[1])
    exact = torch.zeros(len(sizes), 3, dtype=torch.float64).index_add_(0, batch, whole.double())
    assert torch.equal(global_pool(whole, batch, num_graphs=len(sizes), reduce="sum").double(), exact)


def test_large_graphs_are_cut_into_fixed_chunks() -> None:
    from graphpool.ops import segments_from
    from graphpool.ops.kernels import _sum_chunks

    sizes = torch.tensor([150_000, 0, 7, 2**16 + 1, 3])
    seg = segments_from(int(sizes.sum()), torch.repeat_interleave(torch.arange(5), sizes), None, 5)
    bounds, firsts = _sum_chunks(seg)
    assert bounds.tolist() == [0, 65_536, 131_072, 150_000, 150_000, 150_007, 215_543, 215_544, 215_547]
    assert firsts.tolist() == [0, 3, 4, 5, 7, 8]  # each group's chunks: 3, 1 (empty), 1, 2, 1
    small = segments_from(1000, torch.zeros(1000, dtype=torch.long), None, 1)
    assert _sum_chunks(small) is None


def test_segment_var_and_its_gradient_are_torch_var_per_group() -> None:
    """The variance's own backward, 2 (x_i - mean) / n, against autograd through torch.var of each group."""
    from graphpool.ops import segment_var, segments_from

    sizes = [5, 0, 1, 3]
    x = torch.randn(sum(sizes), 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3), requires_grad=True)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    ours = segment_var(x, segments_from(x.size(0), batch, None, len(sizes)))
    parts = [p.var(0, correction=0) if len(p) else p.new_zeros(4) for p in torch.split(x, sizes)]
    theirs = torch.stack(parts)
    torch.testing.assert_close(ours, theirs)
    upstream = torch.randn(len(sizes), 4, dtype=torch.float64)
    (theirs_grad,) = torch.autograd.grad(theirs, x, upstream)
    for create_graph in (False, True):  # (a differentiable backward computes it apart)
        (ours_grad,) = torch.autograd.grad(ours, x, upstream, retain_graph=True, create_graph=create_graph)
        torch.testing.assert_close(ours_grad, theirs_grad)


@pytest.mark.parametrize("shuffled", [False, True])
def test_a_weighted_segment_sum_is_the_sum_of_the_products(shuffled: bool) -> None:
    """segment_sum(x, seg, weight=w) sums w_i x_i in one pass: the product's sum, its gradients in x and w, and
    its second derivatives (gradgradcheck)."""
    from graphpool.ops import segment_sum, segments_from

    g = torch.Generator().manual_seed(5)
    batch = torch.repeat_interleave(torch.arange(4), torch.tensor([6, 0, 1, 9]))
    if shuffled:
        batch = batch[torch.randperm(batch.numel(), generator=g)]
    seg = segments_from(batch.numel(), batch, None, 4)
    x = torch.randn(batch.numel(), 3, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.rand(batch.numel(), dtype=torch.float64, generator=g, requires_grad=True)
    ours = segment_sum(x, seg, weight=w)
    theirs = torch.zeros(4, 3, dtype=torch.float64).index_add(0, batch, w.unsqueeze(1) * x)
    torch.testing.assert_close(ours, theirs)
    upstream = torch.randn(4, 3, dtype=torch.float64, generator=g)
    for create_graph in (False, True):  # (a differentiable backward computes them apart)
        mine = torch.autograd.grad(ours, (x, w), upstream, retain_graph=True, create_graph=create_graph)
        for a, b in zip(mine, torch.autograd.grad(theirs, (x, w), upstream, retain_graph=True), strict=True):
            torch.testing.assert_close(a, b)
    assert torch.autograd.gradgradcheck(lambda x, w: segment_sum(x, seg, weight=w), (x, w))
    with torch.no_grad():
        torch.testing.assert_close(segment_sum(x, seg, weight=w), theirs.detach())
    with pytest.raises(ValueError, match=r"'weight' must be \[N\] = \[16\] of x's dtype torch.float64"):
        segment_sum(x, seg, weight=w.float())

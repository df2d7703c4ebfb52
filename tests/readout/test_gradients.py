"""gradcheck in float64 for every differentiable readout, and the subgradient conventions."""

import pytest
import torch
from cases import CASES, Case
from reference import random_batch

from graphpool.readout import AttentionReadout, PowerMeanReadout, SoftmaxReadout, global_pool

SIZES = [3, 0, 1, 6, 2]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("layout", ["batch", "ptr", "unsorted"])
def test_gradcheck(case: Case, layout: str) -> None:
    x, batch = random_batch(SIZES, 3, seed=11)  # distinct values: no ties, no kinks
    if case.positive:
        x = x.abs() + 0.5
    if layout == "unsorted":
        perm = torch.randperm(x.size(0), generator=torch.Generator().manual_seed(1))
        x, batch = x[perm], batch[perm]
    kwargs = {"ptr": torch.tensor([0] + SIZES).cumsum(0)} if layout == "ptr" else {"num_graphs": len(SIZES)}
    group = None if layout == "ptr" else batch
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: global_pool(x, group, reduce=case.reduce, **kwargs, **case.options), (x,))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "softmax", "std", "median"])
def test_gradgradcheck(reduce: str) -> None:
    x, batch = random_batch(SIZES, 2, seed=12)
    x.requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda x: global_pool(x, batch, num_graphs=5, reduce=reduce), (x,))


def test_weighted_gradcheck_reaches_weights() -> None:
    x, batch = random_batch(SIZES, 3, seed=13)
    w = torch.rand(x.size(0), dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 0.1
    x.requires_grad_(True)
    w.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x, w: global_pool(x, batch, num_graphs=5, reduce="weighted", weight=w), (x, w)
    )


def test_learnable_parameters_get_gradients() -> None:
    x, batch = random_batch(SIZES, 3, seed=14)
    x = x.abs().float() + 0.5
    for module in (
        SoftmaxReadout(learn=True, channels=3),
        PowerMeanReadout(p=2.0, learn=True),
        AttentionReadout(3, learn_temperature=True, pos_channels=2),
    ):
        inputs = {"pos": torch.randn(x.size(0), 2)} if isinstance(module, AttentionReadout) else {}
        module(x, batch, dim_size=5, **inputs).square().sum().backward()
        for name, parameter in module.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_attention_gradcheck() -> None:
    torch.manual_seed(0)
    module = AttentionReadout(3, pos_channels=2, heads=2).double()
    x, batch = random_batch(SIZES, 3, seed=15)
    pos = torch.randn(x.size(0), 2, dtype=torch.float64)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: module(x, batch, dim_size=5, pos=pos), (x,))


def test_max_ties_share_the_gradient_and_median_picks_one_element() -> None:
    x = torch.tensor([[1.0], [3.0], [3.0], [2.0]], requires_grad=True)
    batch = torch.zeros(4, dtype=torch.long)
    global_pool(x, batch, reduce="max").sum().backward()
    assert x.grad.flatten().tolist() == [0.0, 0.5, 0.5, 0.0]  # as torch.amax
    x.grad = None
    global_pool(x, batch, reduce="median").sum().backward()  # lower median of 1,2,3,3 is 2
    assert x.grad.flatten().tolist() == [0.0, 0.0, 0.0, 1.0]


def test_std_of_a_constant_graph_has_zero_gradient() -> None:
    x = torch.ones(4, 2, requires_grad=True)
    out = global_pool(x, torch.tensor([0, 0, 1, 1]), reduce="std")
    out.sum().backward()
    assert torch.equal(out, torch.zeros(2, 2))
    assert torch.equal(x.grad, torch.zeros(4, 2))


@pytest.mark.parametrize("rows", [100, 70_000])  # [rows, 64] float32: below and above gather_rows' 16 MB switch
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_sum_and_mean_gradients_reach_every_row_on_both_sides_of_the_gather_switch(rows: int, reduce: str) -> None:
    g = torch.Generator().manual_seed(rows)
    batch = torch.sort(torch.randint(0, 50, (rows,), generator=g)).values
    x = torch.randn(rows, 64, generator=g).requires_grad_(True)
    upstream = torch.randn(50, 64, generator=g)
    (global_pool(x, batch, num_graphs=50, reduce=reduce) * upstream).sum().backward()
    counts = torch.bincount(batch, minlength=50).clamp(min=1).unsqueeze(1).float()
    expected = (upstream if reduce == "sum" else upstream / counts)[batch]
    assert torch.equal(x.grad, expected)

"""Empty graphs, determinism, dtypes, devices, dims and torch.compile."""

import pytest
import torch
from cases import CASES, Case
from reference import random_batch, reference_pool

from graphpool.readout import REGISTRY, AttentionReadout, MeanReadout, global_pool, resolve

SIZES = [0, 4, 1, 0, 6, 0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_empty_graphs_give_zero_and_finite_gradients(case: Case) -> None:
    x, batch = random_batch(SIZES, 3, seed=20)
    x = (x.abs() + 0.1) if case.positive else x
    x.requires_grad_(True)
    out = global_pool(x, batch, num_graphs=len(SIZES), reduce=case.reduce, **case.options)
    assert torch.equal(out[[0, 3, 5]], torch.zeros(3, 3 * case.parts, dtype=out.dtype))
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_no_nodes_at_all(case: Case) -> None:
    x = torch.zeros(0, 3)
    out = global_pool(x, torch.zeros(0, dtype=torch.long), num_graphs=2, reduce=case.reduce, **case.options)
    width = 3 * case.parts
    assert torch.equal(out, torch.zeros(2, width))
    assert global_pool(x, reduce=case.reduce, **case.options).shape == (1, width)
    assert global_pool(x, torch.zeros(0, dtype=torch.long), reduce=case.reduce, **case.options).shape == (0, width)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_deterministic(case: Case, device: str) -> None:
    x, batch = random_batch([40] * 30 + [900, 3], 16, seed=21, dtype=torch.float32)
    x, batch = ((x.abs() + 0.1) if case.positive else x).to(device), batch.to(device)
    perm = torch.randperm(x.size(0), device=device)
    results = []
    for _ in range(3):
        xr = x[perm].clone().requires_grad_(True)
        out = global_pool(xr, batch[perm], num_graphs=32, reduce=case.reduce, **case.options)
        out.backward(torch.ones_like(out))
        results.append((out.detach(), xr.grad))
    for out, grad in results[1:]:
        assert torch.equal(out, results[0][0]) and torch.equal(grad, results[0][1])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_low_precision(case: Case, dtype: torch.dtype, device: str) -> None:
    x, batch = random_batch(SIZES, 3, seed=22)
    x = (x.abs() + 0.5) if case.positive else x
    expected = reference_pool(x, batch, len(SIZES), case.reduce, **case.options)
    out = global_pool(
        x.to(dtype).to(device), batch.to(device), num_graphs=len(SIZES), reduce=case.reduce, **case.options
    )
    assert out.dtype == dtype
    tolerance = {torch.float16: 2e-2, torch.bfloat16: 6e-2, torch.float32: 1e-5}[dtype]
    torch.testing.assert_close(out.double().cpu(), expected, rtol=tolerance, atol=tolerance)


def test_modules_pool_any_dim() -> None:
    # [C, N, F] pooled over N (dim=-2) equals pooling each channel slice separately
    x, batch = random_batch([3, 5], 4, seed=23)
    stacked = torch.stack([x, 2 * x, -x])
    for name in ["sum", "mean", "max", "median", "std", "softmax"]:
        readout = resolve(name)
        out = readout(stacked, batch, dim=-2)
        assert out.shape == (3, 2, 4)
        for c in range(3):
            torch.testing.assert_close(out[c], readout(stacked[c], batch))
    # pooling the last dim of [F, N]
    torch.testing.assert_close(MeanReadout()(x.t(), batch, dim=-1), MeanReadout()(x, batch).t())
    multi = resolve(["mean", "max"])(stacked, batch, dim=1)
    assert multi.shape == (3, 2, 8)


def test_out_channels_reports_width() -> None:
    x, batch = random_batch([3, 5], 4, seed=24, dtype=torch.float32)
    readouts = [resolve(name) for name in sorted(REGISTRY) if name not in {"attention", "weighted"}]
    readouts += [resolve(["mean", "max", "std"]), AttentionReadout(4, value=torch.nn.Linear(4, 7))]
    for readout in readouts:
        assert readout(x, batch).shape == (2, readout.get_out_channels(4)), readout


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "median", "softmax"])
def test_torch_compile(reduce: str) -> None:
    torch._dynamo.reset()
    x, batch = random_batch([3, 0, 5, 2], 4, seed=25, dtype=torch.float32)
    readout = resolve(reduce)
    compiled = torch.compile(readout)
    torch.testing.assert_close(compiled(x, batch, dim_size=4), readout(x, batch, dim_size=4))

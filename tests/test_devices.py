"""Cluster poolers and grid operations on every device: the same values as on the CPU, bit-identical run after run.

The readouts have their own device cases (tests/readout/test_properties.py: determinism, float16 and bfloat16).
"""

import pytest
import torch

from graphpool.cluster import POOLERS, SOFT_POOLERS, pooler, takes_clusters
from graphpool.grid import BlurPool, GlobalPool, SqueezeExcite, class_activation_map

LOW_PRECISION = [torch.float16, torch.bfloat16]


def _graphs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three graphs (a ring plus chords each), 4 features, node labels for pooler 'given'."""
    g = torch.Generator().manual_seed(seed)
    sizes = [7, 12, 9]
    x = torch.randn(sum(sizes), 4, generator=g)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    edges, offset = [], 0
    for n in sizes:
        ring = torch.arange(n) + offset
        pairs = torch.stack([ring, ring.roll(2)])
        edges.append(torch.cat([torch.stack([ring, ring.roll(1)]), pairs], 1))
        offset += n
    edge_index = torch.cat(edges, 1)
    edge_index = torch.unique(torch.cat([edge_index, edge_index.flip(0)], 1), dim=1)
    weight = torch.rand(edge_index.size(1), generator=g) + 0.5
    return x, edge_index, weight, batch, torch.arange(sum(sizes)) % 3


def _pool_on(name: str, device: str, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    torch.manual_seed(0)
    pool = pooler(name, in_channels=4, clusters=3 if takes_clusters(name) else None)
    pool = pool.to(device=device, dtype=dtype).eval()
    x, edge_index, weight, batch, labels = (t.to(device) for t in _graphs())
    inputs = {"labels": labels} if name == "given" else {}  # the only pooler that reads labels
    out = pool(x.to(dtype), edge_index, weight.to(dtype), batch, num_graphs=3, **inputs)
    return [out.x, out.edge_index, *([out.edge_weight] if out.edge_weight is not None else [])]


@pytest.mark.parametrize("name", POOLERS)
def test_every_pooler_on_the_device_is_deterministic_and_agrees_with_the_cpu(name: str, device: str) -> None:
    first, second = _pool_on(name, device), _pool_on(name, device)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b), "two runs differ"
    for got, expected in zip(first, _pool_on(name, "cpu"), strict=True):
        torch.testing.assert_close(got.cpu(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", LOW_PRECISION)
@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_soft_poolers_run_in_low_precision(name: str, dtype: torch.dtype, device: str) -> None:
    got = _pool_on(name, device, dtype)[0]
    assert got.dtype == dtype and torch.isfinite(got).all()
    torch.testing.assert_close(got.float().cpu(), _pool_on(name, "cpu")[0], rtol=0.05, atol=0.05)


@pytest.mark.parametrize("dtype", [torch.float32, *LOW_PRECISION])
def test_grid_operations_on_the_device(dtype: torch.dtype, device: str) -> None:
    """Global pooling, a blur pool, squeeze-and-excitation and a class activation map of a [B, C, H, W] map."""
    if device == "cpu" and dtype == torch.float16:
        pytest.skip("float16 convolutions are a CUDA case")
    g = torch.Generator().manual_seed(0)
    image = torch.randn(2, 4, 8, 8, generator=g)
    torch.manual_seed(0)
    excite = SqueezeExcite(4, reduction=2)
    weight = torch.randn(3, 4, generator=g)

    def run(where: str, kind: torch.dtype) -> list[torch.Tensor]:
        x = image.to(where, kind)
        return [
            GlobalPool("mean")(x),
            GlobalPool("max", dims=(2, 3))(x),
            BlurPool()(x),
            excite.to(where, kind)(x),
            class_activation_map(x, weight.to(where, kind)),
        ]

    first, second = run(device, dtype), run(device, dtype)
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 0.05, "atol": 0.05}
    for a, b, expected in zip(first, second, run("cpu", torch.float32), strict=True):
        assert a.dtype == dtype and torch.equal(a, b)
        torch.testing.assert_close(a.float().cpu(), expected, **tolerance)

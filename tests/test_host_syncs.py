"""No device-to-host synchronisation where none is needed: with ``num_graphs`` given and validation off, on the
device path (the branches a GPU takes), forward and backward of every readout wait for no value from the device;
the soft poolers and a 2-level hierarchical GIN wait only where docs/performance.md says why."""

import pytest
import torch
from torch_geometric.data import Batch, Data

import graphpool
from graphpool.cluster import SOFT_POOLERS, pooler
from graphpool.models import GraphClassifier, ModelConfig
from graphpool.readout import REGISTRY, resolve
from graphpool.testing import HostSyncs
from tests.readout.cases import CASES

#: the synchronisations a soft pooling level still makes, each explained in docs/performance.md ("Host
#: synchronisations"): duplicate edges are summed before the sparse products (the number of distinct edges is
#: data); the coarse graph keeps the edges of non-zero weight (their number is data too). (The per-graph products
#: were padded to the largest graph, whose size had to be read: no longer.)
SOFT_POOL_SYNCS = {
    "ops/csr.py:csr_adjacency (aten::_local_scalar_dense)",  # coalesce: the number of distinct edges
    "ops/csr.py:csr_adjacency (aten::index with a boolean mask)",
    "cluster/connect.py:soft_edges (aten::nonzero)",  # the coarse edges of non-zero weight
}


def _graphs(n: int = 240, b: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=generator)
    batch = torch.sort(torch.randint(0, b, (n,), generator=generator)).values
    edges = torch.randint(0, n, (2, 6 * n), generator=generator)
    return x, batch, edges[:, batch[edges[0]] == batch[edges[1]]]


def _syncs(step) -> list[str]:
    with graphpool.validation(False), graphpool.device_path(), HostSyncs() as syncs:
        step()
    return syncs.found


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_functional_readout_runs_without_a_sync(case) -> None:
    x, batch, _ = _graphs()
    x = (x.abs() + 0.1 if case.positive else x).requires_grad_()
    step = lambda: graphpool.global_pool(x, batch, reduce=case.reduce, num_graphs=6, **case.options).sum().backward()
    assert _syncs(step) == []
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_readout_module_runs_without_a_sync(name: str) -> None:
    x, batch, _ = _graphs()
    readout = resolve(name, in_channels=8)
    x.requires_grad_()
    extra = {"weight": torch.rand(x.size(0))} if name == "weighted" else {}
    assert _syncs(lambda: readout(x.abs() + 0.1, batch, dim_size=6, **extra).sum().backward()) == []


def test_the_validation_and_the_host_path_still_read_back() -> None:
    """The recorder sees what it should: an unsorted check with validation on, NumPy on the host path."""
    x, batch, _ = _graphs()
    with graphpool.device_path(), HostSyncs() as checked:
        graphpool.global_pool(x, batch, reduce="median", num_graphs=6)
    assert any("_local_scalar_dense" in found for found in checked.found)
    with graphpool.validation(False), HostSyncs() as host:
        graphpool.global_pool(x, batch, reduce="median", num_graphs=6)
    assert any("Tensor.numpy" in found for found in host.found)


@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_soft_poolers_sync_only_where_documented(name: str) -> None:
    x, batch, edges = _graphs()
    pool = pooler(name, in_channels=8, clusters=4)
    x.requires_grad_()

    def step() -> None:
        out = pool(x, edges, batch=batch, num_graphs=6)
        (out.x.sum() + sum(out.aux_loss.values())).backward()

    assert set(_syncs(step)) == SOFT_POOL_SYNCS  # one removed: say so in docs/performance.md and here


def test_a_two_level_hierarchical_gin_syncs_only_where_documented() -> None:
    x, batch, edges = _graphs()
    graphs = [Data(x=x[batch == g], edge_index=torch.zeros(2, 0, dtype=torch.long)) for g in range(6)]
    data = Batch.from_data_list(graphs)
    data.edge_index = edges
    data.y = torch.zeros(6, dtype=torch.long)
    model = GraphClassifier(ModelConfig(in_channels=8, num_classes=2, pool="mincut", levels=2, clusters=4))

    def step() -> None:
        out = model(data)
        (out.logits.sum() + sum(out.aux_loss.values())).backward()

    assert set(_syncs(step)) == SOFT_POOL_SYNCS

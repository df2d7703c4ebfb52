"""The device path (the torch branches a GPU takes) gives the host path's results bit for bit: values and
gradients of every readout, sorted or shuffled rows, with validation on and off."""

import pytest
import torch

import graphpool
from tests.readout.cases import CASES


def _run(case, x: torch.Tensor, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_()
    out = graphpool.global_pool(x, batch, reduce=case.reduce, num_graphs=7, **case.options)
    out.square().sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize("shuffled", [False, True], ids=["sorted", "shuffled"])
@pytest.mark.parametrize("validate", [True, False], ids=["checked", "unchecked"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_device_path_matches_the_host_path_bit_for_bit(case, shuffled: bool, validate: bool) -> None:
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(400, 6, generator=generator, dtype=torch.float64)  # continuous: no ties
    x = x.abs() + 0.1 if case.positive else x
    batch = torch.sort(torch.randint(0, 7, (400,), generator=generator)).values
    batch[batch == 4] = 5  # an empty graph
    if shuffled:
        batch = batch[torch.randperm(400, generator=generator)]
    with graphpool.validation(validate), graphpool.device_path(False):
        host = _run(case, x, batch)
    with graphpool.validation(validate), graphpool.device_path(True):
        device = _run(case, x, batch)
    assert torch.equal(host[0], device[0]) and torch.equal(host[1], device[1])

import pytest
import torch

#: every device test runs on the CPU and, where a GPU is present, on CUDA; without one the CUDA cases are
#: reported as skipped (so a CPU-only run shows that they exist and did not run)
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")),
]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return request.param

import os
from pathlib import Path

import pytest
import torch

import graphpool

#: the suites ``--device-path`` runs a second time, on the torch branches a GPU takes
DEVICE_PATH_SUITES = ("readout", "cluster", "grid")
#: files of those suites that test host-only machinery the device path does not reach (numba kernels, OpenMP
#: threads, the allocator) or torch.compile, whose traced branches are the device ones already
HOST_ONLY = ("test_compile.py", "test_compiled.py", "test_memory.py", "test_openmp.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device-path",
        action="store_true",
        help="run the readout, pooler and grid suites on the device path (graphpool.device_path)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # one of several test processes (pytest -n 2): one thread here and in the programs the tests start;
        # processes that each take a thread per core, on the same cores, run many times slower than one
        torch.set_num_threads(1)
        os.environ["OMP_NUM_THREADS"] = "1"
    config.addinivalue_line(
        "markers", "cuda: runs on a CUDA device; skipped without one; `pytest -m cuda` runs these alone"
    )
    if config.getoption("--device-path"):
        graphpool.set_device_path(True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the ``cuda`` tests where there is no CUDA device; with ``--device-path`` keep only the readout,
    pooler and grid tests that can take the device branches."""
    if not torch.cuda.is_available():
        for item in items:
            if item.get_closest_marker("cuda"):
                item.add_marker(pytest.mark.skip(reason="no CUDA device"))
    if not config.getoption("--device-path"):
        return
    tests = Path(__file__).resolve().parent
    kept, dropped = [], []
    for item in items:
        path = Path(str(item.path)).resolve()
        inside = path.is_relative_to(tests) and path.relative_to(tests).parts[0] in DEVICE_PATH_SUITES
        compiles = "torch_compile" in item.name
        (kept if inside and path.name not in HOST_ONLY and not compiles else dropped).append(item)
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept


#: every device test runs on the CPU and, where a GPU is present, on CUDA; without one the CUDA cases are
#: reported as skipped (so a CPU-only run shows that they exist and did not run)
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return request.param


class within_seconds:
    """Fail with ``TimeoutError`` when the block runs longer than ``seconds`` (a hang becomes a failure).

    SIGALRM interrupts Python code between bytecodes, so a loop of torch operations that never ends
    is stopped; it must run in the main thread (as pytest runs tests).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        import signal

        def expire(signum: int, frame: object) -> None:
            raise TimeoutError(f"still running after {self.seconds} s")

        self.previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: object) -> None:
        import signal

        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)


#: tests/plugins holds pytest plugins that extend graphpool (a pooler, a readout); they are loaded on purpose with
#: ``-p tests.plugins.extensions`` (tests/test_registries.py), never imported by collection
collect_ignore = ["plugins"]

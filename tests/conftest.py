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

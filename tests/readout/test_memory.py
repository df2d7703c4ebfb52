"""keep_freed_memory (graphpool.ops.memory): large tensors reuse freed pages instead of faulting new ones."""

import platform
import subprocess
import sys

import pytest

import graphpool
from graphpool.ops import memory

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="a glibc allocator option"
)

# A readout's forward and backward on a 77 MB feature matrix: the page faults of a call, the median of five calls
# after six (the heap settles within a few calls; the median, not the mean: a one-off event in the process, such
# as numba compiling its kernels again when another environment rewrote their cache, once made one of three
# calls fault a whole fresh gradient), in a fresh process (the option is process-wide, one-way).
_FAULTS = """
import resource, statistics, sys, torch, graphpool
if sys.argv[1] == "keep":
    assert graphpool.keep_freed_memory()
x = torch.randn(600_000, 32, requires_grad=True)
batch = torch.arange(600_000) // 30
def call():
    graphpool.global_pool(x, batch, num_graphs=20_000, reduce="sum").sum().backward()
    x.grad = None
for _ in range(6):
    call()
faults = []
for _ in range(5):
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    call()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
print(int(statistics.median(faults)))
"""


def _faults_per_call(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _FAULTS, mode], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@glibc
def test_freed_pages_serve_the_next_call() -> None:
    gradient_pages = 600_000 * 32 * 4 // 4096  # the [N, F] gradient, written fresh by every backward
    default, kept = _faults_per_call("default"), _faults_per_call("keep")
    assert default >= gradient_pages // 2  # without the option, the gradient is new memory every call
    assert kept <= default // 10


@pytest.mark.parametrize("largest", [0, -1, 2**31, 1.5, True, "1G"])
def test_largest_must_be_a_byte_count(largest) -> None:
    with pytest.raises(ValueError, match="largest must be a whole number of bytes"):
        graphpool.keep_freed_memory(largest)


def test_other_c_libraries_are_left_alone(monkeypatch) -> None:
    monkeypatch.setattr(memory.platform, "libc_ver", lambda: ("", ""))
    assert memory.keep_freed_memory() is False

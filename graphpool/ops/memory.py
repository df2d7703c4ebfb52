r"""Keep freed memory in the process, so that large tensors stop paying for fresh pages.

glibc's ``malloc`` (Linux) hands every block above a threshold (128 KiB at first, raised as blocks are
freed, to at most 32 MiB) to the kernel with ``mmap`` and gives it back with ``munmap`` when it is freed.
A tensor over 32 MiB (one ``[N, 16]`` float32 array from about 520,000 rows) is therefore new memory on
every call: the kernel maps and zeroes each of its pages at the first write, a page fault per 4 KiB. On
the development machine that runs at about 3.5 GB/s, slower than reading the same bytes, and it decides
the time of whatever writes large fresh outputs: a backward that writes the ``[N, F]`` gradient, or the
soft pool over a million-cell graph (1.8 GB of fresh pages per forward and backward at 1e6 cells).

:func:`keep_freed_memory` sets two options of glibc's allocator for the whole process (``mallopt``):
blocks up to ``largest`` bytes come from the process heap, and the heap is never trimmed, so a freed
block's pages, already mapped, serve the next tensor. The cost is memory: what was freed stays with the
process (its resident size stays near its peak), and holes between live blocks are not always reusable,
so the peak grows (1.65x for the soft pool at 3e6 cells, see docs/performance.md). It is off by default,
as in PyTorch; the same can be had without code by starting Python with ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` set, or with jemalloc or tcmalloc preloaded.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["keep_freed_memory"]

# mallopt's parameter numbers (glibc <malloc.h>)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_INT_MAX = 2**31 - 1


def keep_freed_memory(largest: int = 1 << 30) -> bool:
    """Serve blocks of up to ``largest`` bytes from the process heap and keep freed memory mapped.

    Process-wide and one-way (glibc's own adaptive threshold is not restored afterwards); call it once,
    at the start of a script that runs large graphs repeatedly.

    Args:
        largest: blocks up to this many bytes (at most ``2**31 - 1``) come from the heap; larger ones are
            still mapped and unmapped one by one. The default, 1 GiB, covers a ``[16_000_000, 16]`` float32
            tensor.

    Returns:
        ``True`` when the options were set; ``False`` where the C library is not glibc (macOS, Windows,
        musl), which leaves the allocator as it was.

    Example (not run as a doctest: it would change the allocator of the test process)::

        import graphpool

        graphpool.keep_freed_memory()  # True on Linux with glibc
    """
    if isinstance(largest, bool) or not isinstance(largest, int) or not 0 < largest <= _INT_MAX:
        raise ValueError(f"largest must be a whole number of bytes in 1..{_INT_MAX}, got {largest!r}")
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # the heap keeps what is freed (never trimmed), and serves blocks up to `largest`
    return bool(mallopt(_M_TRIM_THRESHOLD, _INT_MAX)) and bool(mallopt(_M_MMAP_THRESHOLD, largest))

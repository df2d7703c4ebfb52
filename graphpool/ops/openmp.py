r"""Compiled loops run on torch's own OpenMP threads.

torch runs its CPU operations on an OpenMP team, and the team's threads keep spinning for a while after
each operation, ready for the next (2 ms after a ``searchsorted``, over 10 ms after PyG's median in some
processes, measured on 2 cores). Work started on any other threads (Python's, numba's) competes with
them for the cores: a median over 1024 graphs that took 2 ms of kernel on two threads took 4-12 ms right
after a torch operation. Handed to the team itself, the spinning threads take the work at once.

:func:`run` starts a parallel region of the OpenMP runtime that torch uses (``GOMP_parallel`` of GNU
OpenMP, found among the libraries loaded with torch; Linux) with a compiled C callback (a ``numba.cfunc``)
and its data: every thread of the team calls ``callback(data)``, and the callback takes work items one
at a time with :func:`take` (an atomic counter), so a thread that starts late takes fewer. Where no GNU
OpenMP runtime is loaded (macOS, Windows, torch built without OpenMP), :func:`available` is ``False`` and
the callers use Python threads instead.

The callback's data is an int64 array: :func:`describe` lays arrays out in it as (address, shape),
:func:`header` views the data inside the callback, and ``array1``/``array2``/``array3`` the arrays.
"""

from __future__ import annotations

import ctypes
import glob
import os
from functools import lru_cache

import numpy as np
import torch

try:  # optional dependency
    import numba
    from numba.core import cgutils, types
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - depends on the environment
    numba = None  # type: ignore[assignment]

#: int64 slots per array in the callback's data: address, then up to 3 sizes
SLOTS = 4


@lru_cache(maxsize=1)
def _gomp_parallel() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """``GOMP_parallel`` of the GNU OpenMP runtime torch runs on, or ``None``."""
    if not torch.backends.openmp.is_available():
        return None
    torch_lib = os.path.join(os.path.dirname(torch.__file__), "lib")
    candidates = sorted(glob.glob(os.path.join(torch_lib, "libgomp*.so*")))  # the copy bundled with the wheel
    if not candidates:  # torch linked against the system's: the one loaded in this process
        try:
            with open("/proc/self/maps") as maps:
                candidates = sorted({line.split()[-1] for line in maps if "libgomp" in line})
        except OSError:
            return None
    if len(candidates) != 1:  # none, or more than one and no telling which is torch's
        return None
    try:
        runtime = ctypes.CDLL(candidates[0], mode=getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_GLOBAL)
        parallel = runtime.GOMP_parallel
    except (OSError, AttributeError):
        return None
    parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    parallel.restype = None
    return parallel


def available() -> bool:
    """Whether :func:`run` can hand work to torch's OpenMP team (numba installed, GNU OpenMP loaded)."""
    return numba is not None and _gomp_parallel() is not None


def run(callback: int, data: np.ndarray, threads: int) -> None:
    """Call the C function at address ``callback`` with ``data``'s address on ``threads`` threads of torch's team.

    Returns when every thread has returned. ``data`` must stay alive for the call (the caller holds it).
    ctypes releases the GIL for the call.
    """
    parallel = _gomp_parallel()
    if parallel is None:
        raise RuntimeError("no GNU OpenMP runtime is loaded: check available() first")
    parallel(callback, data.ctypes.data, threads, 0)


def describe(*arrays: np.ndarray) -> list[int]:
    """``SLOTS`` int64 numbers per array: its address and (up to 3) sizes, for ``array1``-``array3`` in a callback.

    Each array must be C-contiguous (the callback sees it as one block of memory).
    """
    numbers = []
    for value in arrays:
        if not value.flags.c_contiguous or value.ndim > SLOTS - 1:
            raise ValueError("describe: arrays must be C-contiguous with at most 3 dimensions")
        numbers += [value.ctypes.data, *value.shape, *[0] * (SLOTS - 1 - value.ndim)]
    return numbers


if numba is not None:

    @intrinsic
    def _as_pointer(typingctx, address):
        """An int64 address as a ``void*``."""

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], cgutils.voidptr_t)

        return types.voidptr(address), codegen

    @intrinsic
    def _fetch_add(typingctx, data, slot):
        """Atomically add 1 to ``data[slot]`` (an int64 array) and return its value before."""

        def codegen(context, builder, signature, args):
            array = context.make_array(signature.args[0])(context, builder, args[0])
            pointer = builder.gep(array.data, [args[1]])
            return builder.atomic_rmw("add", pointer, context.get_constant(types.int64, 1), "monotonic")

        return types.int64(data, slot), codegen

    @numba.njit(cache=True, nogil=True)
    def take(data, slot):  # pragma: no cover - compiled
        """The next work item: ``data[slot]`` before an atomic increment (each item is taken exactly once)."""
        return _fetch_add(data, slot)

    @numba.njit(cache=True, nogil=True)
    def header(address, size):  # pragma: no cover - compiled
        """The callback's ``data`` (``void*``) as the int64 array of ``size`` numbers it is."""
        return numba.carray(address, (size,), np.int64)

    @numba.njit(cache=True, nogil=True)
    def array1(data, at, dtype):  # pragma: no cover - compiled
        """The 1-d array of ``dtype`` described at ``data[at:at + SLOTS]`` by :func:`describe`."""
        return numba.carray(_as_pointer(data[at]), (data[at + 1],), dtype)

    @numba.njit(cache=True, nogil=True)
    def array2(data, at, dtype):  # pragma: no cover - compiled
        """The 2-d array of ``dtype`` described at ``data[at:at + SLOTS]`` by :func:`describe`."""
        return numba.carray(_as_pointer(data[at]), (data[at + 1], data[at + 2]), dtype)

    @numba.njit(cache=True, nogil=True)
    def array3(data, at, dtype):  # pragma: no cover - compiled
        """The 3-d array of ``dtype`` described at ``data[at:at + SLOTS]`` by :func:`describe`."""
        return numba.carray(_as_pointer(data[at]), (data[at + 1], data[at + 2], data[at + 3]), dtype)

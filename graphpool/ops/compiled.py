r"""Optional compiled kernels (numba): order statistics of small graphs, and the maximum of grouped rows.

Used on CPU when numba is installed (``pip install "graphpool[fast]"``) and :data:`ENABLED`; otherwise
the torch/NumPy paths run, and both give the same values (tests compare them):

- :func:`select_small`, by :func:`~graphpool.ops.segment_select`: the ``k``-th smallest element of each
  graph's column (median, quantiles);
- :func:`segment_extreme`, by :func:`~graphpool.ops.segment_max` / ``segment_min`` on grouped rows:
  one pass over the rows where ``scatter_reduce`` is slow (many rows in many groups: 7-10x slower).

A graph of ``n <= MAX_WIDTH`` rows is copied into a ``[n, F]`` buffer and sorted column-wise by
Batcher's odd-even merge sort for ``w`` (the next power of two) items, with the compare-exchanges
that would touch the ``w - n`` missing (+inf) rows left out: a fixed list of compare-exchanges of
whole rows, so the inner loop runs over the ``F`` features of a row, contiguous in memory, and
vectorises. For ``n = 32`` that is 191 compare-exchanges of 128 features, with no transposes, no
padding, no gathers. Graphs run in parallel: the kernel releases the GIL, and blocks of graphs run on
``torch.get_num_threads()`` Python threads (numba's own OpenMP threads would compete with torch's,
which keep spinning after each torch operation: the same call took 2x longer right after one).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import torch

try:  # optional dependency
    import numba
except ImportError:  # pragma: no cover - depends on the environment
    numba = None

#: switch the compiled path off (tests compare both paths); also ``GRAPHPOOL_NUMBA=0``
ENABLED = os.environ.get("GRAPHPOOL_NUMBA", "1") != "0"
#: the largest graph the sorting network handles; larger graphs use NumPy's sort
MAX_WIDTH = 64
#: the fewest rows for which segment_extreme replaces scatter_reduce (in more than 512 groups): from about
#: 300,000 rows in many groups scatter_reduce slows down 7-10x (1e6 rows x 16 features: 25 ms against 4 ms)
EXTREME_MIN_ROWS = 1 << 18
#: dtypes the compiled path takes (numba has no float16 or bfloat16)
DTYPES = frozenset({torch.float32, torch.float64, torch.int32, torch.int64})


def available(dtype: torch.dtype) -> bool:
    """Whether the compiled path can run for ``dtype``."""
    return numba is not None and ENABLED and dtype in DTYPES


@lru_cache(maxsize=None)
def network(width: int) -> np.ndarray:
    """``[P, 2]`` compare-exchanges of Batcher's odd-even merge sort of ``width`` (a power of two) items.

    >>> len(network(32)), network(4).tolist()
    (191, [[0, 1], [2, 3], [0, 2], [1, 3], [1, 2]])
    """
    pairs = []
    p = 1
    while p < width:
        k = p
        while k >= 1:
            for j in range(k % p, width - k, 2 * k):
                for i in range(min(k, width - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _select(grouped, ptr, graphs, widths, pairs, starts, ranks, track, values, rows):  # pragma: no cover
    """For each graph of ``graphs``: sort its rows by the network of its width, read the ranks.

    ``pairs[starts[w]:starts[w + 1]]`` is the network of width ``2**w``; ``ranks [R, B]``;
    ``values [R, B, F]`` receives the picks, ``rows [R, B, F]`` (when ``track``) the grouped row of
    the first element of the graph equal to each pick. A network sorts the ``n`` rows padded with
    +inf to its width; a compare-exchange ``(a, b)``, ``a < b``, with ``b >= n`` would leave the
    minimum where it is and +inf at ``b``, so it is skipped and no padding is ever written.
    """
    channels = grouped.shape[1]
    buffer = np.empty((1 << widths.max() if widths.size else 1, channels), dtype=grouped.dtype)
    for position in range(graphs.shape[0]):
        graph = graphs[position]
        first, count = ptr[graph], ptr[graph + 1] - ptr[graph]
        level = widths[position]
        for i in range(count):
            for f in range(channels):
                buffer[i, f] = grouped[first + i, f]
        for pair in range(starts[level], starts[level + 1]):
            a, b = pairs[pair, 0], pairs[pair, 1]
            if b >= count:
                continue
            for f in range(channels):
                low, high = buffer[a, f], buffer[b, f]
                buffer[a, f] = low if low <= high else high
                buffer[b, f] = high if low <= high else low
        for r in range(ranks.shape[0]):
            k = ranks[r, graph]
            for f in range(channels):
                values[r, graph, f] = buffer[k, f]
            if track:
                for f in range(channels):
                    chosen = buffer[k, f]
                    i = 0
                    while i < count - 1 and grouped[first + i, f] != chosen:
                        i += 1
                    rows[r, graph, f] = first + i


@lru_cache(maxsize=1)
def _kernel():  # noqa: ANN202 - a numba dispatcher
    """The compiled kernel (built on first use; numba caches it on disk)."""
    return numba.njit(cache=True, nogil=True)(_select)


@lru_cache(maxsize=1)
def thread_pool(workers: int) -> ThreadPoolExecutor:
    """The threads that run GIL-free work of ``graphpool.ops`` (compiled kernels, NumPy sorts) in parallel."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="graphpool")


def select_small(
    grouped: np.ndarray,
    ptr: np.ndarray,
    graphs: np.ndarray,
    levels: np.ndarray,
    ranks: np.ndarray,
    track: bool,
    threads: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Order statistics of the graphs ``graphs`` (each of 1 to :data:`MAX_WIDTH` rows) of grouped rows.

    Args:
        grouped: ``[N, F]`` rows in grouped order, C-contiguous.
        ptr: ``[B + 1]`` int64 offsets.
        graphs: int64 ids of the graphs to compute.
        levels: int64 size class of each of ``graphs``, ``ceil(log2 n)`` (at most ``log2(MAX_WIDTH)``).
        ranks: ``[R, B]`` int64 ranks, ``0 <= k < n_b``.
        track: also return the grouped row of each pick.
        threads: how many threads to run blocks of graphs on.

    Returns:
        ``values [R, B, F]`` (rows of other graphs left as zeros) and ``rows [R, B, F]`` (int64; zeros
        unless ``track``).
    """
    top = int(levels.max()) if len(levels) else 0
    nets = [network(1 << level) for level in range(top + 1)]
    starts = np.zeros(top + 2, dtype=np.int64)
    starts[1:] = np.cumsum([len(n) for n in nets])
    pairs = np.concatenate(nets) if starts[-1] else np.zeros((0, 2), dtype=np.int64)
    shape = (ranks.shape[0], len(ptr) - 1, grouped.shape[1])
    values = np.zeros(shape, dtype=grouped.dtype)
    rows = np.zeros(shape if track else (0, 0, 0), dtype=np.int64)
    kernel = _kernel()

    def run(block: slice) -> None:  # each block writes only its own graphs' rows
        kernel(grouped, ptr, graphs[block].copy(), levels[block].copy(), pairs, starts, ranks, track, values, rows)

    workers = max(1, min(threads, len(graphs) // 64))  # below 64 graphs a thread costs more than it saves
    if workers == 1:
        run(slice(None))
    else:  # every workers-th graph: sizes mix, so the blocks take about as long
        list(thread_pool(workers).map(run, [slice(w, None, workers) for w in range(workers)]))
    return values, rows


def _extreme(x, ptr, first_graph, last_graph, largest, out):  # pragma: no cover - compiled
    """``out[b] = max (or min) of x[ptr[b]:ptr[b + 1]]`` per column for b in [first_graph, last_graph); NaN wins."""
    channels = x.shape[1]
    for graph in range(first_graph, last_graph):
        start, stop = ptr[graph], ptr[graph + 1]
        if start == stop:
            continue
        for f in range(channels):
            out[graph, f] = x[start, f]
        for i in range(start + 1, stop):
            for f in range(channels):
                value, best = x[i, f], out[graph, f]
                better = value > best if largest else value < best
                out[graph, f] = value if better or value != value else best


@lru_cache(maxsize=1)
def _extreme_kernel():  # noqa: ANN202 - a numba dispatcher
    return numba.njit(cache=True, nogil=True)(_extreme)


def segment_extreme(x: np.ndarray, ptr: np.ndarray, largest: bool, threads: int) -> np.ndarray:
    """``[B, F]`` maximum (``largest``) or minimum of each group of the grouped rows ``x [N, F]``; 0 for empty groups.

    A column holding NaN gives NaN (as ``torch.amax``). The graphs are cut into ``threads`` runs of about
    equal row counts, each reduced on its own GIL-free thread.
    """
    out = np.zeros((len(ptr) - 1, x.shape[1]), dtype=x.dtype)
    kernel = _extreme_kernel()
    workers = max(1, min(threads, x.shape[0] // 65_536))  # below 64k rows one thread is faster
    bounds = np.searchsorted(ptr, np.linspace(0, x.shape[0], workers + 1)).tolist()
    bounds[0], bounds[-1] = 0, len(ptr) - 1
    runs = [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    if len(runs) == 1:
        kernel(x, ptr, runs[0][0], runs[0][1], largest, out)
    else:
        list(thread_pool(len(runs)).map(lambda run: kernel(x, ptr, run[0], run[1], largest, out), runs))
    return out

r"""Optional compiled kernels (numba): order statistics of small graphs, and the maximum of grouped rows.

Used on CPU when numba is installed (``pip install "graphpool[fast]"``) and :data:`ENABLED`; otherwise
the torch/NumPy paths run, and both give the same values (tests compare them):

- :func:`select_ranks`, by :func:`~graphpool.ops.segment_select`: the ``k``-th smallest element of each
  graph's column (median, quantiles);
- :func:`segment_extreme`, by :func:`~graphpool.ops.segment_max` / ``segment_min`` on grouped rows:
  one pass over grouped rows where ``scatter_reduce`` is slower (many rows, or many values); and
  :func:`segment_extreme_backward`, their backward on grouped rows;
- :func:`coalesce_csr`, by soft pooling: the sparse adjacency and its transpose by counting sorts;
- :func:`stable_grouping`, by :class:`~graphpool.ops.Segments` of unsorted ids: their rows grouped by a
  counting sort.

A graph of ``n <= MAX_WIDTH`` rows is copied into a ``[n, F]`` buffer and its columns are ordered by a
selection network (:func:`selection_network`): Batcher's odd-even merge sort for ``w`` (the next power
of two) items, less the compare-exchanges that would touch the ``w - n`` missing (+inf) rows and those
that cannot reach the wanted ranks. A compare-exchange takes two whole rows, so the inner loop runs over
the ``F`` features of a row, contiguous in memory, and vectorises. For the median of ``n = 32`` that is
157 compare-exchanges (of Batcher's 191) of 128 features, with no transposes, no padding, no gathers.
A graph of more than ``QUICKSELECT_MIN_ROWS`` rows is selected column by column by quickselect, in blocks
of 16 columns copied transposed. The work runs in parallel, in items (chunks of small graphs, blocks of large
ones) that each thread takes one after another: on ``torch.get_num_threads()`` threads of torch's own OpenMP
team where :mod:`graphpool.ops.openmp` finds it (the selections), otherwise on as many Python threads, the
calling thread among them (the kernels release the GIL). Threads of anyone else's (Python's, numba's own
OpenMP pool) compete for the cores with torch's, which keep spinning after each torch operation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache, lru_cache
from typing import TypeVar

import numpy as np
import torch

from graphpool.ops import openmp
from graphpool.ops.validation import flag_from_environment

try:  # optional dependency
    import numba
except ImportError:  # pragma: no cover - depends on the environment
    numba = None  # type: ignore[assignment]

T = TypeVar("T")

#: switch the compiled path off (tests compare both paths); also ``GRAPHPOOL_NUMBA=0``
ENABLED = flag_from_environment("GRAPHPOOL_NUMBA", default=True)
#: the largest graph the selection networks handle
MAX_WIDTH = 64
#: graphs of more rows than this go through quickselect; between the two, NumPy's vectorised sort of padded
#: rows is faster (320,000 rows x 64 features in graphs of ~200 rows: 111 against 169 ms; ~1,000 rows: 184
#: against 140 ms)
QUICKSELECT_MIN_ROWS = 512
#: segment_extreme replaces scatter_reduce (on grouped rows) where it was faster, measured in turn with it and with
#: PyG's on 2 threads: scatter_reduce costs 8-15 ns per row for rows of few features, the pass ~2.5 (3,760 rows x
#: 4 features: 39 against 103 us; 14,941 x 1: 74 against 121 us), so rows of up to 4 features take the pass from
#: 2,048 rows, rows of up to 64 from 8,192 (15,377 x 64: 0.91-0.95 of scatter_reduce's time; 30,839 x 32: 0.73),
#: any rows from 2^21 values (1024 graphs x 30 x 128: 0.80-1.01). Below these the pass lost (3,760 x 128: 1.07-1.22;
#: 7,554 x 128: 1.06-1.14).
EXTREME_MIN_VALUES = 1 << 21
#: (from this many rows, of up to this many features) where the pass is faster below EXTREME_MIN_VALUES
EXTREME_NARROW_ROWS = ((1 << 11, 4), (1 << 13, 64))
#: graphs per work item of select_ranks (a call of the kernel costs ~10 us), columns per block of a large graph
_CHUNK, _COLUMNS = 64, 16
#: dtypes the compiled path takes (numba has no float16 or bfloat16)
DTYPES = frozenset({torch.float32, torch.float64, torch.int32, torch.int64})


def available(dtype: torch.dtype) -> bool:
    """Whether the compiled path can run for ``dtype``."""
    return numba is not None and ENABLED and dtype in DTYPES


def extreme_pays(rows: int, features: int) -> bool:
    """Whether :func:`segment_extreme` is faster than ``scatter_reduce`` for ``rows`` grouped rows of ``features``."""
    if rows * features >= EXTREME_MIN_VALUES:
        return True
    for fewest, widest in EXTREME_NARROW_ROWS:  # a loop, not any(generator): 0.14 against 0.43 us per call
        if rows >= fewest and features <= widest:
            return True
    return False


def selects(level: int) -> bool:
    """Whether :func:`select_ranks` takes graphs of size class ``level`` (``2**(level-1) < n <= 2**level``)."""
    return 1 << level <= MAX_WIDTH or 1 << max(level - 1, 0) >= QUICKSELECT_MIN_ROWS


@cache
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


@lru_cache(maxsize=4096)
def selection_network(count: int, ranks: tuple[int, ...]) -> np.ndarray:
    """``[P, 2]`` compare-exchanges that bring the ``k``-th smallest of ``count`` items to position ``k``, for each
    ``k`` in ``ranks``.

    Batcher's network for the next power of two, less (1) every pair ``(a, b)`` with ``b >= count``: the
    missing items count as +inf, so such a pair would leave the minimum where it is; (2) every pair outside
    the backward cone of the wanted positions, found by walking the network backwards from them (a pair
    whose outputs nothing wanted reads cannot change the result). For a median of 15-45 items (2) removes
    19 % of the pairs.

    >>> selection_network(4, (0,)).tolist()  # the minimum of 4: no pair among the two largest
    [[0, 1], [2, 3], [0, 2]]
    """
    width = 1 << max(count - 1, 0).bit_length()
    needed, kept = set(ranks), []
    for a, b in network(width)[::-1].tolist():
        if b < count and (a in needed or b in needed):
            needed.update((a, b))
            kept.append((a, b))
    return np.array(kept[::-1], dtype=np.int64).reshape(-1, 2)


def _first_rows(grouped, first, count, start, stop, values, rows, r, graph):  # pragma: no cover - compiled
    """For the columns ``c`` in ``[start, stop)`` of one graph's pick ``r``: ``rows[r, graph, c]`` = the first of
    the graph's rows holding ``values[r, graph, c]`` (its last row if none does: NaN), and ``values[r, graph, c]``
    then that element itself (+0.0 and -0.0 compare equal). Row by row, so the inner loop vectorises."""
    for c in range(start, stop):
        rows[r, graph, c] = first + count - 1
    for i in range(count - 2, -1, -1):
        for c in range(start, stop):
            if grouped[first + i, c] == values[r, graph, c]:
                rows[r, graph, c] = first + i
    for c in range(start, stop):
        values[r, graph, c] = grouped[rows[r, graph, c], c]


if numba is not None:  # called from the kernels below, so compiled as a global of theirs
    _first_rows = numba.njit(cache=True, nogil=True)(_first_rows)


def _select(grouped, ptr, graphs, networks, pairs, starts, ranks, track, values, rows):  # pragma: no cover
    """For each graph of ``graphs``: order its rows by its selection network, read the ranks.

    ``pairs[starts[j]:starts[j + 1]]`` is network ``j`` and graph ``graphs[i]`` takes network
    ``networks[i]``; ``ranks [R, B]``; ``values [R, B, F]`` receives the picks, ``rows [R, B, F]`` (when
    ``track``) the grouped row of the first element of the graph equal to each pick (and ``values`` then
    that element). Returns whether any of the graphs' values is NaN.
    """
    channels = grouped.shape[1]
    buffer = np.empty((MAX_WIDTH, channels), dtype=grouped.dtype)
    nan = False
    for position in range(graphs.shape[0]):
        graph = graphs[position]
        first, count = ptr[graph], ptr[graph + 1] - ptr[graph]
        net = networks[position]
        for i in range(count):
            for f in range(channels):
                value = grouped[first + i, f]
                buffer[i, f] = value
                nan |= value != value  # noqa: PLR0124 - the NaN test numba compiles for any dtype
        for pair in range(starts[net], starts[net + 1]):
            a, b = pairs[pair, 0], pairs[pair, 1]
            for f in range(channels):
                low, high = buffer[a, f], buffer[b, f]
                buffer[a, f] = min(low, high)
                buffer[b, f] = max(high, low)
        for r in range(ranks.shape[0]):
            k = ranks[r, graph]
            for f in range(channels):
                values[r, graph, f] = buffer[k, f]
            if track:
                _first_rows(grouped, first, count, 0, channels, values, rows, r, graph)
    return nan


def _select_large(grouped, ptr, graphs, columns, width, ranks, track, values, rows):  # pragma: no cover
    """For each item ``i``: the ranks of columns ``columns[i]`` to ``columns[i] + width`` of graph ``graphs[i]``.

    The block of columns is copied transposed into a ``[width, n]`` buffer (each row of ``x`` read once per
    block, not once per column), then each column's ``k``-th smallest is selected in place by quickselect
    (Hoare's partition around a median of three; linear on average). Several ranks of one column reuse its
    partly partitioned buffer. A column holding NaN is not selected (its pick is left to the caller, as the
    NaN it must be); otherwise ``values``, ``rows`` and the return value are as in :func:`_select`.
    """
    channels = grouped.shape[1]
    most = 0
    for item in range(graphs.shape[0]):
        most = max(most, ptr[graphs[item] + 1] - ptr[graphs[item]])
    buffer = np.empty((width, most), dtype=grouped.dtype)
    nan = False
    for item in range(graphs.shape[0]):
        graph, start = graphs[item], columns[item]
        stop = min(start + width, channels)
        first, count = ptr[graph], ptr[graph + 1] - ptr[graph]
        for i in range(count):
            for c in range(stop - start):
                buffer[c, i] = grouped[first + i, start + c]
        for c in range(stop - start):
            column = buffer[c]
            column_nan = False
            for i in range(count):
                column_nan |= column[i] != column[i]
            nan |= column_nan
            for r in range(ranks.shape[0]):
                k = ranks[r, graph]
                low, high = 0, count - 1
                while low < high and not column_nan:
                    middle = (low + high) >> 1  # median of three into column[middle]: sorted runs stay linear
                    if column[middle] < column[low]:
                        column[middle], column[low] = column[low], column[middle]
                    if column[high] < column[low]:
                        column[high], column[low] = column[low], column[high]
                    if column[high] < column[middle]:
                        column[high], column[middle] = column[middle], column[high]
                    pivot = column[middle]
                    i, j = low, high
                    while i <= j:
                        while column[i] < pivot:
                            i += 1
                        while pivot < column[j]:
                            j -= 1
                        if i <= j:
                            column[i], column[j] = column[j], column[i]
                            i += 1
                            j -= 1
                    if k <= j:
                        high = j
                    elif k >= i:
                        low = i
                    else:
                        break
                values[r, graph, start + c] = column[k]
        if track:
            for r in range(ranks.shape[0]):
                _first_rows(grouped, first, count, start, stop, values, rows, r, graph)
    return nan


if numba is not None:  # called from _select_items below, so compiled as globals of it
    _select = numba.njit(cache=True, nogil=True)(_select)
    _select_large = numba.njit(cache=True, nogil=True)(_select_large)


#: the kinds of work handed to torch's team (slot 1 of the callback's data, after the item counter)
_SELECT, _EXTREME, _EXTREME_BACKWARD = 0, 1, 2
#: select_ranks' data (:mod:`graphpool.ops.openmp`): item counter, kind, small items, large items, track, graphs
#: per small item, columns per large item; then the arrays, ``openmp.SLOTS`` numbers each
_HEAD, _ARRAYS = 7, 12


def _select_items(data, dtype):  # pragma: no cover - compiled
    """The work items of :func:`select_ranks` described by ``data``, taken one by one until none is left (by
    every thread of the team, or of :func:`run_parallel`)."""
    at = [_HEAD + openmp.SLOTS * i for i in range(_ARRAYS)]
    grouped, ptr = openmp.array2(data, at[0], dtype), openmp.array1(data, at[1], np.int64)
    small, networks = openmp.array1(data, at[2], np.int64), openmp.array1(data, at[3], np.int64)
    pairs, starts = openmp.array2(data, at[4], np.int64), openmp.array1(data, at[5], np.int64)
    ranks, values = openmp.array2(data, at[6], np.int64), openmp.array3(data, at[7], dtype)
    rows = openmp.array3(data, at[8], np.int64)
    large_graphs, large_columns = openmp.array1(data, at[9], np.int64), openmp.array1(data, at[10], np.int64)
    nan = openmp.array1(data, at[11], np.int64)
    small_items, items, track, chunk, width = data[2], data[2] + data[3], data[4] != 0, data[5], data[6]
    item = openmp.take(data, 0)
    while item < items:
        if item < small_items:
            part = slice(item * chunk, min(item * chunk + chunk, small.shape[0]))
            found = _select(grouped, ptr, small[part], networks[part], pairs, starts, ranks, track, values, rows)
        else:
            part = slice(item - small_items, item - small_items + 1)
            found = _select_large(
                grouped, ptr, large_graphs[part], large_columns[part], width, ranks, track, values, rows
            )
        nan[item] = found
        item = openmp.take(data, 0)


if numba is not None:  # called from the team's callbacks, so compiled as a global of theirs
    _select_items = numba.njit(cache=True, nogil=True)(_select_items)


@lru_cache(maxsize=1)
def _thread_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="graphpool")


def run_parallel(work: Callable[[T], object], items: Sequence[T], workers: int) -> None:
    """``work(item)`` for every item, on ``workers`` threads: the GIL-free work of ``graphpool.ops``.

    The calling thread is one of the workers, and each worker takes the next item when it is done with
    one, so a thread that starts late or shares its core runs fewer items. Both happen on a machine whose
    cores sit idle between calls, or where torch's OpenMP threads still spin after a parallel operation: a
    median over 1024 graphs took longer on two threads than on one right after either, when its work was
    split into two fixed halves run on two pool threads.
    """
    queue = iter(items)  # shared: each next() is atomic under the GIL

    def drain() -> None:
        for item in queue:
            work(item)

    futures = [_thread_pool().submit(drain) for _ in range(workers - 1)]
    drain()
    for future in futures:
        future.result()


def _distinct_columns(numbers: np.ndarray) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """The distinct columns of ``numbers [P, G]`` (each in [0, 64)) as tuples, and which of them each column is."""
    if len(numbers) > 10:  # too many to pack
        distinct, inverse = np.unique(numbers.T, axis=0, return_inverse=True)
        return [tuple(row) for row in distinct.tolist()], inverse.reshape(-1)
    shifts = 6 * np.arange(len(numbers), dtype=np.int64)[:, None]  # one int64 per column, 6 bits per number
    codes, inverse = np.unique((numbers << shifts).sum(0), return_inverse=True)
    return [tuple(column) for column in ((codes >> shifts) & 63).T.tolist()], inverse.reshape(-1)


def select_ranks(
    grouped: np.ndarray, ptr: np.ndarray, graphs: np.ndarray, ranks: np.ndarray, track: bool, threads: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Order statistics of the graphs ``graphs`` (each of at least one row) of grouped rows.

    Graphs of up to :data:`MAX_WIDTH` rows go through selection networks, in chunks of graphs; larger ones
    (meant for more than :data:`QUICKSELECT_MIN_ROWS`) through quickselect, in blocks of 16 columns; the
    chunks and blocks are the work items of ``threads`` threads.

    Args:
        grouped: ``[N, F]`` rows in grouped order, C-contiguous.
        ptr: ``[B + 1]`` int64 offsets.
        graphs: int64 ids of the graphs to compute.
        ranks: ``[R, B]`` int64 ranks, ``0 <= k < n_b``.
        track: also return the grouped row of each pick.
        threads: how many threads to run on.

    Returns:
        ``values [R, B, F]`` (rows of other graphs left as zeros), ``rows [R, B, F]`` (int64; zeros
        unless ``track``), and whether any value of these graphs is NaN (their picks are not NaN-aware:
        the caller sets those).
    """
    sizes = ptr[graphs + 1] - ptr[graphs]
    small, large = graphs[sizes <= MAX_WIDTH], graphs[sizes > MAX_WIDTH]
    # one selection network per distinct (size, ranks) of the small graphs
    keys, networks = _distinct_columns(np.vstack([ptr[small + 1] - ptr[small] - 1, ranks[:, small]]))
    nets = [selection_network(key[0] + 1, key[1:]) for key in keys]
    starts = np.zeros(len(nets) + 1, dtype=np.int64)
    starts[1:] = np.cumsum([len(net) for net in nets])
    pairs = np.concatenate(nets) if starts[-1] else np.zeros((0, 2), dtype=np.int64)
    networks = networks.astype(np.int64)
    # the large graphs' items: (graph, first column of a block)
    channels = grouped.shape[1]
    blocks = np.arange(0, channels, _COLUMNS, dtype=np.int64)
    large_graphs, large_columns = np.repeat(large, len(blocks)), np.tile(blocks, len(large))
    shape = (ranks.shape[0], len(ptr) - 1, channels)
    values = np.zeros(shape, dtype=grouped.dtype)
    rows = np.zeros(shape if track else (0, 0, 0), dtype=np.int64)
    small_items = -(-len(small) // _CHUNK)
    found = np.zeros(small_items + len(large_graphs), dtype=np.int64)  # each item's NaN flag
    # held until the work is done (the data holds only their addresses); the outputs are contiguous: no copies
    arrays = [grouped, ptr, small, networks, pairs, starts, ranks, values, rows, large_graphs, large_columns, found]
    arrays = [np.ascontiguousarray(array) for array in arrays]
    head = [0, _SELECT, small_items, len(large_graphs), int(track), _CHUNK, _COLUMNS]
    data = np.array(head + openmp.describe(*arrays), dtype=np.int64)
    workers = max(1, min(threads, len(small) // _CHUNK + len(large_graphs)))  # a thread costs ~64 small graphs
    _run_items(_select_items, data, grouped.dtype, workers)
    return values, rows, bool(found.any())


def _sorted_offsets(index, ptr):  # pragma: no cover - compiled
    """Fill ``ptr [B + 1]`` with the offsets of the groups of ``index`` if its ids are non-decreasing and all in
    ``[0, B)`` (and return True); else return False, ``ptr`` untouched."""
    rows, groups = index.shape[0], ptr.shape[0] - 1
    descents = 0
    for row in range(1, rows):  # no early exit: the loop vectorises
        descents += index[row] < index[row - 1]
    if descents or (rows and (index[0] < 0 or index[rows - 1] >= groups)):
        return False
    ptr[:] = rows
    for row in range(rows - 1, -1, -1):  # each group's first row is written last
        ptr[index[row]] = row
    for graph in range(groups - 1, -1, -1):  # an empty group starts where the next one does
        ptr[graph] = min(ptr[graph], ptr[graph + 1])
    return True


if numba is not None:
    _sorted_offsets = numba.njit(cache=True, nogil=True)(_sorted_offsets)


def sorted_offsets(index: np.ndarray, num_segments: int) -> np.ndarray | None:
    """The CSR offsets ``[B + 1]`` of the int64 group ids ``index [N]`` if they are non-decreasing and all in
    ``[0, B)``, else ``None``: the sortedness check and the offsets in one call, a fixed cost of every readout's
    call (2.6 us for 3,840 rows in 128 groups, 17 us for 30,720 in 1,024, where NumPy's check and torch's or
    NumPy's binary searches take 9 and 21 us)."""
    ptr = np.empty(num_segments + 1, dtype=np.int64)
    return ptr if _sorted_offsets(np.ascontiguousarray(index, dtype=np.int64), ptr) else None


def _offsets(keys, num_nodes):  # pragma: no cover - compiled
    """``[num_nodes + 1]`` offsets of ``keys`` (in ``[0, num_nodes)``) grouped by value: a counting sort's prefix."""
    ptr = np.zeros(num_nodes + 1, dtype=np.int64)
    for key in keys:
        ptr[key + 1] += 1
    for n in range(num_nodes):
        ptr[n + 1] += ptr[n]
    return ptr


def _stable_order(keys, ptr):  # pragma: no cover - compiled
    """The positions of ``keys`` grouped by value, stable (equal keys keep their order); ``ptr``: their offsets."""
    order = np.empty(keys.shape[0], dtype=np.int64)
    fill = ptr[:-1].copy()
    for position in range(keys.shape[0]):
        key = keys[position]  # read once: 0.8 against 1.1 ms for 1,000,000 keys
        order[fill[key]] = position
        fill[key] += 1
    return order


if numba is not None:  # called from _coalesce below, so compiled as globals of it
    _offsets = numba.njit(cache=True, nogil=True)(_offsets)
    _stable_order = numba.njit(cache=True, nogil=True)(_stable_order)


def _keys_in_range(keys, groups):  # pragma: no cover - compiled
    """Whether every key lies in ``[0, groups)``."""
    outside = 0
    for key in keys:  # no early exit: the loop vectorises
        outside += (key < 0) | (key >= groups)
    return outside == 0


if numba is not None:
    _keys_in_range = numba.njit(cache=True, nogil=True)(_keys_in_range)


def stable_grouping(index: np.ndarray, num_segments: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows of the group ids ``index [N]`` grouped by id, stable (NumPy's stable argsort of them), and the
    groups' offsets ``[B + 1]``: a counting sort, linear in N + B (1.5 ms for 1,000,000 rows in 20 groups, where
    NumPy's radix sort of int16 keys and torch's stable sort take 6.6); ``None`` when an id lies outside
    ``[0, B)`` (checked first: nothing is written out of bounds)."""
    keys = np.ascontiguousarray(index, dtype=np.int64)
    if not _keys_in_range(keys, num_segments):
        return None
    ptr = _offsets(keys, num_segments)
    return _stable_order(keys, ptr), ptr


def _coalesce(row, col, num_nodes):  # pragma: no cover - compiled
    """The edges sorted by (row, column) with duplicates merged, as CSR for ``A`` and for ``A^T``.

    Counting sorts, linear in the edges: a stable one by row, then each row's edges by column (insertion
    sort; a stable merge sort for rows of more than 32), then the unique edges by column for the transpose
    (rows stay sorted within a column). Returns ``crow [N + 1]``, ``unique_row [U]``, ``unique_col [U]``,
    ``inverse [E]`` (each edge's unique slot), ``column_ptr [N + 1]`` and ``by_column [U]`` (the unique slots in
    column order).
    """
    edges = row.shape[0]
    for e in range(edges):
        if row[e] < 0 or row[e] >= num_nodes or col[e] < 0 or col[e] >= num_nodes:
            raise ValueError("'edge_index' refers to nodes outside [0, num_nodes)")
    start = _offsets(row, num_nodes)
    order = _stable_order(row, start)
    for n in range(num_nodes):
        first, stop = start[n], start[n + 1]
        if stop - first > 32:
            segment = order[first:stop].copy()
            order[first:stop] = segment[np.argsort(col[segment], kind="mergesort")]
        else:
            for i in range(first + 1, stop):
                edge, key, j = order[i], col[order[i]], i - 1
                while j >= first and col[order[j]] > key:
                    order[j + 1] = order[j]
                    j -= 1
                order[j + 1] = edge
    inverse = np.empty(edges, dtype=np.int64)
    unique_row = np.empty(edges, dtype=np.int64)
    unique_col = np.empty(edges, dtype=np.int64)
    count = 0
    for i in range(edges):
        edge = order[i]
        if count == 0 or row[edge] != unique_row[count - 1] or col[edge] != unique_col[count - 1]:
            unique_row[count], unique_col[count] = row[edge], col[edge]
            count += 1
        inverse[edge] = count - 1
    unique_row, unique_col = unique_row[:count], unique_col[:count]
    column_ptr = _offsets(unique_col, num_nodes)
    return (
        _offsets(unique_row, num_nodes),
        unique_row,
        unique_col,
        inverse,
        column_ptr,
        _stable_order(unique_col, column_ptr),
    )


if numba is not None:
    _coalesce = numba.njit(cache=True, nogil=True)(_coalesce)


def coalesce_csr(row: np.ndarray, col: np.ndarray, num_nodes: int) -> tuple[np.ndarray, ...]:
    """:func:`_coalesce` compiled: ``crow, unique_row, unique_col, inverse, column_ptr, by_column``.

    ``row``, ``col``: ``[E]`` int64 node ids, checked to lie in ``[0, num_nodes)`` (a ``ValueError`` otherwise).
    Linear in E, where sorting the ``row * N + col`` keys (PyG's ``coalesce``) is E log E.
    """
    return _coalesce(row, col, num_nodes)


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
                out[graph, f] = value if better or value != value else best  # noqa: PLR0124 - NaN wins


def _extreme_backward(x, ptr, out, grad, first_graph, last_graph, result):  # pragma: no cover - compiled
    """The rows ``ptr[b]:ptr[b + 1]`` of ``result`` for b in [first_graph, last_graph): ``grad[b] / ties`` in the
    columns where the row holds its graph's extreme ``out[b]`` (``ties``: how many rows hold it there), else 0."""
    channels = x.shape[1]
    share = np.empty(channels, dtype=grad.dtype)
    for graph in range(first_graph, last_graph):
        start, stop = ptr[graph], ptr[graph + 1]
        share[:] = 0
        for i in range(start, stop):  # the ties, counted in the gradient's dtype (whole numbers: exact)
            for f in range(channels):
                share[f] += x[i, f] == out[graph, f]
        for f in range(channels):
            share[f] = grad[graph, f] / max(share[f], 1)
        for i in range(start, stop):
            for f in range(channels):
                result[i, f] = share[f] if x[i, f] == out[graph, f] else 0


if numba is not None:
    _extreme = numba.njit(cache=True, nogil=True)(_extreme)
    _extreme_backward = numba.njit(cache=True, nogil=True)(_extreme_backward)


#: segment_extreme's data: item counter, kind, items (runs of graphs), largest; then x, ptr, out and the runs'
#: bounds
_EXTREME_HEAD, _EXTREME_ARRAYS = 4, 4


def _extreme_items(data, dtype):  # pragma: no cover - compiled
    """The runs of graphs of :func:`segment_extreme` described by ``data``, taken one by one until none is left."""
    at = [_EXTREME_HEAD + openmp.SLOTS * i for i in range(_EXTREME_ARRAYS)]
    x, ptr = openmp.array2(data, at[0], dtype), openmp.array1(data, at[1], np.int64)
    out, bounds = openmp.array2(data, at[2], dtype), openmp.array1(data, at[3], np.int64)
    item = openmp.take(data, 0)
    while item < data[2]:
        _extreme(x, ptr, bounds[item], bounds[item + 1], data[3] != 0, out)
        item = openmp.take(data, 0)


if numba is not None:  # called from the team's callbacks, so compiled as a global of theirs
    _extreme_items = numba.njit(cache=True, nogil=True)(_extreme_items)


#: segment_extreme_backward's data: item counter, kind, items (runs of graphs); then x, ptr, out, grad, result and
#: the runs' bounds
_BACKWARD_HEAD, _BACKWARD_ARRAYS = 3, 6


def _backward_items(data, dtype):  # pragma: no cover - compiled
    """The runs of graphs of :func:`segment_extreme_backward` described by ``data``, taken one by one."""
    at = [_BACKWARD_HEAD + openmp.SLOTS * i for i in range(_BACKWARD_ARRAYS)]
    x, ptr = openmp.array2(data, at[0], dtype), openmp.array1(data, at[1], np.int64)
    out, grad = openmp.array2(data, at[2], dtype), openmp.array2(data, at[3], dtype)
    result, bounds = openmp.array2(data, at[4], dtype), openmp.array1(data, at[5], np.int64)
    item = openmp.take(data, 0)
    while item < data[2]:
        _extreme_backward(x, ptr, out, grad, bounds[item], bounds[item + 1], result)
        item = openmp.take(data, 0)


if numba is not None:  # called from the team's callbacks, so compiled as a global of theirs
    _backward_items = numba.njit(cache=True, nogil=True)(_backward_items)


def _team_items(address, dtype):  # pragma: no cover - compiled
    """What each thread of torch's team runs: the items of the work whose kind the data names."""
    kind = openmp.header(address, 2)[1]
    if kind == _SELECT:
        _select_items(openmp.header(address, _HEAD + openmp.SLOTS * _ARRAYS), dtype)
    elif kind == _EXTREME:
        _extreme_items(openmp.header(address, _EXTREME_HEAD + openmp.SLOTS * _EXTREME_ARRAYS), dtype)
    else:
        _backward_items(openmp.header(address, _BACKWARD_HEAD + openmp.SLOTS * _BACKWARD_ARRAYS), dtype)


if numba is not None:  # called from the callbacks below, so compiled as a global of theirs
    _team_items = numba.njit(cache=True, nogil=True)(_team_items)


def _team_float32(address):  # pragma: no cover - compiled (a C callback run by every thread of the team)
    _team_items(address, np.float32)


def _team_float64(address):  # pragma: no cover - compiled
    _team_items(address, np.float64)


def _team_int32(address):  # pragma: no cover - compiled
    _team_items(address, np.int32)


def _team_int64(address):  # pragma: no cover - compiled
    _team_items(address, np.int64)


_TEAM_CALLBACKS = {
    np.dtype(np.float32): _team_float32,
    np.dtype(np.float64): _team_float64,
    np.dtype(np.int32): _team_int32,
    np.dtype(np.int64): _team_int64,
}


@cache
def _team_callback(dtype: np.dtype) -> int:
    """The address of :func:`_team_items` for ``dtype`` as a C callback (built on first use, cached on disk)."""
    callback = numba.cfunc(numba.types.void(numba.types.voidptr), cache=True, nogil=True)
    address = callback(_TEAM_CALLBACKS[dtype]).address
    assert address is not None  # a compiled cfunc has one
    return int(address)


def _run_items(items: Callable[[np.ndarray, type], None], data: np.ndarray, dtype: np.dtype, workers: int) -> None:
    """``workers`` threads take the work items ``data`` describes until none is left: threads of torch's own
    OpenMP team (through :func:`_team_items`) where :mod:`graphpool.ops.openmp` can enter it, else Python
    threads, the calling one among them, each running ``items(data, dtype)`` on the same item counter."""
    if workers > 1 and openmp.available():
        openmp.run(_team_callback(dtype), data, workers)
    else:
        run_parallel(lambda _: items(data, dtype.type), range(workers), workers)


def segment_extreme(x: np.ndarray, ptr: np.ndarray, largest: bool, threads: int) -> np.ndarray:
    """``[B, F]`` maximum (``largest``) or minimum of each group of the grouped rows ``x [N, F]``; 0 for empty groups.

    A column holding NaN gives NaN (as ``torch.amax``). Up to ``threads`` threads take runs of graphs of
    about equal row counts (four per thread) one by one: on torch's own OpenMP team where it can be
    entered (:mod:`graphpool.ops.openmp`), else on Python threads. A second thread is used from 65,536 rows
    or 2^18 values (below either, handing work to it cost more than it saved: 3,760 rows x 128 features took
    86 us on two threads against 72 on one).
    """
    x, ptr = np.ascontiguousarray(x), np.ascontiguousarray(ptr, dtype=np.int64)
    out = np.zeros((len(ptr) - 1, x.shape[1]), dtype=x.dtype)
    workers = _extreme_workers(x.shape[0], x.size, threads)
    if workers == 1:  # on the calling thread, without the work items' description (~20 us)
        _extreme(x, ptr, 0, len(ptr) - 1, largest, out)
        return out
    runs = 4 * workers
    bounds = np.searchsorted(ptr, np.linspace(0, x.shape[0], runs + 1)).astype(np.int64)
    bounds[0], bounds[-1] = 0, len(ptr) - 1
    data = np.array([0, _EXTREME, runs, int(largest), *openmp.describe(x, ptr, out, bounds)], dtype=np.int64)
    _run_items(_extreme_items, data, x.dtype, workers)
    return out


def _extreme_workers(rows: int, values: int, threads: int) -> int:
    """Threads for a pass over ``rows`` grouped rows of ``values`` values: a second from 65,536 rows or 2^18 values."""
    return max(1, min(threads, max(rows // 65_536, values // (1 << 18))))


def segment_extreme_backward(
    x: np.ndarray, ptr: np.ndarray, out: np.ndarray, grad: np.ndarray, threads: int
) -> np.ndarray:
    """``[N, F]`` gradient of :func:`segment_extreme`'s ``out [B, F]`` with respect to the grouped rows ``x [N, F]``
    for ``grad [B, F]`` (all three of one dtype): each graph's gradient shared evenly among its rows that hold the
    extreme, 0 elsewhere (as ``torch.amax``). Two passes over each graph's rows (count the ties, then write), where
    the torch path makes seven passes over ``[N, F]`` tensors: 64 graphs x 5,000 rows x 64 features took 15 ms on
    one thread against 100. Threads as :func:`segment_extreme`."""
    x, ptr = np.ascontiguousarray(x), np.ascontiguousarray(ptr, dtype=np.int64)
    out, grad = np.ascontiguousarray(out), np.ascontiguousarray(grad)
    result = np.empty_like(x)
    workers = _extreme_workers(x.shape[0], x.size, threads)
    if workers == 1:
        _extreme_backward(x, ptr, out, grad, 0, len(ptr) - 1, result)
        return result
    runs = 4 * workers
    bounds = np.searchsorted(ptr, np.linspace(0, x.shape[0], runs + 1)).astype(np.int64)
    bounds[0], bounds[-1] = 0, len(ptr) - 1
    data = np.array([0, _EXTREME_BACKWARD, runs, *openmp.describe(x, ptr, out, grad, result, bounds)], dtype=np.int64)
    _run_items(_backward_items, data, x.dtype, workers)
    return result

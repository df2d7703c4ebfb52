"""Groups of rows: which of the N input rows belong to which of the B graphs.

Every readout reduces the rows of ``x`` group by group. The caller may describe the groups
with PyG's ``batch``/``index`` vector (``[N]``, the graph of each row, any order), with CSR
offsets ``ptr`` (``[B + 1]``, rows already grouped), with both, or with neither (one graph).
:func:`segments_from` turns any of these into one :class:`Segments` object, validating at
the boundary, so the kernels below never check anything again.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch, Data, HeteroData
from torch_geometric.data.storage import BaseStorage

from graphpool.ops import compiled
from graphpool.ops.device_path import on_host, sync_allowed
from graphpool.ops.validation import check_tensor, validation_enabled

_INTEGER_DTYPES = frozenset({torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8})
#: CPU offsets of sorted groups: torch's ``searchsorted`` runs in parallel from 200 searches on (its grain size), and
#: leaves its threads spinning ~2 ms after, on the cores the compiled kernels (:mod:`graphpool.ops.compiled`) run
#: on next; from there up to this many groups NumPy's binary searches (5-40 us) run on the calling thread instead
_SERIAL_SEARCH_MIN, _SERIAL_SEARCH_MAX = 200, 1 << 15


class Segments:
    """Assignment of N rows to B groups (graphs), with derived layouts computed on demand.

    Build it with :func:`segments_from`, which validates the input. Kernels ask only for
    what they use, so a scatter-based kernel never pays for sorting or offsets.

    Attributes:
        num_rows: ``N``.
        num_segments: ``B``, the number of groups (empty groups included).
        index: ``[N]`` group of each row.
        ptr: ``[B + 1]`` offsets into the grouped row order; group ``b`` holds
            ``ptr[b+1] - ptr[b]`` rows.
        perm: ``[N]`` rows listed group by group (stable), or ``None`` when the rows are
            already grouped (``index`` sorted).
    """

    def __init__(
        self,
        num_rows: int,
        num_segments: int,
        index: Tensor | None = None,
        ptr: Tensor | None = None,
        is_sorted: bool | None = None,
    ) -> None:
        """``is_sorted``: whether ``index`` is sorted, where the caller already knows (else found on first use)."""
        if index is None and ptr is None:
            raise ValueError("Segments needs an index or a ptr")
        self.num_rows = num_rows
        self.num_segments = num_segments
        self._index = index
        self._ptr = ptr
        # derived layouts, computed on first use (a plain dict, not functools.cached_property,
        # whose lock torch.compile cannot enter)
        self._derived: dict[str, Any] = {} if is_sorted is None else {"is_sorted": is_sorted}

    def _once(self, name: str, compute: Callable[[], Any]) -> Any:
        if name not in self._derived:
            self._derived[name] = compute()
        return self._derived[name]

    @property
    def device(self) -> torch.device:
        return (self._index if self._index is not None else self._ptr).device  # type: ignore[union-attr]

    @property
    def index(self) -> Tensor:
        """``[N]`` group of each row."""
        if self._index is not None:
            return self._index
        return self._once(
            "index",
            lambda: torch.repeat_interleave(
                torch.arange(self.num_segments, device=self.device), self.counts, output_size=self.num_rows
            ),
        )

    @property
    def is_sorted(self) -> bool:
        """Rows of one group are contiguous and groups come in order.

        Under ``torch.compile``, and on a device with validation off (:func:`~graphpool.ops.device_path.
        sync_allowed`), an ``index`` without ``ptr`` counts as unsorted: reading its order back would break the
        graph or wait for the device, and the unsorted layout (a stable argsort) is right for sorted rows too.
        """
        if self._ptr is not None:
            return True
        if not sync_allowed(self.index):  # compiling, or a device with validation off: no read-back
            return False
        return self._once("is_sorted", self._check_order)

    def _check_order(self) -> bool:
        """Whether ``index`` is sorted; on CPU with numba, the offsets of sorted ids come in the same pass."""
        if _one_pass(self.index):
            ptr = _sorted_offsets(self.index, self.num_segments)
            if ptr is not None:
                self._derived["ptr"] = ptr
                return True
        return _is_sorted(self.index)

    @property
    def perm(self) -> Tensor | None:
        """``[N]`` rows in grouped order (stable), or ``None`` when already grouped.

        On CPU with numba, a counting sort (which finds the offsets ``ptr`` too); otherwise narrow
        keys sort faster: up to 32,767 groups on CPU, NumPy's stable argsort of int16 keys is a
        radix sort; up to 2^31 groups, int32 keys halve torch's sort time.
        """
        return self._once("perm", self._grouping_permutation)

    def _grouping_permutation(self) -> Tensor | None:
        if self.is_sorted:
            return None
        if _one_pass(self.index) and not torch.compiler.is_compiling():
            found = compiled.stable_grouping(self.index.numpy(), self.num_segments)
            if found is not None:  # (None: an id out of range with validation off; the sort below keeps it)
                order, ptr = found
                self._derived["ptr"] = torch.from_numpy(ptr)
                return torch.from_numpy(order)
        if on_host(self.index) and self.num_segments <= 32_767 and not torch.compiler.is_compiling():
            narrow = self.index.to(torch.int16).numpy()
            return torch.from_numpy(np.argsort(narrow, kind="stable"))
        keys = self.index.int() if self.num_segments < 2**31 else self.index
        return torch.argsort(keys, stable=True)

    @property
    def ptr(self) -> Tensor:
        """``[B + 1]`` offsets of the groups in grouped row order."""
        if self._ptr is not None:
            return self._ptr
        self.is_sorted  # noqa: B018 - on CPU with numba, the check of sorted ids finds their offsets too
        return self._once("ptr", self._offsets)

    def _offsets(self) -> Tensor:
        if self.perm is None:  # sorted: the first row of each group, one binary search each
            index, bounds = self.index.contiguous(), torch.arange(self.num_segments + 1, device=self.device)
            if (
                on_host(index)
                and _SERIAL_SEARCH_MIN <= self.num_segments < _SERIAL_SEARCH_MAX
                and not torch.compiler.is_compiling()
            ):
                return torch.from_numpy(np.searchsorted(index.numpy(), bounds.numpy()))
            return torch.searchsorted(index, bounds)
        ptr = torch.zeros(self.num_segments + 1, dtype=torch.long, device=self.device)
        if not sync_allowed(self.index):  # bincount's output size depends on the data: count by index_add
            ptr[1:].index_add_(0, self.index, torch.ones_like(self.index))
            return torch.cumsum(ptr, 0)
        torch.cumsum(torch.bincount(self.index, minlength=self.num_segments), 0, out=ptr[1:])
        return ptr

    @property
    def counts(self) -> Tensor:
        """``[B]`` number of rows in each group."""
        return self._once("counts", lambda: torch.diff(self.ptr))

    @property
    def rows(self) -> Tensor:
        """``[N]`` row ids in grouped order (``perm``, or ``arange(N)`` when sorted)."""
        perm = self.perm
        return perm if perm is not None else _arange(self.num_rows, self.device)

    @property
    def host_counts(self) -> list[int]:
        """Group sizes as Python ints (a device-to-host copy on CUDA)."""
        return self._once("host_counts", lambda: self.counts.tolist())


def _one_pass(index: Tensor) -> bool:
    """Whether the compiled pass that checks the order of ``index`` and finds its offsets runs (CPU, numba)."""
    return on_host(index) and compiled.available(torch.int64)


def _sorted_offsets(index: Tensor, num_segments: int) -> Tensor | None:
    """``ptr [B + 1]`` of ``index`` if its ids are sorted and all in ``[0, B)``, else ``None``: one compiled pass."""
    ptr = compiled.sorted_offsets(index.numpy(), num_segments)
    return None if ptr is None else torch.from_numpy(ptr)


def _is_sorted(index: Tensor) -> bool:
    """Whether ``index`` is non-decreasing (one pass; a device sync on CUDA).

    On CPU through NumPy: 7 us against torch's 33 us for 30,000 rows (the fixed cost of torch's two small
    operations decides at this size, and every readout's call without numba pays it once).
    """
    if index.numel() < 2:
        return True
    if on_host(index) and not torch.compiler.is_compiling():
        values = index.numpy()
        return not bool((values[1:] < values[:-1]).any())
    return not bool(torch.lt(index[1:], index[:-1]).any())


@lru_cache(maxsize=8)
def _arange(n: int, device: torch.device) -> Tensor:
    """A shared read-only ``arange(n)`` (never handed to callers, never written)."""
    return torch.arange(n, device=device)


def _graph_index_of(batch: Any) -> tuple[Tensor | None, Tensor | None, int | None] | None:
    """``(index, ptr, num_graphs)`` of a PyG ``Batch``/``Data`` object, else ``None``.

    Raises:
        ValueError: a heterogeneous batch or one of its node stores (each node type is pooled on its own).
    """
    if isinstance(batch, (HeteroData, BaseStorage)):
        if isinstance(batch, HeteroData):
            types = batch.node_types
            what = f"a heterogeneous batch (node types {', '.join(map(repr, types))})"
        else:
            types = [getattr(batch, "_key", None) or "TYPE"]
            what = f"the store of node type {types[0]!r}, not a graph vector"
        example = types[0] if types else "TYPE"
        raise ValueError(  # noqa: TRY004 - documented (Raises) as the ValueError of every bad 'batch' value
            f"'batch' is {what}: pool each node type on its own, e.g. "
            f"global_pool(batch[{example!r}].x, batch[{example!r}].batch, num_graphs=batch.num_graphs)"
        )
    if isinstance(batch, Batch):
        return batch.batch, batch.ptr, batch.num_graphs
    if isinstance(batch, Data):
        index = batch.batch if "batch" in batch else None
        return index, None, (batch.num_graphs if index is not None else 1)
    return None


def _check_integer_vector(name: str, t: Tensor) -> None:
    check_tensor(name, t)
    if t.dim() != 1:
        raise ValueError(f"'{name}' must be one-dimensional, got shape {tuple(t.shape)}")
    if t.dtype not in _INTEGER_DTYPES:
        raise ValueError(f"'{name}' must hold integers (torch.long), got dtype {t.dtype}")


def segments_from(
    num_rows: int,
    index: Tensor | None = None,
    ptr: Tensor | None = None,
    dim_size: int | None = None,
    *,
    device: torch.device | None = None,
    index_name: str = "index",
) -> Segments:
    """Build validated :class:`Segments` for ``num_rows`` rows.

    Args:
        num_rows: N, the number of rows of ``x`` along the pooled dimension.
        index: ``[N]`` graph of each row (PyG's ``batch``), any order; may also be a PyG
            ``Batch``, whose ``batch``, ``ptr`` and ``num_graphs`` are used.
        ptr: ``[B + 1]`` CSR offsets of grouped rows.
        dim_size: B. Pass it whenever the data knows the graph count: without it, B is
            ``index.max() + 1`` and trailing empty graphs cannot be seen.
        device: device of the rows (for the one-graph case).
        index_name: the caller's name for ``index`` (``"batch"`` in global pooling), used
            in error messages.

    Raises:
        ValueError: naming the argument and what was wrong with it.

    The groups are checked once and shared by every kernel called with them:

    >>> import torch
    >>> from graphpool.ops import segment_max, segment_mean, segment_sum, segments_from
    >>> x = torch.tensor([[1.0], [1.0], [3.0], [3.0], [8.0]])
    >>> seg = segments_from(5, torch.tensor([0, 0, 0, 0, 1]), dim_size=3)  # a third graph without rows
    >>> seg.counts.tolist(), seg.ptr.tolist()
    ([4, 1, 0], [0, 4, 5, 5])
    >>> segment_sum(x, seg).tolist(), segment_mean(x, seg).tolist(), segment_max(x, seg).tolist()
    ([[8.0], [8.0], [0.0]], [[2.0], [8.0], [0.0]], [[3.0], [8.0], [0.0]])
    """
    from_batch = None if index is None or isinstance(index, Tensor) else _graph_index_of(index)
    if from_batch is not None:
        index, batch_ptr, num_graphs = from_batch
        if ptr is None:
            ptr = batch_ptr
        if dim_size is None:
            dim_size = num_graphs
    check = validation_enabled()
    dim_size = _checked_dim_size(dim_size)
    if index is not None:
        index = _checked_index(index, num_rows, device, index_name)
    if ptr is not None:
        ptr, dim_size = _checked_ptr(ptr, dim_size, num_rows, device, check)
    if index is None and ptr is None:
        if dim_size not in (None, 1):
            raise ValueError(
                f"'dim_size' is {dim_size} but neither '{index_name}' nor 'ptr' was given, so all rows form "
                f"one graph; pass '{index_name}' to pool several graphs"
            )
        dev = device if device is not None else torch.device("cpu")
        return Segments(num_rows, 1, ptr=torch.tensor([0, num_rows], device=dev))
    if index is None:
        assert ptr is not None
        return Segments(num_rows, ptr.numel() - 1, ptr=ptr)
    return _index_segments(num_rows, index, ptr, dim_size, check, index_name)


def _checked_dim_size(dim_size: Any) -> int | None:
    """``dim_size`` as an int (a 0-d tensor or numpy integer accepted), or ``None``."""
    if dim_size is None:
        return None
    if isinstance(dim_size, (Tensor, numbers.Integral)) and not isinstance(dim_size, bool):
        dim_size = int(dim_size)
    if not isinstance(dim_size, int) or isinstance(dim_size, bool) or dim_size < 0:
        raise ValueError(f"'num_graphs'/'dim_size' (the number of graphs) must be a non-negative int, got {dim_size!r}")
    return dim_size


def _checked_index(index: Tensor, num_rows: int, device: torch.device | None, index_name: str) -> Tensor:
    """``index`` as int64 after checking its dtype, device and length (one graph id per row)."""
    _check_integer_vector(index_name, index)
    if device is not None and index.device != device:
        raise ValueError(f"'{index_name}' is on {index.device} but x is on {device}; move them to one device")
    if index.numel() != num_rows:
        raise ValueError(
            f"'{index_name}' has {index.numel()} entries but x has {num_rows} rows along the pooled "
            f"dimension; they must be equal (one graph id per node)"
        )
    return index if index.dtype == torch.long else index.long()


def _checked_ptr(
    ptr: Tensor, dim_size: int | None, num_rows: int, device: torch.device | None, check: bool
) -> tuple[Tensor, int]:
    """``ptr`` as int64 and the graph count it describes, after checking both (its values when ``check``)."""
    _check_integer_vector("ptr", ptr)
    if device is not None and ptr.device != device:
        raise ValueError(f"'ptr' is on {ptr.device} but x is on {device}; move them to one device")
    if ptr.numel() < 1:
        raise ValueError("'ptr' must have at least one entry (ptr[0] = 0)")
    ptr = ptr.long()
    if dim_size is None:
        dim_size = ptr.numel() - 1
    elif dim_size != ptr.numel() - 1:
        raise ValueError(
            f"'dim_size' is {dim_size} but 'ptr' describes {ptr.numel() - 1} graphs (len(ptr) - 1); they must agree"
        )
    if check:
        _check_ptr(ptr, num_rows)
    return ptr, dim_size


def _index_segments(
    num_rows: int, index: Tensor, ptr: Tensor | None, dim_size: int | None, check: bool, index_name: str
) -> Segments:
    """The segments of a graph-id vector: its ids checked against ``dim_size`` (one pass over them when they come
    sorted), the graph count read from them when not given, and agreement with ``ptr`` when both are given."""
    known_order = None
    if check and num_rows > 0:
        if ptr is None and dim_size is not None and _one_pass(index):
            offsets = _sorted_offsets(index, dim_size)
            if offsets is not None:  # ids in [0, B) and sorted: checked by the pass that finds their offsets
                return Segments(num_rows, dim_size, index=index, ptr=offsets)
            known_order = False  # the pass failed: on an id out of range (raised below) or on their order
        lo, hi = (int(bound) for bound in torch.aminmax(index))
        if lo < 0:
            raise ValueError(f"'{index_name}' holds a negative graph index ({lo}); graph ids must be >= 0")
        if dim_size is not None and hi >= dim_size:
            raise ValueError(
                f"'{index_name}' holds graph index {hi} but there are only {dim_size} graphs "
                f"('dim_size'/'num_graphs'); ids must be < {dim_size}"
            )
        if dim_size is None:
            dim_size = hi + 1
    if dim_size is None:
        dim_size = int(index.max()) + 1 if num_rows > 0 else 0
    if ptr is not None and check:
        if not _is_sorted(index):
            raise ValueError(f"'ptr' was given, so rows must be grouped by graph, but '{index_name}' is not sorted")
        counts, sizes = torch.bincount(index, minlength=dim_size), torch.diff(ptr)
        if not torch.equal(counts, sizes):
            raise ValueError(
                f"'{index_name}' and 'ptr' disagree: graph sizes from '{index_name}' are "
                f"{_preview(counts)} but from 'ptr' {_preview(sizes)}"
            )
    return Segments(num_rows, dim_size, index=index, ptr=ptr, is_sorted=known_order)


def _check_ptr(ptr: Tensor, num_rows: int) -> None:
    first, last = int(ptr[0]), int(ptr[-1])
    if first != 0:
        raise ValueError(f"'ptr' must start at 0, got ptr[0] = {first}")
    if last != num_rows:
        raise ValueError(f"'ptr' must end at the number of rows N = {num_rows}, got ptr[-1] = {last}")
    steps = torch.diff(ptr)
    if steps.numel() and bool((steps < 0).any()):
        at = int(torch.nonzero(steps < 0)[0])
        raise ValueError(
            f"'ptr' must be non-decreasing, but ptr[{at + 1}] = {int(ptr[at + 1])} < ptr[{at}] = {int(ptr[at])}"
        )


def _preview(t: Tensor, limit: int = 8) -> str:
    values = t[:limit].tolist()
    return str(values)[:-1] + (", ...]" if t.numel() > limit else "]")

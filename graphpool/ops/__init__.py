"""The bottom layer every other part of graphpool builds on: segments and segment kernels.

- :class:`Segments` / :func:`segments_from`: the rows of each group (graph, cluster, node
  neighbourhood), validated once, with counts, offsets and a sorting permutation derived on demand;
- the deterministic segment primitives (:func:`segment_sum`, :func:`segment_mean`,
  :func:`segment_var`, :func:`segment_max`, :func:`segment_min`, :func:`segment_softmax`, :func:`segment_select`,
  :func:`gather_rows`), each with its own backward;
- :func:`validation` / :func:`set_validation`: the switch for checks that read tensor values;
- :func:`device_path` / :func:`set_device_path`: CPU tensors take the torch branches a GPU takes (tests, comparisons);
- :func:`keep_freed_memory`: the process-wide allocator setting that spares large tensors fresh pages;
- :mod:`~graphpool.ops.csr`: the graph as CSR matrices and :math:`AX` as one sparse product (soft pooling, the
  neighbourhood GNN); :mod:`~graphpool.ops.ranges`: numeric ranges of settings, one source for every check.

Nothing here imports any other part of graphpool.
"""

from graphpool.ops.device_path import device_path, device_path_enabled, set_device_path
from graphpool.ops.kernels import (
    gather_rows,
    segment_max,
    segment_mean,
    segment_min,
    segment_select,
    segment_softmax,
    segment_sum,
    segment_var,
)
from graphpool.ops.memory import keep_freed_memory
from graphpool.ops.segments import Segments, segments_from
from graphpool.ops.validation import set_validation, validation, validation_enabled

__all__ = [
    "Segments",
    "device_path",
    "device_path_enabled",
    "gather_rows",
    "keep_freed_memory",
    "segment_max",
    "segment_mean",
    "segment_min",
    "segment_select",
    "segment_softmax",
    "segment_sum",
    "segment_var",
    "segments_from",
    "set_device_path",
    "set_validation",
    "validation",
    "validation_enabled",
]

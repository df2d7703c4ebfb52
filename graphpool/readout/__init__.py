"""Global readouts: permutation-invariant functions from a graph's node set to one vector.

``global_pool`` is the functional entry point; each readout is also a module (a PyG
``Aggregation``), resolvable by name with :func:`resolve`.
"""

from graphpool.readout.attention import AttentionReadout
from graphpool.readout.base import Readout
from graphpool.readout.functional import global_pool
from graphpool.readout.modules import (
    MaxReadout,
    MeanReadout,
    MedianReadout,
    MinReadout,
    PowerMeanReadout,
    QuantileReadout,
    SoftmaxReadout,
    StdReadout,
    SumReadout,
    VarReadout,
    WeightedReadout,
)
from graphpool.readout.multi import MultiReadout
from graphpool.readout.resolver import REGISTRY, canonical_name, resolve
from graphpool.readout.segments import Segments, segments_from

__all__ = [
    "AttentionReadout",
    "MaxReadout",
    "MeanReadout",
    "MedianReadout",
    "MinReadout",
    "MultiReadout",
    "PowerMeanReadout",
    "QuantileReadout",
    "REGISTRY",
    "Readout",
    "Segments",
    "SoftmaxReadout",
    "StdReadout",
    "SumReadout",
    "VarReadout",
    "WeightedReadout",
    "canonical_name",
    "global_pool",
    "resolve",
    "segments_from",
]

"""Global readouts: permutation-invariant functions from a graph's node set to one vector.

Each readout is one class (a PyG ``Aggregation``) holding its maths; defining the class
registers its name. :func:`resolve` turns names into modules, :func:`global_pool` computes
any registered readout as a function. Graph-level layers built on readouts sit beside them:
:class:`GraphSqueezeExcite` and :class:`RegionPool`.
"""

from graphpool.readout.attention import AttentionReadout
from graphpool.readout.base import REGISTRY, Readout, canonical_name, unregister_readout
from graphpool.readout.excite import GraphSqueezeExcite
from graphpool.readout.extremes import MaxReadout, MinReadout
from graphpool.readout.functional import functional_names, global_pool
from graphpool.readout.means import PowerMeanReadout, SoftmaxReadout, WeightedReadout
from graphpool.readout.moments import MeanReadout, StdReadout, SumReadout, VarReadout
from graphpool.readout.multi import MultiReadout
from graphpool.readout.order import MedianReadout, QuantileReadout
from graphpool.readout.region import RegionPool
from graphpool.readout.resolver import readout_class, resolve

__all__ = [
    "REGISTRY",
    "AttentionReadout",
    "GraphSqueezeExcite",
    "MaxReadout",
    "MeanReadout",
    "MedianReadout",
    "MinReadout",
    "MultiReadout",
    "PowerMeanReadout",
    "QuantileReadout",
    "Readout",
    "RegionPool",
    "SoftmaxReadout",
    "StdReadout",
    "SumReadout",
    "VarReadout",
    "WeightedReadout",
    "canonical_name",
    "functional_names",
    "global_pool",
    "readout_class",
    "resolve",
    "unregister_readout",
]

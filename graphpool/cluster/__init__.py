"""Hierarchical cluster pooling: select (node -> cluster), reduce (a readout per cluster),
connect (the coarsened graph), lift (back to the nodes), in levels.

- one :class:`Assignment` for hard and soft selectors; one :class:`Pool` (select + reduce +
  connect) returning one :class:`PoolingOutput`; :func:`pooler` builds one by name (:data:`POOLERS`);
- selectors: :class:`LabelSelect` (given labels), :class:`GraclusSelect` (matching),
  :class:`KMISSelect` (maximal k-independent sets), :class:`KMeansSelect` /
  :class:`BatchKMeansSelect`, :class:`CommunitySelect` (Louvain), :class:`ProductSelect`,
  :class:`SoftSelect` (learnable, with the losses of :mod:`graphpool.cluster.losses`);
- :class:`HierarchicalPool`: levels with message passing between them; :class:`Coarsen`:
  the non-learnable levels computed once per graph as a PyG transform; :class:`TypePool`;
- one registry of poolers (:func:`register_pooler`) and of losses (:func:`register_loss`).

The modules follow the steps: ``select/`` (one module per selector family), ``reduce`` (:math:`S^\top X` and
the per-graph products), ``connect`` (the coarse edges, their weights and features), ``lift``, ``losses``,
``pool`` (one level), ``hierarchical`` (levels), ``resolver`` (poolers by name), ``layers`` (calling any layer
on a coarse graph), ``transform`` (precomputed levels), ``typed`` (one readout per label).
"""

from graphpool.cluster.assignment import Assignment
from graphpool.cluster.connect import coarse_edge_attr, coarsen_edges, normalize_edges, soft_edges
from graphpool.cluster.hierarchical import HierarchicalOutput, HierarchicalPool
from graphpool.cluster.losses import LOSSES, LossInputs, register_loss
from graphpool.cluster.pool import Pool, PoolingOutput
from graphpool.cluster.resolver import (
    HARD_POOLERS,
    POOLERS,
    SOFT_POOLERS,
    UNSUPERVISED_POOLERS,
    PoolerSpec,
    check_loss_weights,
    loss_terms,
    pooler,
    pooler_spec,
    register_pooler,
    takes_clusters,
    unregister_pooler,
)
from graphpool.cluster.select import (
    BatchKMeansSelect,
    CommunitySelect,
    GraclusSelect,
    KMeansSelect,
    KMISSelect,
    LabelSelect,
    PrecomputedSelect,
    ProductSelect,
    Select,
    SoftSelect,
    greedy_matching,
    maximal_independent_set,
)
from graphpool.cluster.transform import Coarsen, CoarsenedData
from graphpool.cluster.typed import TypePool

__all__ = [
    "HARD_POOLERS",
    "LOSSES",
    "POOLERS",
    "SOFT_POOLERS",
    "UNSUPERVISED_POOLERS",
    "Assignment",
    "BatchKMeansSelect",
    "Coarsen",
    "CoarsenedData",
    "CommunitySelect",
    "GraclusSelect",
    "HierarchicalOutput",
    "HierarchicalPool",
    "KMISSelect",
    "KMeansSelect",
    "LabelSelect",
    "LossInputs",
    "Pool",
    "PoolerSpec",
    "PoolingOutput",
    "PrecomputedSelect",
    "ProductSelect",
    "Select",
    "SoftSelect",
    "TypePool",
    "check_loss_weights",
    "coarse_edge_attr",
    "coarsen_edges",
    "greedy_matching",
    "loss_terms",
    "maximal_independent_set",
    "normalize_edges",
    "pooler",
    "pooler_spec",
    "register_loss",
    "register_pooler",
    "soft_edges",
    "takes_clusters",
    "unregister_pooler",
]

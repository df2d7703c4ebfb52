"""Selectors, one module per family: given labels (``labels``), matching and independent sets (``matching``),
k-means (``kmeans``), communities (``communities``), learnable soft assignments (``soft``); ``base`` holds the
:class:`Select` base class."""

from graphpool.cluster.select.base import Select, assignment_from_local, check_keywords, split_by_graph
from graphpool.cluster.select.communities import CommunitySelect
from graphpool.cluster.select.kmeans import BatchKMeansSelect, KMeansSelect
from graphpool.cluster.select.labels import LabelSelect, PrecomputedSelect, ProductSelect
from graphpool.cluster.select.matching import (
    GraclusSelect,
    KMISSelect,
    greedy_matching,
    local_index,
    maximal_independent_set,
)
from graphpool.cluster.select.soft import SoftSelect

__all__ = [
    "BatchKMeansSelect",
    "CommunitySelect",
    "GraclusSelect",
    "KMISSelect",
    "KMeansSelect",
    "LabelSelect",
    "PrecomputedSelect",
    "ProductSelect",
    "Select",
    "SoftSelect",
    "assignment_from_local",
    "check_keywords",
    "greedy_matching",
    "local_index",
    "maximal_independent_set",
    "split_by_graph",
]

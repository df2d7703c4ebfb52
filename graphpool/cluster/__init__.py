"""Hierarchical cluster pooling: select (node -> cluster), reduce (a readout per cluster),
connect (the coarsened graph), repeated in tiers.
"""

from graphpool.cluster.assignment import Assignment
from graphpool.cluster.connect import coarsen_edges
from graphpool.cluster.hierarchical import HierarchicalOutput, HierarchicalPool, Level
from graphpool.cluster.learnable import DiffPoolSelect, DMoNSelect, MinCutSelect, SoftSelection
from graphpool.cluster.select import (
    BatchKMeansSelect,
    CommunitySelect,
    LabelSelect,
    GraclusSelect,
    KMeansSelect,
    ProductSelect,
    Select,
    greedy_matching,
)
from graphpool.cluster.soft import SoftAssignment
from graphpool.cluster.typed import TypePool

__all__ = [
    "BatchKMeansSelect",
    "Assignment",
    "CommunitySelect",
    "LabelSelect",
    "GraclusSelect",
    "HierarchicalOutput",
    "HierarchicalPool",
    "KMeansSelect",
    "Level",
    "ProductSelect",
    "Select",
    "coarsen_edges",
    "greedy_matching",
    "DiffPoolSelect",
    "DMoNSelect",
    "MinCutSelect",
    "SoftAssignment",
    "SoftSelection",
    "TypePool",
]

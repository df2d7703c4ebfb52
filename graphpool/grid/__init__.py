"""Images as grid graphs: conversion, global and axis-selective pooling, CAM, Squeeze-and-Excitation,
region pooling, anti-aliased strided pooling and resolution consistency."""

from graphpool.grid.blur import BlurPool, binomial_filter
from graphpool.grid.cam import class_activation_map, node_class_scores
from graphpool.grid.convert import graph_to_image, grid_edges, grid_positions, image_to_graph, scaled_grid_positions
from graphpool.grid.excite import GraphSqueezeExcite, SqueezeExcite
from graphpool.grid.pool import GlobalPool, pool_grid
from graphpool.grid.region import RegionPool
from graphpool.grid.resolution import average_pooled_features, sum_head_to_mean_head

__all__ = [
    "BlurPool",
    "GlobalPool",
    "RegionPool",
    "average_pooled_features",
    "binomial_filter",
    "sum_head_to_mean_head",
    "GraphSqueezeExcite",
    "SqueezeExcite",
    "class_activation_map",
    "graph_to_image",
    "grid_edges",
    "grid_positions",
    "image_to_graph",
    "node_class_scores",
    "pool_grid",
    "scaled_grid_positions",
]

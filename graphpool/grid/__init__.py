"""Images as grid graphs: conversion, global and axis-selective pooling, CAM, Squeeze-and-Excitation."""

from graphpool.grid.cam import class_activation_map, node_class_scores
from graphpool.grid.convert import graph_to_image, grid_edges, grid_positions, image_to_graph
from graphpool.grid.excite import GraphSqueezeExcite, SqueezeExcite
from graphpool.grid.pool import GlobalPool, pool_grid

__all__ = [
    "GlobalPool",
    "GraphSqueezeExcite",
    "SqueezeExcite",
    "class_activation_map",
    "graph_to_image",
    "grid_edges",
    "grid_positions",
    "image_to_graph",
    "node_class_scores",
    "pool_grid",
]

"""Images as grid graphs: a ``[B, C, *S]`` feature map is a batch of B grid graphs.

grid/ converts images to and from graphs and runs graphpool's graph operations on them:
global and axis-selective pooling (:func:`pool_grid`, :class:`GlobalPool`), Class Activation
Maps, Squeeze-and-Excitation, region pooling, anti-aliased strided pooling and the
sum-to-mean head conversion for other resolutions.
"""

from graphpool.grid.blur import BlurPool, binomial_filter
from graphpool.grid.cam import class_activation_map
from graphpool.grid.convert import graph_to_image, grid_edges, grid_positions, image_to_graph, scaled_grid_positions
from graphpool.grid.excite import SqueezeExcite
from graphpool.grid.pool import GlobalPool, pool_grid
from graphpool.grid.region import pool_image_regions
from graphpool.grid.resolution import sum_head_to_mean_head

__all__ = [
    "BlurPool",
    "GlobalPool",
    "SqueezeExcite",
    "binomial_filter",
    "class_activation_map",
    "graph_to_image",
    "grid_edges",
    "grid_positions",
    "image_to_graph",
    "pool_grid",
    "pool_image_regions",
    "scaled_grid_positions",
    "sum_head_to_mean_head",
]

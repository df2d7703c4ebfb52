r"""Images as grid graphs: a feature map ``[B, C, *S]`` is a batch of B grid graphs.

Each of the :math:`\prod S` positions is a node with C features, ``pos`` holds its integer
coordinates, and edges join neighbouring positions: along each axis (4 neighbours in 2D, 6 in
3D, 2 in 1D), or also diagonally (8 in 2D, 26 in 3D).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from graphpool.ops.ranges import is_whole
from graphpool.ops.validation import check_tensor


def grid_positions(shape: tuple[int, ...], device: torch.device | str | None = None) -> Tensor:
    """``[prod(shape), len(shape)]`` integer coordinates of a grid, in row-major (C) order."""
    check_shape(shape)
    axes = [torch.arange(n, device=device) for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(shape))


def scaled_grid_positions(
    shape: tuple[int, ...], device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Grid coordinates scaled to [0, 1] per axis (``[prod(shape), len(shape)]``), the same for any size."""
    check_shape(shape)
    if not dtype.is_floating_point:
        raise TypeError(f"'dtype' must be a floating-point dtype (positions in [0, 1]), got {dtype}")
    scale = torch.tensor([max(n - 1, 1) for n in shape], device=device, dtype=dtype)
    return grid_positions(shape, device).to(dtype) / scale


def check_feature_map(x: Tensor, name: str = "x") -> None:
    """``x`` a ``[B, C, *spatial]`` tensor with at least one spatial axis; each error names ``name``."""
    check_tensor(name, x)
    if x.dim() < 3:
        raise ValueError(f"'{name}' must be [B, C, *spatial] with at least one spatial axis, got {tuple(x.shape)}")


def check_shape(shape: tuple[int, ...]) -> None:
    """A spatial shape: a non-empty tuple of positive whole sizes."""
    if not isinstance(shape, Sequence):
        raise TypeError(f"'shape' must be a tuple of spatial sizes, got {type(shape).__name__}")
    if len(shape) == 0 or any(not is_whole(n) or n < 1 for n in shape):
        raise ValueError(f"'shape' must be a non-empty tuple of positive whole sizes, got {shape}")


def grid_edges(shape: tuple[int, ...], diagonal: bool = False, device: torch.device | str | None = None) -> Tensor:
    """``[2, E]`` directed edges between neighbouring positions of a grid (both directions).

    Args:
        shape: the spatial shape, e.g. ``(H, W)``.
        diagonal: also join positions that differ by one step along several axes (8-neighbour
            in 2D, 26 in 3D); otherwise only along one axis (4-neighbour in 2D, 6 in 3D).

    >>> from graphpool.grid import grid_edges
    >>> grid_edges((1, 3)).tolist()  # a row of three: 0 - 1 - 2
    [[1, 2, 0, 1], [0, 1, 1, 2]]
    >>> grid_edges((2, 2), diagonal=True).size(1)  # every pair of the four positions, both ways
    12
    """
    check_shape(shape)
    index = torch.arange(math.prod(shape), device=device).reshape(shape)
    steps = [s for s in itertools.product((-1, 0, 1), repeat=len(shape)) if any(s)]
    if not diagonal:
        steps = [s for s in steps if sum(map(abs, s)) == 1]
    sources, targets = [], []
    for step in steps:
        src = index[tuple(slice(max(0, -d), n - max(0, d)) for d, n in zip(step, shape, strict=True))]
        dst = index[tuple(slice(max(0, d), n - max(0, -d)) for d, n in zip(step, shape, strict=True))]
        sources.append(src.reshape(-1))
        targets.append(dst.reshape(-1))
    return torch.stack([torch.cat(sources), torch.cat(targets)])


def image_to_graph(images: Tensor, diagonal: bool = False) -> Batch:
    """``[B, C, *S]`` -> a PyG ``Batch`` of B grid graphs (``x [B*prod(S), C]``, ``pos``, edges).

    Node ``b * prod(S) + j`` is position ``j`` (row-major) of image ``b``.

    >>> import torch
    >>> from graphpool.grid import graph_to_image, image_to_graph
    >>> images = torch.arange(8.0).reshape(1, 2, 2, 2)  # [B, C, H, W]
    >>> graphs = image_to_graph(images)
    >>> graphs.x.tolist()  # one node per pixel, its channels as features
    [[0.0, 4.0], [1.0, 5.0], [2.0, 6.0], [3.0, 7.0]]
    >>> torch.equal(graph_to_image(graphs.x, (2, 2)), images)
    True
    """
    check_feature_map(images, "images")
    if images.size(0) == 0:
        raise ValueError("'images' holds no image (B = 0): a PyG Batch has at least one graph")
    if 0 in images.shape[2:]:
        raise ValueError(f"'images' must have positive spatial sizes, got shape {tuple(images.shape)}")
    shape = tuple(images.shape[2:])
    pos = grid_positions(shape, images.device)
    edges = grid_edges(shape, diagonal, images.device)
    nodes = images.flatten(2).transpose(1, 2)  # [B, prod(S), C]
    graphs = [Data(x=nodes[b], edge_index=edges, pos=pos) for b in range(images.size(0))]
    return Batch.from_data_list(graphs)


def graph_to_image(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Inverse of :func:`image_to_graph` for node values: ``[B*prod(S), C]`` -> ``[B, C, *S]``."""
    check_tensor("x", x)
    check_shape(shape)
    size = math.prod(shape)
    if x.dim() != 2 or x.size(0) % size:
        raise ValueError(f"x must be [B * {size}, C] for spatial shape {shape}, got {tuple(x.shape)}")
    return x.reshape(-1, size, x.size(1)).transpose(1, 2).reshape(-1, x.size(1), *shape)

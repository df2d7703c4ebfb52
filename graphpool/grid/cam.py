r"""Class Activation Maps of images (Zhou et al., CVPR 2016): the graph CAM on grid graphs.

For a model whose head is a linear readout (mean or sum) followed by a linear layer
:math:`z_k = \sum_c w_{kc}\, \rho(F_c) + b_k`, the map of class k is

.. math::
    M_k = \sum_c w_{kc} F_c ,

one score per pixel: :func:`graphpool.explain.node_class_scores` of the image's grid graph.
Because the readout and the layer are both linear they commute: :math:`\rho(M_k) + b_k = z_k`
exactly, so the map splits the logit over the positions that produced it.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from graphpool.explain import check_head, node_class_scores
from graphpool.grid.convert import check_feature_map, graph_to_image

_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def class_activation_map(features: Tensor, weight: Tensor, size: int | tuple[int, ...] | None = None) -> Tensor:
    """Per-class maps ``[B, K, *S]`` of image features ``[B, C, *S]`` under a head ``weight [K, C]``.

    Args:
        size: upsample the maps to this spatial size (the input image's; an int for every axis), with (bi/tri)linear
            interpolation; ``None`` keeps the feature map's resolution (where the identity
            ``mean(M_k) + b_k = z_k`` holds exactly).

    >>> import torch
    >>> from graphpool.grid import class_activation_map
    >>> features = torch.arange(8.0).reshape(1, 2, 2, 2)  # [B, C, H, W]
    >>> weight = torch.tensor([[1.0, -1.0]])  # the head [K, C]: class 0 = channel 0 minus channel 1
    >>> maps = class_activation_map(features, weight)  # [B, K, H, W]
    >>> maps.tolist(), maps.mean().item()  # the mean of the map is the logit (less the bias)
    ([[[[-4.0, -4.0], [-4.0, -4.0]]]], -4.0)
    """
    check_feature_map(features, "features")
    check_head(features.size(1), weight)
    spatial = tuple(features.shape[2:])
    nodes = features.flatten(2).transpose(1, 2).reshape(-1, features.size(1))  # the grid graphs' nodes
    maps = graph_to_image(node_class_scores(nodes, weight), spatial)
    if size is None:
        return maps
    if isinstance(size, int):  # every spatial axis, as in F.interpolate
        size = (size,) * len(spatial)
    if len(size) != len(spatial):
        raise ValueError(f"'size' must have {len(spatial)} entries (the spatial axes), got {size}")
    if min(size) < 1:
        raise ValueError(f"'size' must hold sizes >= 1, got {tuple(size)}")
    return F.interpolate(maps, size=tuple(size), mode=_MODES[len(spatial)], align_corners=False)

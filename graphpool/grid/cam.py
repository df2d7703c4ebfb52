r"""Class Activation Maps (Zhou et al., CVPR 2016) for images and for graphs.

For a model whose head is a linear readout (mean or sum) followed by a linear layer
:math:`z_k = \sum_c w_{kc}\, \rho(F_c) + b_k`, the map of class k is

.. math::
    M_k = \sum_c w_{kc} F_c ,

one score per pixel (images) or per node (graphs). Because the readout and the layer are both
linear they commute: :math:`\rho(M_k) + b_k = z_k` exactly, so the map splits the logit over
the positions or nodes that produced it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _check_head(channels: int, weight: Tensor) -> None:
    if weight.dim() != 2 or weight.size(1) != channels:
        raise ValueError(f"'weight' must be the head's [K, C] matrix with C = {channels}, got {tuple(weight.shape)}")


def class_activation_map(features: Tensor, weight: Tensor, size: tuple[int, ...] | None = None) -> Tensor:
    """Per-class maps ``[B, K, *S]`` of image features ``[B, C, *S]`` under a head ``weight [K, C]``.

    Args:
        size: upsample the maps to this spatial size (the input image's), with (bi/tri)linear
            interpolation; ``None`` keeps the feature map's resolution (where the identity
            ``mean(M_k) + b_k = z_k`` holds exactly).
    """
    if features.dim() < 3:
        raise ValueError(f"features must be [B, C, *spatial], got {tuple(features.shape)}")
    _check_head(features.size(1), weight)
    maps = torch.einsum("kc,bc...->bk...", weight.to(features.dtype), features)
    if size is None:
        return maps
    spatial = features.dim() - 2
    if len(size) != spatial:
        raise ValueError(f"'size' must have {spatial} entries (the spatial axes), got {size}")
    return F.interpolate(maps, size=tuple(size), mode=_MODES[spatial], align_corners=False)


def node_class_scores(x: Tensor, weight: Tensor) -> Tensor:
    """Graph CAM: the score of every node for every class, ``[N, C]`` -> ``[N, K]`` (:math:`x W^\\top`).

    With a mean (sum) readout and head ``(weight, bias)``, the per-graph mean (sum) of these
    scores plus the bias equals the graph's logits.
    """
    if x.dim() != 2:
        raise ValueError(f"x must be [N, C], got {tuple(x.shape)}")
    _check_head(x.size(1), weight)
    return x @ weight.to(x.dtype).t()

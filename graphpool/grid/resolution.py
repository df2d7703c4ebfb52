r"""Resolution consistency of pooled image features.

Sum pooling grows with the number of positions; mean pooling does not. A linear head trained
on sum-pooled features at :math:`n` positions, :math:`z = W \sum_s F_s + b = (nW)\,\mathrm{mean}_s F_s + b`,
is therefore the head :math:`nW` on mean-pooled features, which then serves any resolution.
"""

from __future__ import annotations

import torch
from torch import nn

from graphpool.ops.ranges import Range


def sum_head_to_mean_head(head: nn.Linear, num_positions: int) -> nn.Linear:
    """A copy of ``head`` (trained on sum-pooled features over ``num_positions``) for mean-pooled features."""
    if not isinstance(head, nn.Linear):
        raise TypeError(f"'head' must be a torch.nn.Linear, got {type(head).__name__}")
    Range(1, whole=True).check("num_positions", num_positions)
    rescaled = nn.Linear(head.in_features, head.out_features, bias=head.bias is not None)
    with torch.no_grad():
        rescaled.weight.copy_(head.weight * num_positions)
        if head.bias is not None:
            rescaled.bias.copy_(head.bias)
    return rescaled.to(head.weight.device, head.weight.dtype)

r"""Which cells drive a tissue's prediction: Class Activation Maps for cell graphs.

For a classifier ``head(pool(h))`` with node embeddings :math:`h_i`, the score of cell i for
class k is its gradient-times-embedding share of the logit

.. math::
    s_{ik} = \sum_c h_{ic} \, \frac{\partial z_k}{\partial h_{ic}} .

With a linear head this is the Class Activation Map, and it is *exact*
(:math:`\sum_{i \in b} s_{ik} = z_{bk} - b_k`) whenever the pooling is positively homogeneous
of degree 1 (Euler's theorem): sum, mean, max, min, median, quantiles, std, power means, and
the cell-type pool over any of them. For mean it is :math:`w_k^\top h_i / n`, the graph CAM of
:func:`graphpool.grid.node_class_scores`; for max each channel credits the cell that attains
it. Other readouts (softmax, attention, var) or an MLP head give an approximation, and
:func:`cell_scores` says so (``exact=False``) rather than pretending.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Batch

from graphpool.models import GraphClassifier
from graphpool.readout.kernels import segment_sum
from graphpool.readout.segments import segments_from


@dataclass(frozen=True)
class CellScores:
    """Per-cell class scores ``[N, K]``, the logits ``[B, K]``, and whether the scores add up exactly."""

    scores: Tensor
    logits: Tensor
    exact: bool


def cell_scores(model: GraphClassifier, data: Batch, tolerance: float = 1e-4) -> CellScores:
    """The score of every cell of ``data`` for every class (see the module docs); ``model`` is set to eval."""
    model.eval()
    with torch.enable_grad():
        h = model.embed(data).detach().requires_grad_(True)
        logits = model.classify(h, data).logits
        columns = []
        for k in range(logits.size(1)):
            (gradient,) = torch.autograd.grad(logits[:, k].sum(), h, retain_graph=k + 1 < logits.size(1))
            columns.append((gradient * h).sum(-1))
    scores = torch.stack(columns, dim=1).detach()
    logits = logits.detach()
    exact = False
    last = model.head[-1]
    if model.config.head_layers == 1 and isinstance(last, torch.nn.Linear):
        batch = data.batch if getattr(data, "batch", None) is not None else torch.zeros_like(scores[:, 0]).long()
        total = segment_sum(scores, segments_from(scores.size(0), batch, dim_size=logits.size(0)))
        exact = bool(
            torch.allclose(total, logits - last.bias, rtol=tolerance, atol=tolerance * (1 + logits.abs().max()))
        )
    return CellScores(scores, logits, exact)

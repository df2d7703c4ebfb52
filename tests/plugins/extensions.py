"""A pytest plugin that extends graphpool as a user would, in a few lines: one pooler, one readout.

``python -m pytest -p tests.plugins.extensions tests/cluster tests/readout -k "sharpcut or range"`` runs every
generic pooler and readout test on them (the tests are parametrised by the registries); ``tests/test_registries.py``
does so and checks that they were collected and passed.
"""

from torch import Tensor

from graphpool.cluster import SoftSelect, register_pooler
from graphpool.ops import Segments, segment_max, segment_min
from graphpool.readout import Readout

# a sharper MinCut: the same selector at a lower temperature, the MinCut losses with a lighter orthogonality term
register_pooler(
    "sharpcut",
    SoftSelect,
    clusters="num_clusters",
    losses=("mincut",),
    loss_weights={"ortho": 0.5},
    normalize=True,
    temperature=0.5,
    unsupervised=True,
)


class RangeReadout(Readout):
    r"""Range :math:`\max_i x_i - \min_i x_i` per feature: how spread the graph's nodes are."""

    name = "range"
    needs_float = False

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        return segment_max(x, seg) - segment_min(x, seg)

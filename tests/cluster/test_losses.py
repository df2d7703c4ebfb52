"""Open, weighted losses: the asymmetric Cheeger cut against its formula, term weights, and a loss of one's own."""

from __future__ import annotations

import math
import re

import pytest
import torch

from graphpool.cluster import LOSSES, LossInputs, Pool, SoftSelect, pooler, register_loss
from graphpool.cluster.losses import LOSS_TERMS

F, K = 3, 3


def _graphs(sizes=(5, 1, 0, 7), seed: int = 0):
    """Random weighted undirected graphs (an isolated node, an empty graph among them)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(sum(sizes), F, generator=g, dtype=torch.float64)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    edges, offset = [], 0
    for n in sizes:
        upper = torch.triu_indices(n, n, 1)
        keep = torch.rand(upper.size(1), generator=g) < 0.6
        edges.append(upper[:, keep] + offset)
        offset += n
    edge_index = torch.cat(edges, 1)
    weight = torch.rand(edge_index.size(1), generator=g, dtype=torch.float64) + 0.2
    return x, torch.cat([edge_index, edge_index.flip(0)], 1), torch.cat([weight, weight]), batch


def _acc_reference(s: torch.Tensor, edge_index, weight, batch, num_graphs: int) -> tuple[float, float]:
    """Total variation and asymmetric norm, graph by graph, from the TVGNN paper's definitions."""
    s = s.detach()  # a reference of plain numbers
    totvars, norms = [], []
    for b in range(num_graphs):
        nodes = (batch == b).nonzero().flatten()
        if nodes.numel() == 0:
            continue
        local = {int(node): i for i, node in enumerate(nodes)}
        sb = s[nodes]
        mine = [e for e in range(edge_index.size(1)) if int(edge_index[0, e]) in local]
        tv = sum(float(weight[e]) * float((s[edge_index[0, e]] - s[edge_index[1, e]]).abs().sum()) for e in mine)
        totvars.append(tv / (2 * max(len(mine), 1)))
        n, k = sb.size(0), sb.size(1)
        rank = min(n // k, n - 1)
        total = 0.0
        for c in range(k):
            quantile = float(sb[:, c].sort(descending=True).values[rank])
            for value in sb[:, c].tolist():
                gap = value - quantile
                total += (k - 1) * gap if gap >= 0 else -gap
        norms.append(1 - total / (n * (k - 1)))
    return sum(totvars) / len(totvars), sum(norms) / len(norms)


def test_the_asymmetric_cheeger_cut_losses_follow_their_definition() -> None:
    x, edge_index, weight, batch = _graphs()
    torch.manual_seed(0)
    out = pooler("acc", in_channels=F, clusters=K).double()(x, edge_index, weight, batch, num_graphs=4)
    totvar, asym_norm = _acc_reference(out.assignment.s, edge_index, weight, batch, 4)
    assert set(out.aux_loss) == {"totvar", "asym_norm"}
    assert math.isclose(out.aux_loss["totvar"].item(), totvar, rel_tol=1e-12)
    assert math.isclose(out.aux_loss["asym_norm"].item(), asym_norm, rel_tol=1e-12)
    assert 0 <= asym_norm <= 1 and 0 <= totvar <= 1


def test_a_hard_balanced_assignment_has_no_asymmetric_norm_loss() -> None:
    """K equal clusters with one-hot rows: each column's quantile is 0 and its ones weigh K-1, so the loss is 0."""
    n = 2 * K
    assign = torch.nn.Linear(F, K, bias=False).double()
    with torch.no_grad():
        assign.weight.copy_(torch.eye(K, F, dtype=torch.float64))  # score of cluster k = feature k
    pool = Pool(SoftSelect(F, K, assign=assign, temperature=1e-3), losses=("acc",))
    x = torch.eye(K, F, dtype=torch.float64).repeat_interleave(n // K, 0)  # two nodes per cluster
    out = pool(x, torch.tensor([[0, 1], [1, 0]]))  # one edge, inside cluster 0
    assert out.aux_loss["asym_norm"].item() == pytest.approx(0.0, abs=1e-9)
    assert out.aux_loss["totvar"].item() == pytest.approx(0.0, abs=1e-9)


def test_loss_weights_scale_their_terms_and_the_rest_weigh_one() -> None:
    x, edge_index, weight, batch = _graphs(seed=1)
    torch.manual_seed(0)
    plain = pooler("mincut", in_channels=F, clusters=K).double()
    weighted = pooler("mincut", in_channels=F, clusters=K, loss_weights={"ortho": 0.25}).double()
    weighted.load_state_dict(plain.state_dict())
    a, b = plain(x, edge_index, weight, batch), weighted(x, edge_index, weight, batch)
    torch.testing.assert_close(b.aux_loss["ortho"], 0.25 * a.aux_loss["ortho"])
    torch.testing.assert_close(b.aux_loss["mincut"], a.aux_loss["mincut"])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (
            {"loss_weights": {"balance": 1.0}},
            r"'loss_weights' names 'balance', which no loss of this pool returns; its terms: \['mincut', 'ortho'\]",
        ),
        ({"loss_weights": {"ortho": -1.0}}, "the weight of 'ortho' must be a finite number >= 0, got -1.0"),
        ({"loss_weights": {"ortho": float("nan")}}, "the weight of 'ortho' must be a finite number >= 0, got nan"),
        ({"loss_weights": {"ortho": 1.0}, "losses": ()}, "'loss_weights' weigh the terms of 'losses'; this pool has"),
    ],
)
def test_bad_loss_weights_are_named(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        pooler("mincut", in_channels=F, clusters=K, **options)


# ModelConfig(loss_weights={"mincut": nan}) (and a str, or a negative weight) was accepted: the settings were
# checked by name only, the value when the model was built, after a run had started
@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf"), "1", True])
def test_configs_check_the_loss_weights_values_when_made(weight) -> None:
    from graphpool.cells.neighbourhood.learned import LearnedOptions
    from graphpool.models import ModelConfig

    match = f"the weight of 'mincut' must be a finite number >= 0, got {weight!r}"
    with pytest.raises(ValueError, match=re.escape(match)):
        ModelConfig(in_channels=3, num_classes=2, pool="mincut", loss_weights={"mincut": weight})
    with pytest.raises(ValueError, match=re.escape(match)):
        LearnedOptions(loss="mincut", loss_weights={"mincut": weight})


def test_a_new_loss_is_one_function_and_reads_the_edges() -> None:
    """A Laplacian smoothness loss, sum_e w_e ||s_i - s_j||^2 / sum_e w_e, written against LossInputs only."""

    def smooth(inputs: LossInputs) -> dict[str, torch.Tensor]:
        src, dst = inputs.edge_index
        gaps = (inputs.s[src] - inputs.s[dst]).square().sum(-1)
        return {"smooth": (inputs.edge_weight * gaps).sum() / inputs.edge_weight.sum()}

    register_loss("smooth", smooth, ("smooth",))
    try:
        x, edge_index, weight, batch = _graphs(seed=2)
        pool = Pool(SoftSelect(F, K).double(), losses=("smooth", "justbalance"), loss_weights={"smooth": 2.0})
        out = pool(x, edge_index, weight, batch)
        s = out.assignment.s
        expected = (weight * (s[edge_index[0]] - s[edge_index[1]]).square().sum(-1)).sum() / weight.sum()
        torch.testing.assert_close(out.aux_loss["smooth"], 2 * expected)
        assert set(out.aux_loss) == {"smooth", "balance"}
        with pytest.raises(ValueError, match="loss name 'smooth' is taken by smooth"):
            register_loss("smooth", lambda inputs: {}, ())
    finally:
        del LOSSES["smooth"], LOSS_TERMS["smooth"]


def test_every_registered_loss_returns_the_terms_it_declares() -> None:
    x, edge_index, weight, batch = _graphs(seed=3)
    for name, terms in LOSS_TERMS.items():
        out = Pool(SoftSelect(F, K).double(), losses=(name,))(x, edge_index, weight, batch)
        assert tuple(out.aux_loss) == terms, name


def test_the_cut_balance_loss_is_mincuts_cut_and_justbalances_balance() -> None:
    x, edge_index, weight, batch = _graphs(seed=5)
    torch.manual_seed(0)
    select = SoftSelect(F, K).double()
    out = Pool(select, losses=("cutbalance",), normalize=True)(x, edge_index, weight, batch, num_graphs=4)
    parts = Pool(select, losses=("mincut", "justbalance"), normalize=True)(x, edge_index, weight, batch, num_graphs=4)
    assert tuple(out.aux_loss) == ("mincut", "balance")
    assert torch.equal(out.aux_loss["mincut"], parts.aux_loss["mincut"])
    assert torch.equal(out.aux_loss["balance"], parts.aux_loss["balance"])
    torch.manual_seed(0)
    registered = pooler("cutbalance", in_channels=F, clusters=K).double()(x, edge_index, weight, batch, num_graphs=4)
    assert set(registered.aux_loss) == {"mincut", "balance"}


def test_the_balance_term_leaves_unequal_sizes_nearly_free_where_orthogonality_does_not() -> None:
    """Hard clusters of the spleens' compartment shares: the balance term is 1.0 % above its best (-1, K equal
    clusters), MinCut's orthogonality 0.28 above its best (0)."""
    sizes = torch.tensor([18, 19, 27, 36])  # % of the cells: B-zone, marginal zone, PALS, red pulp
    assign = torch.nn.Linear(4, 4, bias=False).double()
    with torch.no_grad():
        assign.weight.copy_(torch.eye(4, dtype=torch.float64))
    pool = Pool(SoftSelect(4, 4, assign=assign, temperature=1e-3), losses=("mincut", "justbalance"))
    x = torch.eye(4, dtype=torch.float64).repeat_interleave(sizes, 0)  # node features = their cluster
    out = pool(x, torch.tensor([[0, 1], [1, 0]]))
    assert out.aux_loss["balance"].item() == pytest.approx(-0.990, abs=1e-3)
    assert out.aux_loss["ortho"].item() == pytest.approx(0.281, abs=1e-3)

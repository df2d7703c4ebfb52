"""AttentionReadout: temperature limits, positional bias, heads."""

import itertools

import pytest
import torch
from reference import random_batch

from graphpool.ops import segments_from
from graphpool.readout import AttentionReadout, global_pool


def test_low_temperature_selects_the_top_node() -> None:
    torch.manual_seed(0)
    x, batch = random_batch([5, 1, 8], 4, seed=30, dtype=torch.float64)
    readout = AttentionReadout(4, temperature=1e-4).double()
    logits = readout.logits(x).squeeze(-1)
    expected = torch.stack([x[batch == b][logits[batch == b].argmax()] for b in range(3)])
    torch.testing.assert_close(readout(x, batch), expected)


def test_temperature_moves_from_top_node_to_mean() -> None:
    torch.manual_seed(1)
    x, batch = random_batch([6, 9], 3, seed=31, dtype=torch.float64)
    gate = torch.nn.Linear(3, 1).double()
    mean = global_pool(x, batch, reduce="mean")
    distances = [
        (AttentionReadout(3, gate=gate, temperature=t)(x, batch) - mean).abs().max().item()
        for t in (0.01, 0.1, 1.0, 10.0, 1e4)
    ]
    assert all(a >= b for a, b in itertools.pairwise(distances)), distances
    assert distances[-1] < 1e-3


def test_weights_are_a_distribution_per_graph() -> None:
    torch.manual_seed(2)
    x, batch = random_batch([4, 0, 7], 3, seed=32, dtype=torch.float32)
    readout = AttentionReadout(3, heads=2)
    seg = segments_from(x.size(0), batch, dim_size=3)
    alpha = readout.weights(x, seg)
    assert alpha.shape == (x.size(0), 2) and (alpha >= 0).all()
    sums = global_pool(alpha, batch, num_graphs=3, reduce="sum")
    torch.testing.assert_close(sums, torch.tensor([[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]))


def test_positional_bias_can_pick_a_region() -> None:
    # Content is uninformative (gate weights 0); a positional bias that favours x > 0.5
    # makes the readout the mean of the right half of each graph as T -> 0.
    gate = torch.nn.Linear(2, 1)
    torch.nn.init.zeros_(gate.weight)
    torch.nn.init.zeros_(gate.bias)
    readout = AttentionReadout(2, gate=gate, pos_channels=1, temperature=1e-3)
    with torch.no_grad():
        first, _, last = readout.pos_bias
        first.weight.fill_(10.0)
        first.bias.fill_(-5.0)
        last.weight.fill_(1.0)
        last.bias.zero_()
    pos = torch.tensor([[0.1], [0.9], [0.2], [0.95]])
    x = torch.tensor([[1.0, 0.0], [5.0, 2.0], [3.0, 3.0], [7.0, -1.0]])
    batch = torch.tensor([0, 0, 1, 1])
    torch.testing.assert_close(readout(x, batch, pos=pos), torch.tensor([[5.0, 2.0], [7.0, -1.0]]))
    with pytest.raises(ValueError, match="call it with pos="):
        readout(x, batch)


# positions of another width reached the bias MLP's matmul; a float width or head count reached torch.empty
def test_positions_of_another_width_and_float_sizes_are_named() -> None:
    readout = AttentionReadout(2, pos_channels=2)
    x, batch = torch.randn(4, 2), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"'pos' has 3 columns but this AttentionReadout has pos_channels = 2"):
        readout(x, batch, pos=torch.randn(4, 3))
    for settings, name in (({"in_channels": 2.5}, "in_channels"), ({"in_channels": 2, "heads": 2.0}, "heads")):
        with pytest.raises(TypeError, match=rf"'{name}' must be a whole number"):
            AttentionReadout(**settings)
    with pytest.raises(TypeError, match=r"'pos_channels' must be a whole number"):
        AttentionReadout(2, pos_channels=1.5)
    with pytest.raises(TypeError, match=r"'pos_hidden' must be a whole number"):
        AttentionReadout(2, pos_channels=1, pos_hidden=2.5)


@pytest.mark.parametrize("name", ["softmax", "powermean"])
def test_a_float_channel_count_is_named(name: str) -> None:
    from graphpool.readout import resolve

    with pytest.raises(TypeError, match=r"'channels' must be a whole number, got 2.5"):
        resolve(name, channels=2.5, learn=True)


def test_zero_position_channels_mean_no_positional_bias() -> None:
    """pos_channels=0 was "no positional bias" (as None) before the sizes were checked as >= 1; it still is."""
    readout = AttentionReadout(2, pos_channels=0)
    assert readout.pos_bias is None
    with pytest.raises(ValueError, match=r"'pos_channels' must be >= 0, got -1"):
        AttentionReadout(2, pos_channels=-1)


@pytest.mark.parametrize("heads", [1, 3])
def test_the_heads_weighted_sums_are_averaged(heads: int) -> None:
    """out_b = mean_h sum_i alpha_ih h(x_i), checked against the weights the readout reports."""
    torch.manual_seed(4)
    x, batch = random_batch([5, 0, 8, 1], 4, seed=33, dtype=torch.float64)
    readout = AttentionReadout(4, heads=heads).double()
    seg = segments_from(x.size(0), batch, dim_size=4)
    alpha = readout.weights(x, seg)  # [N, heads]
    expected = torch.zeros(4, heads, 4, dtype=torch.float64).index_add(0, batch, alpha.unsqueeze(-1) * x.unsqueeze(1))
    torch.testing.assert_close(readout(x, batch, dim_size=4), expected.mean(1))

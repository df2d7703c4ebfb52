"""Name resolution and the multi-readout."""

import pytest
import torch

from graphpool.readout import (
    REGISTRY,
    MaxReadout,
    MeanReadout,
    MultiReadout,
    QuantileReadout,
    SumReadout,
    WeightedReadout,
    canonical_name,
    global_pool,
    resolve,
)


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ("mean", MeanReadout),
        ("Mean", MeanReadout),
        ("MeanReadout", MeanReadout),
        ("mean_readout", MeanReadout),
        ("avg", MeanReadout),
        ("add", SumReadout),
        ("MaxAggregation", MaxReadout),
        (SumReadout, SumReadout),
    ],
)
def test_names_resolve(spec, cls) -> None:
    assert type(resolve(spec)) is cls


def test_every_registered_name_resolves_to_its_class() -> None:
    for name, cls in REGISTRY.items():
        assert canonical_name(cls.__name__) == name
        if name != "attention":
            assert type(resolve(name)) is cls


def test_instances_pass_through_and_options_apply() -> None:
    readout = MaxReadout()
    assert resolve(readout) is readout
    assert resolve("quantile", q=0.9).q == 0.9
    with pytest.raises(ValueError, match="cannot be applied to an existing"):
        resolve(readout, q=0.5)


def test_lists_become_a_multi_readout() -> None:
    x = torch.randn(7, 3)
    batch = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    multi = resolve("mean, max,quantile")
    assert isinstance(multi, MultiReadout) and len(multi.readouts) == 3
    expected = torch.cat(
        [
            global_pool(x, batch, reduce="mean"),
            global_pool(x, batch, reduce="max"),
            global_pool(x, batch, reduce="quantile"),
        ],
        dim=-1,
    )
    torch.testing.assert_close(multi(x, batch), expected)
    torch.testing.assert_close(resolve(["mean", "max", QuantileReadout()])(x, batch), expected)
    assert multi.get_out_channels(3) == 9


def test_multi_passes_per_node_inputs_to_the_readouts_that_take_them() -> None:
    x = torch.randn(4, 2)
    batch = torch.tensor([0, 0, 1, 1])
    weight = torch.tensor([1.0, 0.0, 1.0, 3.0])
    out = MultiReadout([SumReadout(), WeightedReadout()])(x, batch, weight=weight)
    torch.testing.assert_close(out[:, 2:], global_pool(x, batch, reduce="weighted", weight=weight))
    with pytest.raises(ValueError, match="unexpected inputs"):
        MultiReadout([SumReadout()])(x, batch, weight=weight)


def test_attention_by_name_needs_the_width() -> None:
    from graphpool.readout import AttentionReadout

    assert isinstance(resolve("attention", in_channels=8), AttentionReadout)
    multi = resolve("mean,attention", in_channels=8)
    assert multi.get_out_channels(8) == 16
    assert type(resolve("mean", in_channels=8)) is MeanReadout  # ignored where not needed
    with pytest.raises(ValueError, match="pass in_channels=F"):
        resolve("attention")

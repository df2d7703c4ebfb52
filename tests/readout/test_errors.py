"""Bad input gets a ValueError that names the argument and says what was wrong."""

import pytest
import torch

import graphpool
from graphpool.readout import MeanReadout, QuantileReadout, SoftmaxReadout, global_pool, resolve

X = torch.randn(5, 3)
BATCH = torch.tensor([0, 0, 1, 1, 2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch": torch.tensor([0, 0, 1])}, r"'batch' has 3 entries but x has 5 rows"),
        ({"batch": torch.tensor([0, 0, -1, 1, 1])}, r"'batch' holds a negative graph index \(-1\)"),
        ({"batch": BATCH, "num_graphs": 2}, r"'batch' holds graph index 2 but there are only 2 graphs"),
        # sorted ids out of range: the compiled pass that checks and groups them must hand over to the message
        ({"batch": torch.tensor([-1, 0, 0, 1, 1]), "num_graphs": 2}, r"'batch' holds a negative graph index \(-1\)"),
        ({"batch": BATCH.float()}, r"'batch' must hold integers"),
        ({"batch": BATCH.view(1, -1)}, r"'batch' must be one-dimensional"),
        ({"ptr": torch.tensor([0, 3, 2, 5])}, r"'ptr' must be non-decreasing, but ptr\[2\] = 2 < ptr\[1\] = 3"),
        ({"ptr": torch.tensor([0, 2, 4])}, r"'ptr' must end at the number of rows N = 5, got ptr\[-1\] = 4"),
        ({"ptr": torch.tensor([1, 2, 5])}, r"'ptr' must start at 0"),
        ({"ptr": torch.tensor([0, 2, 5]), "num_graphs": 3}, r"'dim_size' is 3 but 'ptr' describes 2 graphs"),
        ({"batch": BATCH, "ptr": torch.tensor([0, 1, 4, 5])}, r"'batch' and 'ptr' disagree"),
        ({"batch": torch.tensor([1, 0, 0, 1, 2]), "ptr": torch.tensor([0, 2, 4, 5])}, r"'batch' is not sorted"),
        ({"num_graphs": -1}, r"'num_graphs'/'dim_size' \(the number of graphs\) must be a non-negative int"),
        ({"num_graphs": 3}, r"neither 'batch' nor 'ptr' was given"),
        ({"reduce": "medain"}, r"unknown readout 'medain'; valid names: .*median"),
        ({"reduce": "attention"}, r"reduce 'attention' has learnable parameters"),
        # a concatenation holding one said "pass in_channels=F", which global_pool does not take
        ({"reduce": "mean+attention"}, r"reduce 'mean\+attention' has learnable parameters; use graphpool.readout"),
        ({"reduce": "quantile", "q": 1.5}, r"'q' must be a number in \[0, 1\], got 1.5"),
        ({"reduce": "quantile", "method": "cubic"}, r"'method' must be one of"),
        ({"reduce": "mean", "q": 0.5}, r"reduce 'mean' takes options none, got unexpected \['q'\]"),
        ({"reduce": "powermean", "p": 0.0}, r"'p' must be nonzero"),
        ({"reduce": "weighted", "weight": torch.ones(4)}, r"'weight' must have shape \[N\], \[N, 1\] or \[N, F\]"),
        ({"reduce": "weighted", "weight": -torch.ones(5)}, r"'weight' must be non-negative"),
        # a NaN or infinite weight gave its graph a row of zeros, unsaid
        ({"reduce": "weighted", "weight": torch.tensor([float("nan"), 1, 1, 1, 1])}, r"'weight' must be finite"),
        ({"reduce": "weighted", "weight": torch.tensor([float("inf"), 1, 1, 1, 1])}, r"'weight' must be finite"),
    ],
)
def test_global_pool_errors(kwargs: dict, message: str) -> None:
    kwargs = dict(kwargs)
    batch = kwargs.pop("batch", None)
    with pytest.raises(ValueError, match=message):
        global_pool(X, batch, **kwargs)


@pytest.mark.parametrize("reduce", [MeanReadout(), None, 3])
def test_a_reduce_that_is_not_a_name_is_named(reduce) -> None:
    """A module as reduce was "argument of type 'MeanReadout' is not iterable"."""
    with pytest.raises(
        TypeError, match=rf"'reduce' must be a readout name such as 'mean', got {type(reduce).__name__}"
    ):
        global_pool(X, BATCH, reduce=reduce)


@pytest.mark.parametrize("reduce", ["mean", "std", "var", "softmax", "powermean", "quantile"])
def test_integer_features_need_float(reduce: str) -> None:
    with pytest.raises(ValueError, match=rf"reduce '{reduce}' needs floating-point features.*x.float\(\)"):
        global_pool(X.long(), BATCH, reduce=reduce)


def test_wrong_dims() -> None:
    with pytest.raises(ValueError, match=r"x must be \[N, F\] or \[N\], got shape \(2, 3, 4\)"):
        global_pool(torch.randn(2, 3, 4), reduce="sum")
    with pytest.raises(ValueError, match=r"'dim' = 2 is out of range for x of shape \(5, 3\)"):
        MeanReadout()(X, BATCH, dim=2)
    with pytest.raises(TypeError, match=r"'x' must be a torch.Tensor"):
        global_pool([[1.0]], reduce="sum")


def test_module_constructor_errors() -> None:
    with pytest.raises(ValueError, match=r"'q' must be a number in \[0, 1\]"):
        QuantileReadout(q=-0.1)
    with pytest.raises(ValueError, match=r"'temperature' must be a finite nonzero number"):
        SoftmaxReadout(temperature=0.0)
    with pytest.raises(ValueError, match=r"'channels' > 1 only makes sense with a learnable"):
        SoftmaxReadout(channels=4)
    with pytest.raises(ValueError, match=r"unknown readout 'nope'"):
        resolve("nope")
    with pytest.raises(ValueError, match=r"WeightedReadout needs per-node weights"):
        resolve("weighted")(X, BATCH)


@pytest.mark.cuda
def test_batch_on_another_device() -> None:
    with pytest.raises(ValueError, match=r"'batch' is on cuda:0 but x is on cpu"):
        global_pool(X, BATCH.cuda())


def test_graph_count_may_be_any_integer() -> None:
    import numpy as np

    expected = global_pool(X, BATCH, num_graphs=4)
    assert torch.equal(global_pool(X, BATCH, num_graphs=np.int64(4)), expected)
    assert torch.equal(global_pool(X, BATCH, num_graphs=torch.tensor(4)), expected)
    with pytest.raises(ValueError, match="must be a non-negative int"):
        global_pool(X, BATCH, num_graphs=4.0)


def test_validation_can_be_skipped() -> None:
    bad = torch.tensor([0, 0, 1, 1, 7])
    with pytest.raises(ValueError):
        global_pool(X, bad, num_graphs=3)
    with graphpool.validation(False):
        assert not graphpool.validation_enabled()
        # value checks are off; shape checks still run
        with pytest.raises(ValueError, match="'batch' has 3 entries"):
            global_pool(X, torch.tensor([0, 0, 1]))
        out = global_pool(X, BATCH, num_graphs=3)
    assert graphpool.validation_enabled()
    torch.testing.assert_close(out, global_pool(X, BATCH, num_graphs=3))

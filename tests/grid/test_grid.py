"""Images as grid graphs: the dense path, the graph path and torch's pooling agree."""

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from graphpool.explain import node_class_scores
from graphpool.grid import (
    BlurPool,
    GlobalPool,
    SqueezeExcite,
    class_activation_map,
    graph_to_image,
    grid_edges,
    grid_positions,
    image_to_graph,
    pool_grid,
    pool_image_regions,
    scaled_grid_positions,
)
from graphpool.readout import AttentionReadout, GraphSqueezeExcite, RegionPool, global_pool, resolve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "readout"))
from cases import CASES, Case

SHAPES = [(7,), (5, 6), (3, 4, 5)]


def _images(shape, channels=4, batch=3, seed=0, positive=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, *shape, generator=g, dtype=torch.float64)
    return x.abs() + 0.1 if positive else x


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{len(s)}d")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_dense_path_equals_grid_graph_readout(shape, case: Case) -> None:
    x = _images(shape, positive=case.positive)
    readout = resolve(case.reduce, **_module_options(case))
    dense = pool_grid(x, readout)
    graphs = image_to_graph(x)
    through_graph = global_pool(graphs.x, graphs, reduce=case.reduce, **case.options)
    torch.testing.assert_close(dense, through_graph, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(pool_grid(x, readout, dense=False), through_graph, rtol=1e-6, atol=1e-6)


def _module_options(case: Case) -> dict:
    options = dict(case.options)
    if case.reduce == "quantile":
        options.setdefault("q", 0.5)
    return options


# pool_grid(x, "mean") failed inside with "'str' object is not callable"
def test_pool_grid_takes_a_readout_name_as_global_pool_does() -> None:
    x = _images((5, 6))
    torch.testing.assert_close(pool_grid(x, "median"), pool_grid(x, resolve("median")))
    torch.testing.assert_close(pool_grid(x, "mean+max", dims=3), pool_grid(x, resolve("mean+max"), dims=3))
    with pytest.raises(TypeError, match="'readout' must be a Readout or a readout name, got Linear"):
        pool_grid(x, nn.Linear(4, 4))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reduce", "torch_pool"),
    [("mean", nn.AdaptiveAvgPool2d(1)), ("max", nn.AdaptiveMaxPool2d(1))],
)
def test_equals_torch_adaptive_pooling(reduce: str, torch_pool: nn.Module) -> None:
    x = _images((6, 7))
    expected = torch_pool(x).flatten(1)
    torch.testing.assert_close(GlobalPool(reduce)(x), expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(pool_grid(x, resolve(reduce), dense=False), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_circular_shift_changes_no_global_readout(case: Case) -> None:
    x = _images((6, 5), positive=case.positive)
    pool = GlobalPool(case.reduce, **_module_options(case))
    shifted = torch.roll(x, shifts=(2, -3), dims=(2, 3))
    torch.testing.assert_close(pool(shifted), pool(x), rtol=1e-10, atol=1e-10)


def test_checkerboard_is_attenuated_by_average_pooling_far_more_than_by_max() -> None:
    smooth = _images((16, 16), seed=1)
    rows, cols = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    checkerboard = ((rows + cols) % 2 * 2 - 1).to(smooth.dtype)  # +-1, high frequency
    perturbed = smooth + 0.5 * checkerboard
    change = {r: (GlobalPool(r)(perturbed) - GlobalPool(r)(smooth)).abs().mean().item() for r in ("mean", "max")}
    assert change["mean"] < 1e-12  # an even-sized checkerboard averages to exactly zero
    assert change["max"] > 0.1
    assert change["max"] / max(change["mean"], 1e-15) > 1e6


def test_gradient_of_3d_average_pooling_is_uniform() -> None:
    x = _images((3, 4, 5)).requires_grad_(True)
    upstream = torch.randn(3, 4, dtype=torch.float64)
    GlobalPool("mean")(x).backward(upstream)
    expected = upstream[:, :, None, None, None].expand_as(x) / (3 * 4 * 5)
    torch.testing.assert_close(x.grad, expected)


def test_axis_selective_pooling_of_a_spectrogram() -> None:
    spectrogram = _images((8, 10))  # [B, C, F, T]
    over_time = GlobalPool("mean", dims=-1)(spectrogram)  # timbre: invariant to when a note played
    assert over_time.shape == (3, 4, 8)
    torch.testing.assert_close(over_time, spectrogram.mean(-1))
    torch.testing.assert_close(GlobalPool("mean", dims=-1)(torch.roll(spectrogram, 3, dims=-1)), over_time)
    over_frequency = GlobalPool("median", dims=2)(spectrogram)  # rhythm
    torch.testing.assert_close(over_frequency, spectrogram.median(dim=2).values)
    both = GlobalPool("mean+max", dims=(2, 3))(spectrogram)
    assert both.shape == (3, 8)
    with pytest.raises(ValueError, match="'dims' must be distinct spatial axes"):
        GlobalPool("mean", dims=1)(spectrogram)


def test_variable_input_size_and_positional_attention() -> None:
    torch.manual_seed(0)
    pool = GlobalPool(AttentionReadout(4, pos_channels=2, temperature=0.5).double(), positional=True)
    for shape in ((5, 6), (9, 4)):
        x = _images(shape)
        out = pool(x)
        assert out.shape == (3, 4) and torch.isfinite(out).all()


def test_graph_and_image_conversions() -> None:
    x = _images((4, 5))
    graphs = image_to_graph(x)
    assert graphs.num_graphs == 3 and graphs.x.shape == (60, 4) and graphs.pos.shape == (60, 2)
    torch.testing.assert_close(graph_to_image(graphs.x, (4, 5)), x)
    assert grid_edges((4, 5)).size(1) == 2 * (4 * 4 + 5 * 3)
    assert grid_edges((4, 5), diagonal=True).size(1) == 2 * (4 * 4 + 5 * 3 + 2 * 3 * 4)
    assert grid_edges((3, 3, 3)).size(1) == 2 * 3 * (3 * 3 * 2)
    assert grid_edges((6,)).size(1) == 10
    with pytest.raises(ValueError, match="at least one spatial axis"):
        image_to_graph(torch.randn(2, 3))
    # a negative size was torch's "invalid shape dimension -12", a zero one a ZeroDivisionError
    for shape in [(-1, 3, 4), (0, 4), (), (2.5, 4)]:
        with pytest.raises(ValueError, match=r"'shape' must be a non-empty tuple of positive whole sizes"):
            graph_to_image(torch.randn(12, 3), shape)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{len(s)}d")
def test_class_activation_maps_sum_to_the_logits(shape) -> None:
    features = _images(shape)
    head = nn.Linear(4, 3).double()
    logits = head(GlobalPool("mean")(features))
    maps = class_activation_map(features, head.weight)
    assert maps.shape == (3, 3, *shape)
    torch.testing.assert_close(maps.flatten(2).mean(-1) + head.bias, logits)
    if len(shape) >= 1:
        upsampled = class_activation_map(features, head.weight, size=tuple(2 * n for n in shape))
        assert upsampled.shape == (3, 3, *(2 * n for n in shape))


def test_graph_class_activation_scores_sum_to_the_logits() -> None:
    x = torch.randn(9, 4, dtype=torch.float64)
    batch = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    head = nn.Linear(4, 3).double()
    scores = node_class_scores(x, head.weight)
    for reduce in ("mean", "sum"):
        logits = head(global_pool(x, batch, reduce=reduce))
        torch.testing.assert_close(global_pool(scores, batch, reduce=reduce) + head.bias, logits)
    with pytest.raises(ValueError, match=r"'weight' must be the head's \[K, C\] matrix"):
        node_class_scores(x, torch.randn(3, 5))


def test_class_activation_map_sizes() -> None:
    """An int is every spatial axis, as in F.interpolate (was "object of type 'int' has no len()"); an empty size is
    refused by name (was interpolate's "output sizes should be greater than 0")."""
    features, weight = torch.randn(2, 4, 5, 6), torch.randn(3, 4)
    assert class_activation_map(features, weight, size=10).shape == (2, 3, 10, 10)
    with pytest.raises(ValueError, match=r"'size' must hold sizes >= 1, got \(0, 4\)"):
        class_activation_map(features, weight, size=(0, 4))


@pytest.mark.parametrize("graph", [False, True], ids=["image", "graph"])
def test_squeeze_excite_names_features_of_another_width(graph: bool) -> None:
    """Was torch's 'mat1 and mat2 shapes cannot be multiplied (2x8 and 7x1)'."""
    with pytest.raises(ValueError, match=r"'x' has 8 channels, but this block was built for channels=7"):
        if graph:
            GraphSqueezeExcite(7)(torch.randn(10, 8), torch.zeros(10, dtype=torch.long))
        else:
            SqueezeExcite(7)(torch.randn(2, 8, 5, 5))


# SqueezeExcite(3, readout="attention") asked for in_channels, which the block has: its channels
@pytest.mark.parametrize("readout", ["attention", "mean+attention"])
def test_squeeze_excite_gives_a_learnable_readout_its_channels(readout: str) -> None:
    x = _images((5, 6)).float()
    assert SqueezeExcite(4, readout=readout)(x).shape == x.shape
    graphs = image_to_graph(x)
    assert GraphSqueezeExcite(4, readout=readout)(graphs.x, graphs.batch, graphs.num_graphs).shape == graphs.x.shape


def test_graph_squeeze_excite_is_the_image_block_on_grid_graphs() -> None:
    torch.manual_seed(0)
    x = _images((5, 6))
    image_block = SqueezeExcite(4, reduction=2).double()
    graph_block = GraphSqueezeExcite(4, reduction=2).double()
    graph_block.load_state_dict(image_block.state_dict())
    graphs = image_to_graph(x)
    through_graph = graph_to_image(graph_block(graphs.x, graphs.batch, graphs.num_graphs), (5, 6))
    torch.testing.assert_close(through_graph, image_block(x))
    with torch.no_grad():
        ratio = (image_block(x) / x).flatten(2)  # one gate per (image, channel), in (0, 1)
    torch.testing.assert_close(ratio, ratio[..., :1].expand_as(ratio))
    assert bool(((ratio > 0) & (ratio < 1)).all())


# grid_positions((2.5, 3)) failed inside torch.meshgrid; sum_head_to_mean_head(conv) was an AttributeError
@pytest.mark.parametrize("shape", [(2.5, 3), (0, 3), ()])
def test_grid_positions_name_a_shape_that_is_no_grid(shape: tuple) -> None:
    from graphpool.grid import grid_positions, scaled_grid_positions

    for make in (grid_positions, scaled_grid_positions):
        with pytest.raises(ValueError, match="'shape' must be a non-empty tuple of positive whole sizes"):
            make(shape)


def test_sum_head_to_mean_head_takes_a_linear_head() -> None:
    from graphpool.grid import sum_head_to_mean_head

    with pytest.raises(TypeError, match="'head' must be a torch.nn.Linear, got Conv1d"):
        sum_head_to_mean_head(nn.Conv1d(3, 2, 1), 4)  # type: ignore[arg-type]
    head = nn.Linear(3, 2)
    torch.testing.assert_close(sum_head_to_mean_head(head, 4).weight, head.weight * 4)


# positional=True with a readout that reads no positions: mean, max and sum dropped it silently (their dense
# path), median and std failed inside the readout ("compute() got an unexpected keyword argument 'pos'")
@pytest.mark.parametrize("readout", ["mean", "max", "sum", "median", "std", "mean+max"])
def test_positions_for_a_readout_that_reads_none_are_refused(readout: str) -> None:
    with pytest.raises(ValueError, match=r"'positional' .* but the readout .* reads no positions"):
        GlobalPool(readout, positional=True)  # when built
    with pytest.raises(ValueError, match=r"'positional' .* but the readout .* reads no positions"):
        pool_grid(torch.randn(2, 3, 4, 4), readout, positional=True)


# pool_grid(x, "attention") said "pass in_channels=F", an argument pool_grid has not: a learnable readout by name in
# a function call would be new random weights on every call
def test_pool_grid_names_a_learnable_readout_as_global_pool_does() -> None:
    with pytest.raises(ValueError, match=r"readout 'attention' has learnable parameters; .*GlobalPool"):
        pool_grid(torch.randn(2, 4, 3, 3), "attention")
    with pytest.raises(ValueError, match="readout 'mean\\+attention' has learnable parameters"):
        pool_grid(torch.randn(2, 4, 3, 3), "mean+attention")
    assert pool_grid(torch.randn(2, 4, 3, 3), "median").shape == (2, 4)


# an integer dtype was not kept: the division made the positions float32 anyway
def test_scaled_positions_take_a_floating_dtype() -> None:
    from graphpool.grid import scaled_grid_positions

    assert scaled_grid_positions((3, 3), dtype=torch.float64).dtype == torch.float64
    with pytest.raises(
        TypeError, match=r"'dtype' must be a floating-point dtype \(positions in \[0, 1\]\), got torch.int64"
    ):
        scaled_grid_positions((3, 3), dtype=torch.long)


# a list or None for the feature map was an AttributeError ("'list' object has no attribute 'dim'") in the CAM,
# BlurPool, SqueezeExcite, image_to_graph, graph_to_image and pool_image_regions (GlobalPool and pool_grid named it
# already, as "x", without the quotes of every other argument's name)
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda m: class_activation_map(m, torch.randn(2, 1)), "features"),
        (lambda m: class_activation_map(torch.randn(1, 1, 2, 2), m), "weight"),
        (lambda m: BlurPool()(m), "x"),
        (lambda m: SqueezeExcite(1)(m), "x"),
        (lambda m: GlobalPool()(m), "x"),
        (lambda m: pool_grid(m, "mean"), "x"),
        (lambda m: image_to_graph(m), "images"),
        (lambda m: graph_to_image(m, (1,)), "x"),
        (lambda m: pool_image_regions(RegionPool(2, 1), m), "x"),
    ],
)
def test_a_feature_map_that_is_not_a_tensor_is_refused_by_name(call, name: str) -> None:
    for value in ([[[[1.0]]]], None):
        with pytest.raises(TypeError, match=rf"'{name}' must be a torch.Tensor, got {type(value).__name__}"):
            call(value)


# grid_edges(3) was "object of type 'int' has no len()"; image_to_graph of an image with an empty axis named a
# 'shape' argument it does not have
def test_a_shape_that_is_not_a_sequence_and_an_empty_image_are_refused_by_name() -> None:
    for call in (grid_edges, grid_positions, scaled_grid_positions):
        with pytest.raises(TypeError, match=r"'shape' must be a tuple of spatial sizes, got int"):
            call(3)
    with pytest.raises(ValueError, match=r"'images' must have positive spatial sizes, got shape \(2, 3, 0, 4\)"):
        image_to_graph(torch.randn(2, 3, 0, 4))

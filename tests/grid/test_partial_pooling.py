"""Region pooling, anti-aliased strided pooling, resolution consistency."""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graphpool.grid import (
    BlurPool,
    GlobalPool,
    binomial_filter,
    image_to_graph,
    pool_image_regions,
    sum_head_to_mean_head,
)
from graphpool.readout import RegionPool, global_pool


def test_region_pooling_equals_weighted_means_and_works_on_any_size() -> None:
    torch.manual_seed(0)
    pool = RegionPool(num_regions=3).double()
    x = torch.randn(2, 4, 5, 6, dtype=torch.float64)
    out = pool_image_regions(pool, x)
    assert out.shape == (2, 3, 4)
    graphs = image_to_graph(x)
    pos = graphs.pos.double() / torch.tensor([4.0, 5.0], dtype=torch.float64)
    masks = pool.masks(pos)
    for k in range(3):
        expected = global_pool(graphs.x, graphs, reduce="weighted", weight=masks[:, k])
        torch.testing.assert_close(out[:, k], expected)
    assert pool_image_regions(pool, torch.randn(1, 4, 9, 3, dtype=torch.float64)).shape == (1, 3, 4)
    out.sum().backward()
    assert all(p.grad is not None for p in pool.parameters())


def test_binomial_filter() -> None:
    torch.testing.assert_close(binomial_filter(3, 1), torch.tensor([0.25, 0.5, 0.25]))
    kernel = binomial_filter(4, 2)
    assert kernel.shape == (4, 4) and torch.isclose(kernel.sum(), torch.tensor(1.0))


# a filter of over 1,029 taps raised OverflowError: its binomial coefficients were floats before the division
@pytest.mark.parametrize("size", [1030, 1500])
def test_a_wide_binomial_filter_is_the_normalised_binomial_row(size: int) -> None:
    row = binomial_filter(size, 1, torch.float64)
    middle = size // 2
    assert row.shape == (size,) and torch.isfinite(row).all()
    torch.testing.assert_close(row.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert row[middle] == math.comb(size - 1, middle) / 2 ** (size - 1)


# dims=0 gave a 1-D filter, an integer dtype a filter of zeros, a float size or stride failed later unnamed
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: binomial_filter(3, 0), r"'dims' must be 1, 2 or 3, got 0"),
        (lambda: binomial_filter(3, 4), r"'dims' must be 1, 2 or 3, got 4"),
        (lambda: binomial_filter(1.5, 2), r"'size' must be a whole number, got 1.5"),
        (lambda: binomial_filter(3, 2, torch.int64), r"'dtype' must be a floating-point dtype, got torch.int64"),
        (lambda: BlurPool(stride=1.5), r"'stride' must be a whole number, got 1.5"),
        (lambda: BlurPool(size=2.0), r"'size' must be a whole number, got 2.0"),
    ],
)
def test_blur_settings_are_checked(call, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        call()


def test_blur_pool_keeps_shift_invariance_better_than_plain_striding() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 32, 32, generator=g)
    shifted = torch.roll(x, shifts=1, dims=-1)
    blur = BlurPool(stride=2)

    def plain(t):
        return F.max_pool2d(t, kernel_size=2, stride=2)

    def antialiased(t):
        return blur(F.max_pool2d(t, kernel_size=2, stride=1))

    def change(pool):
        a, b = pool(x), pool(shifted)
        # compare on the same grid: the shifted input moves the output by half a step
        return ((a - b).norm() / a.norm()).item()

    assert change(antialiased) < 0.7 * change(plain)
    assert blur(x).shape == (4, 3, 16, 16)
    assert BlurPool(2)(torch.randn(2, 3, 9)).shape == (2, 3, 5)
    assert BlurPool(2)(torch.randn(2, 3, 6, 6, 6)).shape == (2, 3, 3, 3, 3)
    constant = torch.ones(1, 2, 8, 8)
    torch.testing.assert_close(blur(constant), torch.ones(1, 2, 4, 4))  # a low-pass keeps constants


def test_sum_pooling_model_rescaled_to_mean_pooling_at_another_resolution() -> None:
    torch.manual_seed(0)
    features = torch.randn(2, 5, 4, 4, dtype=torch.float64)
    head = nn.Linear(5, 3).double()
    logits = head(GlobalPool("sum")(features))  # trained at 4 x 4 with sum pooling
    larger = F.interpolate(features, scale_factor=3, mode="nearest")  # the same content at 12 x 12
    mean_head = sum_head_to_mean_head(head, num_positions=16)
    torch.testing.assert_close(mean_head(GlobalPool("mean")(larger)), logits)
    torch.testing.assert_close(mean_head(GlobalPool("mean")(features)), logits)
    assert not torch.allclose(head(GlobalPool("sum")(larger)), logits)  # sum pooling alone does not transfer


def test_blur_pool_builds_its_filter_once_and_applies_the_binomial_blur() -> None:
    blur = BlurPool(stride=1, size=3)
    assert dict(blur.named_buffers()).keys() == {"row"} and not blur.state_dict()  # a buffer, not saved
    torch.testing.assert_close(blur.row, binomial_filter(3, 1))
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64)
    padded = F.pad(x, [1, 1, 1, 1], mode="reflect")
    weight = binomial_filter(3, 2, torch.float64).expand(3, 1, 3, 3)
    torch.testing.assert_close(blur(x), F.conv2d(padded, weight, groups=3))  # float64 input, float32 buffer
    with pytest.raises(ValueError, match="'size' must be >= 1"):
        BlurPool(size=0)


@pytest.mark.parametrize(("size", "shape"), [(3, (1, 2, 1, 4)), (5, (1, 2, 6, 2)), (4, (1, 2, 5, 1))])
def test_blur_pool_refuses_a_map_too_small_to_reflect(size: int, shape: tuple[int, ...]) -> None:
    """Reflect padding by p needs more than p cells per axis: the error names x and the axis, not F.pad's
    'Argument #4: Padding size should be less than the corresponding input dimension'."""
    message = rf"BlurPool\(size={size}\) pads each spatial axis by reflection.*" + re.escape(f"got x of shape {shape}")
    with pytest.raises(ValueError, match=message):
        BlurPool(size=size)(torch.randn(shape))
    smallest = [max(n, size // 2 + 1) for n in shape[2:]]  # the padding is size // 2 at most
    assert BlurPool(size=size)(torch.randn(*shape[:2], *smallest)).dim() == 4


@pytest.mark.parametrize("layer", [BlurPool(), GlobalPool("mean")], ids=["BlurPool", "GlobalPool"])
def test_integer_images_get_the_readouts_error(layer: nn.Module) -> None:
    """A uint8 image: the error of global_pool (convert with x.float()), not torch.mean's; BlurPool cast its
    filter to uint8, all zeros, and returned a black image."""
    with pytest.raises(
        ValueError, match=r"x has dtype torch.uint8.*x.float\(\)|needs floating-point features.*x.float\(\)"
    ):
        layer(torch.randint(0, 255, (2, 3, 4, 4), dtype=torch.uint8))


def test_global_sum_and_max_of_an_integer_image_are_exact() -> None:
    image = torch.randint(0, 255, (2, 3, 4, 5), dtype=torch.uint8).long()
    assert torch.equal(GlobalPool("sum")(image), image.sum(dim=(2, 3)))
    assert torch.equal(GlobalPool("max")(image), image.amax(dim=(2, 3)))


# positions of another width failed in torch's matmul ("mat1 and mat2 shapes cannot be multiplied"), NaN positions
# were named 'weight' (the masks made of them), the arguments of pool_image_regions swapped were "'RegionPool' object
# has no attribute 'dim'", and a batch of no images an IndexError in PyG
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: RegionPool(3)(torch.randn(4, 2), torch.rand(4, 3)),
            ValueError,
            r"'pos' has 3 columns, but the pool was built for pos_channels = 2",
        ),
        (
            lambda: RegionPool(3)(torch.randn(4, 2), torch.full((4, 2), float("nan"))),
            ValueError,
            r"'pos' holds NaN or infinite values \(row 0 and 3 more\)",
        ),
        (
            lambda: pool_image_regions(RegionPool(3), torch.randn(1, 4, 3, 3, 3)),
            ValueError,
            r"the images have 3 spatial axes, but the pool was built for pos_channels = 2",
        ),
        (
            lambda: pool_image_regions(torch.randn(1, 4, 3, 3), RegionPool(3)),
            TypeError,
            r"pool_image_regions\(pool, x\): 'pool' must be a RegionPool, got Tensor",
        ),
        (lambda: image_to_graph(torch.randn(0, 4, 3, 3)), ValueError, r"'images' holds no image \(B = 0\)"),
    ],
)
def test_region_pooling_and_conversion_name_bad_input(call, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()

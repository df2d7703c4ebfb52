"""The segment kernels of graphpool.ops are public: rows that do not match the segments are named, not read past
or silently left out (segment_mean of 6 rows over segments of 5 averaged the first 5), and out-of-range ranks of
segment_select are named (a rank of 5 in a graph of 2 rows returned another graph's value)."""

import re

import pytest
import torch

from graphpool.ops import (
    gather_rows,
    segment_max,
    segment_mean,
    segment_min,
    segment_select,
    segment_softmax,
    segment_sum,
    segment_var,
    segments_from,
    validation,
)

KERNELS = [segment_sum, segment_mean, segment_max, segment_min, segment_softmax]
SEG = segments_from(5, torch.tensor([0, 0, 1, 1, 1]))


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("shape", [(6, 2), (4, 2), (5,), (5, 2, 1)])
def test_rows_that_do_not_match_the_segments_are_named(kernel, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=re.escape(f"must be [N, F] with N = 5 (the rows of 'seg'), got {shape}")):
        kernel(torch.randn(shape), SEG)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_matching_rows_pass(kernel) -> None:
    assert kernel(torch.randn(5, 2), SEG).shape[1] == 2


def test_gather_rows_takes_one_row_per_group() -> None:
    assert gather_rows(torch.randn(2, 3), SEG).shape == (5, 3)
    with pytest.raises(ValueError, match=re.escape("'values' must have B = 2 rows (the groups of 'seg'), got (3, 1)")):
        gather_rows(torch.randn(3, 1), SEG)


@pytest.mark.parametrize(
    ("ranks", "message"),
    [
        (torch.tensor([5, 0]), "rank 5 of group 0, which has 2 rows"),
        (torch.tensor([-1, 0]), "rank -1 of group 0, which has 2 rows"),
        (torch.tensor([0, 3]), "rank 3 of group 1, which has 3 rows"),
    ],
)
def test_ranks_outside_their_groups_are_named(ranks: torch.Tensor, message: str) -> None:
    x = torch.arange(5.0).view(5, 1)
    with pytest.raises(ValueError, match=re.escape(f"'ranks' must hold 0 <= k < n per group; {message}")):
        segment_select(x, SEG, [ranks])
    with validation(False):  # unchecked, as every value check: the caller vouches for them
        segment_select(x, SEG, [ranks.clamp(0, 1)])


@pytest.mark.parametrize(
    "ranks", [torch.tensor([0]), torch.tensor([0.0, 1.0]), torch.tensor([[0, 1]]), [0, 1]], ids=str
)
def test_ranks_of_another_shape_or_dtype_are_named(ranks) -> None:
    with pytest.raises(ValueError, match=r"'ranks' must be a list of \[B\] integer tensors with B = 2"):
        segment_select(torch.arange(5.0).view(5, 1), SEG, [ranks])


def test_ranks_of_empty_groups_are_not_read() -> None:
    seg = segments_from(3, torch.tensor([0, 0, 2]), dim_size=3)
    picked = segment_select(torch.tensor([[1.0], [2.0], [3.0]]), seg, [torch.tensor([1, 7, 0])])
    assert picked[0].flatten().tolist() == [2.0, 0.0, 3.0]


# integer or boolean x failed inside torch: "result type Float can't be cast to the desired output type Long", or
# for a boolean softmax "Negation, the `-` operator, on a bool tensor is not supported"
@pytest.mark.parametrize("kernel", [segment_mean, segment_var, segment_softmax], ids=lambda k: k.__name__)
@pytest.mark.parametrize("dtype", [torch.long, torch.int32, torch.bool])
def test_kernels_of_fractions_name_an_integer_x(kernel, dtype: torch.dtype) -> None:
    x = torch.ones(5, 2, dtype=dtype)
    with pytest.raises(
        ValueError, match=rf"{kernel.__name__} needs floating-point x, got {dtype}; convert with x.float"
    ):
        kernel(x, SEG)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
def test_kernels_name_an_x_that_is_no_tensor(kernel) -> None:
    with pytest.raises(TypeError, match=r"'x' must be a torch.Tensor, got NoneType"):
        kernel(None, SEG)

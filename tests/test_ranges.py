"""Every whole-number setting of the config and options dataclasses refuses a float or a bool by name (a
float reached torch or scikit-learn, whose errors name their own arguments; ``True`` was taken as 1)."""

import dataclasses

import numpy as np
import pytest

from graphpool.cells import simulate
from graphpool.cells.neighbourhood import CompositionOptions, LearnedOptions, LouvainOptions, UtagOptions
from graphpool.cluster import (
    BatchKMeansSelect,
    CommunitySelect,
    GraclusSelect,
    KMeansSelect,
    KMISSelect,
    LabelSelect,
    SoftSelect,
    TypePool,
)
from graphpool.experiment import TrainConfig, grouped_folds, stratified_folds
from graphpool.grid import SqueezeExcite
from graphpool.models import ModelConfig
from graphpool.readout import RegionPool

REQUIRED = {ModelConfig: {"in_channels": 3, "num_classes": 2}}
SETTINGS = [CompositionOptions, UtagOptions, LouvainOptions, LearnedOptions, TrainConfig, ModelConfig]


def _whole_fields(settings: type) -> list[str]:
    return [f.name for f in dataclasses.fields(settings) if str(f.type).split(" | ")[0] == "int"]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: s.__name__)
def test_whole_number_settings_refuse_floats_and_bools(settings: type) -> None:
    names = _whole_fields(settings)
    assert names or settings is LouvainOptions
    for name in names:
        default = {**REQUIRED.get(settings, {})}
        for value in (2.5, 2.0, True):
            with pytest.raises(TypeError, match=rf"'{name}' must be a whole number, got {value!r}"):
                settings(**{**default, name: value})
        value = getattr(settings(**default), name)
        if value is not None:  # NumPy's integers are whole numbers
            assert getattr(settings(**{**default, name: np.int64(value)}), name) == value


# counts and seeds outside the dataclasses: a float reached NumPy or scikit-learn, whose errors name no argument
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: simulate("count", 4.0), "samples"),
        (lambda: stratified_folds([0, 1] * 10, 2.5, 0), "folds"),
        (lambda: stratified_folds([0, 1] * 10, 2, 1.5), "seed"),
        (lambda: grouped_folds([0, 1] * 10, list(range(20)), 2, 1.5, 0), "repeats"),
    ],
)
def test_counts_and_seeds_are_whole_numbers(call, name: str) -> None:
    with pytest.raises(TypeError, match=rf"'{name}' must be a whole number"):
        call()


# the layers' and selectors' sizes and seeds: a float reached torch.empty ("must be tuple of ints") or was kept
@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: SoftSelect(in_channels=4, num_clusters=2.5), "num_clusters"),
        (lambda: SoftSelect(in_channels=4.0, num_clusters=2), "in_channels"),
        (lambda: SoftSelect(in_channels=4, num_clusters=2, hidden=2.5), "hidden"),
        (lambda: KMeansSelect(num_clusters=2.5), "num_clusters"),
        (lambda: BatchKMeansSelect(num_clusters=2, iterations=2.5), "iterations"),
        (lambda: KMeansSelect(num_clusters=2, n_init=2.5), "n_init"),
        (lambda: KMISSelect(hops=1.5), "hops"),
        (lambda: KMISSelect(seed=1.5), "seed"),
        (lambda: GraclusSelect(seed=1.5), "seed"),
        (lambda: CommunitySelect(seed=1.5), "seed"),
        (lambda: LabelSelect(num_labels=2.5), "num_labels"),
        (lambda: TypePool(num_types=2.5), "num_types"),
        (lambda: SqueezeExcite(channels=4.0), "channels"),
        (lambda: SqueezeExcite(channels=4, reduction=2.5), "reduction"),
        (lambda: RegionPool(num_regions=2.5), "num_regions"),
        (lambda: RegionPool(num_regions=2, pos_channels=2.5), "pos_channels"),
    ],
)
def test_layer_sizes_and_seeds_are_whole_numbers(build, name: str) -> None:
    with pytest.raises(TypeError, match=rf"'{name}' must be a whole number"):
        build()


@pytest.mark.parametrize("dims", [2.5, (2, 3.0)])
def test_pooled_axes_are_whole_numbers(dims) -> None:
    """dims=2.5 was "'float' object is not iterable"; (2, 3.0) pooled axis 3 as a float index."""
    import torch

    from graphpool.grid import GlobalPool

    with pytest.raises(TypeError, match=r"'dims' must be a whole number"):
        GlobalPool("mean", dims=dims)(torch.randn(2, 3, 4, 4))


# an infinite learning rate, weight decay or temperature passed every "> 0" / ">= 0" check: `--lr inf` trained
# a whole run
@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda v: TrainConfig(lr=v), "lr"),
        (lambda v: TrainConfig(weight_decay=v), "weight_decay"),
        (lambda v: ModelConfig(in_channels=3, num_classes=2, temperature=v), "temperature"),
    ],
)
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_float_settings_refuse_infinity_and_nan(build, name: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"'{name}' must be a finite number (>|>=) 0, got {value}"):
        build(value)

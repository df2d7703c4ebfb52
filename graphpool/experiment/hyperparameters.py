"""The hyper-parameter grid chosen per fold on the inner hold-out, and the readout grid of a run.

A grid maps names of :data:`GRID_KEYS` to the values to try, e.g.
``{"hidden": [32, 64], "lr": [1e-2, 1e-3]}`` (4 candidates); on the command line it is written
``--grid hidden=32,64 --grid lr=1e-2,1e-3``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from graphpool.experiment.training import TrainConfig
from graphpool.models import ModelConfig
from graphpool.ops.ranges import check_distinct, check_list

#: settings a grid may vary: model width, depth, the head's depth, dropout, jumping knowledge, pooling levels,
#: first-level K and a soft pool's assignment (temperature, MLP width); lr, weight decay, batch size, the
#: auxiliary losses' warm-up
GRID_KEYS = (
    "hidden",
    "layers",
    "head_layers",
    "dropout",
    "jumping_knowledge",
    "lr",
    "weight_decay",
    "batch_size",
    "levels",
    "clusters",
    "temperature",
    "assign_hidden",
    "aux_warmup",
)
_TYPES = {
    "hidden": int,
    "layers": int,
    "head_layers": int,
    "batch_size": int,
    "jumping_knowledge": str,
    "levels": int,
    "clusters": int,
    "assign_hidden": int,
    "aux_warmup": int,
}  # the others are float
_SPELLINGS = {
    "jk": "jumping_knowledge",
    "batch-size": "batch_size",
    "head-layers": "head_layers",
    "weight-decay": "weight_decay",
    "assign-hidden": "assign_hidden",
    "aux-warmup": "aux_warmup",
}

#: one grid candidate: (its settings, the model config, the train config)
Candidate = tuple[dict[str, Any], ModelConfig, TrainConfig]


def expand_grid(
    model_config: ModelConfig, train_config: TrainConfig, grid: dict[str, Sequence[Any]] | None
) -> list[Candidate]:
    """Every combination of the ``grid`` values, as (settings, model config, train config).

    ``None`` or ``{}`` gives the one candidate of the configs as they are.
    """
    grid = dict(grid or {})
    for name, values in grid.items():
        if name not in GRID_KEYS:
            raise ValueError(f"grid: {name!r} cannot be selected; choose from {GRID_KEYS}")
        # ("48" would be the values "4" and "8"; a value given twice would train one candidate twice)
        check_list(f"grid: {name!r}", values)
    result = []
    for combination in itertools.product(*grid.values()):
        settings = dict(zip(grid, combination, strict=True))
        model_part, train_part = split_settings(settings)
        result.append((settings, replace(model_config, **model_part), replace(train_config, **train_part)))
    return result


def split_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grid settings (e.g. a fold's ``selected``) split into those of :class:`ModelConfig` and the rest (training)."""
    model_names = {f.name for f in fields(ModelConfig)}
    model = {k: v for k, v in settings.items() if k in model_names}
    return model, {k: v for k, v in settings.items() if k not in model_names}


def parse_grid_item(item: str) -> dict[str, list[Any]]:
    """``"hidden=32,64"`` -> ``{"hidden": [32, 64]}`` (``jk``, ``batch-size``, ``weight-decay`` accepted)."""
    name, _, values = item.partition("=")
    name = _SPELLINGS.get(name, name)
    if name not in GRID_KEYS:
        raise ValueError(f"{name!r} is not a grid setting; write NAME=V1,V2,... with NAME one of {GRID_KEYS}")
    if not values:
        raise ValueError(f"{name!r} has no values; write {name}=V1,V2,...")
    kind = _TYPES.get(name, float)
    try:
        parsed = [kind(v) for v in values.split(",")]
    except ValueError:
        raise ValueError(f"values of {name} must be {kind.__name__}") from None
    check_distinct(name, parsed)  # a value given twice would train one candidate twice
    return {name: parsed}


def readout_grid(spec: str) -> list[str]:
    """``"sum,mean,max"`` is a grid of three readouts; ``"mean+max"`` is one concatenated readout (as in ``resolve``).

    Raises:
        ValueError: ``spec`` names no readout, has an empty name between commas (``"mean,,max"``) or names one
            twice.
    """
    parts = [part.strip() for part in spec.split(",")]
    if not any(parts):
        raise ValueError(f"readout grid {spec!r}: no readout named; write e.g. 'sum,mean,max' or 'mean+max'")
    if not all(parts):
        raise ValueError(f"readout grid {spec!r}: an empty name between commas")
    check_distinct(f"readout grid {spec!r}:", parts)
    return parts

"""Graph-level models (classification or regression) built from a small config."""

from graphpool.models.classifier import (
    BACKBONES,
    JUMPING_KNOWLEDGE,
    POOLS,
    RECIPE_TEMPERATURE,
    TASKS,
    GraphClassifier,
    ModelConfig,
    ModelOutput,
    TargetScale,
    is_hard_pool,
    precoarsen,
)
from graphpool.models.modes import eval_mode, seeded

__all__ = [
    "BACKBONES",
    "JUMPING_KNOWLEDGE",
    "POOLS",
    "RECIPE_TEMPERATURE",
    "TASKS",
    "GraphClassifier",
    "ModelConfig",
    "ModelOutput",
    "TargetScale",
    "eval_mode",
    "is_hard_pool",
    "precoarsen",
    "seeded",
]

"""Graph classification models built from a small config."""

from graphpool.models.classifier import (
    BACKBONES,
    JUMPING_KNOWLEDGE,
    POOLS,
    GraphClassifier,
    ModelConfig,
    ModelOutput,
    precoarsen,
)

__all__ = ["BACKBONES", "JUMPING_KNOWLEDGE", "POOLS", "GraphClassifier", "ModelConfig", "ModelOutput", "precoarsen"]

r"""What a run predicts and how it is scored: classes or numbers.

- :class:`Classification`: cross-entropy on the logits; scored by accuracy.
- :class:`Regression`: mean squared error on standardised targets
  :math:`z = (y - \mu) / \sigma` (:class:`~graphpool.models.TargetScale`, fitted on the fit part
  only); scored in the targets' units by

  .. math::
      \mathrm{RMSE} = \sqrt{\tfrac1n \textstyle\sum (\hat y - y)^2}, \quad
      \mathrm{MAE} = \tfrac1n \textstyle\sum |\hat y - y|, \quad
      R^2 = 1 - \frac{\sum (\hat y - y)^2}{\sum (y - \bar y)^2}

  (:math:`\bar y` the mean of the scored part, as scikit-learn's ``r2_score``).

Scores come from sums (:meth:`Task.sums`) that add up over batches and over processes, so a
score under torchrun equals the single-process one. The first metric selects the epoch and the
grid candidate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

#: whether a larger value of each metric is better
HIGHER_IS_BETTER = {"accuracy": True, "rmse": False, "mae": False, "r2": True}


class Task:
    """The loss and the scores of one kind of prediction; see :class:`Classification` and :class:`Regression`."""

    name: str
    #: the metrics reported, the first selecting epochs and candidates
    metrics: tuple[str, ...]

    def loss(self, network: Any, output: Any, data: Any) -> Tensor:
        """The training loss of a batch (auxiliary pool losses excluded)."""
        raise NotImplementedError

    def sums(self, predicted: Tensor, target: Tensor) -> list[float]:
        """Additive statistics of predictions ``[B, ...]`` against targets, from which :meth:`scores` follow."""
        raise NotImplementedError

    def scores(self, sums: Sequence[float]) -> dict[str, float]:
        """Every metric of :attr:`metrics` from summed :meth:`sums`."""
        raise NotImplementedError

    def labels(self, graphs: Sequence[Any]) -> list[int] | None:
        """Class labels to stratify folds and hold-outs by (``None``: the targets are not classes)."""
        raise NotImplementedError

    def selection(self, scores: dict[str, float], prefix: str = "") -> float:
        """``scores[prefix + first metric]``, signed so that larger is better (epoch and candidate selection maximise it)."""
        value = scores[prefix + self.metrics[0]]
        return value if HIGHER_IS_BETTER[self.metrics[0]] else -value


class Classification(Task):
    """Class logits ``[B, C]`` against integer labels ``y [B]``: cross-entropy, accuracy."""

    name = "classification"
    metrics = ("accuracy",)

    def loss(self, network: Any, output: Any, data: Any) -> Tensor:
        return torch.nn.functional.cross_entropy(output.logits, data.y)

    def sums(self, predicted: Tensor, target: Tensor) -> list[float]:
        return [float((predicted == target).sum()), float(target.numel())]

    def scores(self, sums: Sequence[float]) -> dict[str, float]:
        correct, total = sums
        return {"accuracy": correct / total if total else math.nan}  # no graphs: no accuracy

    def labels(self, graphs: Sequence[Any]) -> list[int]:
        return [int(g.y) for g in graphs]


class Regression(Task):
    """Numeric targets ``y [B]`` (or ``[B, T]``): MSE on standardised targets; RMSE, MAE, R^2 (pooled over targets)."""

    name = "regression"
    metrics = ("rmse", "mae", "r2")

    def loss(self, network: Any, output: Any, data: Any) -> Tensor:
        return torch.nn.functional.mse_loss(output.logits, network.scale.standardise(data.y))

    def sums(self, predicted: Tensor, target: Tensor) -> list[float]:
        target = target.reshape(predicted.shape).to(predicted)
        error = predicted - target
        return [
            float(error.square().sum()),
            float(error.abs().sum()),
            float(target.sum()),
            float(target.square().sum()),
            float(target.numel()),
        ]

    def scores(self, sums: Sequence[float]) -> dict[str, float]:
        squared, absolute, total, total_squared, count = sums
        if not count:  # no graphs: no error to give
            return dict.fromkeys(self.metrics, math.nan)
        spread = total_squared - total * total / count
        return {
            "rmse": math.sqrt(squared / count),
            "mae": absolute / count,
            "r2": 1.0 - squared / spread if spread > 0 else float("nan"),
        }

    def labels(self, graphs: Sequence[Any]) -> None:
        return None


def task_of(name: str) -> Task:
    """The :class:`Task` named ``"classification"`` or ``"regression"``."""
    tasks = {"classification": Classification, "regression": Regression}
    if name not in tasks:
        raise ValueError(f"'task' must be one of {tuple(tasks)}, got {name!r}")
    return tasks[name]()

"""A run's results: one summary row per readout x pool combination, written as JSON, CSV and a PNG chart."""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphpool.experiment.files import atomic_json, atomic_write


def summary_row(
    readout: str,
    pool: str,
    accuracies: Sequence[float],
    *,
    folds_per_repeat: int,
    seconds_per_fold: float,
    selected: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Mean test accuracy, its standard deviation over folds and over repeats (of the repeat means), time and choices.

    ``accuracies`` are listed repeat by repeat, ``folds_per_repeat`` at a time.
    """
    repeats = [
        statistics.fmean(accuracies[r : r + folds_per_repeat]) for r in range(0, len(accuracies), folds_per_repeat)
    ]
    return {
        "readout": readout,
        "pool": pool,
        "folds": len(accuracies),
        "mean_accuracy": statistics.fmean(accuracies),
        "std_over_folds": statistics.pstdev(accuracies) if len(accuracies) > 1 else 0.0,
        "std_over_repeats": statistics.pstdev(repeats) if len(repeats) > 1 else 0.0,
        "seconds_per_fold": seconds_per_fold,
        "selected": list(selected),
    }


def selection_summary(selected: Sequence[dict[str, Any]]) -> str:
    """``[{"hidden": 64}, {"hidden": 64}, {"hidden": 32}]`` -> ``"hidden=64 (2); hidden=32 (1)"``."""
    counts = Counter(" ".join(f"{k}={v}" for k, v in s.items()) for s in selected)
    return "; ".join(f"{name} ({n})" for name, n in counts.most_common() if name) or "-"


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a text table: accuracy as mean +- sd over folds (%), the sd over repeats where there are repeats."""
    repeated = any(row["std_over_repeats"] for row in rows)
    width = max(22, *(len(row["readout"]) + 2 for row in rows))
    pool_width = max(10, *(len(row["pool"]) + 2 for row in rows))
    lines = [
        f"{'readout':<{width}}{'pool':<{pool_width}}{'accuracy':>18}"
        + (f"{'sd repeats':>12}" if repeated else "")
        + f"{'s / fold':>10}  selected (folds)"
    ]
    for row in rows:
        accuracy = f"{100 * row['mean_accuracy']:.1f} +- {100 * row['std_over_folds']:.1f}"
        lines.append(
            f"{row['readout']:<{width}}{row['pool']:<{pool_width}}{accuracy:>18}"
            + (f"{100 * row['std_over_repeats']:>12.1f}" if repeated else "")
            + f"{row['seconds_per_fold']:>10.1f}  {selection_summary(row['selected'])}"
        )
    return "\n".join(lines)


def write_results(out: Path, rows: Sequence[dict[str, Any]], title: str, **extra: Any) -> list[Path]:
    """Write ``results.json`` (``extra`` and the rows), ``results.csv`` and ``accuracy.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.csv", out / "accuracy.png"]
    atomic_json(paths[0], {**extra, "rows": list(rows)})

    def write_csv(path: Path) -> None:
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({**row, "selected": selection_summary(row["selected"])} for row in rows)

    atomic_write(paths[1], write_csv)
    plot_accuracy(rows, paths[2], title)
    return paths


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy(rows: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """A bar per row: mean test accuracy with the standard deviation over folds as error bar."""
    plt = pyplot()
    labels = [f"{r['readout']}\n{r['pool']}" for r in rows]
    figure, axis = plt.subplots(figsize=(max(4, 1.2 * len(rows)), 3.5))
    axis.bar(
        labels,
        [100 * r["mean_accuracy"] for r in rows],
        yerr=[100 * r["std_over_folds"] for r in rows],
        capsize=4,
        color="#4477aa",
    )
    axis.set_ylabel("test accuracy (%)")
    axis.set_title(f"{title}: accuracy by readout")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

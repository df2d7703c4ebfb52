"""A run's results: one summary row per readout x pool combination, written as JSON, CSV and PNG charts."""

from __future__ import annotations

import csv
import statistics
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphpool.experiment.baselines import BASELINES
from graphpool.experiment.diagnostics import usage_cell, usage_summary
from graphpool.experiment.files import atomic_json, atomic_write, read_json


def summary_row(
    readout: str,
    pool: str,
    scores: Mapping[str, Sequence[float]],
    *,
    folds_per_repeat: int,
    seconds_per_fold: float,
    selected: Sequence[dict[str, Any]] = (),
    folds: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Mean test scores over folds, their spread, the time and the settings chosen.

    ``scores`` maps each metric to its test values, listed repeat by repeat, ``folds_per_repeat``
    at a time; the first metric is the main one (``accuracy``; ``rmse`` under regression). The row
    holds ``mean_<metric>`` for every metric; the main one's standard deviation over folds
    (``std_over_folds``) and over repeats (of the repeat means, ``std_over_repeats``); every other
    metric's standard deviation over folds as ``std_<metric>``. From the fold results ``folds`` (when given):
    ``mean_single_<main>``, the first seed's own test score where the folds tested seed ensembles;
    ``levels``, each pooling level's cluster usage and losses over the folds
    (:func:`~graphpool.experiment.diagnostics.usage_summary`), and ``folds_at_majority``, the folds whose test
    accuracy is at or below the majority-class rate (classification).
    """
    (main, values), *others = scores.items()
    repeats = [statistics.fmean(values[r : r + folds_per_repeat]) for r in range(0, len(values), folds_per_repeat)]
    # NumPy's population sd: statistics.pstdev fails on a NaN score (an undefined R^2) instead of returning NaN
    spread = lambda v: float(np.std(np.asarray(v, dtype=float))) if len(v) > 1 else 0.0
    return {
        "readout": readout,
        "pool": pool,
        "folds": len(values),
        f"mean_{main}": statistics.fmean(values),
        "std_over_folds": spread(values),
        "std_over_repeats": spread(repeats),
        **{
            key: value
            for name, v in others
            for key, value in ((f"mean_{name}", statistics.fmean(v)), (f"std_{name}", spread(v)))
        },
        **(
            {f"mean_single_{main}": statistics.fmean(fold[f"single_test_{main}"] for fold in folds)}
            if folds and all(f"single_test_{main}" in fold for fold in folds)
            else {}
        ),
        "seconds_per_fold": seconds_per_fold,
        "selected": list(selected),
        "levels": usage_summary([fold.get("levels", []) for fold in folds]),
        **(
            {"folds_at_majority": sum(bool(fold["at_majority"]) for fold in folds)}
            if folds and all("at_majority" in fold for fold in folds)
            else {}
        ),
    }


def selection_summary(selected: Sequence[dict[str, Any]]) -> str:
    """``[{"hidden": 64}, {"hidden": 64}, {"hidden": 32}]`` -> ``"hidden=64 (2); hidden=32 (1)"``."""
    counts = Counter(" ".join(f"{k}={v}" for k, v in s.items()) for s in selected)
    return "; ".join(f"{name} ({n})" for name, n in counts.most_common() if name) or "-"


def _is_regression(rows: Sequence[dict[str, Any]]) -> bool:
    return "mean_rmse" in rows[0]


def undefined_r2_note(rows: Sequence[dict[str, Any]]) -> str | None:
    """A note for regression rows whose mean R^2 is NaN (a test fold whose targets are all equal), else ``None``."""
    if not rows or not _is_regression(rows) or all(row["mean_r2"] == row["mean_r2"] for row in rows):
        return None
    return (
        "note: R2 is undefined (NaN) for a test fold whose targets are all equal (e.g. a fold of one molecule), "
        "and so is its mean over folds; use fewer folds, or read RMSE and MAE"
    )


def size_note(rows: Sequence[dict[str, Any]]) -> str | None:
    """A note when the graph-size baseline (``--baseline size``) scores at least as well as every graph model of
    ``rows`` (accuracy at or above, RMSE at or below the best), else ``None``: then the models' scores need not
    come from the structure. Baseline rows are those of pool ``"-"``."""
    size = next((row for row in rows if row["readout"] == BASELINES["size"]), None)
    models = [row for row in rows if row["pool"] != "-"]
    if size is None or not models:
        return None
    if _is_regression(rows):
        best = min(models, key=lambda row: row["mean_rmse"])
        if size["mean_rmse"] > best["mean_rmse"]:
            return None
        ours, theirs = f"RMSE {size['mean_rmse']:.3f}", f"RMSE {best['mean_rmse']:.3f}"
    else:
        best = max(models, key=lambda row: row["mean_accuracy"])
        if size["mean_accuracy"] < best["mean_accuracy"]:
            return None
        ours, theirs = f"{100 * size['mean_accuracy']:.1f} %", f"{100 * best['mean_accuracy']:.1f} %"
    return (
        f"note: graph size alone ({ours}) scores as well as the best model, {best['readout']} / {best['pool']} "
        f"({theirs}): its score need not come from the graphs' structure"
    )


def head_note(rows: Sequence[dict[str, Any]], grid: dict[str, Any] | None) -> str | None:
    """A note when ``rows`` compare the flat model (pool ``"none"``) with a cluster pool at one fixed head depth
    (``head_layers`` not in ``grid``), else ``None``: the depth after the readout that each needs differs, by
    dataset, so a fixed head can hide a pooling gain or erase one (docs/hierarchical.md, Pitfalls)."""
    pools = {row["pool"] for row in rows if row["pool"] != "-"}
    if "none" not in pools or pools == {"none"} or "head_layers" in (grid or {}):
        return None
    return (
        "note: the flat and pooled models share one head depth, and each can need another (a fixed head can hide "
        "a pooling gain or erase one): compare them with --grid head_layers=2,3,4"
    )


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a text table: mean +- sd over folds of accuracy (%), or of RMSE, MAE and R^2; the sd over repeats
    where there are repeats; beside a seed ensemble's score, the first seed's alone ("(1 seed)"). A row of one fold
    (a given train/test split) shows its value alone: no spread was measured. A value wider than its column
    widens the column, so cells never run into each other."""
    repeated = any(row["std_over_repeats"] for row in rows)
    pooled = any(row.get("levels") for row in rows)  # a "clusters used" column where a row has pooling levels
    floors = any("folds_at_majority" in row for row in rows)
    width = max(22, *(len(row["readout"]) + 2 for row in rows))
    pool_width = max(10, *(len(row["pool"]) + 2 for row in rows))
    if _is_regression(rows):  # (title, metric, its sd over folds)
        columns = [("RMSE", "rmse", "std_over_folds"), ("MAE", "mae", "std_mae"), ("R2", "r2", "std_r2")]
        scale, digits, column_width = 1.0, 3, 17
    else:
        columns, scale, digits, column_width = [("accuracy", "accuracy", "std_over_folds")], 100.0, 1, 18
    main = columns[0][1]  # the metric that selects, and the one a seed ensemble's first seed is shown in
    ensembles = any(f"mean_single_{main}" in row for row in rows)  # beside the ensemble: what one seed scored

    def cell(row: dict[str, Any], name: str, sd: str) -> str:
        mean = f"{scale * row[f'mean_{name}']:.{digits}f}"
        return f"{mean} +- {scale * row[sd]:.{digits}f}" if row["folds"] > 1 else mean

    # the right-aligned columns: (title, one cell per row, the least width); a wider cell widens its column
    numbers = [(title, [cell(row, name, sd) for row in rows], column_width) for title, name, sd in columns]
    if repeated:
        numbers.append(("sd repeats", [f"{scale * row['std_over_repeats']:.{digits}f}" for row in rows], 12))
    if ensembles:
        numbers.append((f"{columns[0][0]} (1 seed)", [_single_cell(row, main, scale, digits) for row in rows], 19))
    if pooled:
        numbers.append(("clusters used", [usage_cell(row.get("levels", [])) for row in rows], 16))
    if floors:
        numbers.append(("at floor", [_floor_cell(row) for row in rows], 10))
    numbers.append(("s / fold", [f"{row['seconds_per_fold']:.1f}" for row in rows], 10))
    widths = [max(least, len(title) + 2, *(len(text) + 2 for text in texts)) for title, texts, least in numbers]
    lines = [
        f"{'readout':<{width}}{'pool':<{pool_width}}"
        + "".join(f"{title:>{w}}" for (title, _, _), w in zip(numbers, widths, strict=True))
        + "  selected (folds)"
    ]
    for index, row in enumerate(rows):
        lines.append(
            f"{row['readout']:<{width}}{row['pool']:<{pool_width}}"
            + "".join(f"{texts[index]:>{w}}" for (_, texts, _), w in zip(numbers, widths, strict=True))
            + f"  {selection_summary(row['selected'])}"
        )
    return "\n".join(lines)


def _single_cell(row: dict[str, Any], main: str, scale: float, digits: int) -> str:
    """The first seed's own mean test score of a row of seed ensembles (``-`` for a row of single models)."""
    value = row.get(f"mean_single_{main}")
    return "-" if value is None else f"{scale * value:.{digits}f}"


def _floor_cell(row: dict[str, Any]) -> str:
    """``"2/10"``: the folds at or below the majority-class rate, of all folds (``-`` where not measured)."""
    return f"{row['folds_at_majority']}/{row['folds']}" if "folds_at_majority" in row else "-"


def write_results(
    out: Path,
    rows: Sequence[dict[str, Any]],
    title: str,
    *,
    parity: Sequence[tuple[str, Sequence[float], Sequence[float]]] = (),
    majority: dict[str, Any] | None = None,
    **extra: Any,
) -> list[Path]:
    """Write ``results.json`` (``extra`` and the rows), ``results.csv`` and a bar chart into ``out``.

    The CSV's ``levels`` column is the table's "clusters used" (clusters used of K per level, ``!`` where a fold
    collapsed). The chart is ``accuracy.png``, or ``rmse.png`` for regression rows; ``parity`` (``(name, measured,
    predicted)`` per row, out of fold) adds ``parity.png``, one panel per row. ``majority`` (the
    :func:`summary_row` of the majority-class baseline, :data:`MAJORITY`) is stored as
    ``majority_class`` in ``results.json`` and drawn as the chart's floor line (it is not a model row).
    """
    out.mkdir(parents=True, exist_ok=True)
    chart = "rmse.png" if _is_regression(rows) else "accuracy.png"
    paths = [out / "results.json", out / "results.csv", out / chart]
    atomic_json(paths[0], {**extra, **({"majority_class": majority} if majority else {}), "rows": list(rows)})

    def write_csv(path: Path) -> None:
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(
                {**row, "selected": selection_summary(row["selected"]), "levels": usage_cell(row.get("levels", []))}
                for row in rows
            )

    atomic_write(paths[1], write_csv)
    plot_scores([*rows, majority] if majority else rows, paths[2], title)
    if parity:
        paths.append(out / "parity.png")
        plot_parity(parity, paths[-1], title)
    return paths


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: the row name of the majority-class baseline: drawn as a line in the accuracy chart, not as a bar
MAJORITY = "majority class"


def plot_scores(rows: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """Save :func:`scores_figure` as ``path``."""
    figure = scores_figure(rows, title)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    pyplot().close(figure)


def scores_figure(rows: Sequence[dict[str, Any]], title: str) -> Any:
    """A horizontal bar per row (mean test accuracy in % or RMSE, the sd over folds as error bar), labelled
    ``readout / pool`` on its own line of the y axis (long names never overlap); the majority-class row, when
    present, is a dashed vertical line with its rate, the floor the models must beat."""
    plt = pyplot()
    regression = _is_regression(rows)
    scale, key, label = (1.0, "mean_rmse", "test RMSE") if regression else (100.0, "mean_accuracy", "test accuracy (%)")
    floor = [r for r in rows if r["readout"] == MAJORITY]
    bars = [r for r in rows if r["readout"] != MAJORITY][::-1]  # the first row on top
    names = [r["readout"] if r["pool"] in ("-", "") else f"{r['readout']} / {r['pool']}" for r in bars]
    figure, axis = plt.subplots(figsize=(8, 1.2 + 0.45 * len(bars)))
    axis.barh(
        range(len(bars)),
        [scale * r[key] for r in bars],
        xerr=[scale * r["std_over_folds"] for r in bars],
        capsize=3,
        color="#4477aa",
        height=0.6,
    )
    axis.set_yticks(range(len(bars)), names)
    for row in floor:
        value = scale * row[key]
        axis.axvline(value, color="#cc3311", linestyle="--", linewidth=1.2, label=f"{MAJORITY}: {value:.1f} %")
        axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)  # off the bars
    axis.set_xlabel(label)
    axis.set_title(f"{title}: {'RMSE' if regression else 'accuracy'} by readout / pool", fontsize=10)
    figure.tight_layout()
    return figure


def plot_parity(panels: Sequence[tuple[str, Sequence[float], Sequence[float]]], path: Path, title: str) -> None:
    """Save :func:`parity_figure` as ``path``."""
    figure = parity_figure(panels, title)
    figure.savefig(path, dpi=100)
    pyplot().close(figure)


def parity_figure(panels: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str) -> Any:
    """Predicted against measured values: a panel per ``(name, measured, predicted)``, the line y = x, RMSE and R^2;
    the axes reach 5 % of the range beyond the extreme points, so none sits on the frame."""
    plt = pyplot()
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.6 * rows), squeeze=False)
    values = np.concatenate([np.asarray(v, dtype=float) for _, m, p in panels for v in (m, p)])
    low, high = float(values.min()), float(values.max())
    margin = 0.05 * (high - low) or 0.5
    low, high = low - margin, high + margin
    for axis, (name, measured_values, predicted_values) in zip(axes.flat, panels, strict=False):
        measured, predicted = np.asarray(measured_values, dtype=float), np.asarray(predicted_values, dtype=float)
        rmse = float(np.sqrt(np.mean((predicted - measured) ** 2)))
        spread = float(np.sum((measured - measured.mean()) ** 2))
        r2 = 1 - float(np.sum((predicted - measured) ** 2)) / spread if spread > 0 else float("nan")
        axis.plot([low, high], [low, high], color="#999999", linewidth=1)
        axis.scatter(measured, predicted, s=6, alpha=0.5, color="#4477aa")
        axis.set(xlim=(low, high), ylim=(low, high), xlabel="measured", ylabel="predicted", aspect="equal")
        axis.set_title(f"{name}\nRMSE {rmse:.3f}, R$^2$ {r2:.3f}", fontsize=9)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    heading = f"{title}: out-of-fold predictions (RMSE and R$^2$ over all of them)"
    figure.suptitle(textwrap.fill(heading, width=40 * columns), fontsize=10)  # ~40 characters fit a panel's width
    figure.tight_layout()
    return figure


def out_of_fold(folder: Path) -> tuple[list[int], list[float]]:
    """The test predictions of every finished fold of an assessed combination: ``(graph indices, predictions)``.

    Read from ``folder``'s ``splits.json`` and ``fold-K.json`` (written by :func:`~graphpool.experiment.assess`).
    """
    splits = read_json(folder / "splits.json", list)
    indices: list[int] = []
    predictions: list[float] = []
    for number, split in enumerate(splits, start=1):
        result = read_json(folder / f"fold-{number}.json", dict)
        indices += split["test"]
        predictions += result["predictions"]
    return indices, predictions

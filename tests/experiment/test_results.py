"""The results table."""

import pytest

from graphpool.experiment import format_table


def test_long_pool_names_keep_the_columns_aligned() -> None:
    """'justbalance' is 11 characters: the pool column was 10 wide and pushed its row's accuracy right."""
    rows = [
        {
            "readout": "sum",
            "pool": pool,
            "folds": 5,
            "mean_accuracy": 0.5,
            "std_over_folds": 0.1,
            "std_over_repeats": 0.0,
            "seconds_per_fold": 1.0,
            "selected": [],
        }
        for pool in ("none", "justbalance")
    ]
    lines = format_table(rows).splitlines()
    ends = {line.index("50.0 +- 10.0") + len("50.0 +- 10.0") for line in lines[1:]}
    assert len(ends) == 1 and lines[0].index("accuracy") + len("accuracy") in ends


def test_one_fold_prints_no_spread() -> None:
    """A given train/test split is one fold: '+- 0.0' would claim a spread that was never measured."""
    from graphpool.experiment import summary_row

    one = summary_row(
        "sum", "none", {"rmse": [0.75], "mae": [0.5], "r2": [0.9]}, folds_per_repeat=1, seconds_per_fold=1
    )
    two = summary_row("sum", "none", {"accuracy": [0.5, 0.7]}, folds_per_repeat=2, seconds_per_fold=1)
    one_line, two_line = format_table([one]).splitlines()[1], format_table([two]).splitlines()[1]
    assert "0.750" in one_line and "0.900" in one_line and "+-" not in one_line
    assert "60.0 +- 10.0" in two_line


def test_wide_values_keep_their_columns_apart() -> None:
    """Targets in the hundreds printed '320.120 +- 87.674199.883 +- 32.310-46311.994 +- 46311.792': the cells ran
    into each other where a value was wider than its column."""
    from graphpool.experiment import summary_row

    row = summary_row(
        "sum",
        "none",
        {"rmse": [232.4, 407.8], "mae": [167.6, 232.2], "r2": [-0.2, -92623.8]},
        folds_per_repeat=2,
        seconds_per_fold=1,
    )
    header, line = format_table([row]).splitlines()
    cells = [cell for cell in line.split("  ") if cell.strip()]
    assert [cell.strip() for cell in cells[2:5]] == [
        "320.100 +- 87.700",
        "199.900 +- 32.300",
        "-46312.000 +- 46311.800",
    ]
    for title, cell in zip(("RMSE", "MAE", "R2"), cells[2:5], strict=True):
        assert header.index(title) + len(title) == line.index(cell.strip()) + len(cell.strip())  # right-aligned


def _row(readout: str, pool: str, accuracy: float) -> dict:
    return {"readout": readout, "pool": pool, "folds": 3, "mean_accuracy": accuracy, "std_over_folds": 0.05,
            "std_over_repeats": 0.0, "seconds_per_fold": 1.0, "selected": []}  # fmt: skip


def test_the_accuracy_chart_labels_do_not_overlap_and_it_shows_the_majority_rate(tmp_path) -> None:
    from graphpool.experiment.results import MAJORITY, scores_figure

    rows = [_row("sum", "mincut", 0.7), _row("proportions (logistic regression)", "-", 0.65),
            _row("mean+max+std", "celltype", 0.72), _row(MAJORITY, "-", 0.55)]  # fmt: skip
    figure = scores_figure(rows, "tissue classification")
    axis = figure.axes[0]
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [label.get_window_extent(renderer) for label in axis.get_yticklabels() if label.get_text()]
    assert len(boxes) == 3  # the majority class is a line, not a bar
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    lines = [line for line in axis.lines if line.get_label() == "majority class: 55.0 %"]
    assert len(lines) == 1 and lines[0].get_xdata()[0] == pytest.approx(55.0)


def test_the_parity_plot_leaves_a_margin_around_the_points(tmp_path) -> None:
    from graphpool.experiment.results import parity_figure

    figure = parity_figure([("sum / none", [0.0, 1.0, 4.0], [0.5, 1.0, 3.0])], "t")
    low, high = figure.axes[0].get_xlim()
    assert low < 0.0 and high > 4.0 and figure.axes[0].get_ylim() == (low, high)


# with one panel the title ran past both edges of the figure ("lity: out-of-fold predictions (RMSE and R^2 over all of")
@pytest.mark.parametrize("panels", [1, 2, 4])
def test_the_parity_plot_title_fits_the_figure(panels: int) -> None:
    from graphpool.experiment.results import parity_figure

    figure = parity_figure([(f"model {i}", [0.0, 1.0, 4.0], [0.5, 1.0, 3.0]) for i in range(panels)], "solubility")
    figure.canvas.draw()
    title = figure.texts[0].get_window_extent()
    frame = figure.bbox
    assert frame.x0 <= title.x0 and title.x1 <= frame.x1 and title.y1 <= frame.y1


def test_the_majority_class_scores_each_fold_with_its_training_majority() -> None:
    from graphpool.experiment.baselines import majority_scores

    labels = [0, 0, 0, 1, 1, 2]
    folds = [([0, 1, 3], [2, 4, 5]), ([3, 4, 5, 0], [1, 2])]  # training majorities: 0, then 1
    assert majority_scores(labels, folds) == [1 / 3, 0.0]  # fold 2: 1 is the training majority (2 of 4 vs 1)


def test_a_size_baseline_at_or_above_every_model_is_noted() -> None:
    from graphpool.experiment.results import size_note

    size = _row("graph size (linear model)", "-", 0.76)
    above = size_note([_row("sum", "none", 0.72), _row("sum", "diffpool", 0.755), size])
    assert above is not None and "graph size alone (76.0 %)" in above and "sum / diffpool (75.5 %)" in above
    assert size_note([_row("sum", "none", 0.72), _row("sum", "mincut", 0.80), size]) is None
    assert size_note([_row("sum", "none", 0.72), _row("fingerprint (random forest)", "-", 0.9)]) is None  # no size row
    regression = [
        {"readout": "sum", "pool": "none", "mean_rmse": 1.1, "mean_r2": 0.5},
        {"readout": "graph size (linear model)", "pool": "-", "mean_rmse": 1.0, "mean_r2": 0.6},
    ]
    assert "RMSE 1.000" in size_note(regression) and "sum / none (RMSE 1.100)" in size_note(regression)
    regression[1]["mean_rmse"] = 1.2
    assert size_note(regression) is None


def test_a_flat_and_pooled_comparison_at_one_head_depth_is_noted() -> None:
    from graphpool.experiment.results import head_note

    flat, pooled, size = (
        _row("sum", "none", 0.68),
        _row("sum", "mincut", 0.69),
        _row("graph size (linear model)", "-", 0.5),
    )
    note = head_note([flat, pooled, size], None)
    assert note is not None and "--grid head_layers=2,3,4" in note
    assert head_note([flat, pooled], {"head_layers": [2, 3], "levels": [1, 2]}) is None  # the folds choose the head
    assert head_note([flat, pooled], {"levels": [1, 2]}) is not None
    assert head_note([flat, _row("mean", "none", 0.6), size], None) is None  # no pooled model
    assert head_note([pooled, _row("sum", "diffpool", 0.7)], None) is None  # no flat model

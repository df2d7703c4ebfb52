"""The results table."""

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

"""The results table."""

from graphpool.experiment import format_table


def test_long_pool_names_keep_the_columns_aligned() -> None:
    """'justbalance' is 11 characters: the pool column was 10 wide and pushed its row's accuracy right."""
    rows = [
        {
            "readout": "sum",
            "pool": pool,
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

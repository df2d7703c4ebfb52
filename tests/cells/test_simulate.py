"""The simulator follows its rules: the label is what the rule says, and nothing else gives it away."""

import numpy as np
import pytest

from graphpool.cells import simulate


def _per_sample(rule: str, samples: int = 80):
    table = simulate(rule, samples=samples, seed=3)
    grouped = table.groupby("sample")
    counts = grouped["cell_type"].value_counts().unstack(fill_value=0)
    summary = counts.assign(size=grouped.size(), label=grouped["label"].first())
    centre = grouped[["x", "y"]].transform(lambda v: (v.max() + v.min()) / 2)
    table["radius"] = np.hypot(table["x"] - centre["x"], table["y"] - centre["y"])
    immune = table[table["cell_type"] == "immune"].groupby("sample")["radius"].mean()
    summary["immune_radius"] = immune / np.sqrt(summary["size"])
    return table, summary


def test_count_rule() -> None:
    _, s = _per_sample("count")
    assert ((s["immune"] > 50) == (s["label"] == 1)).all()
    shares = s["immune"] / s["size"]
    assert abs(shares[s.label == 1].mean() - shares[s.label == 0].mean()) < 0.03  # shares nearly equal


def test_proportion_rule() -> None:
    _, s = _per_sample("proportion", 120)
    shares = s["immune"] / s["size"]
    assert shares[s.label == 1].min() > shares[s.label == 0].max() - 0.12
    assert shares[s.label == 1].mean() - shares[s.label == 0].mean() > 0.08
    # counts overlap between the classes: sizes from 50 to 1000 swamp the share
    assert s["immune"][s.label == 0].max() > s["immune"][s.label == 1].median()


def test_presence_rule() -> None:
    _, s = _per_sample("presence")
    assert ((s.get("rare", 0) > 0) == (s["label"] == 1)).all()


def test_arrangement_rule_keeps_shares_and_moves_immune_cells() -> None:
    _, s = _per_sample("arrangement")
    shares = s["immune"] / s["size"]
    assert abs(shares[s.label == 1].mean() - shares[s.label == 0].mean()) < 0.02
    # infiltrating immune cells sit closer to the centre than marginal ones, in every sample
    assert s["immune_radius"][s.label == 1].max() < s["immune_radius"][s.label == 0].min()


def test_seeded_and_checked() -> None:
    assert simulate("count", 4, seed=1).equals(simulate("count", 4, seed=1))
    with pytest.raises(ValueError, match="'rule' must be one of"):
        simulate("size")
    with pytest.raises(ValueError, match=r"'seed' must be in \[0, 4294967295\], got -1"):
        simulate("count", 4, seed=-1)

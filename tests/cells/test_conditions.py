"""Condition-specific neighbourhoods: folds are aligned, statistics are the textbook ones, bad models are named."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import kruskal, mannwhitneyu

from graphpool.cells import read_cells, simulate, tissue_graphs
from graphpool.cells.conditions import _statistics, condition_neighbourhoods
from graphpool.models import GraphClassifier, ModelConfig


@pytest.fixture(scope="module")
def tissues():
    table = read_cells(simulate("arrangement", samples=8, seed=2))
    return table, tissue_graphs(table, "knn:6")


def _model(pool: str = "mincut") -> GraphClassifier:
    torch.manual_seed(0)
    config = ModelConfig(in_channels=3, num_classes=2, hidden=8, layers=1, pool=pool, clusters=3, levels=1)
    return GraphClassifier(config).eval()


def test_folds_whose_clusters_are_permuted_are_aligned(tissues) -> None:
    table, graphs = tissues
    first = _model()
    second = copy.deepcopy(first)  # the same model with its clusters numbered differently
    permutation = torch.tensor([2, 0, 1])
    linear = second.levels[0].select.assign
    with torch.no_grad():
        linear.weight.copy_(linear.weight[permutation])
        linear.bias.copy_(linear.bias[permutation])
    found = condition_neighbourhoods(table, graphs, [(first, range(4)), (second, range(4, 8))], torch.device("cpu"))
    alone = condition_neighbourhoods(table, graphs, [(first, range(8))], torch.device("cpu"))
    pd.testing.assert_series_equal(found.cells["neighbourhood"], alone.cells["neighbourhood"])
    np.testing.assert_allclose(found.cells["evidence"], alone.cells["evidence"], rtol=1e-5, atol=1e-6)
    assert sorted(found.cells["row"]) == list(range(len(table.frame))), "every cell once, out of fold"
    np.testing.assert_allclose(found.abundance.drop(columns="label").sum(axis=1), 1.0)
    assert found.statistics["cells"].sum() == len(table.frame)
    np.testing.assert_allclose(found.composition.dropna().sum(axis=1), 1.0)


def test_statistics_are_mann_whitney_with_benjamini_hochberg() -> None:
    rng = np.random.default_rng(0)
    labels = {f"s{i}": i % 2 for i in range(20)}
    abundance = pd.DataFrame(rng.dirichlet(np.ones(3), size=20), index=list(labels))
    abundance[0] += np.array([1.0 * (i % 2) for i in range(20)])  # more of neighbourhood 0 in class 1
    cells = pd.DataFrame({"sample": "s0", "neighbourhood": [0, 1, 2, 0], "evidence": [1.0, 2.0, 3.0, 3.0]})
    composition = pd.DataFrame({"a": [0.5, 1.0, 0.0], "b": [0.5, 0.0, 1.0]})
    stats, posthoc = _statistics(cells, abundance, composition, labels, [0, 1])
    assert posthoc.empty  # two classes: the main test is the pair
    assert stats.loc[0, "higher_in"] == 1 and stats.loc[0, "lower_in"] == 0
    ones, zeros = abundance[[v == 1 for v in labels.values()]], abundance[[v == 0 for v in labels.values()]]
    for k in range(3):
        assert stats.loc[k, "p"] == pytest.approx(mannwhitneyu(ones[k], zeros[k]).pvalue)
        assert stats.loc[k, "effect"] == pytest.approx(ones[k].mean() - zeros[k].mean())
    p = stats["p"].to_numpy()
    order = np.argsort(p)
    expected = np.minimum.accumulate((p[order] * 3 / np.arange(1, 4))[::-1])[::-1]  # BH step-up
    np.testing.assert_allclose(stats["q"].to_numpy()[order], np.minimum(expected, 1))
    assert stats.loc[0, "p"] < 0.01 and stats.loc[0, "mean_evidence"] == 2.0
    assert stats.loc[0, "evidence_share"] == pytest.approx(4 / 9)  # (1 + 3) of |1| + |2| + |3| + |3|
    assert stats.loc[0, "top_types"] == "a 50%, b 50%"


def test_three_classes_get_named_directions_and_pairwise_tests() -> None:
    rng = np.random.default_rng(1)
    names = ["Non-diabetic", "Onset", "Long-duration"]
    labels = {f"s{i}": names[i % 3] for i in range(30)}
    abundance = pd.DataFrame(rng.dirichlet(np.ones(2), size=30), index=list(labels))
    abundance[0] += np.array([0.5 * (i % 3 == 2) for i in range(30)])  # neighbourhood 0 up in long duration
    cells = pd.DataFrame({"sample": "s0", "neighbourhood": [0, 1], "evidence": [1.0, -1.0]})
    composition = pd.DataFrame({"a": [1.0, 0.0]})
    stats, posthoc = _statistics(cells, abundance, composition, labels, names)
    assert stats.loc[0, "higher_in"] == "Long-duration"
    groups = {c: abundance.loc[[s for s in labels if labels[s] == c], 0] for c in names}
    assert stats.loc[0, "p"] == pytest.approx(kruskal(*groups.values()).pvalue)
    assert stats.loc[0, "effect"] == pytest.approx(
        groups["Long-duration"].mean() - stats.loc[0, "abundance_" + stats.loc[0, "lower_in"]]
    )
    assert len(posthoc) == 2 * 3 and set(posthoc["class_a"]) | set(posthoc["class_b"]) == set(names)
    row = posthoc[(posthoc["neighbourhood"] == 0) & (posthoc["class_a"] == "Onset")].iloc[0]
    assert row["class_b"] == "Long-duration" and row["difference"] > 0
    assert row["p"] == pytest.approx(mannwhitneyu(groups["Long-duration"], groups["Onset"]).pvalue)
    p = posthoc["p"].to_numpy()
    assert (posthoc["q"].to_numpy() >= p - 1e-12).all() and row["q"] < 0.05
    assert stats.loc[1, "evidence_share"] == pytest.approx(-0.5)


def test_a_model_without_a_soft_level_is_named(tissues) -> None:
    table, graphs = tissues
    with pytest.raises(ValueError, match="must be a soft cluster pool, got pool 'none'"):
        condition_neighbourhoods(table, graphs, [(_model("none"), range(8))], torch.device("cpu"))


def test_with_groups_the_tests_compare_group_means(tissues) -> None:
    table, graphs = tissues
    model = _model()
    samples = condition_neighbourhoods(table, graphs, [(model, range(8))], torch.device("cpu"))
    donors = [f"d{i % 2}-{i // 4}" for i in range(8)]  # two samples of one label per donor, two donors per label
    for donor in set(donors):
        assert len({int(graphs[i].y) for i in range(8) if donors[i] == donor}) == 1
    grouped = condition_neighbourhoods(table, graphs, [(model, range(8))], torch.device("cpu"), groups=donors)
    assert grouped.abundance["group"].tolist() == donors
    pd.testing.assert_frame_equal(samples.abundance, grouped.abundance.drop(columns="group"))  # per sample either way
    means = samples.abundance.drop(columns="label").groupby([d for d in donors]).mean()
    labels = {d: table.classes[int(graphs[i].y)] for i, d in enumerate(donors)}
    for k in means.columns:
        ones = means.loc[[d for d in means.index if labels[d] == 1], k]
        zeros = means.loc[[d for d in means.index if labels[d] == 0], k]
        expected = mannwhitneyu(ones, zeros).pvalue if np.ptp(means[k]) > 0 else np.nan
        assert grouped.statistics.loc[k, "p"] == pytest.approx(expected, nan_ok=True)
    assert not np.allclose(grouped.statistics["p"].fillna(-1), samples.statistics["p"].fillna(-1))

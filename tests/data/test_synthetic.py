"""The pooling benchmark generated as published: sizes, colours, placements, graphs and the published split."""

from __future__ import annotations

import pytest
import torch

from graphpool.cli import main
from graphpool.data import NUM_CLASSES, NUM_PARTS, VARIANTS, pooling_benchmark, published_split
from graphpool.data.synthetic import PLACEMENTS


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_has_the_published_sizes_colours_and_graphs(variant: str) -> None:
    nodes, _, neighbours, _ = VARIANTS[variant]
    graphs = pooling_benchmark(variant, seed=1, graphs_per_class=4)
    assert [int(g.y) for g in graphs].count(0) == 4 and len(graphs) == 4 * NUM_CLASSES
    for graph in graphs:
        n = graph.num_nodes
        assert 3 * ((nodes // 2) // 3) <= n < nodes and n % 3 == 0  # three sets of floor(n'/3), n' in [N/2, N)
        counts = graph.x.sum(0)
        assert graph.x.shape == (n, NUM_PARTS) and torch.equal(graph.x.sum(1), torch.ones(n))
        assert counts[0] + counts[1] == counts[2] + counts[3] == counts[4] == n // 3  # moons, quantiles, blob
        src, dst = graph.edge_index
        assert not (src == dst).any()
        pairs = set(zip(src.tolist(), dst.tolist(), strict=True))
        assert all((b, a) in pairs for a, b in pairs)  # symmetric
        assert torch.bincount(src, minlength=n).min() >= neighbours  # each node's k nearest, at least


def test_the_class_is_where_the_three_sets_are_placed() -> None:
    for graph in pooling_benchmark("easy-small", seed=0, graphs_per_class=3):
        colour = graph.x.argmax(1)
        centre = [graph.pos[(colour == 0) | (colour == 1)].mean(0), graph.pos[(colour >= 2) & (colour <= 3)].mean(0)]
        centre.append(graph.pos[colour == 4].mean(0))
        placed = PLACEMENTS[int(graph.y)]
        # the coordinates are divided by their column maxima (positive here): the order of the x centres is kept
        order = sorted(range(3), key=lambda s: centre[s][0].item())
        assert order == sorted(range(3), key=lambda s: placed[s][0])


def test_the_generator_is_deterministic_for_a_seed() -> None:
    a, b = (
        pooling_benchmark("hard-small", seed=3, graphs_per_class=2),
        pooling_benchmark("hard-small", seed=3, graphs_per_class=2),
    )
    assert all(torch.equal(x.x, y.x) and torch.equal(x.edge_index, y.edge_index) for x, y in zip(a, b, strict=True))
    c = pooling_benchmark("hard-small", seed=4, graphs_per_class=2)
    assert any(x.num_nodes != y.num_nodes or not torch.equal(x.pos, y.pos) for x, y in zip(a, c, strict=True))


def test_the_published_split_is_about_81_9_10_and_partitions_the_graphs() -> None:
    split = published_split(20_000, seed=0)
    shares = {name: len(indices) / 20_000 for name, indices in split.items()}
    assert shares["train"] == pytest.approx(0.81, abs=0.01)
    assert shares["validation"] == pytest.approx(0.09, abs=0.01)
    assert shares["test"] == pytest.approx(0.10, abs=0.01)
    assert sorted(split["train"] + split["validation"] + split["test"]) == list(range(20_000))
    assert published_split(50, seed=2) == published_split(50, seed=2)


def test_bad_variants_are_named() -> None:
    with pytest.raises(ValueError, match="'variant' must be one of"):
        pooling_benchmark("medium")
    with pytest.raises(ValueError, match="'graphs_per_class' must be >= 1"):
        pooling_benchmark("easy", graphs_per_class=0)
    with pytest.raises(SystemExit, match="the pooling benchmark's variants are"):
        main(["classify", "--dataset", "pooling-medium", "--out", "/nonexistent/never"])


# graphs_per_class=2.5 made 8 graphs; published_split(2.5) was NumPy's "expected a sequence of integers"
def test_counts_are_whole_numbers() -> None:
    with pytest.raises(TypeError, match=r"'graphs_per_class' must be a whole number, got 2.5"):
        pooling_benchmark("easy", graphs_per_class=2.5)
    with pytest.raises(TypeError, match=r"'num_graphs' must be a whole number, got 2.5"):
        published_split(2.5)
    with pytest.raises(ValueError, match=r"'num_graphs' must be >= 0, got -1"):
        published_split(-1)

"""Poolers and selectors under hostile input: misspelt keywords, non-finite or negative weights, odd dtypes,
batches without nodes, weights that need gradients, half precision."""

import re

import pytest
import torch

from graphpool.cluster import (
    POOLERS,
    SOFT_POOLERS,
    Assignment,
    BatchKMeansSelect,
    CommunitySelect,
    GraclusSelect,
    KMeansSelect,
    KMISSelect,
    LabelSelect,
    ProductSelect,
    greedy_matching,
    maximal_independent_set,
    normalize_edges,
    pooler,
    pooler_spec,
    soft_edges,
    takes_clusters,
)
from tests.conftest import within_seconds

F, K = 3, 2
HARD = tuple(name for name in POOLERS if name not in SOFT_POOLERS)


def _make(name: str, dtype: torch.dtype = torch.float64):
    return pooler(name, in_channels=F, clusters=K if takes_clusters(name) else None).to(dtype)


def _ring(n: int = 6, graphs: int = 2, dtype: torch.dtype = torch.float64):
    """``graphs`` rings of ``n`` nodes with distinct symmetric weights."""
    ring = torch.arange(n)
    one = torch.stack([ring, ring.roll(1)])
    edge_index = torch.cat([one + g * n for g in range(graphs)], 1)
    edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
    low, high = torch.minimum(*edge_index), torch.maximum(*edge_index)
    weight = ((low * 31 + high * 17) % 11).to(dtype) / 11 + 0.5
    x = torch.randn(n * graphs, F, dtype=dtype, generator=torch.Generator().manual_seed(0))
    batch = torch.arange(graphs).repeat_interleave(n)
    return x, edge_index, weight, batch


def _inputs(name: str, n: int) -> dict:
    return {"labels": torch.arange(n) % 2} if name == "given" else {}


# 1. unknown keywords are refused, naming the keyword and the accepted ones
@pytest.mark.parametrize("name", POOLERS)
@pytest.mark.parametrize("keyword", ["edge_weights", "num_graph", "lables", "edge_attrs"])
def test_a_pool_refuses_a_keyword_it_does_not_read(name: str, keyword: str) -> None:
    x, edge_index, weight, batch = _ring()
    with pytest.raises(TypeError, match=rf"unexpected keyword '{keyword}'.*accepts .*edge_weight"):
        _make(name)(x, edge_index, batch=batch, **{keyword: weight}, **_inputs(name, x.size(0)))


@pytest.mark.parametrize(
    "selector",
    [
        LabelSelect(),
        GraclusSelect(),
        KMISSelect(),
        KMeansSelect(2),
        BatchKMeansSelect(2),
        CommunitySelect(),
        ProductSelect(GraclusSelect(), LabelSelect()),
    ],
    ids=lambda s: type(s).__name__,
)
def test_a_selector_refuses_a_keyword_it_does_not_read(selector) -> None:
    x, edge_index, weight, batch = _ring()
    with pytest.raises(TypeError, match=r"unexpected keyword 'edge_weights'.*accepts"):
        selector(x, edge_index, batch, 2, edge_weights=weight, labels=torch.arange(12) % 2)


def test_a_pool_does_not_take_labels_it_would_ignore() -> None:
    x, edge_index, weight, batch = _ring()
    with pytest.raises(TypeError, match="unexpected keyword 'labels'"):
        _make("graclus")(x, edge_index, weight, batch, labels=torch.arange(12) % 2)


# 3. non-finite weights are refused; no loop over rounds can run forever
@pytest.mark.parametrize("name", POOLERS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_edge_weights_are_refused(name: str, bad: float) -> None:
    x, edge_index, weight, batch = _ring()
    weight[3] = bad
    with within_seconds(20), pytest.raises(ValueError, match="'edge_weight'.*finite"):
        _make(name)(x, edge_index, weight, batch, **_inputs(name, x.size(0)))


@pytest.mark.parametrize("name", POOLERS)
def test_an_edge_between_two_graphs_of_the_batch_is_refused(name: str) -> None:
    """Graphs of a batch share no edges: one that joins two would become a coarse edge between them (Graclus,
    k-means) or fail with an IndexError (Louvain)."""
    x, edge_index, weight, batch = _ring()
    crossing = torch.cat([edge_index, torch.tensor([[2, 9], [9, 2]])], 1)  # node 2 is in graph 0, node 9 in graph 1
    weights = torch.cat([weight, weight.new_ones(2)])
    with pytest.raises(
        ValueError,
        match=r"'edge_index' joins nodes of different graphs: edge 24 \(2 -> 9\) goes from graph 0 to graph 1",
    ):
        _make(name)(x, crossing, weights, batch, **_inputs(name, x.size(0)))


def test_edges_across_graphs_are_not_read_with_validation_off() -> None:
    """The check reads the edges (a host sync); with validation off it is skipped, as the range check is."""
    from graphpool.ops import validation

    x, edge_index, weight, batch = _ring()
    crossing = torch.cat([edge_index, torch.tensor([[2, 9], [9, 2]])], 1)
    with validation(False):
        _make("mincut")(x, crossing, torch.cat([weight, weight.new_ones(2)]), batch)


@pytest.mark.parametrize("selector", [KMeansSelect(2), BatchKMeansSelect(2)], ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("on", ["x", "pos"])
def test_k_means_refuses_points_it_cannot_place(selector, on: str) -> None:
    """A NaN distance put every node of a graph into one cluster, silently (K clusters asked, 1 returned)."""
    x, edge_index, _, batch = _ring()
    pos = torch.randn(x.size(0), 2, dtype=x.dtype)
    (x if on == "x" else pos)[4, 0] = float("nan")
    selector.on = on
    with pytest.raises(ValueError, match=rf"'{on}' holds NaN or infinite values \(row 4\)"):
        selector(x, edge_index, batch, 2, pos=pos)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_k_mis_refuses_a_score_it_cannot_rank(bad: float) -> None:
    """With score="x" a NaN priority was ranked (argsort puts NaN last: first to join), its node a centre, silently."""
    x, edge_index, _, batch = _ring()
    x[4, 0] = bad
    with pytest.raises(ValueError, match=r"'x\[:, 0\]' \(k-MIS's score\) holds NaN or infinite values \(row 4\)"):
        KMISSelect(score="x")(x, edge_index, batch, 2)
    x[4, 0], x[5, 1] = 0.0, bad  # the other features are not ranked: they are reduced, as a readout would
    assert KMISSelect(score="x")(x, edge_index, batch, 2).num_clusters > 0
    from graphpool.cluster import maximal_independent_set

    score = torch.tensor([0.0, bad, 1.0])
    with pytest.raises(ValueError, match=r"'score' holds NaN or infinite values \(row 1\)"):
        maximal_independent_set(torch.tensor([[0, 1], [1, 2]]), 3, score=score)


@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_a_soft_pool_names_non_finite_features(name: str) -> None:
    """The assignment is computed from x: the error names x, which the caller passed, not the assignment s."""
    x, edge_index, weight, batch = _ring()
    x[7, 1] = float("inf")
    with pytest.raises(ValueError, match=r"'x' holds NaN or infinite values \(row 7\)"):
        _make(name)(x, edge_index, weight, batch)


def test_matching_with_validation_off_still_ends() -> None:
    from graphpool.cluster import greedy_matching
    from graphpool.ops import validation

    _, edge_index, weight, _ = _ring(8, 1)
    weight[2] = float("nan")
    with within_seconds(20), validation(False), pytest.raises(ValueError, match="'edge_weight'"):
        greedy_matching(edge_index, 8, weight)


# 4. a negative degree has no D^-1/2 A D^-1/2
@pytest.mark.parametrize("name", [name for name in POOLERS if pooler_spec(name).defaults.get("normalize")])
def test_negative_weights_into_a_normalised_pool_are_refused(name: str) -> None:
    x, edge_index, weight, batch = _ring()
    weight = weight - 2.0
    with pytest.raises(ValueError, match="'edge_weight'.*negative"):
        _make(name)(x, edge_index, weight, batch)


def test_negative_weights_into_a_matching_are_refused() -> None:
    """Graclus pairs nodes by the normalised-cut weight w_ij (1/d_i + 1/d_j); a negative weight can make a degree
    zero or negative, and a node whose weights 1 and -1 cancel paired by an artefact of clamping 1/0."""
    from graphpool.cluster import greedy_matching

    x, edge_index, weight, batch = _ring()
    weight[4] = -1.0
    with pytest.raises(ValueError, match=r"'edge_weight' holds negative weights \(-1\); .*normalised-cut"):
        _make("graclus")(x, edge_index, weight, batch)
    with pytest.raises(ValueError, match="'edge_weight' holds negative weights"):
        greedy_matching(edge_index, x.size(0), weight)


# integer features reached the assignment MLP: "mat1 and mat2 must have the same dtype, but got Long and Float"
@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_a_soft_pool_names_integer_features(name: str) -> None:
    x, edge_index, weight, batch = _ring()
    with pytest.raises(ValueError, match=r"'x' has dtype torch\.int64; .*floating-point.*x\.float\(\)"):
        _make(name, torch.float32)(x.round().long(), edge_index, weight.float(), batch)


# 9. coarse weights are differentiable in the input weights
@pytest.mark.parametrize("name", HARD)
def test_hard_pools_are_differentiable_in_the_edge_weights(name: str) -> None:
    x, edge_index, weight, batch = _ring()
    pool = _make(name)
    inputs = _inputs(name, x.size(0))
    weight.requires_grad_(True)
    out = pool(x, edge_index, weight, batch, **inputs)
    out.edge_weight.sum().backward()
    assert weight.grad is not None
    torch.autograd.gradcheck(
        lambda w: pool(x, edge_index, w, batch, **inputs).edge_weight, (weight.detach().requires_grad_(),)
    )


def test_a_hard_level_after_a_soft_one_trains() -> None:
    from graphpool.cluster import HierarchicalPool

    x, edge_index, weight, batch = _ring()
    model = HierarchicalPool([_make("mincut"), _make("graclus")], readout="sum").double()
    out = model(x, edge_index, weight, batch)
    (out.out.sum() + sum(out.aux_loss.values())).backward()
    assert model.levels[0].select.assign.weight.grad is not None


# 10. a batch without nodes pools to K zero clusters (soft) or none (hard)
@pytest.mark.parametrize("name", POOLERS)
@pytest.mark.parametrize("num_graphs", [None, 2])
def test_a_batch_without_nodes(name: str, num_graphs) -> None:
    x = torch.zeros(0, F, dtype=torch.float64)
    edge_index = torch.zeros(2, 0, dtype=torch.long)
    batch = torch.zeros(0, dtype=torch.long)
    out = _make(name)(x, edge_index, None, batch, num_graphs, **_inputs(name, 0))
    graphs = num_graphs or 0
    fixed_layout = name in SOFT_POOLERS or name == "given"  # K clusters per graph, empty or not
    expected = graphs * K if fixed_layout else 0
    assert out.x.shape == (expected, F) and out.batch.shape == (expected,)
    assert out.edge_index.shape == (2, 0)
    assert bool((out.x == 0).all())
    for value in out.aux_loss.values():
        assert torch.isfinite(value).all()


# 21. edge_index dtypes
@pytest.mark.parametrize("name", POOLERS)
def test_int32_edge_index_gives_what_int64_gives(name: str) -> None:
    x, edge_index, weight, batch = _ring()
    pool = _make(name)
    inputs = _inputs(name, x.size(0))
    torch.manual_seed(0)
    expected = pool(x, edge_index, weight, batch, **inputs)
    torch.manual_seed(0)
    got = pool(x, edge_index.int(), weight, batch, **inputs)
    torch.testing.assert_close(got.x, expected.x)
    assert torch.equal(got.edge_index.long(), expected.edge_index)


@pytest.mark.parametrize("name", POOLERS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bool, torch.uint8])
def test_an_edge_index_of_another_dtype_is_refused(name: str, dtype: torch.dtype) -> None:
    x, edge_index, weight, batch = _ring()
    with pytest.raises(TypeError, match=r"'edge_index' must hold int32 or int64"):
        _make(name)(x, edge_index.to(dtype), weight, batch, **_inputs(name, x.size(0)))


# None for x or edge_index (a Data without edges) failed with "'NoneType' object has no attribute 'dim'"
@pytest.mark.parametrize("name", POOLERS)
@pytest.mark.parametrize("missing", ["x", "edge_index"])
def test_a_missing_x_or_edge_index_is_named(name: str, missing: str) -> None:
    x, edge_index, weight, batch = _ring()
    arguments = {"x": x, "edge_index": edge_index, missing: None}
    with pytest.raises(TypeError, match=rf"'{missing}' must be a torch.Tensor, got NoneType"):
        _make(name)(arguments["x"], arguments["edge_index"], weight, batch, **_inputs(name, x.size(0)))


# the name's options: K where the pooler has none, and a familiar misspelling
@pytest.mark.parametrize("name", ["graclus", "kmis", "louvain"])
def test_a_cluster_count_the_pooler_cannot_use_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=rf"pooler '{name}' does not take 'clusters'"):
        pooler(name, clusters=4)


def test_a_misspelt_cluster_count_suggests_clusters() -> None:
    with pytest.raises(ValueError, match=r"pooler 'mincut' has no option 'k'.*did you mean 'clusters'"):
        pooler("mincut", in_channels=4, k=5)


# 8. half precision: accumulate in float32, return the input's dtype
def _half_tolerance(dtype: torch.dtype) -> dict:
    """Two units in the last place of ``dtype`` (measured: within one)."""
    eps = torch.finfo(dtype).eps
    return {"rtol": 2 * eps, "atol": 2 * eps}


@pytest.mark.parametrize("name", SOFT_POOLERS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_soft_pools_run_in_half_precision(name: str, dtype: torch.dtype) -> None:
    import copy

    torch.manual_seed(0)
    x, edge_index, weight, batch = _ring(dtype=torch.float32)
    x, weight = x.to(dtype), weight.to(dtype)  # the inputs as the half model sees them
    full = _make(name, torch.float32)
    half = copy.deepcopy(full).to(dtype)
    expected = full(x.float(), edge_index, weight.float(), batch)
    got = half(x.requires_grad_(), edge_index, weight, batch)
    assert got.x.dtype == dtype and got.edge_weight.dtype == dtype
    torch.testing.assert_close(got.x.float(), expected.x, **_half_tolerance(dtype))
    torch.testing.assert_close(got.edge_weight.float(), expected.edge_weight, **_half_tolerance(dtype))
    for key, value in got.aux_loss.items():
        torch.testing.assert_close(value.float(), expected.aux_loss[key], **_half_tolerance(dtype))
    (got.x.float().sum() + sum(v.float() for v in got.aux_loss.values())).backward()
    assert x.grad is not None and x.grad.dtype == dtype and bool(torch.isfinite(x.grad).all())


@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_soft_pools_run_under_autocast(name: str) -> None:
    torch.manual_seed(0)
    x, edge_index, weight, batch = _ring(dtype=torch.float32)
    pool = _make(name, torch.float32)
    expected = pool(x, edge_index, weight, batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = pool(x, edge_index, weight, batch)
    assert got.x.dtype == torch.float32  # the input's dtype
    torch.testing.assert_close(got.x, expected.x, **_half_tolerance(torch.bfloat16))


@pytest.mark.parametrize("name", SOFT_POOLERS)
def test_a_soft_pool_names_features_of_another_width(name: str) -> None:
    """Was torch's 'mat1 and mat2 shapes cannot be multiplied (12x3 and 5x2)'."""
    x, edge_index, weight, batch = _ring()
    pool = pooler(name, in_channels=5, clusters=K).double()
    with pytest.raises(ValueError, match=r"'x' has 3 features, but this pool was built for in_channels=5"):
        pool(x, edge_index, weight, batch)


def test_type_pool_names_a_batch_beyond_num_graphs() -> None:
    """Was "'index' holds graph index 3 but there are only 3 graphs": the (graph, type) index, not the caller's."""
    from graphpool.cluster import TypePool

    x, _, _, batch = _ring()  # two graphs
    with pytest.raises(ValueError, match=r"'batch' holds graph index 1 but there are only 1 graphs"):
        TypePool(3, "mean")(x, batch, 1, labels=torch.zeros(12, dtype=torch.long))


def test_a_label_beyond_the_count_is_named_in_words_every_caller_knows() -> None:
    """Was "'labels' holds 5 but num_labels = 3": an argument of LabelSelect that neither TypePool (num_types) nor
    pooler("given") (clusters) takes."""
    from graphpool.cluster import TypePool, pooler

    x, edge_index, weight, batch = _ring()
    labels = torch.arange(12) % 6
    message = r"'labels' holds 5, but this selection was built for 3 labels: they must be in \[0, 3\)"
    with pytest.raises(ValueError, match=message):
        TypePool(3, "mean")(x, batch, 2, labels=labels)
    with pytest.raises(ValueError, match=message):
        pooler("given", clusters=3)(x, edge_index, weight, batch, labels=labels)


def test_the_finite_check_of_features_survives_a_sum_that_overflows() -> None:
    """The check first sums x (one fast read); a sum of finite float16 values can overflow to inf, and then the rows
    are checked one by one: finite ones pass, the first non-finite one is named."""
    from graphpool.ops.validation import check_finite_rows

    large = torch.full((100, 4), 6e4, dtype=torch.float16)
    assert torch.isinf(large.sum())
    check_finite_rows("x", large)
    large[42, 3] = float("inf")
    with pytest.raises(ValueError, match=r"'x' holds NaN or infinite values \(row 42\)"):
        check_finite_rows("x", large)


# the graph primitives are public: an edge to a node beyond num_nodes, a weight or key of another length, a
# num_nodes of -1 or 3.0, an adjacency of another shape failed inside torch (IndexError "index out of range in
# self", "The shape of the mask [4] ...", "not enough values to unpack"), naming no argument
_EDGES = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda f: f(_EDGES, 2), ValueError, r"'edge_index' refers to node 2, but num_nodes = 2"),
        (lambda f: f(_EDGES, -1), ValueError, r"'num_nodes' must be >= 0, got -1"),
        (lambda f: f(_EDGES, 3.0), TypeError, r"'num_nodes' must be a whole number, got 3.0"),
        (lambda f: f(_EDGES[:1], 3), ValueError, r"'edge_index' must be \[2, E\], got shape \(1, 4\)"),
        (lambda f: f(_EDGES.tolist(), 3), TypeError, r"'edge_index' must be a torch.Tensor, got list"),
        (lambda f: f(_EDGES.float(), 3), TypeError, r"'edge_index' must hold int32 or int64 node ids"),
        (lambda f: f(_EDGES, 3, node_key=torch.arange(2)), ValueError, r"'node_key' must be \[N\] = \[3\], got \(2,\)"),
    ],
)
@pytest.mark.parametrize("primitive", [greedy_matching, maximal_independent_set], ids=lambda f: f.__name__)
def test_matching_and_independent_sets_name_a_bad_graph(primitive, call, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call(primitive)


def test_a_matching_names_weights_of_another_length() -> None:
    with pytest.raises(ValueError, match=r"'edge_weight' must be \[E\] = \[4\], got \(3,\)"):
        greedy_matching(_EDGES, 3, torch.ones(3))


def test_normalized_and_soft_edges_name_bad_input() -> None:
    with pytest.raises(ValueError, match=r"'edge_index' refers to node 2, but num_nodes = 2"):
        normalize_edges(_EDGES, torch.ones(4), 2)
    with pytest.raises(ValueError, match=r"'edge_weight' must be \[E\] = \[4\], got \(3,\)"):
        normalize_edges(_EDGES, torch.ones(3), 3)
    # negative weights were normalised to 0 without a word (their degrees fall below epsilon)
    with pytest.raises(ValueError, match=r"'edge_weight' holds negative weights \(-1\); D\^-1/2 A D\^-1/2 needs >= 0"):
        normalize_edges(_EDGES, -torch.ones(4), 3)
    for shape in [(3, 3), (2, 3, 4)]:
        with pytest.raises(ValueError, match=rf"'adj' must be \[B, K, K\], got {re.escape(str(shape))}"):
            soft_edges(torch.ones(shape))


# an assignment whose cluster_batch or label has another length than num_clusters failed later, where it was read
def test_an_assignment_of_inconsistent_shapes_is_refused() -> None:
    cluster = torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"'cluster_batch' must be \[C\] = \[2\], got \(1,\)"):
        Assignment(cluster, 2, torch.tensor([0]))
    with pytest.raises(ValueError, match=r"'label' must be \[C\] = \[2\], got \(3,\)"):
        Assignment(cluster, 2, torch.tensor([0, 0]), label=torch.arange(3))
    with pytest.raises(ValueError, match=r"'cluster' must be \[N\], got \(2, 1\)"):
        Assignment(cluster.view(2, 1), 2, torch.tensor([0, 0]))

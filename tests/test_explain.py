"""Cell scores: they add up to the logits exactly for homogeneous readouts, and say when they do not."""

import pytest
import torch
from torch_geometric.data import Batch

from graphpool.cells import read_cells, simulate, tissue_graphs
from graphpool.explain import evidence, node_class_scores, node_scores
from graphpool.models import GraphClassifier, ModelConfig


@pytest.fixture(scope="module")
def batch() -> Batch:
    table = read_cells(simulate("presence", samples=6, seed=0))
    return Batch.from_data_list(tissue_graphs(table, "knn:5"))


def _model(batch: Batch, **settings) -> GraphClassifier:
    torch.manual_seed(0)
    config = {"layers": 2, "hidden": 8, "head_layers": 1, "clusters": 4, **settings}
    model = GraphClassifier(ModelConfig(in_channels=batch.x.size(1), num_classes=3, **config))
    for module in model.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    return model


@pytest.mark.parametrize(
    ("readout", "pool"),
    [
        ("sum", "none"),
        ("mean", "none"),
        ("max", "none"),
        ("median", "none"),
        ("std", "none"),
        ("mean", "celltype"),
        ("max", "celltype"),
    ],
)
def test_scores_add_up_to_the_logits(batch: Batch, readout: str, pool: str) -> None:
    model = _model(batch, readout=readout, pool=pool)
    result = node_scores(model, batch)
    assert result.exact
    totals = torch.zeros(batch.num_graphs, 3).index_add_(0, batch.batch, result.scores)
    torch.testing.assert_close(totals, result.logits - model.head[-1].bias.detach(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(result.logits, model.eval()(batch).logits)  # the logits of the model in eval mode


def test_mean_readout_scores_are_the_graph_cam(batch: Batch) -> None:
    model = _model(batch, readout="mean", layers=0)
    scores = node_scores(model, batch).scores
    sizes = torch.bincount(batch.batch).float()[batch.batch]
    expected = node_class_scores(batch.x, model.head[-1].weight.detach()) / sizes[:, None]
    torch.testing.assert_close(scores, expected)


def test_inexact_cases_are_reported(batch: Batch) -> None:
    assert not node_scores(_model(batch, readout="softmax"), batch).exact
    assert not node_scores(_model(batch, readout="mean", head_layers=2), batch).exact


# a label outside the classes was read from the end (label -1: the last class) or failed inside torch
@pytest.mark.parametrize("label", [-1, 3])
def test_evidence_refuses_a_label_outside_the_classes(label: int) -> None:
    with pytest.raises(ValueError, match=rf"'label' must be a class index in \[0, 3\), got {label}"):
        evidence(torch.randn(5, 3), label)


def test_evidence_is_the_own_class_against_the_mean() -> None:
    scores = torch.tensor([[1.0, 2.0, 6.0], [0.0, 3.0, 0.0]])
    torch.testing.assert_close(evidence(scores, 1), torch.tensor([-1.0, 2.0]))


# a head without a bias is exact as well (it failed on `logits - None`)
def test_a_head_without_bias(batch: Batch) -> None:
    model = _model(batch, readout="sum")
    linear = model.head[-1]
    model.head[-1] = torch.nn.Linear(linear.in_features, linear.out_features, bias=False)
    result = node_scores(model, batch)
    assert result.exact
    totals = torch.zeros(batch.num_graphs, 3).index_add_(0, batch.batch, result.scores)
    torch.testing.assert_close(totals, result.logits, rtol=1e-4, atol=1e-4)


# integer features: the head's weights were cast to integers (0.7 -> 0) and the scores were silently wrong
def test_integer_features_are_scored_with_the_heads_real_weights() -> None:
    from graphpool.explain import node_class_scores
    from graphpool.grid import class_activation_map

    x = torch.tensor([[1, 2], [3, 0]])
    weight = torch.tensor([[0.7, -0.2], [1.5, 0.25]])
    expected = x.double() @ weight.double().t()
    torch.testing.assert_close(node_class_scores(x, weight).double(), expected)
    image = x.t().reshape(1, 2, 2, 1)  # [B, C, H, W]: the two nodes as a 2 x 1 image
    torch.testing.assert_close(class_activation_map(image, weight).double().flatten(2), expected.t().unsqueeze(0))


# a float or tensor label failed inside torch ("only integers ... are valid indices"); missing columns were KeyErrors
@pytest.mark.parametrize("label", [0.5, torch.tensor([0, 1]), "0", True])
def test_evidence_names_a_label_that_is_not_a_class_index(label) -> None:
    with pytest.raises(ValueError, match="'label' must be a class index in \\[0, 2\\)"):
        evidence(torch.ones(3, 2), label)


# "'list' object has no attribute 'dim'"
def test_the_scores_name_inputs_that_are_not_tensors() -> None:
    with pytest.raises(TypeError, match="'scores' must be a torch.Tensor, got list"):
        evidence([[1.0, 0.0]], 0)
    with pytest.raises(TypeError, match="'x' must be a torch.Tensor, got list"):
        node_class_scores([[1.0]], torch.ones(2, 1))


def test_evidence_takes_a_whole_label_of_any_integer_type() -> None:
    scores = torch.tensor([[1.0, 0.0], [0.5, 2.0]])
    for label in (1, torch.tensor(1), __import__("numpy").int64(1)):
        torch.testing.assert_close(evidence(scores, label), torch.tensor([-0.5, 0.75]))


def test_the_evidence_tables_name_the_columns_they_need() -> None:
    import pandas as pd

    from graphpool.explain import evidence_by_group, evidence_by_type

    nodes = pd.DataFrame({"type": ["a", "b"], "evidence": [1.0, -1.0], "sample": ["s1", "s2"]})
    with pytest.raises(ValueError, match=r"'nodes' lacks the column\(s\) \['score_0', 'score_1'\]"):
        evidence_by_type(nodes, [0, 1], pd.Series([0, 1]))
    with pytest.raises(ValueError, match=r"'nodes' lacks the column\(s\) \['donor'\]"):
        evidence_by_group(nodes, "donor")
    with pytest.raises(ValueError, match=r"'nodes' lacks the column\(s\) \['evidence'\]"):
        evidence_by_group(nodes.drop(columns="evidence"), "sample")


# a label_of of other rows failed in pandas ("Unalignable boolean Series"), one of the same length but other
# index labels put the nodes under no label; NaN evidence (a model that gave NaN scores) was skipped by the means
def test_the_evidence_tables_refuse_labels_of_other_rows_and_missing_evidence() -> None:
    import pandas as pd

    from graphpool.explain import evidence_by_group, evidence_by_type

    nodes = pd.DataFrame({"type": ["a", "b", "a"], "evidence": [1.0, -1.0, 2.0], "sample": [0, 0, 1]})
    nodes["score_x"], nodes["score_y"] = 0.0, 1.0
    label_of = pd.Series(["x", "x", "y"])
    table = evidence_by_type(nodes, ["x", "y"], label_of)
    assert table.loc["a", "mean_evidence_label_y"] == 2.0 and table.loc["a", "nodes"] == 2
    with pytest.raises(ValueError, match=r"'label_of' must have the index of 'nodes' \(3 rows\), got 2 rows"):
        evidence_by_type(nodes, ["x", "y"], label_of.iloc[:2])
    with pytest.raises(ValueError, match=r"'label_of' must have the index of 'nodes' \(3 rows\), got 3 rows"):
        evidence_by_type(nodes, ["x", "y"], label_of.set_axis([5, 6, 7]))
    missing = nodes.assign(evidence=[1.0, float("nan"), 2.0])
    for call in (lambda: evidence_by_type(missing, ["x", "y"], label_of), lambda: evidence_by_group(missing, "sample")):
        with pytest.raises(ValueError, match=r"'nodes' has 1 row\(s\) whose evidence is NaN or infinite"):
            call()


# a node without a type (or group) was left out of every row and of the shares' total by pandas' groupby
def test_the_evidence_tables_refuse_nodes_without_a_type_or_group() -> None:
    import pandas as pd

    from graphpool.explain import evidence_by_group, evidence_by_type

    nodes = pd.DataFrame({"type": ["a", None, "b"], "evidence": [1.0, 5.0, 2.0], "sample": ["s", "s", None]})
    nodes["score_x"] = 0.0
    with pytest.raises(ValueError, match=r"'nodes' has 1 row\(s\) without a 'type' \(row 1\)"):
        evidence_by_type(nodes, ["x"], pd.Series(["x"] * 3))
    with pytest.raises(ValueError, match=r"'nodes' has 1 row\(s\) without a 'sample' \(row 2\)"):
        evidence_by_group(nodes.assign(type="a"), "sample")


# node_scores left a model it was handed in training mode in eval mode (dropout off for the rest of training)
def test_scores_are_taken_in_eval_mode_and_leave_the_model_in_its_mode(batch: Batch) -> None:
    model = _model(batch, readout="sum", dropout=0.5)
    expected = node_scores(model.eval(), batch).scores
    model.train()
    torch.testing.assert_close(node_scores(model, batch).scores, expected)  # dropout off while scoring
    assert model.training and all(module.training for module in model.modules())


@pytest.mark.parametrize("tolerance", [-1.0, float("nan")])
def test_a_tolerance_below_zero_is_refused(batch: Batch, tolerance: float) -> None:
    with pytest.raises(ValueError, match=r"'tolerance' must be (a finite number )?>= 0"):
        node_scores(_model(batch), batch, tolerance=tolerance)

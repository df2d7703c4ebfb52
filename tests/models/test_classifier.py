"""GraphClassifier: every backbone and pool runs, learns, and is permutation invariant."""

import re
from dataclasses import replace

import pytest
import torch
from torch_geometric.data import Batch, Data

from graphpool.data import NUM_ATOM_FEATURES, NUM_BOND_FEATURES, smiles_to_graph
from graphpool.models import BACKBONES, GraphClassifier, ModelConfig
from tests.installed import needs_rdkit

SMILES = ["CCO", "c1ccccc1", "CC(=O)O", "N", "CCN", "c1ccncc1", "CCCC", "OCCN"]


def _batch() -> Batch:
    graphs = [smiles_to_graph(s, int("N" in s or "n" in s)) for s in SMILES]
    return Batch.from_data_list(graphs)


@needs_rdkit
@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("pool", ["none", "graclus", "diffpool", "mincut", "dmon"])
def test_every_backbone_and_pool(backbone: str, pool: str) -> None:
    torch.manual_seed(0)
    config = ModelConfig(
        in_channels=NUM_ATOM_FEATURES,
        num_classes=2,
        backbone=backbone,
        pool=pool,
        layers=2,
        hidden=16,
        clusters=3,
        edge_channels=NUM_BOND_FEATURES if backbone == "gine" else 0,
    )
    out = GraphClassifier(config)(_batch())
    assert out.logits.shape == (len(SMILES), 2) and torch.isfinite(out.logits).all()
    assert bool(out.aux_loss) == (pool in ("diffpool", "mincut", "dmon"))


@needs_rdkit
@pytest.mark.parametrize("jumping_knowledge", ["last", "cat", "max"])
@pytest.mark.parametrize("readout", ["sum", "mean+max", "median", "attention"])
def test_learns_a_simple_rule(jumping_knowledge: str, readout: str) -> None:
    torch.manual_seed(0)
    model = GraphClassifier(
        ModelConfig(
            in_channels=NUM_ATOM_FEATURES,
            num_classes=2,
            layers=2,
            hidden=16,
            dropout=0.0,
            jumping_knowledge=jumping_knowledge,
            readout=readout,
        )
    )
    data = _batch()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(data).logits, data.y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@needs_rdkit
def test_relabelling_atoms_changes_no_prediction() -> None:
    torch.manual_seed(0)
    for pool in ("none", "diffpool"):
        model = GraphClassifier(
            ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, layers=3, hidden=16, pool=pool, readout="mean")
        )
        model.eval()
        data = _batch()
        perm = torch.randperm(data.num_nodes, generator=torch.Generator().manual_seed(1))
        perm = perm[torch.argsort(data.batch[perm], stable=True)]  # shuffle within graphs, keep graphs grouped
        inverse = torch.argsort(perm)
        shuffled = data.clone()
        shuffled.x, shuffled.batch, shuffled.edge_index = data.x[perm], data.batch[perm], inverse[data.edge_index]
        torch.testing.assert_close(model(shuffled).logits, model(data).logits, rtol=1e-4, atol=1e-5)


def test_config_errors_and_round_trip() -> None:
    with pytest.raises(ValueError, match="'backbone' must be one of"):
        ModelConfig(in_channels=4, num_classes=2, backbone="transformer")
    with pytest.raises(ValueError, match="'pool' must be one of"):
        ModelConfig(in_channels=4, num_classes=2, pool="topk")
    with pytest.raises(ValueError, match="unknown readout 'medain'"):
        ModelConfig(in_channels=4, num_classes=2, readout="medain")
    with pytest.raises(ValueError, match="'hidden' must be >= 1"):
        ModelConfig(in_channels=4, num_classes=2, hidden=0)
    config = ModelConfig(in_channels=4, num_classes=3, backbone="sage", readout="median", jumping_knowledge="cat")
    assert ModelConfig(**config.to_dict()) == config


def test_one_class_is_refused_for_classification_and_kept_for_one_regression_target() -> None:
    """A head of one class predicts it always and its cross-entropy is 0: a model that trains nothing, silently."""
    with pytest.raises(ValueError, match="'num_classes' must be >= 2 for classification, got 1"):
        ModelConfig(in_channels=4, num_classes=1)
    assert ModelConfig(in_channels=4, num_classes=1, task="regression").num_classes == 1


@pytest.mark.parametrize("pool", ["none", "mincut"])
def test_node_features_the_model_was_not_built_for_are_named(pool: str) -> None:
    """Was torch's 'mat1 and mat2 shapes cannot be multiplied (5x4 and 3x64)', or an AttributeError without x."""
    from torch_geometric.data import Data

    model = GraphClassifier(ModelConfig(in_channels=3, num_classes=2, pool=pool, clusters=2))
    edges = torch.tensor([[0, 1], [1, 0]])
    wide = Batch.from_data_list([Data(x=torch.randn(5, 4), edge_index=edges)])
    with pytest.raises(ValueError, match=r"the model reads data.x \[N, 3\]; the graphs have shape \(5, 4\)"):
        model(wide)
    bare = Batch.from_data_list([Data(edge_index=edges, num_nodes=5)])
    with pytest.raises(ValueError, match=r"the model reads data.x \[N, 3\]; the graphs have none"):
        model(bare)
    # graphs without edges: PyG's "`MessagePassing.propagate` only supports integer tensors of shape ..."
    edgeless = Batch.from_data_list([Data(x=torch.randn(5, 3))])
    with pytest.raises(ValueError, match=r"the model reads data.edge_index \[2, E\]; the graphs have none"):
        model(edgeless)


@needs_rdkit
def test_zero_layers_is_structure_agnostic() -> None:
    """layers=0 (readout of the input features + head) and backbone "mlp": edges change nothing."""
    torch.manual_seed(0)
    model = GraphClassifier(
        ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, layers=0, hidden=16, readout="sum")
    ).eval()
    data = _batch()
    rewired = data.clone()
    rewired.edge_index = torch.empty(2, 0, dtype=torch.long)
    torch.testing.assert_close(model(rewired).logits, model(data).logits)
    assert not list(model.convs)
    expected = model.head(torch.zeros(data.num_graphs, NUM_ATOM_FEATURES).index_add_(0, data.batch, data.x.float()))
    torch.testing.assert_close(model(data).logits, expected)
    deepsets = GraphClassifier(
        ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, backbone="mlp", layers=2, hidden=16)
    ).eval()
    torch.testing.assert_close(deepsets(rewired).logits, deepsets(data).logits)
    with pytest.raises(ValueError, match="'layers' must be >= 0"):
        ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, layers=-1)


@needs_rdkit
def test_gcn_uses_edge_weights_and_gin_ignores_them() -> None:
    data = _batch()
    weighted = data.clone()
    weighted.edge_weight = torch.rand(data.edge_index.size(1), generator=torch.Generator().manual_seed(0))
    for backbone, changes in (("gcn", True), ("gin", False)):
        torch.manual_seed(0)
        model = GraphClassifier(
            ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, backbone=backbone, layers=2, hidden=16)
        ).eval()
        moved = not torch.allclose(model(weighted).logits, model(data).logits)
        assert moved == changes, backbone


@needs_rdkit
@pytest.mark.parametrize("pool", ["none", "graclus", "mincut"])
def test_gine_reads_the_bond_features_through_the_backbone_and_every_level(pool: str) -> None:
    data = _batch()
    torch.manual_seed(0)
    config = ModelConfig(
        in_channels=NUM_ATOM_FEATURES,
        num_classes=2,
        backbone="gine",
        edge_channels=NUM_BOND_FEATURES,
        pool=pool,
        layers=2,
        hidden=16,
        clusters=2,
    )
    model = GraphClassifier(config).eval()
    levels = []
    if pool != "none":  # each level's coarse edges carry the pooled bond features
        model.stage.levels[0].register_forward_hook(lambda module, args, out: levels.append(out))
    logits = model(data).logits
    bondless = data.clone()
    bondless.edge_attr = torch.zeros_like(data.edge_attr)
    assert not torch.allclose(model(bondless).logits, logits), "the bond features must move the logits"
    if pool != "none":
        assert levels[0].edge_attr.shape == (levels[0].edge_index.size(1), NUM_BOND_FEATURES)
    del data.edge_attr
    with pytest.raises(ValueError, match="reads data.edge_attr of width 10; the graphs have none"):
        model(data)


def test_gine_and_edge_channels_come_together() -> None:
    with pytest.raises(ValueError, match="backbone 'gine' reads edge features: give 'edge_channels'"):
        ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, backbone="gine")
    with pytest.raises(ValueError, match="got backbone 'gin', edge_channels 10"):
        ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, edge_channels=NUM_BOND_FEATURES)


@needs_rdkit
@pytest.mark.parametrize("pool", ["graclus", "diffpool"])
def test_cluster_pools_are_not_a_disguised_sum(pool: str) -> None:
    """With message passing on the coarse graph the clusters matter: for the same node embeddings, another
    assignment gives other logits. (Without it, a sum readout of one pooling level equals the plain node
    sum for every assignment.)
    """
    torch.manual_seed(0)
    model = GraphClassifier(
        ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, pool=pool, layers=2, hidden=16, clusters=3)
    ).eval()
    data = _batch()
    h = model.embed(data).detach()
    before = model.classify(h, data).logits
    other = data.clone()
    if pool == "diffpool":
        with torch.no_grad():
            for parameter in model.levels[0].parameters():  # another soft assignment
                parameter.add_(torch.randn_like(parameter))
    else:
        other.edge_index = torch.empty(2, 0, dtype=torch.long)  # no edges: no pairs are matched
    assert not torch.allclose(model.classify(h, other).logits, before, atol=1e-4)


def _online_and_precoarsened(pool: str, data_list: list):
    """Two 2-level models with the same weights, one computing its levels and one reading them, and the batch."""
    from dataclasses import replace

    from torch_geometric.loader import DataLoader

    from graphpool.models import precoarsen

    config = ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, pool=pool, levels=2, layers=2, hidden=8)
    torch.manual_seed(0)
    online = GraphClassifier(config).eval()
    stored = GraphClassifier(replace(config, precoarsened=True)).eval()
    stored.load_state_dict(online.state_dict())
    return online, stored, next(iter(DataLoader(precoarsen(data_list, config), batch_size=len(data_list))))


@needs_rdkit
@pytest.mark.parametrize("pool", ["graclus", "kmis", "given"])
def test_a_precoarsened_model_equals_the_online_one(pool: str) -> None:
    """The same weights give the same logits whether the levels come from the graphs or are computed."""
    from torch_geometric.loader import DataLoader

    data_list = _batch().to_data_list()
    for graph in data_list:
        graph.cell_type = torch.arange(graph.num_nodes) % 3
    online, stored, batch = _online_and_precoarsened(pool, data_list)
    torch.testing.assert_close(stored(batch).logits, online(batch).logits)
    with pytest.raises(ValueError, match="the batch has no"):
        stored(next(iter(DataLoader(data_list, batch_size=len(data_list)))))


@needs_rdkit
@pytest.mark.parametrize("pool", ["graclus", "mincut", "given"])
@pytest.mark.parametrize("level_readouts", [False, True])
def test_hierarchical_networks_of_several_levels(pool: str, level_readouts: bool) -> None:
    data = _batch()
    data.cell_type = torch.arange(data.num_nodes) % 3
    config = ModelConfig(
        in_channels=NUM_ATOM_FEATURES, num_classes=2, pool=pool, levels=3, clusters=4, level_readouts=level_readouts
    )
    assert config.level_clusters() == [4, 1, 1]
    model = GraphClassifier(config)
    out = model(data)
    assert out.logits.shape == (data.num_graphs, 2)
    assert len(model.levels) == 3 and len(model.stage.level_readouts) == (3 if level_readouts else 0)
    assert sorted({k.split(".")[0] for k in out.aux_loss}) == (
        ["level0", "level1", "level2"] if pool == "mincut" else []
    )
    (out.logits.sum() + sum(out.aux_loss.values())).backward()
    assert all(p.grad is not None for p in model.levels.parameters())


@needs_rdkit
def test_config_errors_for_pooling() -> None:
    with pytest.raises(ValueError, match=r"'ratio' must be in \(0, 1\]"):
        ModelConfig(in_channels=3, num_classes=2, pool="graclus", ratio=0)
    with pytest.raises(ValueError, match="'levels' must be >= 1"):
        ModelConfig(in_channels=3, num_classes=2, pool="graclus", levels=0)
    with pytest.raises(ValueError, match="'pool' must be one of"):
        ModelConfig(in_channels=3, num_classes=2, pool="topk")
    with pytest.raises(ValueError, match="pool 'given' needs the label of every node as data.cell_type"):
        GraphClassifier(ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, pool="given"))(_batch())


# a cell type beyond the model's types was named in the pool's words ("'labels' holds 4 but num_labels = 2")
def test_a_cell_type_beyond_the_models_types_is_named_in_the_models_words() -> None:
    graph = Data(x=torch.randn(5, 3), edge_index=torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]))
    graph.cell_type = torch.tensor([0, 1, 4, 1, 0])
    model = GraphClassifier(ModelConfig(in_channels=3, num_classes=2, pool="celltype", clusters=2))
    with pytest.raises(ValueError, match=r"data.cell_type holds type 4, but the model has clusters=2 types"):
        model(Batch.from_data_list([graph]))


@needs_rdkit
@pytest.mark.parametrize("pool", ["graclus", "given", "louvain"])
def test_every_level_gets_the_graphs_edge_weights(pool: str) -> None:
    """The first level pools with data.edge_weight, online as precoarsened (it once got None online)."""
    from torch_geometric.loader import DataLoader

    data_list = _batch().to_data_list()
    g = torch.Generator().manual_seed(0)
    for graph in data_list:
        graph.cell_type = torch.arange(graph.num_nodes) % 3
        src, dst = graph.edge_index
        low, high = torch.minimum(src, dst), torch.maximum(src, dst)
        graph.edge_weight = ((low * 7 + high * 13) % 10).float() / 10 + torch.rand(1, generator=g)  # symmetric
    online, stored, batch = _online_and_precoarsened(pool, data_list)
    online_out, stored_out = online(batch), stored(batch)
    for a, b in zip(online_out.assignments, stored_out.assignments, strict=True):
        assert torch.equal(a.cluster, b.cluster)
    torch.testing.assert_close(stored_out.logits, online_out.logits)
    # the weights matter: without them the first level's coarse graph (and so the logits) differ
    unweighted = next(iter(DataLoader(data_list, batch_size=len(data_list))))
    del unweighted.edge_weight
    assert not torch.allclose(online(unweighted).logits, online_out.logits)


@needs_rdkit
def test_the_first_level_gets_the_positions() -> None:
    data = _batch()
    data.pos = torch.randn(data.num_nodes, 2, generator=torch.Generator().manual_seed(1))
    config = ModelConfig(in_channels=NUM_ATOM_FEATURES, num_classes=2, pool="kmeans", clusters=2, layers=1, hidden=8)
    torch.manual_seed(0)
    model = GraphClassifier(config).eval()
    model.levels[0].select.on = "pos"  # k-means on the positions: fails without them
    out = model(data)
    from graphpool.cluster import BatchKMeansSelect

    expected = BatchKMeansSelect(2, on="pos", init="farthest")(data.x, data.edge_index, data.batch, 8, pos=data.pos)
    assert torch.equal(out.assignments[0].cluster, expected.cluster)


@pytest.mark.parametrize("pool", ["none", "celltype", "mincut", "soft"])
def test_precoarsened_levels_of_a_pool_that_has_none_to_precompute_are_refused(pool: str) -> None:
    """precoarsened=True was silently ignored by readouts and soft pools (they learn or have no levels)."""
    with pytest.raises(ValueError, match=rf"'precoarsened' applies to hard cluster pools; pool {pool!r}"):
        ModelConfig(in_channels=3, num_classes=2, pool=pool, precoarsened=True)


def test_an_experiment_precoarsens_only_its_hard_pools() -> None:
    from graphpool.experiment import Experiment, TrainConfig

    model = ModelConfig(in_channels=3, num_classes=2)
    experiment = Experiment(model=model, train=TrainConfig(), pools=["none", "mincut", "graclus"], precoarsen=True)
    flags = {pool: experiment.model_for("sum", pool).precoarsened for pool in experiment.pools}
    assert flags == {"none": False, "mincut": False, "graclus": True}


def test_the_assignment_temperature_and_mlp_reach_every_soft_level() -> None:
    config = ModelConfig(
        in_channels=3, num_classes=2, pool="mincut", clusters=6, levels=2, temperature=0.1, assign_hidden=8
    )
    for level in GraphClassifier(config).levels:
        select = level.select
        assert select.temperature == 0.1
        assert [type(m).__name__ for m in select.assign] == ["Linear", "ReLU", "Linear"]
        assert select.assign[0].out_features == 8
    default = lambda pool: GraphClassifier(ModelConfig(in_channels=3, num_classes=2, pool=pool, clusters=6)).levels[0]
    assert isinstance(default("mincut").select.assign, torch.nn.Linear)
    assert default("mincut").select.temperature == 0.1  # the recipe's (RECIPE_TEMPERATURE)
    assert default("diffpool").select.temperature == 1.0 and default("justbalance").select.temperature == 1.0
    for name, value, message in (("temperature", 0.0, "must be > 0"), ("assign_hidden", -1, "must be >= 0")):
        with pytest.raises(ValueError, match=f"'{name}' {message}"):
            ModelConfig(in_channels=3, num_classes=2, pool="mincut", **{name: value})


# --readout weighted made a run folder, then failed in the first forward: the model has no node weights to pass
@pytest.mark.parametrize(
    ("setting", "value"), [("readout", "weighted"), ("readout", "mean+weighted"), ("reduce", "weighted")]
)
def test_a_readout_that_needs_node_weights_is_refused_by_the_model(setting: str, value: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"'{setting}' {value!r} weighs each node by a weight= input")):
        ModelConfig(in_channels=3, num_classes=2, pool="graclus", **{setting: value})


def test_the_cli_refuses_it_before_making_a_folder(tmp_path) -> None:
    from graphpool.cli import main

    with pytest.raises(SystemExit, match="weighs each node by a weight= input"):
        main(["classify", "--dataset", "pooling-easy-small", "--readout", "weighted", "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


# a model read levels precoarsened for another config without a word: k-means levels with another K, given
# labels from another attribute (nothing on the graphs said what the levels were computed with)
@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ({"pool": "kmeans", "clusters": 3}, {"pool": "kmeans", "clusters": 2}),
        ({"pool": "kmeans", "clusters": 4, "levels": 2, "ratio": 0.5}, {"pool": "kmeans", "clusters": 4, "levels": 2}),
        ({"pool": "given", "given": "cell_type"}, {"pool": "given", "given": "region"}),
    ],
)
def test_levels_precoarsened_for_another_config_are_not_read(stored: dict, read: dict) -> None:
    from graphpool.models import precoarsen

    torch.manual_seed(0)
    graphs = []
    for n in (5, 7, 9):
        graph = Data(x=torch.randn(n, 3), edge_index=torch.tensor([list(range(n - 1)), list(range(1, n))]))
        graph.cell_type, graph.region = torch.arange(n) % 3, torch.arange(n) % 2
        graphs.append(graph)
    batch = Batch.from_data_list(precoarsen(graphs, ModelConfig(in_channels=3, num_classes=2, **stored)))
    model = GraphClassifier(ModelConfig(in_channels=3, num_classes=2, layers=1, precoarsened=True, **read))
    with pytest.raises(ValueError, match="the batch has no"):
        model(batch)
    # the levels the model's own config stores are read; fewer levels than stored read the first ones
    own = Batch.from_data_list(precoarsen(graphs, ModelConfig(in_channels=3, num_classes=2, **read)))
    assert model(own).logits.shape == (3, 2)
    if stored.get("levels", 1) > 1:
        first = {**stored, "levels": 1}
        one_level = GraphClassifier(ModelConfig(in_channels=3, num_classes=2, layers=1, precoarsened=True, **first))
        assert one_level(batch).logits.shape == (3, 2)


# ModelConfig(reduce="attention") passed the config's checks and failed when the model was built ("pass
# in_channels=F", which a config has no way to do): the levels now give the reduce their width
@pytest.mark.parametrize("precoarsened", [False, True])
def test_a_hard_pool_reduces_its_clusters_with_attention(precoarsened: bool) -> None:
    from graphpool.models import precoarsen

    torch.manual_seed(0)
    graphs = [
        Data(x=torch.randn(n, 3), edge_index=torch.tensor([list(range(n - 1)), list(range(1, n))])) for n in (5, 7, 9)
    ]
    config = ModelConfig(in_channels=3, num_classes=2, layers=1, hidden=8, pool="graclus", levels=2, reduce="attention")
    batch = Batch.from_data_list(precoarsen(graphs, config) if precoarsened else graphs)
    model = GraphClassifier(replace(config, precoarsened=precoarsened))
    model(batch).logits.sum().backward()
    assert all(p.grad is not None for level in model.levels for p in level.reduce.parameters())

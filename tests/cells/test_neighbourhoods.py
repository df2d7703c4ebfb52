"""Tissue cellular neighbourhoods: every method recovers the simulator's regions, results are consistent,
scores are right, AnnData goes in and out in squidpy's layout, and bad input is named."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from graphpool.cells import neighbourhoods, read_cells, simulate, tissue_graphs
from graphpool.cells.neighbourhood import METHODS, LearnedOptions, UtagOptions, agreement, method_options
from graphpool.cells.neighbourhood import consensus as _consensus


@pytest.fixture(scope="module")
def tissues() -> pd.DataFrame:
    return simulate("arrangement", samples=20, seed=0)


@pytest.fixture(scope="module")
def found(tissues: pd.DataFrame) -> dict:
    table = read_cells(tissues, label=None)
    # the small-tissue recipe (a 2-layer GNN on the cells' own types, a linear assignment): the defaults (10
    # smoothing steps, no GNN) are tuned on whole spleens, where a compartment spans far more than 10 cells
    small = {"smoothing": 0, "layers": 2, "assign_hidden": 0, "lr": 0.01}
    options = {"learned": {"loss": "justbalance", "epochs": 100, "repeats": 2, **small}}
    return {method: neighbourhoods(table, 3, method, **options.get(method, {})) for method in METHODS}


# Measured on these 20 tissues (seed 0): composition 0.56, utag 0.45, louvain 0.18 (communities of a near-uniform
# mesh are spatial patches, not regions), learned (JustBalance, 100 epochs, 2 runs, the small-tissue recipe)
# 0.6-0.7. Chance is 0.
BOUNDS = {"composition": 0.45, "utag": 0.35, "louvain": 0.1, "learned": 0.5}


@pytest.mark.parametrize("method", METHODS)
def test_recovers_the_simulated_regions(found: dict, tissues: pd.DataFrame, method: str) -> None:
    assert agreement(tissues["region"], found[method].labels)["ami"] > BOUNDS[method]


@pytest.mark.parametrize("method", METHODS)
def test_results_are_consistent(found: dict, tissues: pd.DataFrame, method: str) -> None:
    result = found[method]
    sizes = np.bincount(result.labels, minlength=3)
    assert result.labels.shape == (len(tissues),) and result.num_neighbourhoods == 3
    assert (np.diff(sizes) <= 0).all(), "ids are numbered by decreasing size"
    assert result.summary["cells"].tolist() == sizes.tolist()
    np.testing.assert_allclose(result.composition.dropna().sum(axis=1), 1.0)
    assert list(result.composition.columns) == ["immune", "stroma", "tumour"]
    np.testing.assert_allclose(result.abundance().sum(axis=1), 1.0)
    first = result.table.frame["sample"] == result.table.samples[0]
    expected = np.bincount(result.labels[first.to_numpy()], minlength=3) / first.sum()
    np.testing.assert_allclose(result.abundance().iloc[0].to_numpy(), expected)
    cells = result.cells()
    assert cells["neighbourhood"].tolist() == result.labels.tolist() and {"sample", "x", "y"} <= set(cells)
    assert (result.summary["patches"] >= result.summary["samples"]).all()
    if method == "learned":
        np.testing.assert_allclose(result.probabilities.sum(1), 1.0, rtol=1e-5)
        chosen = result.probabilities[np.arange(len(result.labels)), result.labels]
        assert (chosen == result.probabilities.max(1)).all(), "each cell is in a most likely neighbourhood"


def test_the_learned_method_is_reproducible(tissues: pd.DataFrame) -> None:
    table = read_cells(tissues[tissues["sample"].isin(["arrangement-0000", "arrangement-0001"])], label=None)
    runs = [neighbourhoods(table, 3, "learned", epochs=5, repeats=2, seed=4).probabilities for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])


def test_consensus_aligns_runs_whose_clusters_are_permuted() -> None:
    rng = np.random.default_rng(0)
    s = rng.dirichlet(np.ones(4), size=50).astype(np.float32)
    np.testing.assert_allclose(_consensus([s, s[:, [2, 0, 3, 1]], s[:, [3, 2, 1, 0]]], 4), s, rtol=1e-6)


def test_agreement_scores() -> None:
    truth = np.array(["a", "a", "a", "b", "b", "c", "c", "x"])
    predicted = np.array([0, 0, 1, 1, 1, 1, 1, 5])
    scores = agreement(truth, predicted, ignore=["x"])
    # the cells of an ignored region were counted nowhere: scored + unannotated fell short of the cells
    assert (scores["scored"], scores["unannotated"], scores["ignored"]) == (7, 0, 1)
    # Hungarian: a <-> 0 (F1 2*2/(3+2) = 0.8), b <-> 1 (2*2/(2+5) = 4/7), c unmatched (0)
    assert scores["macro_f1"] == pytest.approx((0.8 + 4 / 7) / 3)
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    assert scores["ami"] == pytest.approx(adjusted_mutual_info_score(truth[:7], predicted[:7]))
    assert scores["ari"] == pytest.approx(adjusted_rand_score(truth[:7], predicted[:7]))
    with pytest.raises(ValueError, match="'predicted' has 2"):
        agreement(truth, [0, 1])
    with pytest.raises(ValueError, match="no cells left"):
        agreement(["x"], [0], ignore=["x"])
    # a misspelt region ("NoAnotation") left the cells it meant in the scores without a word
    with pytest.raises(
        ValueError, match=r"'ignore' names 'y', which is not a region of 'truth' \(its regions: a, b, c, x\)"
    ):
        agreement(truth, predicted, ignore=["x", "y"])


def test_bad_input_is_named(tissues: pd.DataFrame) -> None:
    small = tissues[tissues["sample"] == "arrangement-0000"]
    with pytest.raises(ValueError, match="'k' must be between 2 and the number of cells"):
        neighbourhoods(small, len(small) + 1, label=None)
    with pytest.raises(ValueError, match="'k' must be between"):
        neighbourhoods(small, 1, label=None)
    with pytest.raises(ValueError, match="'method' must be one of"):
        neighbourhoods(small, 3, "leiden", label=None)
    with pytest.raises(ValueError, match="'loss' must be one of"):
        neighbourhoods(small, 3, "learned", loss="diffpool", label=None)
    with pytest.raises(ValueError, match="'window' must be >= 1"):
        neighbourhoods(small, 3, window=0, label=None)
    with pytest.raises(ValueError, match=r"'seed' must be in \[0, 4294967295\], got -2"):
        neighbourhoods(small, 3, seed=-2, label=None)
    with pytest.raises(ValueError, match=r"column\(s\) \['x'\] not in the cell table"):
        neighbourhoods(small.drop(columns="x"), 3, label=None)
    one_type = small.assign(cell_type="tumour")
    with pytest.raises(ValueError, match="more than the 1 distinct cell surroundings"):
        neighbourhoods(one_type, 3, label=None)
    with pytest.raises(ValueError, match="Louvain communities found; raise 'resolution'"):
        neighbourhoods(small.head(12), 11, "louvain", graph="knn:6", label=None)


# a table already read ignored the read_cells settings given with it; a float K reached scikit-learn's KMeans
def test_a_read_table_takes_no_read_settings_and_k_is_whole(tissues: pd.DataFrame) -> None:
    small = tissues[tissues["sample"] == "arrangement-0000"]
    table = read_cells(small, label=None)
    with pytest.raises(ValueError, match=r"'cell_type' is a setting of read_cells, but 'source' is a CellTable"):
        neighbourhoods(table, 3, cell_type="kind")
    for k in (3.5, 3.0, True):
        with pytest.raises(TypeError, match=rf"'k' must be a whole number, got {k!r}"):
            neighbourhoods(small, k, label=None)
    assert neighbourhoods(table, np.int64(3)).labels.max() == 2


def test_each_method_takes_its_own_options_and_refuses_another_methods(tissues: pd.DataFrame) -> None:
    """An option of another method was silently ignored (``window`` given to UTAG); now it is named."""
    small = tissues[tissues["sample"] == "arrangement-0000"]
    with pytest.raises(
        ValueError, match=r"'window' is an option of 'composition', not of 'utag' \(its options: \['hops'\]\)"
    ):
        neighbourhoods(small, 3, "utag", window=5, label=None)
    with pytest.raises(ValueError, match="'epochs' is an option of 'learned', not of 'louvain'"):
        neighbourhoods(small, 3, "louvain", epochs=5, label=None)
    with pytest.raises(
        ValueError,
        match=r"'windw' is an argument of neither read_cells nor 'composition' \(its options: \['window'\]\)",
    ):
        neighbourhoods(small, 3, windw=5, label=None)
    with pytest.raises(TypeError, match="'options' of type UtagOptions do not belong to method 'composition'"):
        neighbourhoods(small, 3, "composition", options=UtagOptions(hops=2), label=None)
    with pytest.raises(ValueError, match="'options' or as keywords, not both"):
        neighbourhoods(small, 3, "utag", options=UtagOptions(hops=2), hops=3, label=None)
    by_keyword = neighbourhoods(small, 3, "utag", hops=2, label=None)
    by_options = neighbourhoods(small, 3, "utag", options=UtagOptions(hops=2), label=None)
    assert (by_keyword.labels == by_options.labels).all()
    assert method_options("learned", epochs=5) == LearnedOptions(epochs=5)


def _squidpy_layout(frame: pd.DataFrame, k: int = 5):
    """An AnnData as squidpy's spatial_neighbors(library_key="sample") leaves it, built by hand."""
    anndata = pytest.importorskip("anndata")
    from scipy.spatial import cKDTree

    blocks = []
    for _, cells in frame.groupby("sample", sort=False):
        _, nearest = cKDTree(cells[["x", "y"]].to_numpy()).query(cells[["x", "y"]].to_numpy(), k=k + 1)
        n = len(cells)
        a = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), nearest[:, 1:].ravel())), shape=(n, n))
        blocks.append(((a + a.T) > 0).astype(np.float32))
    obs = frame[["sample", "cell_type"]].reset_index(drop=True).set_axis([str(i) for i in range(len(frame))])
    adata = anndata.AnnData(obs=obs, obsm={"spatial": frame[["x", "y"]].to_numpy()})
    adata.obsp["spatial_connectivities"] = sp.block_diag(blocks, format="csr")
    return adata


def test_anndata_in_squidpy_layout_in_and_out(tissues: pd.DataFrame, tmp_path) -> None:
    anndata = pytest.importorskip("anndata")
    frame = tissues[tissues["sample"].isin(["arrangement-0000", "arrangement-0001"])]
    adata = _squidpy_layout(frame)
    table = read_cells(adata, label=None)
    given = adata.obsp["spatial_connectivities"]
    assert table.edges.shape[1] == given.nnz
    result = neighbourhoods(table, 3, "utag")  # the given graph by default
    assert sorted(map(tuple, result.edges.T.tolist())) == sorted(zip(*given.nonzero(), strict=True))
    knn = neighbourhoods(table, 3, "utag", graph="knn:10")
    assert knn.edges.shape[1] != result.edges.shape[1]
    out = result.to_anndata(adata)
    assert out is adata and adata.obs["graphpool_neighbourhood"].astype(int).tolist() == result.labels.tolist()
    assert adata.uns["graphpool_neighbourhood"]["params"]["graph"] == "given"
    assert "graphpool_neighbourhood_connectivities" not in adata.obsp  # the graph is the AnnData's own
    assert adata.uns["graphpool_neighbourhood"]["params"]["connectivity_key"] == "spatial_connectivities"
    new = result.to_anndata()  # a new AnnData has no graph of its own: it gets a copy
    assert (new.obsp["graphpool_neighbourhood_connectivities"] != (given > 0)).nnz == 0
    adata.write_h5ad(tmp_path / "cells.h5ad")
    back = anndata.read_h5ad(tmp_path / "cells.h5ad")
    pd.testing.assert_frame_equal(
        back.uns["graphpool_neighbourhood"]["composition"], adata.uns["graphpool_neighbourhood"]["composition"]
    )
    fresh = knn.to_anndata()
    assert fresh.n_obs == len(frame) and "spatial" in fresh.obsm
    assert (fresh.obsp["graphpool_neighbourhood_connectivities"] > 0).nnz == knn.edges.shape[1]
    with pytest.raises(ValueError, match="'adata' has 3 cells"):
        result.to_anndata(adata[:3].copy())


def test_a_given_graph_across_samples_or_a_missing_one_is_named(tissues: pd.DataFrame) -> None:
    frame = tissues[tissues["sample"].isin(["arrangement-0000", "arrangement-0001"])]
    adata = _squidpy_layout(frame)
    adata.obsp["spatial_connectivities"] = sp.csr_matrix(
        (np.ones(1), ([0], [adata.n_obs - 1])), shape=(adata.n_obs, adata.n_obs)
    )
    with pytest.raises(ValueError, match="joins cells of different samples"):
        read_cells(adata, label=None)
    assert read_cells(adata, label=None, connectivity_key=None).edges is None
    del adata.obsp["spatial_connectivities"]
    with pytest.raises(ValueError, match="graph='given' needs a table with its own cell graph"):
        neighbourhoods(adata, 3, graph="given", library_key="sample", label=None)


@pytest.mark.parametrize("method", METHODS)
def test_a_sample_of_one_cell_gets_a_neighbourhood(tissues: pd.DataFrame, method: str) -> None:
    three = tissues[tissues["sample"].isin(["arrangement-0000", "arrangement-0001", "arrangement-0002"])]
    lonely = three.head(1).assign(sample="lonely")
    quick = {"epochs": 3, "repeats": 1} if method == "learned" else {}
    result = neighbourhoods(pd.concat([three, lonely]), 3, method, label=None, **quick)
    assert 0 <= result.labels[-1] < 3
    assert result.abundance().loc["lonely"].sum() == pytest.approx(1.0)
    assert result.summary["samples"].sum() >= len(result.table.samples)


def test_a_marker_only_table_has_marker_means_as_composition(tissues: pd.DataFrame) -> None:
    pytest.importorskip("anndata")
    frame = tissues[tissues["sample"].isin(["arrangement-0000", "arrangement-0001"])].copy()
    frame["CD3"] = (frame["cell_type"] == "immune") * 2.0
    frame["KRT"] = (frame["cell_type"] == "tumour") * 2.0
    result = neighbourhoods(frame, 3, "utag", cell_type=None, markers=["CD3", "KRT"], label=None)
    assert list(result.composition.columns) == ["CD3", "KRT"]
    for k in range(3):
        mine = result.labels == k
        np.testing.assert_allclose(result.composition.loc[k].to_numpy(), frame[["CD3", "KRT"]][mine].mean())
    adata = result.to_anndata()
    assert list(adata.var_names) == ["CD3", "KRT"] and adata.X.shape == (len(frame), 2)


def test_learned_neighbourhoods_after_a_graph_conv_with_a_readout_as_aggr() -> None:
    """PyG builds GraphConv's propagate once per class, from the first instance: one made with an aggregation
    module (a graphpool readout as ``aggr=``) leaves it without the sparse-product path. The learned method
    must not depend on what the process built before it (a fresh process, so that this test sees that order)."""
    import subprocess
    import sys

    code = (
        "import torch\n"
        "from torch_geometric.nn import GraphConv\n"
        "from graphpool.cells import neighbourhoods, read_cells, simulate\n"
        "from graphpool.readout import resolve\n"
        "conv = GraphConv(3, 4, aggr=resolve('median', in_channels=3))\n"
        "conv(torch.randn(5, 3), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]))\n"
        "table = read_cells(simulate('arrangement', samples=2, seed=0), label=None)\n"
        "print(neighbourhoods(table, 3, 'learned', epochs=2, repeats=1).labels.shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]


# 13. cells without a truth label are left out of every score, and counted
@pytest.mark.parametrize("missing", [np.nan, None])
def test_unannotated_cells_are_left_out_and_counted(missing) -> None:
    truth = np.array(["a", "a", "b", "b", missing, missing, "a"], dtype=object)
    predicted = np.array([0, 0, 1, 1, 0, 1, 1])
    annotated = np.array([0, 1, 2, 3, 6])
    scores = agreement(truth, predicted)
    expected = agreement(truth[annotated].astype(str), predicted[annotated])
    for name in ("ami", "ari", "macro_f1"):
        assert scores[name] == pytest.approx(expected[name])
    assert scores["unannotated"] == 2 and scores["scored"] == 5
    again = agreement(truth, predicted, ignore=[np.nan, "b"])  # NaN in ignore is accepted too
    assert again["scored"] == 3


def test_the_command_scores_only_annotated_cells(tmp_path) -> None:
    from graphpool.cli import main

    frame = simulate("arrangement", 4, 0)
    frame.loc[frame.index[::3], "region"] = np.nan  # a third of the cells unannotated
    frame.to_csv(tmp_path / "cells.csv", index=False)
    out = tmp_path / "nb"
    assert main(["neighbourhoods", "--table", str(tmp_path / "cells.csv"), "--k", "3", "--method", "composition",
                 "--truth", "region", "--quiet", "--out", str(out)]) == 0  # fmt: skip
    row = pd.read_csv(out / "results.csv").iloc[0]
    assert row["unannotated"] == len(frame.index[::3]) and row["scored"] == len(frame) - row["unannotated"]
    cells = pd.read_csv(out / "composition" / "cells.csv")
    keep = frame["region"].notna().to_numpy()
    assert row["ami"] == pytest.approx(agreement(frame["region"][keep], cells["neighbourhood"][keep])["ami"], abs=1e-3)


# 16. names with '/' (F4/80, CD16/32) write and read back under every anndata
def test_anndata_output_with_slashes_in_cell_type_names_round_trips(tmp_path) -> None:
    import warnings

    anndata = pytest.importorskip("anndata")
    frame = simulate("arrangement", 2, 0)
    frame["cell_type"] = frame["cell_type"].map(lambda t: f"{t}/F4/80")
    result = neighbourhoods(read_cells(frame, label=None), 3, "composition")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result.to_anndata().write_h5ad(tmp_path / "cells.h5ad")
        back = anndata.read_h5ad(tmp_path / "cells.h5ad")
    stored = back.uns["graphpool_neighbourhood"]["composition"]
    assert list(stored.index) == list(result.composition.columns)  # cell types as the index: values, not keys
    np.testing.assert_allclose(stored.to_numpy(), result.composition.to_numpy().T)


def test_stability_never_chooses_a_k_whose_runs_leave_clusters_empty() -> None:
    """Runs that put every cell in one cluster agree perfectly: the degenerate K (3 here) ties the top stability
    and must still not be chosen; the most stable complete K (4: the same partition in every run) is."""
    from graphpool.cells.neighbourhood import k_stability

    cells = 400
    generator = np.random.default_rng(0)

    def fit(k: int, seed: int) -> np.ndarray:  # K = 3 degenerate, K = 4 the same partition in every run
        if k == 3:
            return np.zeros(cells, dtype=int)
        if k == 4:
            return np.arange(cells) % 4
        return generator.integers(0, k, cells)

    sweep = k_stability(fit, [2, 3, 4, 5], runs=3)
    table = sweep.table.set_index("k")
    assert table.loc[3, "found"] == 1 and table.loc[3, "stability"] == 1.0
    assert sweep.best == 4 and table.loc[4, "stability"] == 1.0 and table.loc[5, "stability"] < 0.1
    with pytest.raises(ValueError, match="'runs' must be >= 2"):
        k_stability(fit, [2, 3], runs=1)
    with pytest.raises(ValueError, match="'ks' must be consecutive"):
        k_stability(fit, [2, 4])


def test_choose_k_sweeps_a_method_with_its_options(tissues: pd.DataFrame) -> None:
    from graphpool.cells.neighbourhood import choose_k

    table = read_cells(tissues, label=None)
    sweep = choose_k(table, range(2, 5), "utag", runs=2, hops=2)
    direct = neighbourhoods(table, sweep.best, "utag", seed=0, hops=2).labels
    assert sweep.table["k"].tolist() == [2, 3, 4] and sweep.method == "utag" and len(direct) == len(tissues)
    with pytest.raises(ValueError, match="'window' is an option of 'composition', not of 'utag'"):
        choose_k(table, range(2, 4), "utag", window=3)


def test_learned_device_is_checked_and_cpu_is_the_default_path(tissues: pd.DataFrame) -> None:
    import torch

    with pytest.raises(ValueError, match="'device' must be cpu, cuda, cuda:N or auto, got 'gpu'"):
        LearnedOptions(device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'device' 'cuda': no CUDA device is available here"):
            LearnedOptions(device="cuda")
        assert LearnedOptions(device="auto").torch_device() == torch.device("cpu")
    two = tissues[tissues["sample"].isin(["arrangement-0000", "arrangement-0001"])]
    quick = {"epochs": 3, "label": None}
    default = neighbourhoods(two, 3, "learned", **quick)
    explicit = neighbourhoods(two, 3, "learned", device="auto" if not torch.cuda.is_available() else "cpu", **quick)
    np.testing.assert_array_equal(default.probabilities, explicit.probabilities)
    assert explicit.params["device"] in ("auto", "cpu")


def test_a_map_beside_a_truth_of_the_wrong_length_or_an_unknown_sample_is_named(tissues: pd.DataFrame) -> None:
    found = neighbourhoods(tissues[tissues["sample"] == "arrangement-0000"], 3, "utag", label=None)
    with pytest.raises(ValueError, match=r"'truth' has 3 values but the table has \d+ cells"):
        found.plot_map(truth=["tumour", "stroma", "margin"])
    with pytest.raises(ValueError, match="'sample' 'nowhere' is not a sample of the table"):
        found.plot_map("nowhere")


def test_the_learned_method_leaves_the_global_random_state_as_it_was() -> None:
    """It reseeded torch's generator (torch.manual_seed) and left it so."""
    from graphpool.cells.neighbourhood.learned import LearnedOptions, train_learner

    graphs = tissue_graphs(read_cells(simulate("arrangement", 3, 0)), "knn:6")
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    first = train_learner(graphs, 3, LearnedOptions(epochs=2, smoothing=0), seed=0)
    assert torch.equal(torch.rand(3), expected)
    assert np.array_equal(train_learner(graphs, 3, LearnedOptions(epochs=2, smoothing=0), seed=0), first)


# a cell without a neighbourhood (NaN, None) failed inside scikit-learn ("Input contains NaN") or pandas
# ("'<' not supported between instances of 'NoneType' and 'int'")
# (["x", nan, ...]: NumPy made the NaN the text "nan", a neighbourhood of its own)
@pytest.mark.parametrize(
    "predicted", [[0, 0, 1, np.nan], [0, 0, 1, None], ["x", None, "y", "y"], ["x", np.nan, "y", "y"]]
)
def test_agreement_names_cells_without_a_neighbourhood(predicted: list) -> None:
    with pytest.raises(ValueError, match=r"'predicted' gives no neighbourhood \(NaN or None\) to 1 cell, e.g. at"):
        agreement(["a", "a", "b", "b"], predicted)


# a string 'ignore' left out every region named by one of its letters; [["a", "b"]] and a scalar were scored as
# cells; a [2, 1] 'predicted' against 2 cells said "'truth' has 2 cells but 'predicted' has 2"
def test_agreement_refuses_a_string_ignore_and_arrays_of_another_shape() -> None:
    with pytest.raises(TypeError, match=r"'ignore' must be a list of regions, got the string 'ab' \(one: \['ab'\]\)"):
        agreement(["a", "b", "ab"], [0, 1, 2], ignore="ab")
    with pytest.raises(ValueError, match=r"'truth' must be one region per cell \(1-D\), got shape \(1, 2\)"):
        agreement([["a", "b"]], [[1, 2]])
    with pytest.raises(ValueError, match=r"'truth' must be one region per cell \(1-D\), got shape \(\)"):
        agreement("a", 1)
    with pytest.raises(ValueError, match=r"'predicted' must be one neighbourhood per cell \(1-D\), got shape \(2, 1\)"):
        agreement(["a", "b"], [[1], [2]])

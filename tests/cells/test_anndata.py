"""Neighbourhoods of an AnnData, the scanpy way: written under ``key_added`` (obs, obsm, uns with params and
colours), several methods side by side, ``copy``/``overwrite`` as scanpy's tools, an h5ad round trip without
warnings, and every bad input named with nothing written."""

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from graphpool.cells import neighbourhoods, read_cells, simulate
from graphpool.cells.figures import palette

anndata = pytest.importorskip("anndata")


@pytest.fixture
def adata():
    """Three simulated tissues in squidpy's layout: ``obsm["spatial"]``, samples in ``obs["library_id"]``,
    type names with '/' and spaces (as real panels have: F4/80, CD16/32, "B cells")."""
    frame = simulate("arrangement", 3, 1)
    names = {"tumour": "tumour / epithelial", "immune": "CD16/32 immune", "stroma": "stroma"}
    obs = pd.DataFrame(
        {
            "library_id": pd.Categorical(frame["sample"]),
            "cell type": pd.Categorical(frame["cell_type"].map(names)),
            "region": frame["region"].to_numpy(),
        }
    ).set_axis([f"cell-{i}" for i in range(len(frame))])
    return anndata.AnnData(obs=obs, obsm={"spatial": frame[["x", "y"]].to_numpy()})


def _snapshot(adata) -> tuple:
    return (list(adata.obs.columns), list(adata.obsm), list(adata.obsp), list(adata.uns))


def test_writes_like_scanpy_under_key_added(adata) -> None:
    before = adata.obs.copy()
    assert neighbourhoods(adata, 3, "utag", library_key="library_id", cell_type="cell type") is None
    key = "graphpool_neighbourhood"
    labels = adata.obs[key]
    assert isinstance(labels.dtype, pd.CategoricalDtype) and list(labels.cat.categories) == ["0", "1", "2"]
    pd.testing.assert_frame_equal(adata.obs[before.columns], before)  # the user's columns untouched
    params = adata.uns[key]["params"]
    assert params["method"] == "utag" and params["k"] == 3 and params["hops"] == 3 and params["seed"] == 0
    assert params["graph"] == "knn:10" and params["library_key"] == "library_id" and params["spatial_key"] == "spatial"
    assert adata.uns[f"{key}_colors"] == palette(3)
    abundance = adata.uns[key]["abundance"]
    assert list(abundance.index) == ["arrangement-0000", "arrangement-0001", "arrangement-0002"]
    np.testing.assert_allclose(abundance.sum(axis=1), 1.0)
    composition = adata.uns[key]["composition"]  # types x neighbourhoods, the type names as index values
    assert set(composition.index) == {"tumour / epithelial", "CD16/32 immune", "stroma"}
    assert adata.obsp[f"{key}_connectivities"].shape == (adata.n_obs, adata.n_obs)
    assert key not in adata.obsm  # no soft assignment from a hard method


def test_methods_live_side_by_side_and_learned_keeps_its_soft_assignment(adata) -> None:
    common = {"library_key": "library_id", "cell_type": "cell type"}
    neighbourhoods(adata, 3, "composition", key_added="cn", **common)
    neighbourhoods(adata, 3, "learned", key_added="learned", epochs=2, **common)
    assert {"cn", "learned"} <= set(adata.obs.columns)
    assert adata.uns["cn"]["params"]["method"] == "composition" and adata.uns["cn"]["params"]["window"] == 10
    params = adata.uns["learned"]["params"]
    assert params["epochs"] == 2 and params["loss"] == "cutbalance" and params["loss_weights"] == {"balance": 0.3}
    soft = adata.obsm["learned"]
    assert soft.shape == (adata.n_obs, 3)
    np.testing.assert_allclose(soft.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(soft.argmax(1), adata.obs["learned"].astype(int).to_numpy())


def test_a_taken_key_is_refused_unless_overwrite(adata) -> None:
    common = {"library_key": "library_id", "cell_type": "cell type"}
    neighbourhoods(adata, 3, "learned", epochs=2, **common)
    snapshot, labels = _snapshot(adata), adata.obs["graphpool_neighbourhood"].copy()
    with pytest.raises(ValueError, match=r"'key_added' 'graphpool_neighbourhood' is taken: the AnnData already "):
        neighbourhoods(adata, 4, "utag", **common)
    assert _snapshot(adata) == snapshot
    pd.testing.assert_series_equal(adata.obs["graphpool_neighbourhood"], labels)
    neighbourhoods(adata, 4, "utag", overwrite=True, **common)
    assert adata.uns["graphpool_neighbourhood"]["params"]["k"] == 4
    assert "graphpool_neighbourhood" not in adata.obsm  # the learned run's soft assignment went with it
    assert len(adata.uns["graphpool_neighbourhood_colors"]) == 4


def test_copy_returns_an_annotated_copy_and_leaves_the_input(adata) -> None:
    snapshot = _snapshot(adata)
    out = neighbourhoods(adata, 3, "utag", copy=True, library_key="library_id", cell_type="cell type")
    assert out is not adata and "graphpool_neighbourhood" in out.obs and _snapshot(adata) == snapshot


def test_the_given_graph_is_named_not_copied(adata) -> None:
    n = adata.n_obs
    ring = sp.csr_matrix((np.ones(n), (np.arange(n), (np.arange(n) + 1) % n)), shape=(n, n))
    adata.obsp["spatial_connectivities"] = ring + ring.T
    neighbourhoods(adata, 3, "utag", cell_type="cell type")  # one tissue: the ring joins every cell
    assert adata.uns["graphpool_neighbourhood"]["params"]["graph"] == "given"
    assert adata.uns["graphpool_neighbourhood"]["params"]["connectivity_key"] == "spatial_connectivities"
    assert "graphpool_neighbourhood_connectivities" not in adata.obsp


def test_h5ad_round_trip_writes_and_reads_without_warnings(adata, tmp_path) -> None:
    common = {"library_key": "library_id", "cell_type": "cell type"}
    adata.obs["outcome"] = adata.obs["library_id"].cat.codes % 2  # integer labels, named: the params hold a dict
    neighbourhoods(adata, 3, "utag", label="outcome", label_names={0: "healthy", 1: "ill"}, **common)
    neighbourhoods(adata, 3, "learned", key_added="learned", epochs=2, **common)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adata.write_h5ad(tmp_path / "cells.h5ad")
        back = anndata.read_h5ad(tmp_path / "cells.h5ad")
    for key in ("graphpool_neighbourhood", "learned"):
        pd.testing.assert_series_equal(back.obs[key], adata.obs[key])
        for table in ("composition", "summary", "abundance"):
            pd.testing.assert_frame_equal(back.uns[key][table], adata.uns[key][table], check_dtype=False)
        assert list(back.uns[f"{key}_colors"]) == adata.uns[f"{key}_colors"]
        assert back.uns[key]["params"]["k"] == 3
    np.testing.assert_array_equal(back.obsm["learned"], adata.obsm["learned"])
    assert dict(back.uns["learned"]["params"]["loss_weights"]) == {"balance": 0.3}
    assert dict(back.uns["graphpool_neighbourhood"]["params"]["label_names"]) == {"0": "healthy", "1": "ill"}


@pytest.mark.parametrize(
    ("change", "arguments", "message"),
    [
        (lambda a: a.obsm.clear(), {}, r"AnnData has no obsm\['spatial'\] \(it has \[\]\)"),
        (None, {"spatial_key": "X_spatial"}, r"no obsm\['X_spatial'\] \(it has \['spatial'\]\)"),
        (None, {"library_key": "sample"}, r"'library_key' 'sample' is not a column of adata.obs \(it has \["),
        (None, {"key_added": "a/b"}, r"'key_added' must be a non-empty name without '/', got 'a/b'"),
        (None, {"key_added": ""}, r"'key_added' must be a non-empty name"),
        (None, {"connectivity_key": "knn"}, r"'connectivity_key' 'knn' is not in the AnnData's obsp \(it has \[\]\)"),
        (None, {"x": "x_coordinate"}, r"'x'/'y' \('x_coordinate', 'y'\) name table columns"),
        (None, {"sample": "library_id"}, r"named by 'library_key' \(squidpy's name\), not 'sample'"),
        (None, {"cell_type": "celltype"}, r"column\(s\) \['celltype'\] not in the cell table"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(adata, change, arguments, message) -> None:
    if change is not None:
        change(adata)
    snapshot = _snapshot(adata)
    settings = {"cell_type": "cell type", **arguments}
    with pytest.raises(ValueError, match=message):
        neighbourhoods(adata, 3, "utag", **settings)
    assert _snapshot(adata) == snapshot


def test_anndata_arguments_with_another_source_are_refused() -> None:
    frame = simulate("arrangement", 2, 0)
    for name, value in (("key_added", "nb"), ("copy", True), ("overwrite", True), ("library_key", "sample")):
        with pytest.raises(ValueError, match=rf"'{name}' is for an AnnData source"):
            neighbourhoods(frame, 3, "utag", **{name: value})


def test_a_connectivity_matrix_of_the_wrong_shape_is_named() -> None:
    """AnnData itself refuses one; a duck-typed AnnData (or an older one) reaches graphpool's own check."""
    frame = simulate("arrangement", 2, 0)
    frame = frame[frame["sample"] == frame["sample"].iloc[0]].reset_index(drop=True)
    n = len(frame)
    fake = SimpleNamespace(
        obs=frame[["sample", "cell_type"]],
        obsm={"spatial": frame[["x", "y"]].to_numpy()},
        obsp={"spatial_connectivities": sp.csr_matrix((n - 1, n - 1))},
        n_obs=n,
    )
    with pytest.raises(ValueError, match=rf"obsp\['spatial_connectivities'\] must be \[cells, cells\] = \[{n}, {n}\]"):
        read_cells(fake, label=None)


def test_an_unreadable_h5ad_is_named(tmp_path: Path) -> None:
    path = tmp_path / "cells.h5ad"
    path.write_bytes(b"not an HDF5 file")  # h5py's OSError was a traceback from graphpool cells
    with pytest.raises(ValueError, match=r"cell table '.*cells\.h5ad' cannot be read as an AnnData \(\.h5ad\) file: "):
        read_cells(path)

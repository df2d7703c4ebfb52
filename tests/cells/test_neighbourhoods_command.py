"""`graphpool neighbourhoods`: the simulator default end to end, an AnnData in and out, and bad input in one line."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from graphpool.cells import simulate
from graphpool.cli import main


def test_simulated_run_writes_everything(tmp_path: Path, capsys) -> None:
    out = tmp_path / "nb"
    args = ["neighbourhoods", "--method", "composition,learned", "--epochs", "3", "--repeats", "1"]
    assert main([*args, "--plots", "2", "--quiet", "--out", str(out)]) == 0
    results = pd.read_csv(out / "results.csv")
    assert results["method"].tolist() == ["composition", "learned"] and (results["K"] == 3).all()
    assert results.loc[0, "ami"] > 0.45  # composition on the 40 simulated tissues measured 0.56
    for method in ("composition", "learned"):
        folder = out / method
        cells = pd.read_csv(folder / "cells.csv")
        assert len(cells) == len(simulate("arrangement", 40, 0)) and set(cells["neighbourhood"]) <= {0, 1, 2}
        assert len(list((folder / "maps").glob("*.png"))) == 2 and len(list((folder / "maps").glob("*.pdf"))) == 2
        assert (folder / "composition.pdf").stat().st_size > 0 and (folder / "composition_share.png").is_file()
        assert pd.read_csv(folder / "abundance.csv", index_col=0).shape == (40, 3)
    assert "everything is in" in capsys.readouterr().out
    record = json.loads((out / "run.json").read_text())  # the settings and versions behind the figures
    assert record["method"] == "composition,learned" and record["epochs"] == 3 and record["seed"] == 0
    assert set(record["versions"]) == {"graphpool", "torch", "torch_geometric"}


def test_an_h5ad_table_comes_back_with_its_results(tmp_path: Path) -> None:
    anndata = pytest.importorskip("anndata")
    frame = simulate("arrangement", 3, 1)
    adata = anndata.AnnData(
        obs=frame[["sample", "cell_type", "region"]].set_axis([str(i) for i in range(len(frame))]),
        obsm={"spatial": frame[["x", "y"]].to_numpy()},
    )
    adata.write_h5ad(tmp_path / "cells.h5ad")
    out = tmp_path / "nb"
    assert main(["neighbourhoods", "--table", str(tmp_path / "cells.h5ad"), "--k", "3", "--method", "utag",
                 "--truth", "region", "--quiet", "--out", str(out)]) == 0  # fmt: skip
    back = anndata.read_h5ad(out / "cells.h5ad")
    assert (
        back.obs["graphpool_utag"].astype(int).tolist()
        == pd.read_csv(out / "utag" / "cells.csv")["neighbourhood"].tolist()
    )
    assert back.obsp["graphpool_utag_connectivities"].shape == (len(frame), len(frame))
    assert back.uns["graphpool_utag"]["params"]["k"] == 3
    with pytest.raises(SystemExit, match=r"'x'/'y' \('x_coordinate', 'y'\) name table columns; an AnnData's"):
        main(["neighbourhoods", "--table", str(tmp_path / "cells.h5ad"), "--x", "x_coordinate", "--out",
              str(tmp_path / "bad")])  # fmt: skip
    assert "ami" in pd.read_csv(out / "results.csv")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "leiden"], "--method 'leiden' is unknown"),
        (["--truth", "compartment"], "--truth column 'compartment' is not in the cell table"),
        (["--k", "1"], "'k' must be between 2"),
        (["--k", "0"], "'k' must be between 2 and the number of cells"),
        (["--k", "0", "--label", "label"], "--k must be >= 2, got 0"),
        (["--plots", "-1"], "--plots must be >= 0, got -1"),
        (["--resolution", "0"], "--resolution must be > 0, got 0.0"),
        (["--resolution", "-1"], "--resolution must be > 0, got -1.0"),
        (["--threads", "0"], "--threads must be >= 1, got 0"),
        (["--seed", "-1"], "--seed must be >= 0, got -1"),  # was NumPy's "expected non-negative integer"
        (["--loss-weight", "ortho=2"], "'loss_weights' names 'ortho', which pool 'cutbalance' does not have"),
        (["--smoothing", "-1"], "'smoothing' must be >= 0, got -1"),
        (["--table", "missing.csv"], "does not exist"),
        (["--method", "learned", "--device", "gpu"], "'device' must be cpu, cuda, cuda:N or auto, got 'gpu'"),
        (["--formats", "png,jpg"], "figure format 'jpg' is not one of png, pdf, svg"),
        (["--formats", "png,png"], "figure formats: names 'png' twice"),
        # options that were ignored without a word
        (["--ignore", "strma"], "--ignore names 'strma', which is not a region of --truth region"),
        # a value given twice was taken; the refusals named the library's arguments, not the options
        (["--ignore", "stroma,stroma"], "--ignore names 'stroma' twice"),
        (["--key-added", "gp"], "--key-added names the results in an .h5ad --table; this run reads none"),
        (
            ["--label", "label", "--class-names", "0"],
            "--class-names takes VALUE=NAME pairs separated by commas, got '0'",
        ),
        (["--label", "label", "--class-names", "0=a"], "--class-names has no name for the 'label' value(s) ['1']"),
        # the first name of a value given twice was dropped without a word
        (["--label", "label", "--class-names", "0=a,0=b,1=c"], "--class-names: names '0' twice"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as error:
        main(["neighbourhoods", "--out", str(tmp_path / "nb"), "--quiet", *extra])
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_full_out_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "old.csv").write_text("x")
    with pytest.raises(SystemExit, match="is not an empty folder"):
        main(["neighbourhoods", "--out", str(tmp_path / "nb"), "--method", "composition", "--quiet"])


def test_with_a_label_it_runs_the_cells_analysis_with_one_soft_level(monkeypatch, tmp_path: Path) -> None:
    from graphpool.cli import cells

    seen = {}
    monkeypatch.setattr(cells, "cells", lambda args: seen.setdefault("args", args) and 0)
    out = str(tmp_path / "nb")
    main(["neighbourhoods", "--table", "t.csv", "--label", "outcome", "--group", "donor", "--k", "5", "--folds", "4",
          "--out", out])  # fmt: skip
    args = seen["args"]
    assert args.folds == 4
    assert (args.command, args.table, args.label, args.group) == ("cells", "t.csv", "outcome", "donor")
    assert (args.pool, args.clusters, args.levels, args.readout, args.out) == (["none", "mincut"], 5, 1, "sum", out)
    seen.clear()
    main(["neighbourhoods", "--table", "t.csv", "--label", "outcome", "--loss", "cutbalance", "--out", out])
    assert seen["args"].pool == ["none", "cutbalance"]  # --loss names the supervised model's pool too
    with pytest.raises(SystemExit, match="--label needs samples"):
        main(["neighbourhoods", "--table", "t.csv", "--label", "outcome", "--no-sample", "--out", out])


def test_the_cells_analysis_reads_a_soft_level_as_neighbourhoods(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cells"
    quick = ["--samples", "16", "--folds", "2", "--epochs", "3", "--patience", "3", "--hidden", "8", "--quiet"]
    argv = ["cells", "--readout", "sum", "--pool", "none,dmon", "--clusters", "3", "--levels", "1", "--plots", "1"]
    assert main([*argv, *quick, "--out", str(out)]) == 0
    statistics = pd.read_csv(out / "sum__dmon" / "neighbourhoods" / "statistics.csv", index_col=0)
    assert list(statistics.index) == [0, 1, 2] and {"abundance_0", "abundance_1", "p", "q"} <= set(statistics)
    assert statistics["cells"].sum() == len(pd.read_csv(out / "cell_scores.csv"))
    assert not (out / "sum__none" / "neighbourhoods").exists()
    assert "neighbourhoods of sum / dmon" in capsys.readouterr().out


def test_truth_is_read_from_a_tsv_table_too(tmp_path: Path) -> None:
    frame = simulate("arrangement", 3, 2)
    frame.to_csv(tmp_path / "cells.tsv", sep="\t", index=False)
    out = tmp_path / "nb"
    args = ["neighbourhoods", "--table", str(tmp_path / "cells.tsv"), "--k", "3", "--method", "composition"]
    assert main([*args, "--truth", "region", "--quiet", "--out", str(out)]) == 0
    assert "ami" in pd.read_csv(out / "results.csv")


def test_a_method_that_fails_leaves_no_results_behind(tmp_path: Path) -> None:
    """Louvain cannot give K = 8 communities here; composition ran first and once wrote its folder."""
    simulate("arrangement", 2, 0).to_csv(tmp_path / "two.csv", index=False)  # 2 tissues: few communities
    out = tmp_path / "nb"
    with pytest.raises(SystemExit, match="Louvain communities"):
        main(["neighbourhoods", "--table", str(tmp_path / "two.csv"), "--method", "composition,louvain", "--k", "8",
              "--resolution", "0.001", "--quiet", "--out", str(out)])  # fmt: skip
    assert not out.exists()


def test_a_k_range_chooses_k_by_stability_and_draws_it(tmp_path: Path) -> None:
    out = tmp_path / "nb"
    assert main(["neighbourhoods", "--method", "utag", "--k", "2:4", "--stability-runs", "2", "--out", str(out),
                 "--quiet", "--plots", "0"]) == 0  # fmt: skip
    sweep = pd.read_csv(out / "utag" / "k_stability.csv")
    assert sweep["k"].tolist() == [2, 3, 4] and sweep["stability"].between(0, 1).all()
    chosen = int(pd.read_csv(out / "results.csv")["K"].iloc[0])
    complete = sweep[sweep["found"] == sweep["k"]]
    assert chosen == int(complete["k"][complete["stability"].idxmax()])
    assert (out / "utag" / "k_stability.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("k", "message"),
    [("3:x", "--k: write K as a whole number or a range LOW:HIGH, got '3:x'"), ("5:3", "LOW <= HIGH, got '5:3'")],
)
def test_a_bad_k_range_is_one_line(tmp_path: Path, k: str, message: str) -> None:
    with pytest.raises(SystemExit) as error:
        main(["neighbourhoods", "--k", k, "--out", str(tmp_path / "nb"), "--quiet"])
    assert message in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(SystemExit, match="a range chooses K of unsupervised neighbourhoods"):
        main(["neighbourhoods", "--k", "3:5", "--label", "label", "--out", str(tmp_path / "nb"), "--quiet"])


def test_a_repeated_method_is_named(tmp_path: Path) -> None:
    """--method utag,utag ran utag twice, the second writing over the first."""
    with pytest.raises(SystemExit, match="^graphpool neighbourhoods: --method names 'utag' twice"):
        main(["neighbourhoods", "--method", "utag,utag", "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


# an option of a method not run was ignored: --epochs with --method utag, --window with --method learned
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--method", "utag", "--epochs", "50"], "--epochs is an option of the learned method"),
        (["--method", "utag", "--window", "5"], "--window is an option of the composition method"),
        (["--method", "composition", "--hops", "2"], "--hops is an option of the utag method"),
        (["--method", "utag", "--resolution", "2"], "--resolution is an option of the louvain method"),
        (["--method", "louvain", "--loss", "mincut"], "--loss is an option of the learned method"),
        (["--method", "utag", "--loss-weight", "ortho=1"], "--loss-weight is an option of the learned method"),
        (["--label", "label", "--window", "5"], "--window is an option of the composition method"),
        (["--label", "label", "--method", "utag"], "--method chooses unsupervised methods"),
    ],
)
def test_an_option_of_a_method_not_run_is_refused(tmp_path: Path, arguments: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(message) + ".*it would be ignored"):
        main(["neighbourhoods", *arguments, "--out", str(tmp_path / "nb"), "--quiet"])
    assert not (tmp_path / "nb").exists()


def test_the_supervised_run_passes_its_loss_weights_on(monkeypatch, tmp_path: Path) -> None:
    """--loss-weight with --label was dropped: the cells run trained with the pool's default weights."""
    from graphpool.cli import cells

    seen = {}
    monkeypatch.setattr(cells, "cells", lambda args: seen.setdefault("args", args) and 0)
    main(["neighbourhoods", "--table", "t.csv", "--label", "outcome", "--loss-weight", "ortho=0.5", "--out",
          str(tmp_path / "nb")])  # fmt: skip
    assert seen["args"].loss_weights == {"ortho": 0.5}


def test_ignore_without_a_truth_column_is_refused(tmp_path: Path) -> None:
    """--ignore leaves regions of --truth out of the scores; a table read without --truth has none to leave out."""
    from graphpool.cells import simulate

    simulate("arrangement", 4, 0).drop(columns="region").to_csv(tmp_path / "cells.csv", index=False)
    with pytest.raises(SystemExit, match="--ignore leaves --truth values out of the scores; there is no --truth"):
        main(["neighbourhoods", "--table", str(tmp_path / "cells.csv"), "--ignore", "stroma", "--method",
              "composition", "--out", str(tmp_path / "nb"), "--quiet"])  # fmt: skip
    assert not (tmp_path / "nb").exists()


def test_a_k_the_cells_cannot_give_is_refused_before_the_run_is_announced(tmp_path: Path, capsys) -> None:
    """``--k 0`` printed "..., K = 0" as the run's header, then the error."""
    with pytest.raises(SystemExit, match=r"--k 0: 'k' must be between 2 and the number of cells \(\d+\)"):
        main(["neighbourhoods", "--out", str(tmp_path / "nb"), "--quiet", "--k", "0"])
    assert "K = 0" not in capsys.readouterr().out

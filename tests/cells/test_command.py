"""`graphpool cells`: the simulator default end to end, resume, and a bad table."""

import json
from pathlib import Path

import pandas as pd
import pytest

from graphpool.cli import main

QUICK = [
    "--samples",
    "24",
    "--folds",
    "3",
    "--epochs",
    "4",
    "--patience",
    "4",
    "--hidden",
    "8",
    "--quiet",
    "--plots",
    "2",
]


def test_simulated_run_writes_everything_and_resumes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cells"
    assert main(["cells", "--simulate", "presence", "--readout", "sum,max", "--out", str(out), *QUICK]) == 0
    printed = capsys.readouterr().out
    assert "proportions (logistic regression)" in printed and "3 stratified folds grouped by sample" in printed
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["readout"], r["pool"]) for r in rows] == [
        ("sum", "none"),
        ("sum", "celltype"),
        ("max", "none"),
        ("max", "celltype"),
        ("proportions (logistic regression)", "-"),
        ("graph size (linear model)", "-"),  # how many cells and edges: what counting alone predicts
    ]
    cells = pd.read_csv(out / "cell_scores.csv")
    samples = pd.read_csv(out / "sample_predictions.csv")
    assert len(samples) == 24 and samples["sample"].is_unique  # every sample explained once, out of fold
    assert set(cells["sample"]) == set(samples["sample"])
    assert {"score_0", "score_1", "evidence", "cell_type", "x", "y"} <= set(cells.columns)
    importance = pd.read_csv(out / "cell_type_importance.csv")
    assert set(importance["cell_type"]) == {"tumour", "stroma", "immune", "rare"}
    assert len(list((out / "maps").glob("*.png"))) == 2 and (out / "cell_type_importance.png").exists()
    assert json.loads((out / "explanation.json").read_text())["exact"] is True
    # the folds never split a sample, and the test parts of each combination are the same
    splits = json.loads((out / "sum__none" / "splits.json").read_text())
    assert splits == json.loads((out / "max__celltype" / "splits.json").read_text())
    first = (out / "sum__none" / "fold-1.json").read_text()
    with pytest.raises(SystemExit, match="pass --resume"):
        main(["cells", "--simulate", "presence", "--readout", "sum,max", "--out", str(out), *QUICK])
    assert main(["cells", "--simulate", "presence", "--readout", "sum,max", "--out", str(out), "--resume", *QUICK]) == 0
    assert (out / "sum__none" / "fold-1.json").read_text() == first


@pytest.mark.parametrize("content", [b"cut short", None])
def test_a_fold_model_broken_or_gone_is_named_on_resume(tmp_path: Path, content: bytes | None) -> None:
    """The explanations read each fold's model-K.pt: one cut short was torch's traceback, one deleted
    "[Errno 2] No such file or directory", with nothing said of how to get it back."""
    out = tmp_path / "cells"
    arguments = ["cells", "--simulate", "presence", "--readout", "sum", "--out", str(out), *QUICK]
    assert main(arguments) == 0
    for model in out.glob("*/model-1.pt"):
        model.unlink() if content is None else model.write_bytes(content)
    message = r"model-1.pt is not a file graphpool wrote \(.+\): delete it" if content else r"has no model-1.pt beside"
    with pytest.raises(SystemExit, match=rf"{message}.* fold-1.json .*train the fold again"):
        main([*arguments, "--resume"])


def test_grouped_by_donor_and_bad_tables(tmp_path: Path) -> None:
    from graphpool.cells import simulate

    frame = simulate("count", samples=16, seed=0)
    frame["donor"] = frame["sample"].str[-4:].astype(int) // 2  # two samples per donor
    table = tmp_path / "cells.csv"
    frame.to_csv(table, index=False)
    out = tmp_path / "grouped"
    assert (
        main(
            [
                "cells",
                "--table",
                str(table),
                "--group",
                "donor",
                "--folds",
                "2",
                "--out",
                str(out),
                "--readout",
                "mean",
                "--pool",
                "none",
                "--grid",
                "dropout=0,0.5",  # (not hidden: QUICK gives --hidden, which a grid of it refuses)
                *QUICK[4:],
            ]
        )
        == 0
    )
    fold = json.loads((out / "mean__none" / "fold-1.json").read_text())
    assert len(fold["candidates"]) == 2 and fold["selected"]["dropout"] in (0.0, 0.5)
    assert (out / "cell_scores.csv").exists()  # the explanation rebuilt each fold's selected model
    splits = json.loads((out / "mean__none" / "splits.json").read_text())
    donor = frame.groupby("sample")["donor"].first().to_numpy()
    for split in splits:
        assert not set(donor[split["test"]]) & set(donor[split["fit"] + split["validation"]])
        assert not set(donor[split["fit"]]) & set(donor[split["validation"]])
    with pytest.raises(SystemExit, match=r"column\(s\) \['celltype'\] not in the cell table"):
        main(["cells", "--table", str(table), "--type", "celltype", "--out", str(tmp_path / "bad")])
    with pytest.raises(SystemExit, match="--pool: 'topk' is not one of"):
        main(["cells", "--pool", "topk", "--out", str(tmp_path / "bad2")])
    frame.assign(label="tumour").to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(
        SystemExit, match="--label 'label' holds one value, 'tumour', in every sample: nothing to classify"
    ):
        main(["cells", "--table", str(tmp_path / "one.csv"), "--out", str(tmp_path / "bad3")])


# 15. one map per sample, whatever characters the sample names hold
def test_tissue_maps_of_similar_sample_names_do_not_overwrite_each_other(tmp_path: Path) -> None:
    from urllib.parse import unquote

    from graphpool.cells import simulate

    frame = simulate("presence", 8, 0)
    rename = dict(zip(sorted(frame["sample"].unique()), ["patient 1", "patient_1", "patient/1", "patient:1"] * 2))
    names = {old: f"{new}" if i < 4 else f"{new} b" for i, (old, new) in enumerate(rename.items())}
    frame["sample"] = frame["sample"].map(names)
    frame.to_csv(tmp_path / "cells.csv", index=False)
    out = tmp_path / "cells"
    argv = ["cells", "--table", str(tmp_path / "cells.csv"), "--readout", "sum", "--pool", "none", "--folds", "2",
            "--epochs", "2", "--patience", "2", "--hidden", "4", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    maps = sorted(p.stem for p in (out / "maps").glob("*.png"))
    assert len(maps) == 8 and sorted(unquote(m) for m in maps) == sorted(names.values())


def test_an_h5ad_with_three_named_classes_comes_back_annotated(tmp_path: Path, monkeypatch) -> None:
    import warnings

    import numpy as np

    from graphpool.cells import simulate
    from graphpool.cells.neighbourhood.annotate import h5ad_frame
    from graphpool.cells.workflow import annotate

    anndata = pytest.importorskip("anndata")
    frame = simulate("presence", samples=18, seed=0)
    number = frame["sample"].str[-4:].astype(int)
    frame["label"] = number % 3  # three classes (the pipeline, not the accuracy, is under test)
    frame["donor"] = (number % 3) * 10 + number // 6  # three donors per class, two samples each
    obs = frame[["sample", "cell_type", "label", "donor"]].astype(str).set_axis([f"c{i}" for i in range(len(frame))])
    anndata.AnnData(obs=obs, obsm={"spatial": frame[["x", "y"]].to_numpy()}).write_h5ad(tmp_path / "cells.h5ad")
    out = tmp_path / "cells"
    args = ["cells", "--table", str(tmp_path / "cells.h5ad"), "--library-key", "sample", "--group", "donor"]
    args += ["--class-names", "0=healthy,1=onset,2=long duration", "--readout", "sum", "--pool", "mincut"]
    args += ["--clusters", "3", "--levels", "1", "--folds", "3", "--out", str(out), *QUICK[4:], "--unit", "µm"]
    from graphpool.cells import workflow

    drawn, draw = [], workflow._tissue_map
    monkeypatch.setattr(workflow, "_tissue_map", lambda *a: drawn.append(a[-1]) or draw(*a))
    assert main(args) == 0
    assert drawn == ["µm", "µm"]  # the maps' scale bars in the positions' unit (--plots 2)
    predictions = pd.read_csv(out / "sample_predictions.csv")
    assert set(predictions["label"]) == {"healthy", "onset", "long duration"}
    folder = out / "sum__mincut" / "neighbourhoods"
    statistics = pd.read_csv(folder / "statistics.csv", index_col=0)
    assert {"abundance_healthy", "abundance_onset", "abundance_long duration", "higher_in", "q"} <= set(statistics)
    posthoc = pd.read_csv(folder / "posthoc.csv")
    assert len(posthoc) == 3 * len(statistics) and set(posthoc["class_a"]) == {"healthy", "onset"}
    assert (folder / "abundance.png").is_file() and (folder / "abundance.pdf").is_file()
    cells = pd.read_csv(out / "cell_scores.csv")
    np.testing.assert_allclose(cells.groupby("sample")["evidence_share"].apply(lambda s: s.abs().sum()), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = anndata.read_h5ad(out / "cells.h5ad")
    assert back.n_obs == len(frame) and list(back.obs_names[:2]) == ["c0", "c1"]
    rows = cells["row"].to_numpy()
    np.testing.assert_allclose(back.obs["graphpool_evidence"].to_numpy()[rows], cells["evidence"])
    assert back.obsm["graphpool_scores"].shape == (len(frame), 3)
    assert list(back.uns["graphpool"]["classes"]) == ["healthy", "onset", "long duration"]
    assert set(back.obs["graphpool_fold"]) == {1, 2, 3}
    neighbourhood = back.obs["graphpool_sum__mincut"]
    assert neighbourhood.notna().all() and len(back.uns["graphpool_sum__mincut_colors"]) == len(statistics)
    stored = back.uns["graphpool_sum__mincut"]["statistics"]  # missing text stored as "" (HDF5 has no NA string)
    pd.testing.assert_frame_equal(stored, h5ad_frame(statistics), check_dtype=False)
    taken = anndata.read_h5ad(tmp_path / "cells.h5ad")  # an input holding a key the results would take: refused
    taken.obs["graphpool_fold"] = 1  # before any training, by name, with no folder left behind
    taken.write_h5ad(tmp_path / "taken.h5ad")
    refused = [*args[:2], str(tmp_path / "taken.h5ad"), *args[3:]]
    refused[refused.index("--out") + 1] = str(tmp_path / "refused")
    with pytest.raises(SystemExit, match=r"already holds obs\['graphpool_fold'\]: graphpool cells does not"):
        main(refused)
    assert not (tmp_path / "refused").exists()
    fresh = anndata.read_h5ad(tmp_path / "cells.h5ad")  # the input again, holding a column of the same name
    fresh.obs["graphpool_evidence"] = 0.0
    with pytest.raises(ValueError, match=r"already holds obs\['graphpool_evidence'\]: graphpool cells does not"):
        annotate(fresh, out)
    assert list(fresh.obs.columns) == ["sample", "cell_type", "label", "donor", "graphpool_evidence"]
    assert (fresh.obs["graphpool_evidence"] == 0).all() and not fresh.uns and not fresh.obsm.keys() - {"spatial"}


@pytest.mark.parametrize("seed", range(3))
def test_a_samples_absolute_shares_of_evidence_sum_to_one_in_float64(seed: int) -> None:
    """Shares divided in float32 summed to 1 +- 4e-8 once read back as float64 (cell_scores.csv), which made
    the h5ad test above fail on a thread count that changed the evidence's last bits."""
    import numpy as np

    from graphpool.cells.workflow import share_of_sample

    evidence = np.random.default_rng(seed).normal(size=1000).astype(np.float32)  # what the explanation gives
    share = share_of_sample(evidence)
    assert share.dtype == np.float64 and abs(np.abs(share).sum() - 1) < 1e-12
    assert np.all(share_of_sample(np.zeros(3, dtype=np.float32)) == 0)  # a sample without evidence


# the simulator's options with a --table, and a table's column options without one, were ignored without a word
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--table", "{table}", "--simulate", "count"], "--simulate makes tissues, but --table gives them: drop one"),
        (["--table", "{table}", "--samples", "50"], "--samples makes tissues, but --table gives them: drop one"),
        (["--x", "px"], "--x names a column of a --table, but none is given"),
        (["--type", "kind"], "--type names a column of a --table, but none is given"),
        (["--label", "outcome"], "--label names a column of a --table, but none is given"),
    ],
)
def test_table_and_simulator_options_do_not_mix(tmp_path: Path, arguments: list[str], message: str) -> None:
    table = tmp_path / "cells.csv"
    table.write_text("x,y,cell_type,sample,label\n0,0,a,s,0\n")
    command = ["cells", *[a.format(table=table) for a in arguments], "--out", str(tmp_path / "out"), "--quiet"]
    with pytest.raises(SystemExit, match=f"^graphpool cells: {message}"):
        main(command)
    assert not (tmp_path / "out").exists()


def test_neighbourhoods_without_a_table_refuse_its_column_options(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="^graphpool neighbourhoods: --sample names a column of a --table"):
        main(["neighbourhoods", "--sample", "patient", "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_edge_weights_nothing_reads_are_refused(tmp_path: Path) -> None:
    """--edge-weight with the default gin backbone and no cluster pool was computed and ignored."""
    with pytest.raises(SystemExit, match=r"^graphpool cells: --edge-weight is read by --backbone gcn and the cluster"):
        main(["cells", "--edge-weight", "distance", "--out", str(tmp_path / "out"), "--quiet"])
    assert not (tmp_path / "out").exists()


# the printed neighbourhood statistics listed every one of K = 32 clusters, most of them empty rows of NaN
def test_the_printed_neighbourhoods_are_those_that_hold_cells(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cells"
    args = ["cells", "--simulate", "presence", "--readout", "sum", "--pool", "mincut", "--out", str(out), *QUICK]
    assert main(args) == 0
    printed = capsys.readouterr().out.split("neighbourhoods of sum / mincut")[1].split("explained")[0]
    statistics = pd.read_csv(out / "sum__mincut" / "neighbourhoods" / "statistics.csv", index_col=0)
    assert len(statistics) == 32  # the file keeps every neighbourhood
    held = statistics[statistics["cells"] > 0]
    table = [line.split() for line in printed.strip().splitlines()[2:] if line.strip()]
    shown = [int(row[0]) for row in table if row and row[0].isdigit()]
    assert shown == held.index.tolist() and 0 < len(held) < 32
    assert f"{32 - len(held)} of 32 neighbourhoods hold no cell" in printed


# a bad --graph was found after the tissues were simulated (or the table read) and the run announced
@pytest.mark.parametrize("command", ["cells", "neighbourhoods"])
def test_a_bad_graph_is_refused_before_any_work(tmp_path: Path, capsys, command: str) -> None:
    with pytest.raises(
        SystemExit, match=rf"^graphpool {command}: --graph: graph 'knn:0': the value must be a positive"
    ):
        main([command, "--graph", "knn:0", "--out", str(tmp_path / "out"), "--quiet"])
    assert capsys.readouterr().out == "" and not (tmp_path / "out").exists()


# the refusals named read_cells' argument 'label_names', which no command line holds
@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("0=a", r"--class-names has no name for the 'label' value\(s\) \['1'\]"),
        ("0=a,1=a", r"--class-names gives two values the same name"),
    ],
)
def test_class_names_are_refused_in_the_options_words(tmp_path: Path, names: str, message: str) -> None:
    with pytest.raises(SystemExit, match=rf"^graphpool cells: {message}"):
        main(["cells", "--simulate", "count", "--samples", "10", "--class-names", names, "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def _without_timings(path: Path) -> bytes | object:
    """A results file's contents, less what measures time (``seconds`` fields and columns)."""

    def drop(value: object) -> object:
        if isinstance(value, dict):
            return {key: drop(item) for key, item in value.items() if "seconds" not in key}
        return [drop(item) for item in value] if isinstance(value, list) else value

    if path.suffix == ".json":
        return drop(json.loads(path.read_text()))
    if path.suffix == ".csv":
        frame = pd.read_csv(path)
        return frame.drop(columns=[c for c in frame.columns if "seconds" in c]).to_csv(index=False)
    return path.read_bytes()


# the same run wrote other bytes every time: figures dated (and SVG ids salted at random), models and checkpoints
# named after their temporary files (the pid: a second process's, so not seen in one; tests/experiment covers it)
def test_a_rerun_writes_the_same_files_but_for_the_timings(tmp_path: Path) -> None:
    for name in ("first", "second"):
        arguments = ["cells", "--simulate", "proportion", "--readout", "mean", "--out", str(tmp_path / name)]
        assert main([*arguments, *QUICK, "--threads", "1"]) == 0
    files = sorted(path.relative_to(tmp_path / "first") for path in (tmp_path / "first").rglob("*") if path.is_file())
    assert files == sorted(p.relative_to(tmp_path / "second") for p in (tmp_path / "second").rglob("*") if p.is_file())
    assert any(path.suffix == ".pt" for path in files) and any(path.suffix == ".pdf" for path in files)
    for path in files:
        assert _without_timings(tmp_path / "first" / path) == _without_timings(tmp_path / "second" / path), path

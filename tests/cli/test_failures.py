"""The command line's failure paths: one line and a non-zero exit, never a traceback or mixed results."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from graphpool.cli import main
from tests.installed import needs_rdkit

ROOT = Path(__file__).resolve().parents[2]
MOLECULES = ["CCO", "CCN", "CCC", "CCCl", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "OCCO", "CC#N", "CCS", "C=CC"]
FAST = ["--epochs", "2", "--patience", "2", "--layers", "1", "--hidden", "4", "--quiet"]


def _csv(folder: Path, rows: list[tuple[str, str]] | None = None) -> Path:
    path = folder / "molecules.csv"
    rows = rows if rows is not None else [(s, str(i % 2)) for i, s in enumerate(MOLECULES * 2)]
    path.write_text("smiles,label\n" + "".join(f"{s},{y}\n" for s, y in rows))
    return path


def _classify(folder: Path, out: Path, *extra: str) -> list[str]:
    return ["classify", "--smiles-csv", str(_csv(folder)), "--folds", "2", "--out", str(out), *FAST, *extra]


def _cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "graphpool", *arguments],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


@needs_rdkit
@pytest.mark.parametrize(
    ("change", "difference"),
    [
        (["--hidden", "8"], "--hidden: 4 (stored) vs 8 (now)"),
        (["--lr", "0.01"], "--lr: 0.001 (stored) vs 0.01 (now)"),
        (["--readout", "mean"], "--readout: 'sum' (stored) vs 'mean' (now)"),
        (["--seed", "3"], "--seed: 0 (stored) vs 3 (now)"),
        (["--grid", "dropout=0,0.5"], "--grid"),  # (not hidden: FAST gives --hidden, which a grid of it refuses)
    ],
)
def test_resume_with_other_settings_is_refused_before_writing(
    tmp_path: Path, change: list[str], difference: str
) -> None:
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out)) == 0
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    with pytest.raises(SystemExit, match="--resume: .* was run with other settings") as refused:
        main([*_classify(tmp_path, out, "--resume"), *change])
    assert difference in str(refused.value)
    after = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before  # nothing written, config.json included
    assert main(_classify(tmp_path, out, "--resume")) == 0  # the same settings resume


@needs_rdkit
def test_resume_with_an_old_checkpoint_and_another_width_is_a_message(tmp_path: Path) -> None:
    """A fold in progress (its checkpoint on disk) resumed with another width crashed with 'size mismatch'."""
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out)) == 0
    folder = out / "sum__none"
    (folder / "fold-2.json").unlink()  # as if killed during fold 2
    done = _cli(*_classify(tmp_path, out, "--resume", "--hidden", "8"))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "--hidden: 4 (stored) vs 8 (now)" in done.stderr


@needs_rdkit
def test_resume_of_a_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"--resume: .*nothing to resume.* does not exist"):
        main(_classify(tmp_path, tmp_path / "never", "--resume"))


@needs_rdkit
def test_seconds_per_fold_count_the_whole_fold_after_a_resume(tmp_path: Path) -> None:
    import torch

    from graphpool.data import load_smiles_csv
    from graphpool.experiment import TrainConfig, train_candidate
    from graphpool.models import ModelConfig

    graphs = load_smiles_csv(_csv(tmp_path)).graphs
    split = {"fit": list(range(20)), "validation": list(range(20, 24))}
    model = ModelConfig(in_channels=graphs[0].x.size(1), num_classes=2, hidden=4, layers=1)
    checkpoint = tmp_path / "fold.pt"
    first = train_candidate(graphs, split, model, TrainConfig(epochs=2, patience=5), torch.device("cpu"), checkpoint)
    resumed = train_candidate(graphs, split, model, TrainConfig(epochs=4, patience=5), torch.device("cpu"), checkpoint)
    assert resumed["epochs_run"] == 4
    assert resumed["seconds"] > first["seconds"]  # the first two epochs are counted too


BAD_NUMBERS = [
    (["--epochs", "0"], "--epochs must be >= 1, got 0"),
    (["--patience", "0"], "--patience must be >= 1, got 0"),
    (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["--folds", "1"], "--folds must be >= 2, got 1"),
    (["--lr", "0"], "--lr must be > 0, got 0.0"),
    (["--hidden", "0"], "--hidden must be >= 1, got 0"),
    (["--levels", "0"], "--levels must be >= 1, got 0"),
    (["--clusters", "0"], "--clusters must be >= 1, got 0"),
    (["--ratio", "0"], "--ratio must be > 0, got 0.0"),
    (["--ratio", "1.5"], "--ratio must be <= 1, got 1.5"),
    (["--pool", "topk"], "--pool: 'topk' is not one of"),
    (["--seed", "-5"], "--seed must be >= 0, got -5"),  # was numpy's "expected non-negative integer"
    (["--seed", str(2**32)], f"--seed must be <= {2**32 - 1}, got {2**32}"),
    (["--readout", ""], "--readout '': no readout named"),  # was an IndexError traceback
    (["--readout", "mean,,max"], "--readout 'mean,,max': an empty name between commas"),  # was 'mean,max'
    # refused while the arguments are parsed: they did not name the command
    (["--grid", "foo=1"], "--grid 'foo=1': 'foo' is not a grid setting; write NAME=V1,V2"),
    (["--grid", "hidden=4", "--grid", "hidden=8"], "--grid 'hidden=8': hidden is in the grid already"),
    (["--pool", "mincut", "--loss-weight", "ortho"], "--loss-weight 'ortho': give NAME=W"),
]


#: runs each command line as ``python -m graphpool`` would (``sys.exit(main(argv))``), all in one process: what a
#: SystemExit leaves on stderr and as the exit status, or the traceback any other exception would print
_RUN_EACH = """
import json, sys, traceback
from graphpool.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    try:
        results.append([main(argv), ""])
    except SystemExit as stop:
        results.append([1 if isinstance(stop.code, str) else stop.code, stop.code if isinstance(stop.code, str) else ""])
    except BaseException:
        results.append([1, traceback.format_exc()])
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def bad_number_runs(tmp_path_factory: pytest.TempPathFactory) -> list[subprocess.CompletedProcess]:
    """Every BAD_NUMBERS command line, run in one Python process (a Python + torch start costs ~6 s on 2 cores):
    each one's exit status and stderr as ``python -m graphpool`` gives them (test_out_pointing_at_a_file_is_one_line
    and others run the real command)."""
    folder = tmp_path_factory.mktemp("bad-numbers")
    commands = [[*_classify(folder, folder / f"out-{i}"), *arguments] for i, (arguments, _) in enumerate(BAD_NUMBERS)]
    done = subprocess.run(
        [sys.executable, "-c", _RUN_EACH, json.dumps(commands)],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = json.loads(done.stdout.strip().splitlines()[-1])
    return [subprocess.CompletedProcess(c, code, "", err) for c, (code, err) in zip(commands, results, strict=True)]


@pytest.mark.parametrize("case", range(len(BAD_NUMBERS)), ids=[m for _, m in BAD_NUMBERS])
def test_bad_numbers_are_one_line(bad_number_runs: list, case: int) -> None:
    done, message = bad_number_runs[case], BAD_NUMBERS[case][1]
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"graphpool {done.args[0]}: "), done.stderr  # every error names its command


@needs_rdkit
def test_out_pointing_at_a_file_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    done = _cli(*_classify(tmp_path, target))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "--out" in done.stderr and "is a file" in done.stderr


# an --out inside a file (a/b with a a file) ended in a NotADirectoryError traceback, for neighbourhoods after every
# method had run
@pytest.mark.parametrize("command", ["classify", "cells", "neighbourhoods"])
def test_out_below_a_file_is_one_line(tmp_path: Path, command: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = blocker / "results"
    arguments = {
        "classify": ["--dataset", "pooling-easy-small", "--splits", "stratified", "--folds", "2", *FAST],
        "cells": ["--samples", "12", "--folds", "2", "--epochs", "1", "--quiet"],
        "neighbourhoods": ["--method", "composition", "--quiet"],
    }[command]
    with pytest.raises(SystemExit, match=re.escape(f"--out {out}: {blocker} is a file, not a folder")):
        main([command, *arguments, "--out", str(out)])


def test_a_refused_file_operation_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--out /sys/x`` (a read-only file system) ended in a PermissionError traceback."""

    def refused(args: object) -> int:
        raise PermissionError(1, "Operation not permitted", "/sys/x")

    monkeypatch.setattr("graphpool.cli.classify.run", refused)
    with pytest.raises(SystemExit, match=re.escape("graphpool classify: [Errno 1] Operation not permitted: '/sys/x'")):
        main(["classify"])


def test_a_folder_of_other_files_is_not_called_a_run(tmp_path: Path) -> None:
    """A folder holding a user's own files was said to hold "results", with --resume as the way on."""
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter.tex").write_text("x")
    with pytest.raises(SystemExit, match=r"holds other files \(chapter.tex\), not a graphpool run: .*another --out"):
        main(["classify", "--dataset", "pooling-easy-small", "--splits", "stratified", "--folds", "2", *FAST,
              "--out", str(out)])  # fmt: skip


def test_header_only_csv_is_one_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, [])
    done = _cli("classify", "--smiles-csv", str(path), "--out", str(tmp_path / "out"), *FAST)
    assert done.returncode != 0 and "Traceback" not in done.stderr and "no molecules" in done.stderr


@needs_rdkit
def test_numeric_labels_given_to_classify_point_to_regress(tmp_path: Path) -> None:
    """A column of measurements read as classes failed in the folds ("the smallest class here has 1")."""
    path = _csv(tmp_path, [(s, f"{0.37 * i:.2f}") for i, s in enumerate(MOLECULES * 2)])
    with pytest.raises(SystemExit, match=r"--label-col 'label': \d+ distinct numbers among \d+ molecules"):
        main(["classify", "--smiles-csv", str(path), "--out", str(tmp_path / "out"), *FAST])
    assert not (tmp_path / "out").exists()


@needs_rdkit
def test_molecules_of_one_class_are_one_line(tmp_path: Path) -> None:
    """Was ModelConfig's "'num_classes' must be >= 2 ... use task='regression'", which names no option."""
    path = _csv(tmp_path, [(s, "active") for s in MOLECULES])
    done = _cli("classify", "--smiles-csv", str(path), "--out", str(tmp_path / "out"), *FAST)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "the labels hold one class, 'active': nothing to classify" in done.stderr, done.stderr


@needs_rdkit
def test_a_dataset_too_small_for_the_inner_holdout_says_which_and_what_to_change(tmp_path: Path) -> None:
    rows = [(s, str(i % 3)) for i, s in enumerate(MOLECULES)]  # 12 graphs, 3 classes
    path = _csv(tmp_path, rows)
    done = _cli("classify", "--smiles-csv", str(path), "--folds", "2", "--out", str(tmp_path / "out"), *FAST)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "inner hold-out of fold 1" in done.stderr and "validation" in done.stderr


def _tu(root: Path, folds: dict[str, str]) -> list[str]:
    raw = root / "TU" / "TOY" / "raw"
    raw.mkdir(parents=True)
    graphs = 20
    indicator = "".join(f"{g + 1}\n{g + 1}\n" for g in range(graphs))
    edges = "".join(f"{2 * g + 1}, {2 * g + 2}\n{2 * g + 2}, {2 * g + 1}\n" for g in range(graphs))
    (raw / "TOY_A.txt").write_text(edges)
    (raw / "TOY_graph_indicator.txt").write_text(indicator)
    (raw / "TOY_graph_labels.txt").write_text("".join(f"{g % 2}\n" for g in range(graphs)))
    fold_folder = root / "gin-format" / "TOY" / "10fold_idx"
    fold_folder.mkdir(parents=True)
    for number in range(1, 11):
        test = [2 * (number - 1), 2 * (number - 1) + 1]
        train = [i for i in range(graphs) if i not in test]
        (fold_folder / f"train_idx-{number}.txt").write_text(folds.get(f"train{number}", "\n".join(map(str, train))))
        (fold_folder / f"test_idx-{number}.txt").write_text(folds.get(f"test{number}", "\n".join(map(str, test))))
    return ["classify", "--dataset", "TOY", "--root", str(root / "TU"), "--splits", "gin"]


# "--folds 10 contradicts the 1 folds of --splits given" when the user wrote no --splits: auto had chosen the
# dataset's published split
def test_folds_against_a_split_auto_chose_say_it_was_auto(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["classify", "--dataset", "pooling-easy-small", "--folds", "10", "--out", str(tmp_path / "out"), *FAST])
    message = str(refused.value)
    assert "--folds 10 contradicts the 1 fold of --splits auto (here: the dataset's given split)" in message
    assert "--splits stratified" in message


@pytest.mark.parametrize(
    ("folds", "extra", "message"),
    [
        ({"train3": "0\n1\n4\n5"}, [], "fold 3: graphs [4, 5] are in both its training and its test part"),
        ({"test2": "2\n3\n25"}, [], "fold 2: graph 25 is out of range (there are 20 graphs)"),
        ({}, ["--folds", "3"], "--folds 3 contradicts the 10 folds of --splits gin"),
        ({"test4": "6\nseven"}, [], "test_idx-4.txt: line 2: 'seven' is not an integer"),
    ],
)
def test_supplied_folds_are_checked(tmp_path: Path, monkeypatch, folds: dict, extra: list[str], message: str) -> None:
    monkeypatch.setenv("GRAPHPOOL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SystemExit) as refused:
        main([*_tu(tmp_path, folds), *extra, "--out", str(tmp_path / "out"), *FAST])
    assert message in str(refused.value)
    assert not (tmp_path / "out").exists()


@needs_rdkit
def test_single_one_node_graph_batches_train(tmp_path: Path) -> None:
    """Methane ('C') alone in a batch: BatchNorm refused a batch of one node ('Expected more than 1 value')."""
    rows = [("C", "0"), ("CC", "1")] * 12
    path = _csv(tmp_path, rows)
    out = tmp_path / "out"
    code = main(["classify", "--smiles-csv", str(path), "--folds", "2", "--batch-size", "1", "--out", str(out), *FAST])
    assert code == 0
    assert json.loads((out / "results.json").read_text())["rows"][0]["folds"] == 2


@needs_rdkit
def test_checkpoints_left_by_a_kill_after_a_fold_finished_are_removed_on_resume(tmp_path: Path) -> None:
    """Killed between writing fold-K.json and removing fold-K-J.pt: the resumed run removes the leftover."""
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out)) == 0
    leftover = out / "sum__none" / "fold-1-1.pt"
    leftover.write_bytes(b"left by a killed run")
    assert main(_classify(tmp_path, out, "--resume")) == 0
    assert not leftover.exists()


@needs_rdkit
@pytest.mark.parametrize(
    "name", ["sum__none/fold-1.json", "sum__none/splits.json", "sum__none/config.json", "run.json"]
)
def test_a_results_file_cut_short_is_named_on_resume(tmp_path: Path, name: str) -> None:
    """Runs write their files whole (atomically); one edited or cut short by hand was JSON's bare "Invalid control
    character at: line 1 column 22", naming no file."""
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out)) == 0
    (out / name).write_text('{"fold": 1, "test_acc')
    with pytest.raises(SystemExit, match=rf"{out / name} is not valid JSON \(.*\): restore it, or delete it"):
        main(_classify(tmp_path, out, "--resume"))


@needs_rdkit
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [  # valid JSON of another shape: TypeError and KeyError tracebacks, or another fold's results read as this one's
        ("run.json", "[1]", "holds a list where graphpool writes an object"),
        ("sum__none/fold-1.json", "[]", "holds a list where graphpool writes an object"),
        ("sum__none/fold-1.json", "{}", "is not a finished fold's result: it has no 'fold', 'predictions'"),
        ("sum__none/fold-1.json", "fold-2", "holds the result of fold 2, not of fold 1"),
        ("sum__none/fold-1.json", "short", "holds 1 test prediction\\(s\\) but fold 1 tests 12 graphs"),
    ],
)
def test_a_results_file_of_another_shape_is_named_on_resume(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out)) == 0
    fold = json.loads((out / "sum__none" / "fold-1.json").read_text())
    content = {
        "fold-2": (out / "sum__none" / "fold-2.json").read_text(),
        "short": json.dumps({**fold, "predictions": fold["predictions"][:1]}),
    }.get(content, content)
    (out / name).write_text(content)
    with pytest.raises(SystemExit, match=rf"{out / name} {message}.*restore it, or delete it"):
        main(_classify(tmp_path, out, "--resume"))


@needs_rdkit
@pytest.mark.parametrize("content", [b"cut short", b""])
def test_a_broken_checkpoint_is_named_on_resume(tmp_path: Path, content: bytes) -> None:
    """A checkpoint cut short or replaced outside graphpool was torch's RuntimeError traceback ("PytorchStreamReader
    failed reading zip archive"), naming no file."""
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out, "--only-folds", "1")) == 0
    checkpoint = out / "sum__none" / "fold-2-1.pt"
    checkpoint.write_bytes(content)
    with pytest.raises(SystemExit, match=rf"{checkpoint} is not a file graphpool wrote \(.+\): delete it"):
        main(_classify(tmp_path, out, "--resume"))


@needs_rdkit
def test_finished_folds_without_their_settings_are_refused_on_resume(tmp_path: Path) -> None:
    """Without config.json the folds were read back whatever settings had trained them."""
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out)) == 0
    (out / "sum__none" / "config.json").unlink()
    with pytest.raises(SystemExit, match=r"sum__none holds 2 finished fold\(s\) \(fold-K.json\) but no config.json"):
        main(_classify(tmp_path, out, "--resume"))


@needs_rdkit
@pytest.mark.parametrize("extra", [["--pool", "mincut,graclus", "--levels", "2"], ["--pool", "kmis", "--precoarsen"]])
def test_hierarchical_pools_train_on_batches_with_one_atom_molecules(tmp_path: Path, extra: list[str]) -> None:
    """Two levels of pooling after message passing, batches holding methane: a soft level's sqrt(degree) at a
    cluster without edges turned every gradient into NaN, and training stopped."""
    rows = [("C", "0"), ("CCO", "1"), ("c1ccccc1", "0"), ("CC(=O)O", "1")] * 6
    out = tmp_path / "out"
    code = main(
        ["classify", "--smiles-csv", str(_csv(tmp_path, rows)), "--folds", "2", "--out", str(out), *FAST, *extra]
    )
    assert code == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {row["pool"] for row in rows} == set(extra[1].split(",")) and all(row["folds"] == 2 for row in rows)


@pytest.mark.parametrize(
    ("command", "module", "message"),
    [
        (["classify"], "rdkit", r"graphpool classify: needs the Python package 'rdkit', which is not installed"),
        (["cells", "--table", "{folder}/cells.h5ad"], "anndata", r"graphpool cells: reading cells.h5ad needs anndata"),
        (
            ["classify"],
            "rdkit.Chem",
            (
                r"graphpool classify: the installed Python package 'rdkit' has no module "
                r"'rdkit.Chem' \(another version of it is needed\)"
            ),
        ),  # was: "needs 'rdkit', which is not installed"
    ],
    ids=["smiles-without-rdkit", "h5ad-without-anndata", "rdkit-without-a-module"],
)
def test_a_missing_package_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command, module, message
) -> None:
    """Without RDKit (the GPU machine has none) the molecule commands ended in a ModuleNotFoundError traceback."""
    (tmp_path / "cells.h5ad").write_bytes(b"")
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails as if it were not installed
    arguments = [part.format(folder=tmp_path) for part in command]
    with pytest.raises(SystemExit, match=f"^{message}"):
        main([*arguments, "--out", str(tmp_path / "run"), *FAST])
    assert not (tmp_path / "run").exists()


@needs_rdkit
def test_folds_run_as_separate_jobs_give_the_results_of_one_run(tmp_path: Path, capsys) -> None:
    """--only-folds: jobs of an array each run some outer folds on one --out; the job that finds every fold done
    writes the results, and they are those of one run over all folds (the same folds, the same training)."""
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert main(_classify(tmp_path, whole, "--folds", "3")) == 0
    assert main(_classify(tmp_path, split, "--folds", "3", "--only-folds", "2")) == 0
    assert not (split / "results.json").exists() and not (split / "sum__none" / "fold-1.json").exists()
    assert "folds 1, 3 of 3 still to run" in capsys.readouterr().out
    assert main(_classify(tmp_path, split, "--folds", "3", "--only-folds", "1,3")) == 0
    for number in (1, 2, 3):
        alone, joined = (json.loads((o / "sum__none" / f"fold-{number}.json").read_text()) for o in (whole, split))
        assert joined["predictions"] == alone["predictions"] and joined["test_accuracy"] == alone["test_accuracy"]
    rows = [json.loads((o / "results.json").read_text())["rows"] for o in (whole, split)]
    assert [r["mean_accuracy"] for r in rows[0]] == [r["mean_accuracy"] for r in rows[1]]
    assert (split / "predictions.csv").read_text() == (whole / "predictions.csv").read_text()
    capsys.readouterr()
    assert main(_classify(tmp_path, tmp_path / "other", "--folds", "3", "--only-folds", "1-2")) == 0
    assert "fold 3 of 3 still to run" in capsys.readouterr().out  # one fold left: singular


@needs_rdkit
def test_two_jobs_finishing_together_both_find_every_fold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two jobs start together on an empty --out and read the folds only once both have written theirs (a barrier
    before the reading pass): each finds every fold, each writes the results (atomically), and they are those of
    one run. Training is serialised by a lock, so that the two threads do not share torch's global seed."""
    import threading

    from graphpool.experiment import runner

    whole, split = tmp_path / "whole", tmp_path / "split"
    assert main(_classify(tmp_path, whole, "--folds", "3")) == 0
    original, lock, barrier = runner.assess, threading.Lock(), threading.Barrier(2, timeout=120)

    def assess(*args, only=None, **kwargs):
        if only == ():  # the reading pass: after both jobs wrote their folds
            barrier.wait()
            return original(*args, only=only, **kwargs)
        with lock:
            return original(*args, only=only, **kwargs)

    monkeypatch.setattr(runner, "assess", assess)
    codes: list[object] = []

    def job(command: list[str]) -> None:
        try:
            codes.append(main(command))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            codes.append(error)

    # the command lines are made here: making one writes the CSV, which the other job may be reading
    commands = [_classify(tmp_path, split, "--folds", "3", "--only-folds", folds) for folds in ("2", "1,3")]
    threads = [threading.Thread(target=job, args=(command,)) for command in commands]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert codes == [0, 0]
    rows = [json.loads((o / "results.json").read_text())["rows"] for o in (whole, split)]
    assert [r["mean_accuracy"] for r in rows[0]] == [r["mean_accuracy"] for r in rows[1]]
    assert (split / "predictions.csv").read_text() == (whole / "predictions.csv").read_text()
    assert not [p.name for p in split.rglob(".*")]  # no temporary file left behind


@needs_rdkit
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("0", "--only-folds '0': fold numbers start at 1"),
        ("4", "--only-folds '4': the run has 3 folds"),
        ("2-1", "--only-folds '2-1': write folds as 3, 1-5 or 2,7"),
        ("a", "--only-folds 'a': write folds as 3, 1-5 or 2,7"),
        ("1,1", "--only-folds '1,1': names 1 twice"),  # a fold named twice, as other lists refuse repeats
        ("1-3,2", "--only-folds '1-3,2': names 2 twice"),
    ],
)
def test_bad_fold_lists_are_one_line(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        main(_classify(tmp_path, tmp_path / "out", "--folds", "3", "--only-folds", spec))
    assert not (tmp_path / "out").exists()


@needs_rdkit
def test_a_job_with_other_settings_cannot_join_the_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(_classify(tmp_path, out, "--folds", "3", "--only-folds", "1")) == 0
    with pytest.raises(SystemExit, match=r"--only-folds: .* was run with other settings: --hidden: 4 \(stored\) vs 8"):
        main(_classify(tmp_path, out, "--folds", "3", "--only-folds", "2", "--hidden", "8"))


# --pool mincut --clusters 1000000 on MUTAG ended in a traceback of torch's allocator (64 TB asked for)
@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried "
                "to allocate 64002048000000 bytes. Error code 12 (Cannot allocate memory)"
            ),
            "graphpool classify: out of memory (64,002 GB asked for)",
        ),
        (
            torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79.19 GiB"
            ),
            "graphpool classify: out of memory (20.00 GiB asked for)",
        ),
        (MemoryError(), "graphpool classify: out of memory: "),
    ],
)
def test_running_out_of_memory_is_one_line(monkeypatch: pytest.MonkeyPatch, error: Exception, message: str) -> None:
    def hungry(args: object) -> int:
        raise error

    monkeypatch.setattr("graphpool.cli.classify.run", hungry)
    with pytest.raises(SystemExit, match=re.escape(message)) as stopped:
        main(["classify"])
    assert "--batch-size" in str(stopped.value) and "\n" not in str(stopped.value)


def test_a_runtime_error_that_is_no_shortage_of_memory_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (7x3 and 2x32)")

    monkeypatch.setattr("graphpool.cli.classify.run", broken)
    with pytest.raises(RuntimeError, match="mat1 and mat2"):
        main(["classify"])


# argparse printed its whole usage (20-odd lines for classify) above the error
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["classify", "--epochs", "foo"], "graphpool classify: argument --epochs: invalid int value: 'foo'"),
        (["cells", "--backbone", "foo"], "graphpool cells: argument --backbone: invalid choice: 'foo'"),
        (["classify", "--batch-size", "x"], "graphpool classify: argument --batch-size: give a whole number or 'auto'"),
        (["classify", "--no-such-option"], "graphpool: unrecognized arguments: --no-such-option"),
        ([], "graphpool: the following arguments are required: command"),
    ],
)
def test_an_unparsable_command_line_is_one_line(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.startswith(message) and len(error.strip().splitlines()) == 1, error
    assert error.strip().endswith("--help lists the options)")

"""The scripts run end to end (tiny settings)."""

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_readout_benchmark_quick() -> None:
    """The host path with the allocator option (the GPU check's dry run below runs it with the default allocator)."""
    options = ("--keep-freed-memory",) if platform.libc_ver()[0] == "glibc" else ()
    reduces = ("sum", "median", "min", "var", "std", "softmax", "powermean")  # (quantile: as median, slower)
    out = _run("scripts/bench_readouts.py", "--quick", "--budget", "0.01", "--reduces", ",".join(reduces), *options)
    assert "1024 x 30 x 128" in out and "GB/s" in out and "faults" in out
    assert all(f" {reduce} " in out for reduce in reduces)  # each against its PyG contender
    assert ("freed memory kept" if options else "allocator default") in out


def test_the_benchmark_counts_the_page_faults_of_each_contender(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call that writes 64 MB into freshly mapped pages faults thousands of times; one that maps nothing, not."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from bench_readouts import faults_per_call

    faults = faults_per_call({"fresh": lambda: torch.ones(2**24), "nothing": lambda: None}, calls=3)
    assert faults["fresh"] > 1000 and faults["nothing"] < 50, faults


def test_the_peak_bandwidth_falls_back_on_the_data_sheet_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA 13 reports no memory clock: without the names' figures the GPU check had no % of peak to give."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from bench_readouts import nominal_bandwidth_gbs, peak_bandwidth_gbs

    assert nominal_bandwidth_gbs("NVIDIA H200") == 4800 and nominal_bandwidth_gbs("NVIDIA H100 80GB HBM3") == 3350
    assert nominal_bandwidth_gbs("NVIDIA H100 PCIe") == 2000 and nominal_bandwidth_gbs("NVIDIA A100-SXM4-80GB") == 2039
    assert nominal_bandwidth_gbs("NVIDIA GeForce GTX 480") is None and peak_bandwidth_gbs("cpu") is None


@pytest.mark.cuda
def test_readout_benchmark_on_cuda() -> None:
    out = _run("scripts/bench_readouts.py", "--quick", "--budget", "0.01", "--device", "cuda")
    assert torch.cuda.get_device_name() in out and "1024 x 30 x 128" in out and "median" in out


def test_call_cost_benchmark(tmp_path: Path) -> None:
    out = _run("scripts/bench_call_cost.py", "--rounds", "3", "--json", str(tmp_path / "cost.json"))
    rows = json.loads((tmp_path / "cost.json").read_text())
    assert {(r["reduce"], r["mode"], r["regime"]) for r in rows} == {
        (reduce, mode, regime)
        for reduce in ("sum", "mean", "max")
        for mode in ("forward", "fwd+bwd")
        for regime in ("cold", "in turn")
    }
    assert all(r[key] > 0 for r in rows for key in ("graphpool_us", "unchecked_us", "pyg_us"))
    assert "4 graphs x 30 nodes x 8 features" in out


def test_image_pooling_demo(tmp_path: Path) -> None:
    out = _run("scripts/image_pooling_demo.py", "--epochs", "1", "--out", str(tmp_path))
    assert "test accuracy" in out and "equals the logit" in out
    assert (tmp_path / "cam_digits.png").stat().st_size > 10_000


def test_cluster_benchmark_small(tmp_path: Path) -> None:
    options = ["--keep-freed-memory"] if platform.libc_ver()[0] == "glibc" else []  # passed on to each part
    out = _run(
        "scripts/bench_cluster.py",
        "--cells",
        "3000",
        "--skip-dense",
        "--in-process",
        "--json",
        str(tmp_path / "r.json"),
        *options,
    )
    assert "diffpool_fwd_bwd" in out
    assert json.loads((tmp_path / "r.json").read_text())["allocator"] == (
        "freed memory kept" if options else "allocator default"
    )


@pytest.mark.cuda
def test_cluster_benchmark_on_cuda(tmp_path: Path) -> None:
    out = _run("scripts/bench_cluster.py", "--cells", "3000", "--skip-dense", "--device", "cuda")
    assert torch.cuda.get_device_name() in out and "mincut_network_fwd_bwd" in out


SHARED_TU = ROOT.parent / "shared" / "datasets" / "TU"


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_training_benchmark_runs(device: str) -> None:
    if not SHARED_TU.is_dir():
        pytest.skip("../shared/datasets is not present")
    out = _run("scripts/bench_training.py", "--root", str(SHARED_TU), "--epochs", "1", "--device", device)
    assert "ratio" in out


def test_readout_capability_smoke(tmp_path: Path) -> None:
    out = _run(
        "scripts/readout_capability.py",
        "--samples",
        "16",
        "--folds",
        "2",
        "--epochs",
        "2",
        "--patience",
        "2",
        "--rules",
        "count,arrangement",
        "--out",
        str(tmp_path),
    )
    assert "flat sum" in out and "arrangement" in out and (tmp_path / "capability.png").stat().st_size > 5000


def test_cell_graph_benchmark_small(tmp_path: Path) -> None:
    out = _run("scripts/bench_cells.py", "--cells", "5000", "--in-process", "--json", str(tmp_path / "cells.json"))
    assert "knn_edges" in out and "table_to_graph" in out and (tmp_path / "cells.json").exists()


def test_recipe_ablation_scores_recipes_on_validation_only(tmp_path: Path) -> None:
    out = _run(
        "scripts/recipe_ablation.py",
        "--dataset", "pooling-easy-small", "--pool", "mincut,none", "--recipes", "before,temperature 0.1",
        "--outer", "1", "--epochs", "1", "--patience", "1", "--json", str(tmp_path / "ablation.json"),
    )  # fmt: skip
    rows = json.loads((tmp_path / "ablation.json").read_text())["rows"]
    assert [(r["pool"], r["recipe"]) for r in rows] == [
        ("mincut", "before"),
        ("mincut", "temperature 0.1"),
        ("none", "before"),  # a flat model runs only the recipes without a pool setting
    ]
    assert all(len(r["validation_accuracy"]) == 1 and 0 <= r["mean"] <= 100 for r in rows)
    assert len(rows[0]["levels"][0]) == 2 and "| mincut | temperature 0.1 |" in out


def test_gpu_check_dry_run_writes_its_json_and_table(tmp_path: Path) -> None:
    """The GPU check's --cpu dry run: every part on the CPU's device path, small, each one ok."""
    out = _run("scripts/gpu_check.py", "--cpu", "--jobs", "2", "--out", str(tmp_path))
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert list(report["parts"]) == ["cases", "readouts", "order", "scale", "training", "ddp", "tests"]
    assert {name: part["status"] for name, part in report["parts"].items()} == dict.fromkeys(report["parts"], "ok")
    cases = report["parts"]["cases"]
    assert cases["passed"] == cases["cases"] >= 78 and cases["readout_syncs"] == []
    assert {row["dtype"] for row in cases["rows"]} == {"float32", "float16", "bfloat16"}
    assert report["parts"]["ddp"]["backend"] == "gloo" and "device path" in report["device"]["name"]
    suite = report["parts"]["tests"]  # the suite's CUDA cases: collected, and skipped on the CPU
    assert suite["counts"]["skipped"] >= 100 and set(suite["counts"]) == {"skipped"} and suite["failures"] == []
    table = (tmp_path / "gpu_check.md").read_text()
    assert table.count("| ok |") == 7 and "| part | status | seconds | result |" in table and "| ddp |" in out


def test_gpu_check_stops_the_suite_at_its_budget_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's part: at its budget pytest is stopped and the part fails, counting what finished before."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import gpu_check

    monkeypatch.setenv("GPU_CHECK_SECONDS", "10.5")  # 0.5 s for pytest: stopped while it collects
    found = gpu_check.part_tests(torch.device("cpu"), small=True)
    assert found["failed"] == 1 and found["failures"] == ["stopped after 0.5 s"]
    assert found["summary"] == "no test finished; stopped after 0.5 s"


def test_gpu_check_parts_run_this_trees_graphpool_whether_or_not_it_is_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The GPU run's `pip install -e .` may fail there (no setuptools): the parts, started elsewhere, must still
    import the graphpool of this working tree, ahead of any installed one and of the caller's PYTHONPATH."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import gpu_check

    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    (tmp_path / "graphpool.py").write_text("raise ImportError('a stale graphpool on the caller PYTHONPATH')")
    child = "import graphpool, sys; print(graphpool.__file__); print(sys.path.index(str(__import__('pathlib').Path(sys.argv[1]))))"
    done = subprocess.run(
        [sys.executable, "-c", child, str(tmp_path)],
        cwd=tmp_path.parent,
        env=gpu_check._environment(small=True),
        capture_output=True,
        text=True,
        check=True,
    )
    imported, caller_position = done.stdout.split()
    assert Path(imported) == ROOT / "graphpool" / "__init__.py" and int(caller_position) > 0


def test_gpu_check_counts_a_network_that_runs_out_of_memory_as_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """An out-of-memory at 1e7 cells was written into the summary of a part whose status stayed "ok"."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import gpu_check

    from graphpool.models import GraphClassifier

    def exhausted(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(GraphClassifier, "forward", exhausted)
    found = gpu_check.part_scale(torch.device("cpu"), small=True)
    assert found["failed"] == ["10,000 cells", "29,929 cells"] and "out of memory" in found["summary"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--parts", "cases,speed"],
            "--parts 'speed' is not one of ['cases', 'readouts', 'order', 'scale', 'training', 'ddp', 'tests']",
        ),
        (["--budget", "-1"], "--budget must be > 0, got -1.0"),  # every part "timed out" at -22 s, exit 0
        (["--budget", "nan"], "--budget must be > 0, got nan"),
        (["--jobs", "0"], "--jobs must be >= 1, got 0"),
        (["--out", "{folder}/a-file"], "--out {folder}/a-file is a file, not a folder"),  # was a traceback
    ],
)
def test_gpu_check_refuses_bad_arguments_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, arguments: list[str], message: str
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import gpu_check

    (tmp_path / "a-file").write_text("")
    arguments = [argument.format(folder=tmp_path) for argument in arguments]
    assert gpu_check.main(["--cpu", "--parts", "order", "--out", str(tmp_path / "out"), *arguments]) == 2
    assert capsys.readouterr().err == f"gpu_check: {message.format(folder=tmp_path)}\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]


# --reduces foo ended in a KeyError traceback; --budget -1 timed nothing without a word
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--reduces", "sum,foo"], "--reduces: 'foo' is not one of sum, mean, max, median"),
        (["--budget", "-1"], "--budget: give a number > 0, got '-1'"),
    ],
)
def test_the_readout_benchmark_names_a_bad_option(option: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "scripts/bench_readouts.py", "--quick", *option],
        cwd=ROOT, check=False, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr and message in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("script", "option", "message"),
    [
        ("bench_call_cost.py", ["--reduces", "median"], "'median' is not one of sum, mean, max"),
        ("bench_call_cost.py", ["--rounds", "0"], "--rounds: give a number > 0, got '0'"),
        ("bench_cluster.py", ["--cells", "-5"], "--cells: give a number > 0, got '-5'"),
        ("bench_cells.py", ["--cells", "2.5"], "--cells: give a whole number >= 1, got '2.5'"),
        ("bench_scaling.py", ["--max-nodes", "inf"], "--max-nodes: give a number > 0, got 'inf'"),
        ("readout_capability.py", ["--rules", "count,count"], "'count,count' names 'count' twice"),
        ("readout_capability.py", ["--epochs", "0"], "--epochs: give a number > 0, got '0'"),
    ],
)
def test_the_scripts_name_a_bad_option_in_one_line(script: str, option: list[str], message: str) -> None:
    """A negative --cells failed inside torch ("negative dimension -5"), an unknown reduce with a KeyError."""
    done = subprocess.run(
        [sys.executable, f"scripts/{script}", *option],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and message in done.stderr, done.stderr


def _size_rows(*args: str) -> list[list[str]]:
    return [line.split() for line in _run("scripts/size_baseline.py", "--folds", "3", *args).splitlines()[1:]]


def test_size_baseline_on_the_generated_benchmark_is_at_chance() -> None:
    """The pooling benchmark is built so that size says nothing: both rows near 1 in 3."""
    rows = _size_rows("pooling-easy-small")
    assert [row[:2] for row in rows] == [["pooling-easy-small", "graph"], ["pooling-easy-small", "majority"]]
    assert float(rows[1][3]) == pytest.approx(100 / 3, abs=1.0) and len(rows[1]) == 9  # mean, +-, sd, 3 folds
    assert 0 <= float(rows[0][5]) <= 100
    done = subprocess.run(
        [sys.executable, "scripts/size_baseline.py", "MUTAG"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and "MUTAG: a TU dataset needs --root" in done.stderr


def test_size_baseline_on_classify_folds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not SHARED_TU.is_dir():
        pytest.skip("../shared/datasets is not present")
    monkeypatch.setenv("GRAPHPOOL_CACHE", str(tmp_path / "cache"))
    rows = _size_rows("--root", str(SHARED_TU), "MUTAG")
    assert [row[:2] for row in rows] == [["MUTAG", "graph"], ["MUTAG", "majority"]]
    # the majority row is the floor classify prints on the same folds: MUTAG has 125 of 188 graphs in one class
    assert float(rows[1][3]) == pytest.approx(100 * 125 / 188, abs=1.0)
    done = subprocess.run(
        [sys.executable, "scripts/size_baseline.py", "--root", str(SHARED_TU), "NOPE"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and "NOPE: no TU raw folder" in done.stderr


def test_soft_batches_benchmark() -> None:
    out = _run("scripts/bench_soft_batches.py", "--rounds", "1")
    assert "128 rings of 30 nodes" in out and "sparse / padded" in out
    assert [line.split()[-2] for line in out.splitlines() if line.startswith("1")] == ["padded", "sparse", "padded"]

"""torchrun with 2 CPU processes (gloo): the same protocol, results written once, accuracy as one process."""

import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.installed import needs_rdkit

ROOT = Path(__file__).resolve().parents[2]
ARGS = [
    "classify",
    "--dataset",
    "solubility",
    "--readout",
    "mean",
    "--epochs",
    "6",
    "--patience",
    "6",
    "--layers",
    "2",
    "--hidden",
    "32",
    "--quiet",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_rdkit
def test_two_processes_match_one(tmp_path: Path) -> None:
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            f"--master_port={_free_port()}",
            "-m",
            "graphpool",
            *ARGS,
            "--out",
            str(tmp_path / "two"),
        ],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("test accuracy") == 1  # only rank 0 reports
    one = subprocess.run(
        [sys.executable, "-m", "graphpool", *ARGS, "--out", str(tmp_path / "one")],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    accuracy = {
        k: json.loads((tmp_path / k / "results.json").read_text())["rows"][0]["mean_accuracy"] for k in ("one", "two")
    }
    assert accuracy["two"] > 0.5 and abs(accuracy["two"] - accuracy["one"]) < 0.1, accuracy
    assert json.loads((tmp_path / "two" / "mean__none" / "splits.json").read_text()) == json.loads(
        (tmp_path / "one" / "mean__none" / "splits.json").read_text()
    )

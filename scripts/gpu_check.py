"""graphpool's GPU check: one command, one JSON and one markdown table, within 8 minutes of wall time.

On the GPU machine (graphpool installed on its own torch and PyG, no network):

    python3 -m pip install --no-deps --no-build-isolation -e . ; python3 scripts/gpu_check.py --out "$OUT"

(``;``, not ``&&``: the parts put this working tree first on ``PYTHONPATH``, so the check runs even if the
install fails, e.g. for want of ``setuptools`` there.)

Anywhere, the dry run CI makes (small sizes, on the CPU, through the device path: the kernels take the branches
a GPU takes, see ``graphpool.device_path``):

    python scripts/gpu_check.py --cpu --out results/gpu_check            # --jobs 2: two parts at a time

Each part runs in its own process with its own time budget (``--budget`` scales them all), so a part that fails
or runs out of time is recorded as such and the others still run:

1. ``cases``: every readout, pooler and grid operation in float32, float16 and bfloat16 on the device, against
   float64 on the CPU; each run twice and compared bit for bit (determinism); the readouts once more under
   ``torch.cuda.set_sync_debug_mode("error")`` (validation off, ``num_graphs`` given), which fails on any
   device-to-host synchronisation (on the CPU: :class:`graphpool.testing.HostSyncs`).
2. ``readouts``: ``scripts/bench_readouts.py`` (sum, mean, max) against PyG, with the achieved bandwidth as a
   fraction of the GPU's peak.
3. ``order``: median and the 0.25-quantile against PyG's ``MedianAggregation`` / ``QuantileAggregation``.
4. ``scale``: a 2-level soft-pooling network (GIN, MinCut to 64 then 8 clusters) forward + backward on one tissue
   of 1,000,000 and of 10,000,000 cells (a lattice with 8 neighbours each): time and
   ``torch.cuda.max_memory_allocated``.
5. ``training``: one epoch of a 5-layer GIN on a generated TU-like dataset (600 graphs of 20-40 nodes, ENZYMES'
   shape), graphpool's ``GraphClassifier`` against its plain-PyG twin (``scripts/bench_training.py``).
6. ``ddp``: ``torchrun --nproc_per_node=1`` with the nccl backend (gloo on the CPU): three data-parallel steps
   of a hierarchical classifier and an ``all_reduce``.
7. ``tests``: the test suite's CUDA cases, ``pytest -m cuda tests`` (the readouts' determinism and low-precision
   cases, every pooler and grid operation against the CPU, the benchmarks on CUDA). Tests that need RDKit or
   anndata skip where those are not installed; on the CPU dry run every CUDA case is collected and skipped.

Writes ``gpu_check.json`` (every figure, the device and the versions) and ``gpu_check.md`` (one row per part)
into ``--out``, and prints progress as it goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import torch

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(1, str(SCRIPTS.parent))  # this tree's graphpool, installed or not (as the parts: _environment)
from _measure import synchronize  # it imports graphpool

#: each part's time budget in seconds on a GPU (scaled by --budget); they sum to 8 minutes
BUDGETS = {"cases": 75, "readouts": 75, "order": 45, "scale": 120, "training": 45, "ddp": 45, "tests": 75}
#: relative tolerance of a device result against float64 on the CPU
TOLERANCE = {torch.float32: 1e-4, torch.float16: 2e-2, torch.bfloat16: 8e-2}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


# --- the parts (each runs in its own process: python gpu_check.py --part NAME) ---------------------------------


def part_cases(device: torch.device, small: bool) -> dict[str, Any]:
    """Readouts, poolers and grid operations per dtype against float64 on the CPU; twice, bit for bit."""
    import graphpool
    from graphpool.cluster import POOLERS, SOFT_POOLERS, pooler
    from graphpool.grid import BlurPool, GlobalPool, SqueezeExcite, class_activation_map
    from graphpool.readout import functional_names, global_pool

    generator = torch.Generator().manual_seed(0)
    graphs, n = (8, 300) if small else (64, 6000)
    x64 = torch.randn(n, 16, generator=generator, dtype=torch.float64)
    batch = torch.sort(torch.randint(0, graphs, (n,), generator=generator)).values
    edges = torch.randint(0, n, (2, 6 * n), generator=generator)
    edges = edges[:, batch[edges[0]] == batch[edges[1]]]
    options = {"quantile": {"q": 0.25}, "weighted": {"weight": torch.rand(n, generator=generator)}}
    results: list[dict[str, Any]] = []

    def check(kind: str, name: str, dtype_name: str, run: Callable[..., torch.Tensor]) -> None:
        """``run(dtype, device, rounded)``: the case's output and input gradient, its inputs rounded to ``rounded``
        first, so that the float64 reference sees the values the device sees (a max in float16 may pick another
        row than in float64 when two values round to one)."""
        dtype = DTYPES[dtype_name]
        row: dict[str, Any] = {"kind": kind, "name": name, "dtype": dtype_name}
        try:
            reference = run(torch.float64, torch.device("cpu"), dtype).double()
            first, second = run(dtype, device, dtype), run(dtype, device, dtype)
            row["deterministic"] = bool(torch.equal(first, second))
            error = (first.double().cpu() - reference).abs().max().item()
            row["relative_error"] = error / max(reference.abs().max().item(), 1e-12)
            row["ok"] = row["deterministic"] and row["relative_error"] <= TOLERANCE[dtype]
        except Exception as failure:  # noqa: BLE001 - recorded, not raised: the other cases still run
            row.update(ok=False, error=f"{type(failure).__name__}: {failure}"[:300])
        results.append(row)

    def readout_case(name: str) -> Callable[[torch.dtype, torch.device], torch.Tensor]:
        def run(dtype: torch.dtype, where: torch.device, rounded: torch.dtype) -> torch.Tensor:
            x = (
                (x64.abs() + 0.1 if name == "powermean" else x64)
                .to(rounded)
                .to(where, dtype, copy=True)
                .requires_grad_()
            )
            extra = {key: value.to(where) if torch.is_tensor(value) else value for key, value in
                     options.get(name, {}).items()}  # fmt: skip
            out = global_pool(x, batch.to(where), reduce=name, num_graphs=graphs, **extra)
            out.float().square().sum().backward()
            return torch.cat([out.detach().flatten(), x.grad.flatten()])

        return run

    def pooler_case(name: str) -> Callable[[torch.dtype, torch.device], torch.Tensor]:
        def run(dtype: torch.dtype, where: torch.device, rounded: torch.dtype) -> torch.Tensor:
            torch.manual_seed(0)
            soft = name in SOFT_POOLERS
            pool = pooler(name, **({"in_channels": 16, "clusters": 4} if soft or name == "kmeans" else {}))
            pool = pool.to(where, dtype if soft else torch.float32)
            x = x64.to(rounded).to(where, dtype, copy=True).requires_grad_()
            out = pool(x, edges.to(where), batch=batch.to(where), num_graphs=graphs)
            loss = out.x.float().square().sum() + sum(value.float() for value in out.aux_loss.values())
            loss.backward()
            return torch.cat([out.x.detach().flatten(), x.grad.flatten()])

        return run

    def grid_case(name: str) -> Callable[[torch.dtype, torch.device], torch.Tensor]:
        image = torch.randn(4, 8, 12, 10, generator=generator, dtype=torch.float64)

        def run(dtype: torch.dtype, where: torch.device, rounded: torch.dtype) -> torch.Tensor:
            torch.manual_seed(0)
            x = image.to(rounded).to(where, dtype, copy=True).requires_grad_()
            if name == "cam":
                weight = torch.linspace(-1, 1, 3 * 8, dtype=dtype, device=where).view(3, 8)
                out = class_activation_map(x, weight)
            else:
                module = {"global mean+max": GlobalPool("mean+max"), "global median": GlobalPool("median"),
                          "squeeze-excite": SqueezeExcite(8), "blur pool": BlurPool()}[name]  # fmt: skip
                out = module.to(where, dtype)(x)
            out.float().square().sum().backward()
            return torch.cat([out.detach().flatten(), x.grad.flatten()])

        return run

    with graphpool.validation(False):
        for dtype_name in DTYPES:
            for name in functional_names():
                check("readout", name, dtype_name, readout_case(name))
            for name in POOLERS:
                if name != "given":  # given labels: nothing is computed that the others do not
                    check("pooler", name, dtype_name, pooler_case(name))
            for name in ("global mean+max", "global median", "squeeze-excite", "blur pool", "cam"):
                check("grid", name, dtype_name, grid_case(name))
        syncs = readout_syncs(device, x64.float(), batch, graphs, options)
    failed = [f"{r['kind']} {r['name']} {r['dtype']}" for r in results if not r["ok"]]
    return {
        "cases": len(results),
        "passed": len(results) - len(failed),
        "failed": failed,
        "nondeterministic": [
            f"{r['kind']} {r['name']} {r['dtype']}" for r in results if r.get("deterministic") is False
        ],
        "readout_syncs": syncs,
        "rows": results,
        "summary": f"{len(results) - len(failed)}/{len(results)} cases pass; {len(syncs)} readouts synchronise",
    }


def readout_syncs(
    device: torch.device, x: torch.Tensor, batch: torch.Tensor, graphs: int, options: dict[str, Any]
) -> list[str]:
    """The readouts whose forward + backward synchronise with the host (validation off, ``num_graphs`` given)."""
    import graphpool
    from graphpool.readout import functional_names, global_pool
    from graphpool.testing import HostSyncs

    found = []
    x, batch = x.to(device), batch.to(device)
    for name in functional_names():
        extra = {
            key: value.to(device) if torch.is_tensor(value) else value for key, value in options.get(name, {}).items()
        }
        inputs = (x.abs() + 0.1 if name == "powermean" else x).detach().requires_grad_()

        def step(inputs: torch.Tensor = inputs, name: str = name, extra: dict[str, Any] = extra) -> None:
            global_pool(inputs, batch, reduce=name, num_graphs=graphs, **extra).sum().backward()

        step()  # warm-up: first calls build caches
        try:
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.set_sync_debug_mode("error")
                try:
                    step()
                finally:
                    torch.cuda.set_sync_debug_mode("default")
            else:
                with graphpool.device_path(), HostSyncs() as syncs:
                    step()
                if syncs.found:
                    found.append(f"{name}: {sorted(set(syncs.found))}")
        except RuntimeError as failure:
            found.append(f"{name}: {failure}"[:200])
    return found


def part_readouts(device: torch.device, small: bool) -> dict[str, Any]:
    """``bench_readouts.py`` for sum, mean and max, its JSON rows read back."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        command = [sys.executable, str(SCRIPTS / "bench_readouts.py"), "--device", device.type, "--no-validation"]
        command += ["--reduces", "sum,mean,max", "--json", str(folder / "rows.json")]
        command += ["--quick", "--budget", "0.05"] if small else []
        subprocess.run(command, check=True, env=_environment(small))
        rows = json.loads((folder / "rows.json").read_text())
    rows = rows["rows"] if isinstance(rows, dict) and "rows" in rows else rows
    for row in rows:
        if row.get("peak_gbs"):
            row["percent_of_peak"] = 100 * row["graphpool_gbs"] / row["peak_gbs"]
        if row.get("copy_gbs"):
            row["percent_of_copy"] = 100 * row["graphpool_gbs"] / row["copy_gbs"]
    forward = [row for row in rows if row["mode"] == "forward"]
    largest = max(forward, key=lambda row: row["num_nodes"] * row["features"])
    summary = "; ".join(
        f"{row['reduce']} {row['ratio']:.2f}x PyG's time"
        + (f", {row['percent_of_peak']:.0f} % of peak" if "percent_of_peak" in row else "")
        + (f", {row['percent_of_copy']:.0f} % of a copy" if "percent_of_copy" in row else "")
        for row in forward
        if row["num_nodes"] * row["features"] == largest["num_nodes"] * largest["features"]
    )
    return {"rows": rows, "summary": f"forward, {largest['num_nodes']:,} x {largest['features']}: {summary}"}


def part_order(device: torch.device, small: bool) -> dict[str, Any]:
    """Median and 0.25-quantile forward, graphpool against PyG's aggregations (``bench_readouts``' contenders of
    the same settings), on the same tensors."""
    sys.path.insert(0, str(SCRIPTS))
    from bench_readouts import contenders_for

    generator = torch.Generator().manual_seed(0)
    graphs, nodes, features = (64, 30, 16) if small else (4096, 30, 128)
    sizes = torch.randint(nodes // 2, 3 * nodes // 2 + 1, (graphs,), generator=generator)
    batch = torch.repeat_interleave(torch.arange(graphs), sizes).to(device)
    x = torch.randn(int(sizes.sum()), features, generator=generator).to(device)
    rows = []
    for reduce, name in (("median", "median"), ("quantile", "quantile 0.25")):
        run = contenders_for(reduce, batch, graphs)
        mine = _median_seconds(partial(run["graphpool"], x), device)
        pyg = _median_seconds(partial(run["pyg"], x), device)
        rows.append({"reduce": name, "graphpool_ms": 1e3 * mine, "pyg_ms": 1e3 * pyg, "speedup": pyg / mine})
    shape = f"{graphs} graphs x ~{nodes} nodes x {features} features"
    return {"shape": shape, "rows": rows, "summary": "; ".join(f"{r['reduce']} {r['speedup']:.1f}x PyG" for r in rows)}


def part_scale(device: torch.device, small: bool) -> dict[str, Any]:
    """A 2-level soft-pooling GIN forward + backward on one lattice tissue of 1e6 and 1e7 cells."""
    import graphpool
    from graphpool.models import GraphClassifier, ModelConfig

    rows = []
    for cells in (10_000, 30_000) if small else (1_000_000, 10_000_000):
        side = int(cells**0.5)
        cells = side * side
        edge_index = _lattice(side, device)
        config = ModelConfig(in_channels=16, num_classes=2, hidden=32, layers=1, pool="mincut", levels=2, clusters=64)
        model = GraphClassifier(config).to(device)
        data = _one_graph(torch.randn(cells, 16, device=device), edge_index)
        row: dict[str, Any] = {"cells": cells, "edges": int(edge_index.size(1))}
        try:
            with graphpool.validation(False):
                _backward(model(data))  # warm-up
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                row["seconds"] = _median_seconds(partial(_step, model, data), device, repeats=3)
            if device.type == "cuda":
                row["max_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        except torch.OutOfMemoryError as failure:
            row["error"] = f"out of memory: {failure}"[:200]
        rows.append(row)
        del data, edge_index, model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    summary = "; ".join(
        f"{r['cells']:,} cells {r['seconds']:.2f} s" + (f" {r['max_memory_gib']:.1f} GiB" if "max_memory_gib" in r else "")
        if "seconds" in r else f"{r['cells']:,} cells: {r['error']}"
        for r in rows
    )  # fmt: skip
    return {"rows": rows, "failed": [f"{r['cells']:,} cells" for r in rows if "error" in r], "summary": summary}


def part_training(device: torch.device, small: bool) -> dict[str, Any]:
    """One epoch of a 5-layer GIN: graphpool's GraphClassifier against the same network in plain PyG."""
    sys.path.insert(0, str(SCRIPTS))
    from bench_training import PlainGIN, epoch
    from torch_geometric.data import Data
    from torch_geometric.loader import DataLoader

    from graphpool.models import GraphClassifier, ModelConfig

    generator = torch.Generator().manual_seed(0)
    graphs = []
    for index in range(120 if small else 600):  # ENZYMES' shape: 6 classes, 3 features, 20-40 nodes, ~4 edges each
        n = int(torch.randint(20, 41, (), generator=generator))
        edges = torch.randint(0, n, (2, 2 * n), generator=generator)
        edges = torch.cat([edges, edges.flip(0)], 1)
        graphs.append(Data(x=torch.randn(n, 3, generator=generator), edge_index=edges, y=torch.tensor(index % 6)))
    torch.manual_seed(0)
    ours = GraphClassifier(ModelConfig(in_channels=3, num_classes=6, readout="sum")).to(device)
    plain = PlainGIN(3, 6).to(device)
    loader = DataLoader(graphs, batch_size=128, shuffle=True)
    optimisers = {"graphpool": torch.optim.Adam(ours.parameters()), "pyg": torch.optim.Adam(plain.parameters())}
    times: dict[str, list[float]] = {"graphpool": [], "pyg": []}
    for rounds in range(4):  # the first round warms up
        for name, model in (("graphpool", ours), ("pyg", plain)):
            seconds = epoch(model, loader, optimisers[name], name == "graphpool", device)
            if rounds:
                times[name].append(seconds)
    ratio = statistics.median(a / b for a, b in zip(times["graphpool"], times["pyg"], strict=True))
    return {
        "graphs": len(graphs),
        "graphpool_ms": 1e3 * statistics.median(times["graphpool"]),
        "pyg_ms": 1e3 * statistics.median(times["pyg"]),
        "ratio": ratio,
        "summary": f"epoch {1e3 * statistics.median(times['graphpool']):.0f} ms, {ratio:.2f}x plain PyG's",
    }


def part_ddp(device: torch.device, small: bool) -> dict[str, Any]:
    """``torchrun --nproc_per_node=1`` of this script's ``ddp_worker`` (nccl on CUDA, gloo on the CPU)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]  # a free port
        command += [str(Path(__file__).resolve()), "--part", "ddp_worker", "--result", str(folder / "ddp.json")]
        command += ["--cpu"] if device.type == "cpu" else []
        subprocess.run(command, check=True, env=_environment(small))
        return json.loads((folder / "ddp.json").read_text())


def ddp_worker(device: torch.device, result: Path) -> None:
    """Inside torchrun: three DDP steps of a hierarchical classifier, then an all_reduce of the loss."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from graphpool.models import GraphClassifier, ModelConfig

    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":  # before the process group: nccl binds to the current device
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    torch.manual_seed(0)
    model = GraphClassifier(ModelConfig(in_channels=8, num_classes=2, pool="mincut", levels=2, clusters=4)).to(device)
    ddp = DistributedDataParallel(model)
    optimiser = torch.optim.Adam(ddp.parameters())
    losses = []
    for _ in range(3):
        data = _random_batch(device)
        out = ddp(data)
        loss = torch.nn.functional.cross_entropy(out.logits, data.y) + sum(out.aux_loss.values())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.detach())
    total = torch.stack(losses).sum()
    dist.all_reduce(total)
    result.write_text(json.dumps({
        "backend": backend, "world_size": dist.get_world_size(), "loss_sum": float(total),
        "summary": f"{backend}, world size {dist.get_world_size()}: 3 steps, all_reduce {float(total):.3f}",
    }))  # fmt: skip
    dist.destroy_process_group()


def part_tests(device: torch.device, small: bool) -> dict[str, Any]:
    """``pytest -m cuda tests``: the suite's CUDA cases, stopped 10 s before the part's budget; what finished by
    then is counted (each test's outcome is read from pytest's verbose lines as they are written)."""
    seconds = float(os.environ.get("GPU_CHECK_SECONDS", "60")) - 10
    command = [sys.executable, "-m", "pytest", "-v", "-m", "cuda", "-p", "no:cacheprovider", "tests"]
    returncode, stdout, stderr = _run_in_group(command, max(seconds, 0), cwd=SCRIPTS.parent, env=_environment(small))
    lines = (stdout + stderr).splitlines()
    outcomes = [re.match(r"(tests/.*?) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b", line) for line in lines]
    outcomes = [found for found in outcomes if found]
    counts: dict[str, int] = {}
    for found in outcomes:
        counts[found[2].lower()] = counts.get(found[2].lower(), 0) + 1
    failures = [f"{found[2]} {found[1]}" for found in outcomes if found[2] in ("FAILED", "ERROR")]
    summary = ", ".join(f"{number} {word}" for word, number in counts.items()) or "no test finished"
    if returncode is None:
        failures.append(f"stopped after {seconds:g} s")
    elif returncode not in (0, 5) and not failures:  # 5: nothing collected; anything else: pytest could not run
        failures.append(" | ".join(lines[-3:])[-300:])
    return {
        "counts": counts,
        "failed": len(failures),
        "failures": failures[:20],
        "summary": summary + ("; " + " | ".join(failures[:3]) if failures else ""),
    }


PARTS: dict[str, Callable[[torch.device, bool], dict[str, Any]]] = {
    "cases": part_cases,
    "readouts": part_readouts,
    "order": part_order,
    "scale": part_scale,
    "training": part_training,
    "ddp": part_ddp,
    "tests": part_tests,
}


# --- helpers ----------------------------------------------------------------------------------------------------


def _lattice(side: int, device: torch.device) -> torch.Tensor:
    """``[2, E]`` the 8-neighbour lattice of ``side x side`` cells, both directions, built on ``device``."""
    ids = torch.arange(side * side, device=device).view(side, side)
    pairs = []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = ids[: side - dy, max(0, -dx) : side - max(0, dx)]  # each cell and its neighbour at (dy, dx)
        b = ids[dy:, max(0, dx) : side - max(0, -dx)]
        pairs.append(torch.stack([a.flatten(), b.flatten()]))
    edges = torch.cat(pairs, 1)
    return torch.cat([edges, edges.flip(0)], 1)


def _one_graph(x: torch.Tensor, edge_index: torch.Tensor) -> Any:
    from torch_geometric.data import Batch, Data

    data = Batch.from_data_list([Data(x=x[:1], edge_index=edge_index[:, :0])])
    data.x, data.edge_index = x, edge_index
    data.batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
    data.ptr = torch.tensor([0, x.size(0)], device=x.device)
    data.y = torch.zeros(1, dtype=torch.long, device=x.device)
    return data


def _random_batch(device: torch.device) -> Any:
    from torch_geometric.data import Batch, Data

    graphs = []
    for index in range(8):
        edges = torch.randint(0, 20, (2, 60))
        graphs.append(
            Data(x=torch.randn(20, 8), edge_index=torch.cat([edges, edges.flip(0)], 1), y=torch.tensor(index % 2))
        )
    return Batch.from_data_list(graphs).to(device)


def _step(model: torch.nn.Module, data: Any) -> None:
    _backward(model(data))


def _backward(out: Any) -> None:
    (out.logits.float().sum() + sum(value.float() for value in out.aux_loss.values())).backward()


def _median_seconds(step: Callable[[], Any], device: torch.device, repeats: int = 7) -> float:
    step()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _run_in_group(command: list[str], seconds: float, **options: Any) -> tuple[int | None, str, str]:
    """Run ``command`` in a process group of its own; at ``seconds`` the group (the command and whatever it
    started: torchrun, pytest's benchmarks) is killed. Its return code (``None`` if killed), stdout and stderr,
    what it wrote before a kill included."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **options
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            return None, stdout, stderr
    return process.returncode, stdout, stderr


def _environment(small: bool) -> dict[str, str]:
    """The parts' environment: this working tree first on ``PYTHONPATH`` (the parts run its graphpool, installed
    or not: a failed ``pip install -e .`` costs the GPU run nothing); on the CPU dry run, the device path (the
    branches a GPU takes) and one thread."""
    paths = [str(SCRIPTS.parent), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    environment = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(paths))
    if small:
        environment.update(GRAPHPOOL_DEVICE_PATH="1", OMP_NUM_THREADS=environment.get("OMP_NUM_THREADS", "1"))
    return environment


def _device_description(device: torch.device) -> dict[str, Any]:
    import torch_geometric

    described: dict[str, Any] = {
        "device": str(device),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        described.update(name=properties.name, memory_gib=properties.total_memory / 2**30, cuda=torch.version.cuda)
    else:
        described["name"] = f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores), device path"
    return described


# --- the driver ---------------------------------------------------------------------------------------------------


def run_part(name: str, device: torch.device, small: bool, budget: float, out: Path) -> dict[str, Any]:
    """Run part ``name`` in a child process limited to ``budget`` seconds; its result, or why there is none."""
    result = out / f".{name}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--part", name, "--result", str(result)]
    command += ["--cpu"] if small else []
    start = time.perf_counter()
    environment = dict(_environment(small), GPU_CHECK_SECONDS=str(budget))
    returncode, stdout, stderr = _run_in_group(command, budget, env=environment)
    if returncode is None:
        return {"status": "timeout", "seconds": budget, "summary": f"stopped at its budget of {budget:.0f} s"}
    seconds = time.perf_counter() - start
    if returncode != 0 or not result.is_file():
        last = (stderr or stdout).strip().splitlines()[-3:]
        return {"status": "failed", "seconds": seconds, "summary": " | ".join(last)[-400:]}
    found = json.loads(result.read_text())
    result.unlink()
    failed = bool(found.get("failed")) or bool(found.get("readout_syncs"))
    return {"status": "failed" if failed else "ok", "seconds": seconds, **found}


def markdown(report: dict[str, Any]) -> str:
    device = report["device"]
    lines = [
        (
            f"GPU check of graphpool on {device['name']} (torch {device['torch']}, PyG {device['torch_geometric']}), "
            f"{report['date']}, {report['seconds']:.0f} s"
        ),
        "",
        "| part | status | seconds | result |",
        "|---|---|---|---|",
    ]
    for name, part in report["parts"].items():
        summary = str(part.get("summary", "")).replace("|", "/")
        lines.append(f"| {name} | {part['status']} | {part['seconds']:.1f} | {summary} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", action="store_true", help="the dry run: small sizes on the CPU's device path")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "results/gpu_check")))
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {list(PARTS)}")
    parser.add_argument("--budget", type=float, default=1.0, help="scale every part's time budget")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="parts run at once (keep 1 on a GPU: parts timed together disturb each other)",
    )
    parser.add_argument("--part", default=None, help=argparse.SUPPRESS)  # a child process: run one part
    parser.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.cpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --cpu for the dry run", file=sys.stderr)
        return 2
    device = torch.device("cpu" if args.cpu else "cuda")
    if args.part == "ddp_worker":
        ddp_worker(device, args.result)
        return 0
    if args.part is not None:
        try:
            found = PARTS[args.part](device, args.cpu)
        except Exception:  # noqa: BLE001 - the parent records the failure and runs the other parts
            traceback.print_exc()
            return 1
        args.result.write_text(json.dumps(found, default=str))
        return 0
    names = args.parts.split(",")
    unknown = [name for name in names if name not in PARTS]
    if unknown:
        print(f"gpu_check: --parts {unknown[0]!r} is not one of {list(PARTS)}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"gpu_check: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    if not args.budget > 0:  # also nan
        print(f"gpu_check: --budget must be > 0, got {args.budget}", file=sys.stderr)
        return 2
    if args.out.exists() and not args.out.is_dir():
        print(f"gpu_check: --out {args.out} is a file, not a folder", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "device": _device_description(device),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(["python", *sys.argv]),
        "parts": {},
    }
    start = time.perf_counter()

    def one(name: str) -> dict[str, Any]:
        budget = BUDGETS[name] * args.budget * (0.5 if args.cpu else 1.0)
        print(f"[gpu_check] {name} (budget {budget:.0f} s) ...", flush=True)
        part = run_part(name, device, args.cpu, budget, args.out)
        print(f"[gpu_check] {name}: {part['status']} in {part['seconds']:.1f} s: {part.get('summary', '')}", flush=True)
        return part

    with ThreadPoolExecutor(args.jobs) as pool:  # each part is a child process: threads only wait for them
        report["parts"] = dict(zip(names, pool.map(one, names), strict=True))
    report["seconds"] = time.perf_counter() - start
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    (args.out / "gpu_check.md").write_text(markdown(report))
    print(markdown(report))
    return 0 if all(part["status"] == "ok" for part in report["parts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

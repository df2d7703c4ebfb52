"""Benchmark graphpool's readouts against PyG (and torch_scatter when installed) in one run.

For each case (graphs x nodes per graph x features; graph sizes drawn uniformly from
[n/2, 3n/2], seeded) and each readout (sum, mean, max, median by default; ``--reduces`` adds min, var, std,
softmax, powermean with p = 2, the 0.25-quantile and the quartiles (q = 0.25, 0.5, 0.75 in one readout), against
PyG's aggregation modules of the same settings) it prints the median time in milliseconds of graphpool and PyG for
forward and forward+backward, their ratio (graphpool / PyG: below 1 means graphpool is
faster), and the memory-bandwidth floor: the time of ``x.sum()`` on the same tensor.
**GB/s** is graphpool's achieved bandwidth on the bytes any implementation must move (read ``x``
and write the ``[B, F]`` output; with the backward also read the output's gradient and write
``x``'s), and on CUDA **% peak** its fraction of the GPU's peak bandwidth (from the device's
memory clock and bus width, or the data sheet's figure for the GPU's name where the driver does not report
the clock, as under CUDA 13), and on any device **% copy** its fraction of what a copy of the same tensor
achieves (the bandwidth a kernel can reach in practice). On CUDA a fifth case of 3.3 GB is added, large
enough that launches and synchronisations cost under 1 % of its time. On the CPU **faults** gives the minor
page faults per call of graphpool and of PyG (after the timed rounds, five calls each, two of the median and
quantiles): a backward that writes its gradient into freshly mapped pages runs several times slower, and
which library's calls do depends on where the allocator put their buffers in this process (it tends to stay
so for the process's life).
The contenders run in turn, and the ratio is the median of the per-round ratios, so that
machine noise (these are shared 2-core machines) hits both alike.

    python scripts/bench_readouts.py            # the four cases of the issue
    python scripts/bench_readouts.py --quick    # small cases, a few seconds
    python scripts/bench_readouts.py --reduces softmax,std,powermean --keep-freed-memory
    python scripts/bench_readouts.py --json results/bench_readouts.json
    python scripts/bench_readouts.py --device cuda
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch_geometric
from _measure import add_allocator_option, apply_allocator_option, names_of, positive, synchronize, write_json
from torch_geometric import nn as pyg
from torch_geometric.nn import aggr as pyg_aggr

import graphpool
from graphpool.readout import global_pool

try:  # optional accelerator
    import torch_scatter
except ImportError:  # pragma: no cover - depends on the machine
    torch_scatter = None

#: PyG's global pools of the reduces they have
PYG_POOLS = {"sum": pyg.global_add_pool, "mean": pyg.global_mean_pool, "max": pyg.global_max_pool}
#: PyG's aggregation modules of the readouts it has no global pool for (the options alike on both sides)
PYG_AGGREGATIONS: dict[str, Callable[[], torch.nn.Module]] = {
    "median": pyg_aggr.MedianAggregation,
    "min": pyg_aggr.MinAggregation,
    "var": pyg_aggr.VarAggregation,
    "std": pyg_aggr.StdAggregation,
    "softmax": lambda: pyg_aggr.SoftmaxAggregation(t=1.0),
    "powermean": lambda: pyg_aggr.PowerMeanAggregation(p=2.0),
    "quantile": lambda: pyg_aggr.QuantileAggregation(0.25, interpolation="lower"),
    "quartiles": lambda: pyg_aggr.QuantileAggregation([0.25, 0.5, 0.75]),
}
#: graphpool's options for the same computation
READOUT_OPTIONS = {"powermean": {"p": 2.0}, "quantile": {"q": 0.25}, "quartiles": {"q": [0.25, 0.5, 0.75]}}
#: the readout of a benchmark row named otherwise (several quantiles in one readout)
READOUT_OF = {"quartiles": "quantile"}
CASES = [(128, 30, 128), (1024, 30, 128), (64, 5000, 64), (16, 100000, 32)]
QUICK_CASES = [(128, 30, 128), (1024, 30, 128)]
#: on CUDA only: [6.4e6, 128] float32, 3.3 GB, so that the time is the memory's and not the launches'
LARGE_CUDA_CASE = (64, 100_000, 128)
#: nominal peak memory bandwidth in GB/s by GPU name (vendors' data sheets; the first match counts), for
#: drivers that do not report the memory clock (CUDA 13 dropped ``cudaDeviceProp.memoryClockRate``)
NOMINAL_GBS = {
    "H200": 4800, "H100 NVL": 3900, "H100 PCIe": 2000, "H100": 3350, "A100-SXM4-80GB": 2039,
    "A100 80GB PCIe": 1935, "A100": 1555, "L40S": 864, "L4": 300, "T4": 320,
}  # fmt: skip


def make_case(graphs: int, nodes: int, features: int, device: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    sizes = torch.randint(nodes // 2, nodes + nodes // 2 + 1, (graphs,), generator=g)
    x = torch.randn(int(sizes.sum()), features, generator=g).to(device)
    batch = torch.repeat_interleave(torch.arange(graphs), sizes).to(device)
    return x, batch


def time_alternating(
    contenders: dict[str, Callable[[], object]], device: str, budget_s: float, min_repeats: int = 3
) -> dict[str, list[float]]:
    """Seconds of each round per contender, running them in turn until the budget is spent."""
    for fn in contenders.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    start = time.perf_counter()
    while min(len(t) for t in times.values()) < min_repeats or time.perf_counter() - start < budget_s:
        for name, fn in contenders.items():
            synchronize(device)
            t0 = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - t0)
        if max(len(t) for t in times.values()) >= 200:
            break
    return times


def faults_per_call(contenders: dict[str, Callable[[], object]], calls: int = 5) -> dict[str, float]:
    """Minor page faults per call of each contender (this process's count; on the host)."""
    faults = {}
    for name, fn in contenders.items():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(calls):
            fn()
        faults[name] = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls
    return faults


def peak_bandwidth_gbs(device: str) -> float | None:
    """The GPU's peak memory bandwidth in GB/s: double data rate x bus width where the driver reports them, else
    :func:`nominal_bandwidth_gbs` of its name; ``None`` on the CPU or for a GPU of unknown bandwidth."""
    if device != "cuda":
        return None
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    clock_khz, bus_bits = getattr(props, "memory_clock_rate", 0), getattr(props, "memory_bus_width", 0)
    return 2 * clock_khz * 1e3 * bus_bits / 8 / 1e9 if clock_khz and bus_bits else nominal_bandwidth_gbs(props.name)


def nominal_bandwidth_gbs(name: str) -> float | None:
    """The data sheet's peak bandwidth of the GPU called ``name`` (e.g. "NVIDIA H200"), ``None`` if unknown."""
    return next((float(gbs) for model, gbs in NOMINAL_GBS.items() if model in name), None)


def copy_gbs(x: torch.Tensor, device: str, budget_s: float) -> float:
    """GB/s of a copy of ``x`` into a tensor of its shape, counting the bytes read and the bytes written."""
    target = torch.empty_like(x)
    seconds = statistics.median(time_alternating({"copy": lambda: target.copy_(x)}, device, budget_s)["copy"])
    return 2 * x.numel() * x.element_size() / seconds / 1e9


def moved_bytes(x: torch.Tensor, graphs: int, mode: str) -> int:
    """The fewest bytes a readout moves: read ``x``, write ``[B, F]``; the backward the same again, reversed."""
    one_way = (x.numel() + graphs * x.size(1)) * x.element_size()
    return one_way if mode == "forward" else 2 * one_way


def median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def forward_backward(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Callable[[], None]:
    leaf = x.detach().clone().requires_grad_(True)

    def run() -> None:
        leaf.grad = None
        out = fn(leaf)
        out.backward(torch.ones_like(out))

    return run


def contenders_for(
    reduce: str, batch: torch.Tensor, num_graphs: int
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    options, readout = READOUT_OPTIONS.get(reduce, {}), READOUT_OF.get(reduce, reduce)
    ours = {"graphpool": lambda x: global_pool(x, batch, num_graphs=num_graphs, reduce=readout, **options)}
    if reduce in PYG_AGGREGATIONS:
        aggregation = PYG_AGGREGATIONS[reduce]()
        ours["pyg"] = lambda x: aggregation(x, batch, dim_size=num_graphs)
        return ours
    pool = PYG_POOLS[reduce]
    ours["pyg"] = lambda x: pool(x, batch, num_graphs)
    if torch_scatter is not None:
        op = {"sum": torch_scatter.scatter_add, "mean": torch_scatter.scatter_mean}.get(reduce)
        if op is not None:
            ours["torch_scatter"] = lambda x: op(x, batch, dim=0, dim_size=num_graphs)
        else:
            ours["torch_scatter"] = lambda x: torch_scatter.scatter_max(x, batch, dim=0, dim_size=num_graphs)[0]
    return ours


#: the readouts the benchmark has a PyG contender for (the default runs the first four)
REDUCES = ("sum", "mean", "max", "median", "min", "var", "std", "softmax", "powermean", "quantile", "quartiles")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the two small cases, short budgets")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--reduces", type=names_of(REDUCES), default="sum,mean,max,median", help="comma-separated")
    parser.add_argument(
        "--budget", type=positive, default=None, help="seconds of timing per row (default 1, quick 0.2)"
    )
    parser.add_argument("--no-validation", action="store_true", help="time graphpool with value checks off")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    add_allocator_option(parser)
    args = parser.parse_args()
    allocator = apply_allocator_option(args)
    budget = args.budget if args.budget is not None else (0.2 if args.quick else 1.0)
    graphpool.set_validation(not args.no_validation)

    machine = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine()
    peak = peak_bandwidth_gbs(args.device)
    print(
        f"graphpool {graphpool.__version__} | torch {torch.__version__} | PyG {torch_geometric.__version__} | "
        f"torch_scatter {'yes' if torch_scatter else 'not installed'} | {args.device} | "
        f"{torch.get_num_threads()} threads | {machine} | validation {'off' if args.no_validation else 'on'} | {allocator}"
        + (f" | peak {peak:,.0f} GB/s" if peak else "")
    )
    header = f"{'case (B x n x F)':<20}{'reduce':<11}{'pass':<9}{'graphpool':>11}{'pyg':>11}{'ratio':>8}"
    header += f"{'scatter':>10}{'floor':>9}{'x floor':>9}{'GB/s':>9}" + (f"{'% peak':>8}" if peak else "")
    header += f"{'% copy':>8}" + (f"{'faults':>16}" if args.device == "cpu" else "")
    print(header + "\n" + "-" * len(header))
    rows = []
    cases = QUICK_CASES if args.quick else CASES + ([LARGE_CUDA_CASE] if args.device == "cuda" else [])
    for graphs, nodes, features in cases:
        x, batch = make_case(graphs, nodes, features, args.device)
        floor = median_ms(time_alternating({"floor": lambda x=x: x.sum()}, args.device, budget)["floor"])
        copy = copy_gbs(x, args.device, budget)
        for reduce in args.reduces:
            functions = contenders_for(reduce, batch, graphs)
            for mode in ("forward", "fwd+bwd"):
                runs = {
                    name: (lambda fn=fn, x=x: fn(x)) if mode == "forward" else forward_backward(fn, x)
                    for name, fn in functions.items()
                }
                # PyG's sort of padded graphs takes seconds: fewer rounds
                slow = reduce in ("median", "quantile", "quartiles")
                times = time_alternating(runs, args.device, budget, min_repeats=3 if slow else 5)
                ms = {name: median_ms(t) for name, t in times.items()}
                ratio = statistics.median(
                    ours / theirs for ours, theirs in zip(times["graphpool"], times["pyg"], strict=True)
                )
                faults = faults_per_call(runs, calls=2 if slow else 5) if args.device == "cpu" else {}
                row = dict(
                    graphs=graphs,
                    nodes=nodes,
                    features=features,
                    num_nodes=x.size(0),
                    reduce=reduce,
                    mode=mode,
                    floor_ms=floor,
                    **{f"{k}_ms": v for k, v in ms.items()},
                    ratio=ratio,
                    graphpool_gbs=moved_bytes(x, graphs, mode) / ms["graphpool"] / 1e6,
                    peak_gbs=peak,
                    copy_gbs=copy,
                    **{f"{k}_faults": v for k, v in faults.items()},
                )
                rows.append(row)
                scatter = f"{ms['torch_scatter']:10.3f}" if "torch_scatter" in ms else f"{'-':>10}"
                print(
                    f"{f'{graphs} x {nodes} x {features}':<20}{reduce:<11}{mode:<9}{ms['graphpool']:11.3f}"
                    f"{ms['pyg']:11.3f}{ratio:8.3f}{scatter}{floor:9.3f}{ms['graphpool'] / floor:9.2f}"
                    f"{row['graphpool_gbs']:9.1f}"
                    + (f"{100 * row['graphpool_gbs'] / peak:8.1f}" if peak else "")
                    + f"{100 * row['graphpool_gbs'] / copy:8.1f}"
                    + (f"{faults['graphpool']:>9.0f}/{faults['pyg']:<7.0f}" if faults else ""),
                    flush=True,
                )
    write_json(args.json, rows)


if __name__ == "__main__":
    main()

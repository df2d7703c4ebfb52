"""The fixed cost of one readout call: graphpool against PyG on inputs too small for the kernels to matter.

On 4 graphs x 30 nodes x 8 features a call's time is its fixed cost: argument checks, building the groups,
the Python around the kernels, the autograd bookkeeping. It is what decides the ratio of the smallest case of
``scripts/bench_readouts.py`` (128 x 30 x 128, 50-150 us per call). Each call is timed two ways:

- **cold**: right after a small ``Linear`` forward and backward, as a readout runs inside a training step
  (and as ``bench_readouts.py`` runs each contender right after the other's call): the code and data the
  call touches have left the CPU's caches, and each small operation costs several microseconds;
- **in turn**: right after the other contenders' calls, nothing else between (a tight ``timeit`` loop of one
  call alone reports less still: there all of it stays in the caches).

graphpool runs with its value checks on (the default: graph ids in range) and off (PyG checks nothing).
The contenders run in turn, round after round; times are medians in microseconds.

    python scripts/bench_call_cost.py
    python scripts/bench_call_cost.py --rounds 3000 --json results/bench_call_cost.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch_geometric
from _measure import count, device_label, names_of, write_json
from bench_readouts import PYG_POOLS, forward_backward

import graphpool
from graphpool.readout import global_pool


def contenders(reduce: str, x: torch.Tensor, batch: torch.Tensor, graphs: int) -> dict[str, Callable[[], None]]:
    """Forward and forward+backward calls of graphpool (checks on, off) and PyG for ``reduce``."""
    pool = PYG_POOLS[reduce]

    def ours(checks: bool) -> Callable[[torch.Tensor], torch.Tensor]:
        def call(features: torch.Tensor) -> torch.Tensor:
            graphpool.set_validation(checks)  # a global flag (not the context manager, whose entry costs ~2 us)
            return global_pool(features, batch, num_graphs=graphs, reduce=reduce)

        return call

    functions = {"graphpool": ours(True), "graphpool, checks off": ours(False), "pyg": lambda f: pool(f, batch, graphs)}
    runs: dict[str, Callable[[], None]] = {}
    for name, fn in functions.items():
        runs[f"{name}|forward"] = lambda fn=fn: fn(x)
        runs[f"{name}|fwd+bwd"] = forward_backward(fn, x)
    return runs


def time_calls(runs: dict[str, Callable[[], None]], rounds: int, before: Callable[[], None] | None) -> dict[str, float]:
    """Median microseconds per call, the calls in turn for ``rounds`` rounds, each after ``before`` if given."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            if before is not None:
                before()
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: 1e6 * statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reduces", type=names_of(tuple(PYG_POOLS)), default="sum,mean,max", help="comma-separated")
    parser.add_argument("--rounds", type=count, default=1500, help="calls of each contender per regime")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()

    graphs, nodes, features = 4, 30, 8
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(graphs * nodes, features, generator=generator)
    batch = torch.arange(graphs).repeat_interleave(nodes)
    layer = torch.nn.Linear(128, 128)
    activations = torch.randn(256, 128, generator=generator)

    def training_step() -> None:  # what runs between two readout calls in a model
        layer(activations).sum().backward()

    print(
        f"graphpool {graphpool.__version__} | torch {torch.__version__} | PyG {torch_geometric.__version__} | "
        f"{device_label('cpu')} | {graphs} graphs x {nodes} nodes x {features} features | {args.rounds} rounds"
    )
    header = f"{'reduce':<8}{'pass':<9}{'regime':<8}{'graphpool':>11}{'checks off':>12}{'pyg':>9}{'ratio':>8}"
    print(header + " (us per call; ratio: graphpool with checks / PyG)\n" + "-" * len(header))
    rows = []
    for reduce in args.reduces:
        runs = contenders(reduce, x, batch, graphs)
        for regime, before in (("cold", training_step), ("in turn", None)):
            us = time_calls(runs, args.rounds, before)
            for mode in ("forward", "fwd+bwd"):
                ours, unchecked, theirs = (us[f"{n}|{mode}"] for n in ("graphpool", "graphpool, checks off", "pyg"))
                rows.append(
                    {
                        "reduce": reduce,
                        "mode": mode,
                        "regime": regime,
                        "graphpool_us": ours,
                        "unchecked_us": unchecked,
                        "pyg_us": theirs,
                    }
                )
                print(
                    f"{reduce:<8}{mode:<9}{regime:<8}{ours:11.1f}{unchecked:12.1f}{theirs:9.1f}{ours / theirs:8.2f}",
                    flush=True,
                )
    graphpool.set_validation(True)
    write_json(args.json, rows)


if __name__ == "__main__":
    main()

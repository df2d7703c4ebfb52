r"""Choosing K by stability, after CellCharter's ``ClusterAutoK`` (Varrone et al. 2024).

Each K of a range is fitted ``runs`` times with different seeds, and K's stability is the mean adjusted Rand
index between its runs:

.. math:: \mathrm{stability}(K) = \binom{R}{2}^{-1} \sum_{a < b} \mathrm{ARI}(\ell^K_a, \ell^K_b).

A K whose partition survives a change of seed is one the data support; the chosen K is the most stable.
CellCharter compares runs of K with runs of K - 1 and K + 1 by the Fowlkes-Mallows index instead; that index
rewards coarse partitions (a run with every cell in one cluster scores 0.7 against any balanced 2-way split),
so graphpool compares runs of the same K, adjusted for chance. A K whose runs leave a cluster (almost) empty is
not chosen either: its fewer real clusters agree trivially, so ``found`` (the mean number of clusters holding at
least 1 % of the cells) must be K.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class KStability:
    """The stability of every K of a sweep.

    Attributes:
        table: one row per K: ``k``, ``stability`` (mean ARI between its runs), ``found`` (clusters with at least
            1 % of the cells, mean over runs), ``seconds`` (per run).
        best: the K of the largest stability among those whose runs found all K clusters (the smallest such K on a
            tie; every K when none did).
        method: the neighbourhood method swept.
    """

    table: pd.DataFrame
    best: int
    method: str

    def figure(self) -> Any:
        """Stability against K, the chosen K marked and the K that left a cluster empty hollow."""
        from graphpool.experiment import pyplot

        plt = pyplot()
        figure, axes = plt.subplots(figsize=(5, 3.2), layout="constrained")
        complete = self.table["found"] == self.table["k"]
        axes.plot(self.table["k"], self.table["stability"], color="C0", zorder=1)
        axes.scatter(self.table["k"][complete], self.table["stability"][complete], color="C0", label="all K found")
        if (~complete).any():
            axes.scatter(
                self.table["k"][~complete],
                self.table["stability"][~complete],
                facecolor="white",
                edgecolor="C0",
                label="a cluster < 1 % of cells",
            )
        axes.axvline(self.best, color="0.6", lw=1, zorder=0)
        axes.set(xlabel="K (neighbourhoods)", ylabel="stability (mean ARI between seeds)")
        axes.set_title(f"{self.method}: K = {self.best} chosen", fontsize=10)
        axes.set_xticks(self.table["k"])
        axes.set_ylim(min(0.0, float(self.table["stability"].min())), 1.02)
        axes.legend(loc="lower left", fontsize=8, frameon=False)
        return figure

    def save(self, folder: Path, formats: Sequence[str] | None = None) -> None:
        """``k_stability.csv`` and the figure ``k_stability.<format>`` (every one of ``formats``; default
        :data:`graphpool.cells.figures.FORMATS`) in ``folder``."""
        from graphpool.cells.figures import FORMATS, save

        folder.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(folder / "k_stability.csv", index=False)
        save(self.figure(), folder / "k_stability", FORMATS if formats is None else formats)


def parse_k_range(text: str) -> list[int]:
    """``"3:10"`` -> ``[3, 4, ..., 10]`` (both ends included); ``"6"`` -> ``[6]`` (each K is checked where it is used).

    >>> parse_k_range("3:6"), parse_k_range("4")
    ([3, 4, 5, 6], [4])
    """
    low, colon, high = text.partition(":")
    try:
        ks = list(range(int(low), int(high) + 1)) if colon else [int(low)]
    except ValueError:
        raise ValueError(f"write K as a whole number or a range LOW:HIGH, got {text!r}") from None
    if not ks:
        raise ValueError(f"a range LOW:HIGH needs LOW <= HIGH, got {text!r}")
    return ks


def k_stability(
    fit: Callable[[int, int], np.ndarray], ks: Sequence[int], runs: int = 3, seed: int = 0, method: str = ""
) -> KStability:
    """Sweep ``ks``: ``fit(k, seed)`` gives one run's ``[cells]`` labels; ``runs`` seeds each
    (``seed``, ``seed + 1``, ...; at least 2). :func:`graphpool.cells.neighbourhood.choose_k` sweeps a
    neighbourhood method; ``method`` only names the sweep.

    Args:
        ks: the candidate K, consecutive (e.g. ``range(3, 11)``).
    """
    import time

    from sklearn.metrics import adjusted_rand_score

    ks = sorted(ks)
    if runs < 2:
        raise ValueError(f"'runs' must be >= 2 (stability compares runs), got {runs}")
    if not ks or ks != list(range(ks[0], ks[-1] + 1)) or ks[0] < 2:
        raise ValueError(f"'ks' must be consecutive whole numbers >= 2, got {list(ks)}")
    rows = []
    for k in ks:
        start = time.perf_counter()
        runs_of_k = [np.asarray(fit(k, seed + r)) for r in range(runs)]
        pairs = itertools.combinations(runs_of_k, 2)
        rows.append(
            {
                "k": k,
                "stability": float(np.mean([adjusted_rand_score(a, b) for a, b in pairs])),
                "found": float(np.mean([_found(run, k) for run in runs_of_k])),
                "seconds": round((time.perf_counter() - start) / runs, 2),
            }
        )
    table = pd.DataFrame(rows)
    complete = table[table["found"] == table["k"]]
    candidates = complete if len(complete) else table
    best = int(candidates["k"][candidates["stability"].idxmax()])
    return KStability(table, best, method)


def _found(labels: np.ndarray, k: int) -> int:
    """The clusters of one run holding at least 1 % of the cells."""
    return int((np.bincount(labels, minlength=k) >= 0.01 * labels.size).sum())

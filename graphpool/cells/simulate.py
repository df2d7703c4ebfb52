r"""Simulated tissues with known answers: which readout can see which label rule.

Each tissue is a square of cells at constant density (side :math:`10\sqrt{n}`) holding a
tumour disc in the middle (half of the area; the tumour cells are half of the cells that are
neither immune nor rare), stroma around it, and immune cells either
*infiltrating* the tumour (uniform inside the disc) or kept at its *margin* (a ring just
outside it). The label follows one rule; each comes with the claim it was designed to test
(``scripts/readout_capability.py`` measures them; two do not hold, see docs/cells.md):

- ``count``: :math:`y = [\#\text{immune} > 50]`; sizes 100-400 cells, immune share 20 % for
  both classes. Sum readouts see counts; mean readouts see only the (equal) shares.
- ``proportion``: immune share 15 % (y = 0) or 25 % (y = 1), sizes log-uniform in 50-1000 so
  that counts overlap between classes. Mean sees the share; sum is confounded by size.
- ``presence``: 1-3 cells of a ``rare`` type (y = 1) or none (y = 0). Max sees presence at once.
- ``arrangement``: equal shares and sizes; immune cells infiltrate (y = 1) or stay at the
  margin (y = 0). No readout of the one-hot types alone can tell; message passing (who
  neighbours whom) can.

In the first three rules the arrangement is drawn at random, independent of the label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphpool.ops.ranges import SEED, Range

#: the label rules of the simulator, one per kind of readout evidence
RULES = ("count", "proportion", "presence", "arrangement")
TYPES = ("tumour", "stroma", "immune", "rare")


def _tissue(
    rng: np.random.Generator, n: int, immune: int, rare: int, infiltrating: bool
) -> tuple[np.ndarray, list, np.ndarray]:
    side = 10.0 * np.sqrt(n)
    radius = side * np.sqrt(0.5 / np.pi)  # the disc holds half of the area
    centre = side / 2
    tumour = (n - immune - rare) // 2 + (n - immune - rare) % 2
    stroma = n - immune - rare - tumour

    def disc(count: int, inner: float, outer: float) -> np.ndarray:
        r = np.sqrt(rng.uniform(inner**2, outer**2, count))
        angle = rng.uniform(0, 2 * np.pi, count)
        return centre + np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)

    outside = np.empty((0, 2))
    while len(outside) < stroma:  # uniform in the square, outside the disc
        points = rng.uniform(0, side, (2 * stroma + 8, 2))
        outside = np.concatenate([outside, points[np.hypot(*(points - centre).T) > radius]])
    immune_pos = disc(immune, 0.0, radius) if infiltrating else disc(immune, radius, 1.15 * radius)
    positions = np.concatenate(
        [disc(tumour, 0.0, radius), outside[:stroma], immune_pos, rng.uniform(0, side, (rare, 2))]
    )
    types = ["tumour"] * tumour + ["stroma"] * stroma + ["immune"] * immune + ["rare"] * rare
    distance = np.hypot(*(positions - centre).T)
    ring = (distance > radius) & (distance <= 1.15 * radius) & (not infiltrating)
    region = np.where(distance <= radius, "tumour", np.where(ring, "margin", "stroma"))
    return positions, types, region


def simulate(rule: str, samples: int = 200, seed: int = 0) -> pd.DataFrame:
    """A cell table of ``samples`` simulated tissues following ``rule`` (see the module docs).

    Columns: ``sample``, ``cell``, ``x``, ``y``, ``cell_type``, ``region`` (where the cell lies:
    ``tumour`` inside the disc, ``margin`` in the ring of a tissue whose immune cells stay at the
    margin, ``stroma`` elsewhere: the ground truth of :func:`graphpool.cells.neighbourhoods`),
    ``label`` (0/1, balanced to within one sample for ``proportion``, ``presence`` and ``arrangement``).

    >>> table = simulate("presence", samples=4, seed=1)
    >>> sorted(table.columns), table.groupby("sample")["label"].first().tolist()
    (['cell', 'cell_type', 'label', 'region', 'sample', 'x', 'y'], [0, 1, 0, 1])
    """
    if rule not in RULES:
        raise ValueError(f"'rule' must be one of {RULES}, got {rule!r}")
    Range(2, whole=True).check("samples", samples)
    SEED.check("seed", seed)
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(samples):
        label = index % 2
        infiltrating = bool(rng.integers(2))
        rare = 0
        if rule == "count":
            n = int(rng.integers(100, 401))
            immune = int(rng.binomial(n, 0.2))
            label = int(immune > 50)
        elif rule == "proportion":
            n = int(np.exp(rng.uniform(np.log(50), np.log(1000))))
            immune = int(rng.binomial(n, 0.25 if label else 0.15))
        else:
            n = int(rng.integers(100, 401))
            immune = int(rng.binomial(n, 0.2))
            if rule == "presence":
                rare = int(rng.integers(1, 4)) if label else 0
            else:
                infiltrating = bool(label)
        positions, types, region = _tissue(rng, n, immune, rare, infiltrating)
        frames.append(
            pd.DataFrame(
                {
                    "sample": f"{rule}-{index:04d}",
                    "cell": np.arange(n),
                    "x": positions[:, 0],
                    "y": positions[:, 1],
                    "cell_type": types,
                    "region": region,
                    "label": label,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)

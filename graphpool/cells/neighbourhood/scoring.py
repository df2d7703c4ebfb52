"""Neighbourhood ids scored against annotated regions: AMI, ARI and the Hungarian-matched macro-F1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment


def check_ignore(truth: ArrayLike, ignore: Sequence[Any], names: tuple[str, str] = ("'ignore'", "'truth'")) -> set[str]:
    """The ``ignore`` values as strings, after checking that each is a region of ``truth`` (a misspelt region
    would leave the cells it meant in the scores); missing values in either are skipped. ``names``: how the
    messages name the two (the command line's options)."""
    if isinstance(ignore, str):
        raise TypeError(f"{names[0]} must be a list of regions, got the string {ignore!r} (one: [{ignore!r}])")
    truth_array = np.asarray(truth, dtype=object)
    regions = set(truth_array[~pd.isna(truth_array)].astype(str))
    ignored = {str(value) for value in ignore if not pd.isna(value)}
    unknown = sorted(ignored - regions)
    if unknown:
        raise ValueError(
            f"{names[0]} names {unknown[0]!r}, which is not a region of {names[1]} (its regions: "
            f"{', '.join(sorted(regions))})"
        )
    return ignored


def agreement(truth: ArrayLike, predicted: ArrayLike, ignore: Sequence[Any] = ()) -> dict[str, float]:
    """How well neighbourhood ids ``predicted`` recover annotated regions ``truth`` (one per cell).

    Returns ``ami`` (adjusted mutual information), ``ari`` (adjusted Rand index) and ``macro_f1``: the
    F1 of every annotated region against the neighbourhood matched to it one-to-one by the Hungarian
    algorithm on their overlaps, averaged over regions (a region left unmatched scores 0); and the
    counts ``scored``, ``unannotated`` and ``ignored`` (they add up to the cells). Cells without a region
    (NaN, ``None``) are left out of every score and counted as ``unannotated``; cells whose region is in
    ``ignore`` (e.g. ``"NoAnnotation"``) are left out too and counted as ``ignored`` (a value of ``ignore``
    that is no region is a ``ValueError``).

    >>> scores = agreement(["a", "a", "b", "b", None], [1, 1, 0, 0, 1])
    >>> {name: round(value, 3) for name, value in scores.items()}
    {'ami': 1.0, 'ari': 1.0, 'macro_f1': 1.0, 'scored': 4, 'unannotated': 1, 'ignored': 0}
    """
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    truth_array, predicted_array = np.asarray(truth, dtype=object), np.asarray(predicted)
    for name, array, what in (("truth", truth_array, "region"), ("predicted", predicted_array, "neighbourhood")):
        if array.ndim != 1:
            raise ValueError(f"'{name}' must be one {what} per cell (1-D), got shape {array.shape}")
    if truth_array.shape != predicted_array.shape:
        raise ValueError(f"'truth' has {truth_array.shape[0]} cells but 'predicted' has {predicted_array.shape[0]}")
    missing = np.flatnonzero(pd.isna(np.asarray(predicted, dtype=object)))  # (as text, NaN would be "nan")
    if missing.size:
        plural = "s" if missing.size > 1 else ""
        raise ValueError(
            f"'predicted' gives no neighbourhood (NaN or None) to {missing.size} cell{plural}, e.g. at "
            f"position{plural} {missing[:5].tolist()}: give every cell one (a cell left out of the scores is one "
            "whose 'truth' is NaN or in 'ignore')"
        )
    unannotated = pd.isna(truth_array)
    ignored = check_ignore(truth_array, ignore)
    keep = ~unannotated & ~np.isin(truth_array.astype(str), list(ignored))
    if not keep.any():
        raise ValueError("no cells left to score: every cell is unannotated or its region is in 'ignore'")
    truth_array, predicted_array = truth_array[keep].astype(str), predicted_array[keep]
    overlap = pd.crosstab(truth_array, predicted_array)
    rows, columns = linear_sum_assignment(-overlap.to_numpy())
    f1 = np.zeros(len(overlap))
    both = overlap.to_numpy()[rows, columns]
    f1[rows] = 2 * both / (overlap.sum(axis=1).to_numpy()[rows] + overlap.sum(axis=0).to_numpy()[columns])
    return {
        "ami": float(adjusted_mutual_info_score(truth_array, predicted_array)),
        "ari": float(adjusted_rand_score(truth_array, predicted_array)),
        "macro_f1": float(f1.mean()),
        "scored": int(keep.sum()),
        "unannotated": int(unannotated.sum()),
        "ignored": int(len(keep) - keep.sum() - unannotated.sum()),
    }

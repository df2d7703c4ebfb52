"""k-means of cell surroundings, the last step of the composition, UTAG-style and Louvain methods."""

from __future__ import annotations

import numpy as np


def kmeans_labels(points: np.ndarray, k: int, seed: int, weight: np.ndarray | None = None) -> np.ndarray:
    from sklearn.cluster import KMeans

    distinct = len(np.unique(points, axis=0))
    if distinct < k:
        raise ValueError(f"'k' = {k} is more than the {distinct} distinct cell surroundings")
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(points, sample_weight=weight)

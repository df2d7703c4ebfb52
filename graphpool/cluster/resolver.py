"""Poolers by name: ``pooler("mincut", in_channels=64, clusters=16)`` -> a :class:`Pool`.

The same names are the command line's ``--pool``. Each name fixes a selector and the pool's
defaults (losses, self-loops, normalisation); every option can still be given by keyword.
"""

from __future__ import annotations

import inspect
from typing import Any

from graphpool.cluster.communities import CommunitySelect
from graphpool.cluster.kmeans import BatchKMeansSelect
from graphpool.cluster.matching import GraclusSelect, KMISSelect
from graphpool.cluster.pool import Pool
from graphpool.cluster.select import LabelSelect, Select
from graphpool.cluster.soft import SoftSelect

#: the pool's defaults of each soft pooler: its losses and how its coarse graph is normalised
_SOFT = {
    "diffpool": {"losses": ("diffpool",), "self_loops": True},
    "mincut": {"losses": ("mincut",), "normalize": True},
    "dmon": {"losses": ("dmon",), "normalize": True, "activation": "selu"},
    "justbalance": {"losses": ("justbalance",), "normalize": True},
    "soft": {"self_loops": True},
}
#: the hard poolers: the selector class and the name under which it takes K (``None``: no K)
_HARD: dict[str, tuple[type[Select], str | None]] = {
    "given": (LabelSelect, "num_labels"),
    "graclus": (GraclusSelect, None),
    "kmis": (KMISSelect, None),
    "kmeans": (BatchKMeansSelect, "num_clusters"),
    "louvain": (CommunitySelect, None),
}
#: the learnable poolers, whose clusters are reduced as S^T X (no readout per cluster)
SOFT_POOLERS = tuple(_SOFT)
#: the pooler names, hard (not learned) first
POOLERS = tuple(_HARD) + SOFT_POOLERS
#: the pool's own options (the rest go to the selector), read from :class:`Pool`'s signature
_POOL_OPTIONS = tuple(p for p in inspect.signature(Pool.__init__).parameters if p not in ("self", "select"))
#: names other libraries give K (tgp's ``k``, PyG's ``num_clusters``): suggested as ``clusters``
_CLUSTER_ALIASES = ("k", "num_clusters", "n_clusters", "num_labels")


def pooler(name: str, in_channels: int | None = None, clusters: int | None = None, **options: Any) -> Pool:
    """The pooler called ``name`` (one of :data:`POOLERS`).

    Args:
        name: ``"given"`` (labels passed as ``labels=``; ``clusters`` = the number of labels, optional),
            ``"graclus"``, ``"kmis"``, ``"kmeans"`` (needs ``clusters``), ``"louvain"``, or a soft
            pooler ``"diffpool"``, ``"mincut"``, ``"dmon"``, ``"justbalance"``, ``"soft"`` (these
            need ``in_channels`` and ``clusters``).
        in_channels: F, the width of the node features (soft poolers).
        clusters: K per graph.
        options: the selector's options (e.g. ``seed``, ``hops``, ``temperature``, ``hidden``,
            ``assign``) and the pool's (``reduce``, ``losses``, ``self_loops``, ``normalize``,
            ``activation``), overriding the name's defaults.

    Raises:
        ValueError: an unknown name or option (the message lists the valid ones), or K / F missing.
    """
    if name not in POOLERS:
        raise ValueError(f"pooler {name!r} is unknown; choose from {POOLERS}")
    pool_options = {key: options.pop(key) for key in _POOL_OPTIONS if key in options}
    selector_class = SoftSelect if name in _SOFT else _HARD[name][0]
    fixed = ("self", "in_channels", "num_clusters", "num_labels")
    allowed = [p for p in inspect.signature(selector_class.__init__).parameters if p not in fixed]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        hint = " (did you mean 'clusters'?)" if unknown[0] in _CLUSTER_ALIASES else ""
        sizes = (["in_channels"] if name in _SOFT else []) + (["clusters"] if takes_clusters(name) else [])
        options_listed = [*sizes, *allowed, *_POOL_OPTIONS]
        raise ValueError(f"pooler {name!r} has no option {unknown[0]!r}{hint}; its options: {options_listed}")
    if not takes_clusters(name) and clusters is not None:
        raise ValueError(f"pooler {name!r} does not take 'clusters': it finds its own number of clusters per graph")
    if name in _SOFT:
        if in_channels is None:
            raise ValueError(f"pooler {name!r} needs 'in_channels' (the width of the node features)")
        selector: Select = SoftSelect(in_channels, _need(clusters, name), **options)
        return Pool(selector, **{**_SOFT[name], **pool_options})
    if name == "kmeans":
        options.setdefault("init", "farthest")  # seeded by the points, not their order: permutation invariant
    k_name = _HARD[name][1]
    if k_name is not None:
        options[k_name] = clusters if name == "given" else _need(clusters, name)
    return Pool(selector_class(**options), **pool_options)


def takes_clusters(name: str) -> bool:
    """Whether pooler ``name`` is given K (``clusters``): not Graclus, k-MIS or Louvain, which find their own."""
    return name in _SOFT or (name in _HARD and _HARD[name][1] is not None)


def _need(clusters: int | None, name: str) -> int:
    if clusters is None:
        raise ValueError(f"pooler {name!r} needs 'clusters' (K per graph)")
    return clusters

"""Poolers by name: ``pooler("mincut", in_channels=64, clusters=16)`` -> a :class:`Pool`.

One registry holds every pooler: its selector, how it takes K, and its defaults (losses, self-loops,
normalisation, selector options). The command line's ``--pool`` choices, :data:`POOLERS`,
:data:`SOFT_POOLERS`, the model's pools, the learned neighbourhood methods, the docs table and the
tests' parametrisation all read it, so a pooler added with :func:`register_pooler` is everywhere at once:

>>> from graphpool.cluster import POOLERS, SoftSelect, pooler, register_pooler, unregister_pooler
>>> _ = register_pooler("sharp", SoftSelect, clusters="num_clusters", losses=("mincut",), temperature=0.1)
>>> "sharp" in POOLERS, pooler("sharp", in_channels=8, clusters=4).select.temperature
(True, 0.1)
>>> unregister_pooler("sharp")
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from graphpool.cluster.losses import LOSS_TERMS
from graphpool.cluster.pool import Pool, check_weight_values
from graphpool.cluster.select import (
    BatchKMeansSelect,
    CommunitySelect,
    GraclusSelect,
    KMISSelect,
    LabelSelect,
    Select,
    SoftSelect,
)
from graphpool.ops.ranges import Range, check_registry_name

#: the pool's own options (the rest go to the selector), read from :class:`Pool`'s signature
POOL_OPTIONS = tuple(
    p for p in inspect.signature(Pool.__init__).parameters if p not in ("self", "select", "in_channels")
)
#: names other libraries give K (tgp's ``k``, PyG's ``num_clusters``): suggested as ``clusters``
_CLUSTER_ALIASES = ("k", "num_clusters", "n_clusters", "num_labels")


@dataclass(frozen=True)
class PoolerSpec:
    """How a pooler name builds its :class:`Pool`.

    Attributes:
        name: the name (``--pool`` on the command line).
        select: the selector class.
        clusters: the keyword under which the selector takes K (``"num_clusters"``), or ``None`` for a
            selector that finds its own number of clusters (Graclus, k-MIS, Louvain).
        needs_clusters: whether K must be given (given labels take it optionally: the labels' number).
        defaults: the pool's and the selector's options this name fixes (overridable by keyword).
        unsupervised: its losses alone find clusters, without a task loss (a learned neighbourhood method).
        description: one line for tables and ``--help``.
    """

    name: str
    select: type[Select]
    clusters: str | None
    needs_clusters: bool = True
    defaults: dict[str, Any] = field(default_factory=dict)
    unsupervised: bool = False
    description: str = ""

    @property
    def soft(self) -> bool:
        """Whether it learns soft assignments (reduced as :math:`S^\\top X`: no readout per cluster)."""
        return self.select.soft

    @property
    def terms(self) -> tuple[str, ...]:
        """The names of its loss terms (the keys of ``aux_loss``, which ``loss_weights`` weigh)."""
        return tuple(term for loss in self.defaults.get("losses", ()) for term in LOSS_TERMS.get(loss, ()))

    @property
    def takes_in_channels(self) -> bool:
        return "in_channels" in inspect.signature(self.select.__init__).parameters

    def selector_options(self) -> list[str]:
        """The selector's own options (not the sizes the registry passes: ``in_channels`` and K)."""
        fixed = ("self", "in_channels", self.clusters)
        return [p for p in inspect.signature(self.select.__init__).parameters if p not in fixed]


_REGISTRY: dict[str, PoolerSpec] = {}


class Names(Sequence[str]):
    """A read-only tuple of names that is re-read at every use, so that a later registration is in it.

    ``name in POOLERS``, ``tuple(POOLERS)``, iteration, indexing and printing behave as on a tuple.
    """

    def __init__(self, read: Callable[[], tuple[str, ...]]) -> None:
        self._read = read

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self._read()[index]

    def __len__(self) -> int:
        return len(self._read())

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __contains__(self, name: object) -> bool:
        return name in self._read()

    def __eq__(self, other: object) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._read())

    def __repr__(self) -> str:
        return repr(self._read())


#: every pooler's name, hard (not learned) first, in registration order
POOLERS = Names(lambda: tuple(sorted(_REGISTRY, key=lambda name: _REGISTRY[name].soft)))
#: the learnable poolers, whose clusters are reduced as S^T X (no readout per cluster)
SOFT_POOLERS = Names(lambda: tuple(name for name in POOLERS if _REGISTRY[name].soft))
#: the poolers that are not learned: their levels can be computed once per graph (:class:`Coarsen`)
HARD_POOLERS = Names(lambda: tuple(name for name in POOLERS if not _REGISTRY[name].soft))
#: the soft poolers whose losses find clusters without a task (the learned neighbourhood methods)
UNSUPERVISED_POOLERS = Names(lambda: tuple(name for name in SOFT_POOLERS if _REGISTRY[name].unsupervised))


def register_pooler(
    name: str,
    select: type[Select],
    *,
    clusters: str | None = None,
    needs_clusters: bool | None = None,
    unsupervised: bool = False,
    description: str = "",
    **defaults: Any,
) -> PoolerSpec:
    """Add a pooler called ``name`` to the registry (and so to ``--pool``, :data:`POOLERS` and the tests).

    Args:
        select: the selector class; a soft selector's ``__init__`` takes ``in_channels``.
        clusters: the keyword under which ``select`` takes K (``None``: it finds its own).
        needs_clusters: whether K must be given (default: whenever ``clusters`` is set).
        unsupervised: its losses alone find clusters (offered as a learned neighbourhood method).
        description: one line for tables and ``--help``.
        defaults: options of the pool (``losses``, ``normalize``, ``self_loops``, ``activation``, ...) and of the
            selector (e.g. ``temperature``) that the name fixes; a caller may still override each.

    Raises:
        ValueError: the name is taken or is not lower-case letters, digits and ``_`` (starting with a letter), or a
            default is not an option of the pool or the selector.
    """
    check_registry_name("pooler", name)
    if name in _REGISTRY or name in ("none", "celltype"):
        raise ValueError(f"pooler name {name!r} is taken")
    if not (isinstance(select, type) and issubclass(select, Select)):
        raise TypeError(f"'select' must be a graphpool.cluster.Select subclass, got {select!r}")
    spec = PoolerSpec(
        name,
        select,
        clusters,
        clusters is not None if needs_clusters is None else needs_clusters,
        dict(defaults),
        unsupervised,
        description,
    )
    if clusters is not None and clusters not in inspect.signature(select.__init__).parameters:
        raise ValueError(f"{select.__name__} takes no {clusters!r} (the keyword given as 'clusters')")
    unknown = sorted(set(defaults) - set(POOL_OPTIONS) - set(spec.selector_options()))
    if unknown:
        raise ValueError(f"pooler {name!r}: {unknown[0]!r} is an option of neither Pool nor {select.__name__}")
    _REGISTRY[name] = spec
    return spec


def unregister_pooler(name: str) -> None:
    """Remove pooler ``name`` from the registry (for tests and notebooks that registered one)."""
    if name not in _REGISTRY:
        raise ValueError(f"pooler {name!r} is not registered")
    del _REGISTRY[name]


def pooler_spec(name: str) -> PoolerSpec:
    """The registry entry of pooler ``name``."""
    if name not in _REGISTRY:
        raise ValueError(f"pooler {name!r} is unknown; choose from {POOLERS}")
    return _REGISTRY[name]


def loss_terms(name: str) -> tuple[str, ...]:
    """The loss terms of pooler ``name`` (the keys of its ``aux_loss``); none for a hard pooler or for a name that
    is no pooler (a model's ``"none"``: the readout alone)."""
    return _REGISTRY[name].terms if name in _REGISTRY else ()


def check_loss_weights(name: str, weights: Mapping[str, float]) -> None:
    """A ``ValueError`` naming the first of ``weights`` that pooler ``name`` has no loss term for, or that is not a
    finite number >= 0."""
    terms = loss_terms(name)
    unknown = sorted(set(weights) - set(terms))
    if unknown:
        raise ValueError(
            f"'loss_weights' names {unknown[0]!r}, which pool {name!r} does not have; its loss terms: {list(terms)}"
        )
    check_weight_values(weights)


_OWN_CLUSTERS = "it finds its own number of clusters per graph"


def pooler(name: str, in_channels: int | None = None, clusters: int | None = None, **options: Any) -> Pool:
    """The pooler called ``name`` (one of :data:`POOLERS`).

    Args:
        name: ``"given"`` (labels passed as ``labels=``; ``clusters`` = the number of labels, optional),
            ``"graclus"``, ``"kmis"``, ``"kmeans"`` (needs ``clusters``), ``"louvain"``, or a soft
            pooler ``"diffpool"``, ``"mincut"``, ``"dmon"``, ``"justbalance"``, ``"acc"``, ``"soft"``
            (these need ``in_channels`` and ``clusters``), or any name added with :func:`register_pooler`.
        in_channels: F, the width of the node features: a soft pooler's assignment is built for it, and a
            hard pooler gives it to a ``reduce`` with weights of that width (``"attention"``).
        clusters: K per graph.
        options: the selector's options (e.g. ``seed``, ``hops``, ``temperature``, ``hidden``,
            ``assign``) and the pool's (``reduce``, ``losses``, ``loss_weights``, ``self_loops``,
            ``normalize``, ``activation``, ``edge_reduce``), overriding the name's defaults.

    Raises:
        ValueError: an unknown name or option (the message lists the valid ones), or K / F missing or below 1.
        TypeError: K or F that is not a whole number.

    >>> import torch
    >>> from graphpool.cluster import pooler
    >>> x = torch.arange(7.0).unsqueeze(1)  # a path 0 - 1 - 2 - 3 (graph 0) and a triangle 4, 5, 6 (graph 1)
    >>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 4, 5, 5, 6, 6, 4], [1, 0, 2, 1, 3, 2, 5, 4, 6, 5, 4, 6]])
    >>> batch = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    >>> out = pooler("graclus")(x, edge_index, batch=batch)  # matched pairs of neighbours, summed
    >>> out.assignment.cluster.tolist(), out.x.flatten().tolist(), out.batch.tolist()
    ([0, 0, 1, 1, 2, 3, 2], [1.0, 5.0, 10.0, 5.0], [0, 0, 1, 1])
    >>> soft = pooler("mincut", in_channels=1, clusters=2)(x, edge_index, batch=batch)  # K = 2 per graph
    >>> soft.x.shape, sorted(soft.aux_loss)  # the losses to add to the task's
    (torch.Size([4, 1]), ['mincut', 'ortho'])
    """
    spec = pooler_spec(name)
    for argument, value in (("in_channels", in_channels), ("clusters", clusters)):
        if value is not None:
            Range(1, whole=True).check(argument, value)
    merged = {**spec.defaults, **options}
    if "loss_weights" in spec.defaults and "loss_weights" in options:  # the caller's weights over the name's
        merged["loss_weights"] = {**spec.defaults["loss_weights"], **options["loss_weights"]}
    pool_options = {key: merged.pop(key) for key in POOL_OPTIONS if key in merged}
    allowed = spec.selector_options()
    unknown = sorted(set(merged) - set(allowed))
    if unknown:
        alias = unknown[0] in _CLUSTER_ALIASES
        hint = "" if not alias else " (did you mean 'clusters'?)" if spec.clusters else f" ({_OWN_CLUSTERS})"
        sizes = (["in_channels"] if spec.takes_in_channels else []) + (["clusters"] if spec.clusters else [])
        raise ValueError(
            f"pooler {name!r} has no option {unknown[0]!r}{hint}; its options: {[*sizes, *allowed, *POOL_OPTIONS]}"
        )
    if spec.clusters is None and clusters is not None:
        raise ValueError(f"pooler {name!r} does not take 'clusters': {_OWN_CLUSTERS}")
    if spec.takes_in_channels:
        if in_channels is None:
            raise ValueError(f"pooler {name!r} needs 'in_channels' (the width of the node features)")
        merged["in_channels"] = in_channels
    if spec.clusters is not None:
        if clusters is None and spec.needs_clusters:
            raise ValueError(f"pooler {name!r} needs 'clusters' (K per graph)")
        merged[spec.clusters] = clusters
    return Pool(spec.select(**merged), **pool_options, in_channels=in_channels)


def takes_clusters(name: str) -> bool:
    """Whether pooler ``name`` is given K (``clusters``): not Graclus, k-MIS or Louvain, which find their own."""
    return name in _REGISTRY and _REGISTRY[name].clusters is not None


# the built-in poolers
register_pooler(
    "given",
    LabelSelect,
    clusters="num_labels",
    needs_clusters=False,
    description="the labels passed as labels= (cell types, atom groups)",
)
register_pooler("graclus", GraclusSelect, description="greedy normalised-cut matching: about half the nodes per level")
register_pooler("kmis", KMISSelect, description="maximal k-independent set: spread-out centres and their neighbours")
register_pooler(
    "kmeans",
    BatchKMeansSelect,
    clusters="num_clusters",
    init="farthest",  # seeded by the points, not their order: permutation invariant
    description="k-means of each graph's node features or positions",
)
register_pooler("louvain", CommunitySelect, description="Louvain communities of each graph (networkx)")
register_pooler(
    "diffpool",
    SoftSelect,
    clusters="num_clusters",
    losses=("diffpool",),
    self_loops=True,
    description="DiffPool: link + entropy",
)
register_pooler(
    "mincut",
    SoftSelect,
    clusters="num_clusters",
    losses=("mincut",),
    normalize=True,
    unsupervised=True,
    description="MinCutPool: cut + ortho",
)
register_pooler(
    "dmon",
    SoftSelect,
    clusters="num_clusters",
    losses=("dmon",),
    normalize=True,
    activation="selu",
    unsupervised=True,
    description="DMoN: modularity + ortho + cluster size",
)
register_pooler(
    "justbalance",
    SoftSelect,
    clusters="num_clusters",
    losses=("justbalance",),
    normalize=True,
    unsupervised=True,
    description="JustBalance: balance alone",
)
register_pooler(
    "cutbalance",
    SoftSelect,
    clusters="num_clusters",
    losses=("cutbalance",),
    normalize=True,
    unsupervised=True,
    description="MinCut's cut + JustBalance's balance: compact clusters, sizes left free",
)
register_pooler(
    "acc",
    SoftSelect,
    clusters="num_clusters",
    losses=("acc",),
    normalize=True,
    unsupervised=True,
    description="asymmetric Cheeger cut (TVGNN): total variation + asymmetric norm",
)
register_pooler(
    "soft", SoftSelect, clusters="num_clusters", self_loops=True, description="a soft pool with no auxiliary loss"
)

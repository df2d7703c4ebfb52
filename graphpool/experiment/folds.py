"""Outer folds and inner hold-outs of the assessment protocol (Errica et al., ICLR 2020).

Stratified folds (:func:`stratified_folds`; :func:`random_folds` for numeric targets), folds
that never split a group such as a donor or a scaffold (:func:`grouped_folds`,
:func:`scaffold_folds`), the inner hold-out of a fold's training part (:func:`inner_split`,
:func:`holdout`), and the check of folds supplied from outside (:func:`check_folds`). Wherever
``labels`` is ``None`` (regression) nothing is stratified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold, train_test_split
from sklearn.utils.multiclass import type_of_target

from graphpool.ops.ranges import SEED, Range

#: ``(train, test)`` index lists of one outer fold
Fold = tuple[Sequence[int], Sequence[int]]


def _check_folds(folds: int, seed: int) -> None:
    """``folds`` >= 2 and ``seed`` in [0, 2^32 - 1], each error naming its argument."""
    Range(2, whole=True).check("folds", folds)
    SEED.check("seed", seed)


def check_fold_parts(folds: Sequence[Fold], num_graphs: int) -> None:
    """Each ``(train, test)`` fold (numbered from 1 in errors): both parts non-empty, indices in ``[0, num_graphs)``,
    none twice in a part nor in both parts (a graph in both would be tested on after training on it)."""
    for number, fold in enumerate(folds, start=1):
        if not isinstance(fold, Sequence) or isinstance(fold, str) or len(fold) != 2:
            got = f"{len(fold)} parts" if isinstance(fold, Sequence) else type(fold).__name__
            raise TypeError(f"fold {number} must be a (training, test) pair of index lists, got {got}")
        parts = {part: _indices(indices, number, part) for part, indices in zip(("training", "test"), fold)}
        for part, indices in parts.items():
            if not indices:
                raise ValueError(f"fold {number}: its {part} part is empty")
            outside = [i for i in indices if not 0 <= i < num_graphs]
            if outside:
                raise ValueError(f"fold {number}: graph {outside[0]} is out of range (there are {num_graphs} graphs)")
            if len(set(indices)) < len(indices):
                twice = next(i for i in indices if indices.count(i) > 1)
                raise ValueError(f"fold {number}: graph {twice} is twice in its {part} part")
        both = sorted(set(parts["training"]) & set(parts["test"]))
        if both:
            graphs = f"graph {both[0]} is" if len(both) == 1 else f"graphs {both[:10]}{' ...' * (len(both) > 10)} are"
            raise ValueError(f"fold {number}: {graphs} in both its training and its test part")


def _indices(indices: Any, number: int, part: str) -> list[int]:
    """A fold part (a list, a NumPy array or a tensor of graph indices) as a list of ints, after checking that it
    holds whole numbers: a boolean mask would be read as the indices 0 and 1, a float truncated."""
    values = indices.tolist() if hasattr(indices, "tolist") else list(indices)
    if any(isinstance(value, (bool, np.bool_)) for value in values):
        raise TypeError(
            f"fold {number}: its {part} part holds booleans (a mask?); give the graphs' indices, e.g. mask.nonzero()"
        )
    if bad := [value for value in values if not isinstance(value, (int, np.integer))]:
        raise TypeError(f"fold {number}: its {part} part holds {bad[0]!r}, which is not a graph index (an int)")
    return [int(value) for value in values]


def _one_each(name: str, values: Sequence[Any], what: str) -> np.ndarray:
    """``values`` as an array, after checking that every graph has one (``what``: a class, a group); NaN or None
    is none (as groups, every graph without one would form one group: unknown donors one donor)."""
    missing = np.flatnonzero(pd.isna(np.asarray(values, dtype=object)))  # (as text, NaN beside names is "nan")
    if missing.size:
        raise ValueError(
            f"'{name}' holds a missing value (NaN or None) at position {missing[0]}; every graph needs {what}"
        )
    return np.asarray(values)


def _group_ids(groups: Sequence[Any]) -> np.ndarray:
    """``groups`` as an array, every graph with one."""
    return _one_each("groups", groups, "a group")


def _class_labels(labels: Sequence[Any]) -> np.ndarray:
    """``labels`` as an array, after checking that every graph has one (classes of any kind: ints, strings)."""
    y = _one_each("labels", labels, "a class")
    kind = type_of_target(y) if y.size else "binary"
    if kind not in ("binary", "multiclass"):  # e.g. "continuous": numeric targets, nothing to stratify by
        raise ValueError(f"'labels' must be classes, got {kind} values; numeric targets take random_folds")
    return y


def stratified_folds(labels: Sequence[Any], folds: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """``folds`` stratified, shuffled, seeded outer folds as ``(train, test)`` index lists (``labels``: one class
    per graph, of any kind).

    >>> from graphpool.experiment import stratified_folds
    >>> stratified_folds(["a", "a", "a", "b", "b", "b"], folds=3, seed=0)  # one "a" and one "b" tested per fold
    [([0, 1, 3, 5], [2, 4]), ([0, 2, 3, 4], [1, 5]), ([1, 2, 4, 5], [0, 3])]
    """
    _check_folds(folds, seed)
    y = _class_labels(labels)
    smallest = int(np.unique(y, return_counts=True)[1].min()) if y.size else 0
    if smallest < folds:
        raise ValueError(
            f"{folds} stratified folds need at least {folds} graphs in every class; "
            f"the smallest class here has {smallest}"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train.tolist(), test.tolist()) for train, test in splitter.split(np.zeros(len(y)), y)]


def random_folds(count: int, folds: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """``folds`` shuffled, seeded outer folds of ``count`` graphs (numeric targets: nothing to stratify by)."""
    _check_folds(folds, seed)
    if count < folds:
        raise ValueError(f"{folds} folds need at least {folds} graphs; there are {count}")
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train.tolist(), test.tolist()) for train, test in splitter.split(np.zeros(count))]


def inner_split(
    train: Sequence[int],
    labels: Sequence[int] | None,
    fraction: float,
    seed: int,
    groups: Sequence[Any] | None = None,
) -> tuple[list[int], list[int]]:
    """Stratified hold-out of a fold's training indices: ``(fit, validation)`` (unstratified when ``labels`` is None).

    With ``groups`` (e.g. the donor of every graph) no group is split between fit and
    validation: one fold of a seeded :class:`~sklearn.model_selection.StratifiedGroupKFold` with
    ``round(1 / fraction)`` folds (fewer where a class has fewer groups) is held out; without
    labels, whole groups in a seeded order up to ``fraction`` of the rows, groups larger than half
    of that staying in fit (chemprop's balanced scaffold split).
    """
    Range(0, 1, low_open=True, high_open=True).check("fraction", fraction)  # (an int 1 is a count to scikit-learn)
    SEED.check("seed", seed)
    rows = np.asarray(train, dtype=np.int64)
    count = len(labels) if labels is not None else len(groups) if groups is not None else None
    outside = rows[(rows < 0) | (rows >= count)] if count is not None else rows[rows < 0]
    if outside.size:
        have = f", but 'labels' has {count} graphs" if labels is not None else ""
        raise ValueError(f"'train' holds graph {int(outside[0])}{have}")
    train_labels = None if labels is None else _class_labels(labels)[rows]
    if groups is None:
        fit, validation = train_test_split(rows, test_size=fraction, stratify=train_labels, random_state=seed)
        return sorted(fit.tolist()), sorted(validation.tolist())
    train_groups = _group_ids(groups)[rows]
    if train_labels is None:
        fewest = len(set(train_groups.tolist()))
    else:
        fewest = min(len(set(train_groups[train_labels == c])) for c in np.unique(train_labels))
    if fewest < 2:
        raise ValueError("a grouped hold-out needs at least 2 groups of every class in each training part")
    if train_labels is None:
        validation = _group_holdout(train_groups, fraction, seed)
        return sorted(rows[~validation].tolist()), sorted(rows[validation].tolist())
    parts = min(max(2, round(1 / fraction)), fewest)
    splitter = StratifiedGroupKFold(n_splits=parts, shuffle=True, random_state=seed)
    fit, validation = next(splitter.split(rows, train_labels, train_groups))
    return sorted(rows[fit].tolist()), sorted(rows[validation].tolist())


def _group_holdout(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A mask of whole groups holding about ``fraction`` of the rows (the balanced scaffold split of chemprop).

    Groups larger than half the wanted size stay in fit (one of them would make the validation part
    too large); the others, in a seeded random order, fill the validation part up to the wanted size.
    """
    unique, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    wanted = max(1, round(fraction * len(groups)))
    chosen = np.zeros(len(unique), dtype=bool)
    size = 0
    for group in np.random.default_rng(seed).permutation(len(unique)):
        if counts[group] <= wanted / 2 and size + counts[group] <= wanted:
            chosen[group], size = True, size + counts[group]
    if not chosen.any():  # every group is large: the smallest one is held out
        chosen[int(np.argmin(counts))] = True
    if chosen.all():
        raise ValueError("a grouped hold-out needs at least 2 groups in each training part")
    return chosen[inverse]


def _balanced_group_folds(groups: np.ndarray, folds: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """Folds of whole groups with sizes as equal as the groups allow: largest group first into the smallest fold.

    Groups of one size are taken in a seeded random order, so seeds give different folds (scikit-learn's
    shuffled ``GroupKFold`` deals groups out by count, not size: one fold of the solubility set's scaffolds
    held 768 of 1,282 molecules).
    """
    unique, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    order = order[np.argsort(-counts[order], kind="stable")]
    load, fold_of = np.zeros(folds), np.empty(len(unique), dtype=int)
    for group in order:
        fold_of[group] = int(np.argmin(load))
        load[fold_of[group]] += counts[group]
    row_fold = fold_of[inverse]
    return [(np.flatnonzero(row_fold != f).tolist(), np.flatnonzero(row_fold == f).tolist()) for f in range(folds)]


def grouped_folds(
    labels: Sequence[int] | None, groups: Sequence[Any], folds: int, repeats: int, seed: int
) -> list[tuple[list[int], list[int]]]:
    """``repeats`` x ``folds`` stratified outer folds that never split a group (seeds ``seed + r``).

    Use it where graphs share a source (several images of one donor): every group lies wholly
    in the training or the test part of each fold. Repeats give differently shuffled folds.
    Without ``labels`` (numeric targets) the folds are not stratified but balanced in size (largest
    group first into the smallest fold, ties in a seeded order).

    >>> from graphpool.experiment import grouped_folds
    >>> donors = ["d1", "d1", "d2", "d3", "d3", "d4"]  # images 0 and 1 come from donor d1, ...
    >>> grouped_folds([0, 0, 0, 1, 1, 1], donors, folds=2, repeats=1, seed=0)  # no donor on both sides
    [([0, 1, 5], [2, 3, 4]), ([2, 3, 4], [0, 1, 5])]
    """
    _check_folds(folds, seed)
    if labels is not None and len(groups) != len(labels):
        raise ValueError(f"'groups' has {len(groups)} entries but 'labels' {len(labels)}: one group per graph")
    group_ids = _group_ids(groups)
    if labels is None:
        per_class = [len(set(group_ids.tolist()))]
    else:
        y = _class_labels(labels)
        per_class = [len(set(group_ids[y == c])) for c in np.unique(y)]
    if min(per_class) < folds:
        raise ValueError(
            f"{folds} grouped folds need at least {folds} groups in every class; "
            + (
                f"the classes have {per_class} groups"
                if len(per_class) <= 10
                else f"there are {len(per_class)} classes, the smallest with {min(per_class)} group(s) (a label of "
                "measurements rather than classes?)"
            )
        )
    Range(1, whole=True).check("repeats", repeats)
    result = []
    for repeat in range(repeats):
        if labels is None:
            result += _balanced_group_folds(group_ids, folds, seed + repeat)
            continue
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed + repeat)
        result += [(a.tolist(), b.tolist()) for a, b in splitter.split(np.zeros(len(y)), y, group_ids)]
    return result


def scaffold_folds(
    scaffolds: Sequence[str], labels: Sequence[int] | None, folds: int, seed: int
) -> list[tuple[list[int], list[int]]]:
    """``folds`` outer folds that keep every molecular scaffold whole, stratified by label (if any), seeded.

    :func:`grouped_folds` with the Bemis-Murcko scaffold of each molecule as its group
    (:func:`graphpool.data.scaffolds`): each scaffold's molecules are all in the training part or all
    in the test part of every fold, so a model is tested on ring systems it never saw (random splits
    let near-copies of test molecules into training). Fold sizes follow the scaffold sizes: a fold is
    larger where one scaffold (often the acyclic one, ``""``) is large. ``labels=None`` (regression):
    not stratified.

    Raises:
        ValueError: a class (or, without labels, the data) with fewer scaffolds than ``folds``.
    """
    _check_folds(folds, seed)
    try:
        return grouped_folds(labels, scaffolds, folds, 1, seed)
    except ValueError:
        if labels is None:
            raise ValueError(
                f"{folds} scaffold folds need at least {folds} scaffolds; the molecules have {len(set(scaffolds))}"
            ) from None
        counts = [len({g for g, y in zip(scaffolds, labels, strict=True) if y == c}) for c in sorted(set(labels))]
        raise ValueError(
            f"{folds} scaffold folds need at least {folds} scaffolds in every class; the classes have {counts}"
        ) from None


def holdout(
    number: int,
    train: Sequence[int],
    labels: Sequence[int] | None,
    fraction: float,
    seed: int,
    groups: Sequence[Any] | None,
) -> tuple[list[int], list[int]]:
    """:func:`inner_split` of outer fold ``number``, with an error that says which hold-out failed and why."""
    try:
        return inner_split(train, labels, fraction, seed, groups)
    except ValueError as error:
        kind, more = "a validation part", "more graphs"
        if labels is not None:
            classes = len(set(np.asarray(labels)[np.asarray(train, dtype=int)].tolist()))
            kind, more = f"a stratified validation part ({classes} classes)", "more graphs per class"
        raise ValueError(
            f"the inner hold-out of fold {number} cannot be drawn: {fraction:.0%} of its "
            f"{len(train)} training graphs is too few for {kind} "
            f"({error}). Use fewer folds, or a dataset with {more}"
        ) from None


def check_folds(folds: Sequence[Fold], num_graphs: int, source: str = "folds") -> None:
    """Folds supplied from outside (a file, a published split): :func:`check_fold_parts`, its errors naming
    ``source``."""
    try:
        check_fold_parts(folds, num_graphs)
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None

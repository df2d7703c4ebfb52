"""Checks of settings, one source for every message: numeric ranges (the config dataclasses declare theirs, and
their ``__post_init__`` and the command line check values against them), whole numbers, and names given once.

>>> Range(0, 1, high_open=True).check("dropout", 0.5)
>>> Range(1).check("hidden", 0)
Traceback (most recent call last):
    ...
ValueError: 'hidden' must be >= 1, got 0
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace


@dataclass(frozen=True)
class Range:
    """``low <= value`` (``<`` when ``low_open``), and ``value <= high`` (``<``) when ``high`` is set; NaN and the
    infinities are outside.
    ``whole``: the value must also be a whole number (a counted or seeding setting)."""

    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    whole: bool = False

    def describe(self) -> str:
        """``">= 1"``, ``"> 0"`` or, with both ends, ``"in [0, 1)"``."""
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{_number(self.low)}, {_number(self.high)}{right}"

    def violation(self, value: float) -> str | None:
        """The bound ``value`` breaks, as ``"must be >= 1"`` / ``"must be < 1"``, or ``None`` when it is in range."""
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number {self.describe()}"
        if value < self.low or (self.low_open and value == self.low):
            return f"must be {'>' if self.low_open else '>='} {_number(self.low)}"
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return f"must be {'<' if self.high_open else '<='} {_number(self.high)}"
        return None

    def check(self, name: str, value: float) -> None:
        """Raise ``ValueError("'name' must be <range>, got value")`` unless ``value`` is in range (and a
        ``TypeError`` for a ``whole`` range's value that is not a whole number)."""
        if self.whole:
            check_whole(name, value)
        if self.violation(value) is not None:
            finite = "" if math.isfinite(value) else "a finite number "
            raise ValueError(f"'{name}' must be {finite}{self.describe()}, got {value}")


#: a random seed: what NumPy's generators and scikit-learn's ``random_state`` take
SEED = Range(0, 2**32 - 1, whole=True)


def check_ranges(settings: object, ranges: dict[str, Range]) -> None:
    """Check every attribute of ``settings`` named in ``ranges`` (each error names the attribute); where
    ``settings`` is a dataclass, one annotated ``int`` must hold a whole number (a float or a bool is a ``TypeError``).
    """
    whole = {
        f.name
        for f in (fields(settings) if is_dataclass(settings) else ())
        if str(f.type).split(" | ")[0] in ("int", "<class 'int'>")
    }
    for name, bound in ranges.items():
        (replace(bound, whole=True) if name in whole else bound).check(name, getattr(settings, name))


def is_whole(value: object) -> bool:
    """Whether ``value`` is an integer, Python's or NumPy's (a bool is not one)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_whole(name: str, value: object) -> None:
    """Raise ``TypeError("'name' must be a whole number, got value")`` unless :func:`is_whole`."""
    if not is_whole(value):
        raise TypeError(f"'{name}' must be a whole number, got {value!r}")


def check_registry_name(kind: str, name: object) -> None:
    """Raise a ``ValueError`` unless ``name`` can be written on the command line as one choice of its ``kind``:
    lower-case letters, digits and ``_``, starting with a letter (no comma, which separates choices, or ``+``).

    >>> check_registry_name("pooler", "a,b")
    Traceback (most recent call last):
        ...
    ValueError: pooler name 'a,b' must be lower-case letters, digits and '_', starting with a letter
    """
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"{kind} name {name!r} must be lower-case letters, digits and '_', starting with a letter")


def check_distinct(what: str, items: Sequence[Hashable]) -> None:
    """Raise ``ValueError("<what> names 'x' twice")`` for the first item of ``items`` given more than once.

    >>> check_distinct("--pool:", ["none", "mincut", "none"])
    Traceback (most recent call last):
        ...
    ValueError: --pool: names 'none' twice
    """
    seen: set[Hashable] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"{what} names {item!r} twice")
        seen.add(item)


def check_not_one_string(what: str, items: object, noun: str = "values") -> None:
    """A ``TypeError`` naming ``what`` when ``items``, due to be several strings, is one (it would be read letter by
    letter: ``"CCO"`` as the molecules C, C and O)."""
    if isinstance(items, str):
        raise TypeError(f"{what} takes a list of {noun}, got the str {items!r} (one: [{items!r}])")


def check_list(what: str, items: object, noun: str = "values") -> None:
    """``items`` a non-empty list (or tuple) of distinct items, else an error naming ``what``: a ``TypeError`` for a
    string (which would be read letter by letter) or a non-sequence, a ``ValueError`` for no items or a repeat.

    >>> check_list("'readouts'", "mean", "names")
    Traceback (most recent call last):
        ...
    TypeError: 'readouts' takes a list of names, got the str 'mean' (one: ['mean'])
    """
    check_not_one_string(what, items, noun)
    if not isinstance(items, Sequence):
        raise TypeError(f"{what} takes a list of {noun}, got the {type(items).__name__} {items!r}")
    if not items:
        raise ValueError(f"{what} has no {noun}: give at least one")
    check_distinct(what, items)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)

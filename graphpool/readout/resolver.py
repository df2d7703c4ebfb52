"""Name -> readout resolution through the one registry that every readout class joins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from graphpool.readout.base import REGISTRY, Readout, canonical_name
from graphpool.readout.multi import MultiReadout


def readout_class(name: str) -> type[Readout]:
    """The registered class of a readout name (any spelling :func:`canonical_name` accepts)."""
    _refuse_comma(name)
    key = canonical_name(name)
    if key not in REGISTRY:
        raise ValueError(f"unknown readout {name!r}; valid names: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[key]


def resolve(
    spec: str | Readout | type[Readout] | Sequence[Any], *, in_channels: int | None = None, **kwargs: Any
) -> Readout:
    """Turn a name, class, instance or list of them into a :class:`Readout` module.

    ``"median"`` -> :class:`MedianReadout`; ``"mean+max"`` or ``["mean", "max"]`` -> a
    :class:`MultiReadout` (their concatenation; ``+`` is the one syntax for it, in
    :func:`global_pool`, model configs and the command line, where a comma separates
    alternatives); instances pass through unchanged. ``kwargs`` go to the constructor
    (``resolve("quantile", q=0.9)``); a list takes only ``mode`` (``"cat"`` or ``"proj"``, see
    :class:`MultiReadout`). ``in_channels`` (the feature width) is passed to the readouts whose
    constructor requires it (learnable weights of that width: ``attention``, a projected
    multi-readout), so a model can name them as strings too.

    >>> from graphpool.readout import resolve
    >>> resolve("Median")
    MedianReadout()
    >>> resolve("quantile", q=0.9)
    QuantileReadout(q=0.9, method='linear')
    """
    if isinstance(spec, type):
        if not issubclass(spec, Readout):
            raise TypeError(f"cannot resolve a readout from the class {spec.__name__}")
        return _construct(spec, in_channels, kwargs)
    if isinstance(spec, Readout):
        if kwargs:
            raise ValueError(f"options {sorted(kwargs)} cannot be applied to an existing {type(spec).__name__}")
        return cast(Readout, spec)  # (mypy cannot rule out a class here: a metaclass could make one a Readout)
    if isinstance(spec, str):
        _refuse_comma(spec)
        if "+" in spec:
            parts = [part.strip() for part in spec.split("+")]
            if not all(parts):
                raise ValueError(f"readout {spec!r} has an empty part: write 'mean+max' (readouts joined by '+')")
            spec = parts
    if isinstance(spec, (list, tuple)):
        mode = kwargs.pop("mode", "cat")
        if kwargs:
            raise ValueError("options cannot be shared by several readouts; pass configured instances instead")
        return MultiReadout([resolve(item, in_channels=in_channels) for item in spec], mode, in_channels)
    if not isinstance(spec, str):
        raise TypeError(f"cannot resolve a readout from {type(spec).__name__}")
    return _construct(readout_class(spec), in_channels, kwargs)


def _refuse_comma(name: str) -> None:
    if "," in name:
        raise ValueError(
            f"readout {name!r} holds a comma: concatenate readouts with '+' ({name.replace(',', '+')!r}); "
            "a comma separates alternatives to compare on the command line"
        )


def refuse_unknown_options(cls: type[Readout], options: Sequence[str], allowed: Sequence[str], what: str) -> None:
    """A ``ValueError`` naming the ``options`` readout ``cls`` does not take (``allowed``), ``what`` naming the
    argument that chose it (``"readout"``, ``"reduce"``). A constructor that takes ``**kwargs`` takes any."""
    unknown = sorted(set(options) - set(allowed))
    if unknown and not cls.takes_any_option():
        raise ValueError(f"{what} '{cls.name}' takes options {list(allowed) or 'none'}, got unexpected {unknown}")


def _construct(cls: type[Readout], in_channels: int | None, kwargs: dict[str, Any]) -> Readout:
    refuse_unknown_options(cls, list(kwargs), cls.options(), "readout")
    if "in_channels" in cls.required_options() and "in_channels" not in kwargs:
        if in_channels is None:
            raise ValueError(f"readout '{cls.name}' has weights of the feature width: pass in_channels=F")
        kwargs = {"in_channels": in_channels, **kwargs}
    return cls(**kwargs)

"""The :class:`Readout` base class and the registry every readout joins by being defined."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch_geometric.nn.aggr import Aggregation

from graphpool.ops import Segments, segments_from
from graphpool.ops.validation import check_tensor

#: canonical name -> readout class; a subclass with a ``name`` adds itself (see :class:`Readout`)
REGISTRY: dict[str, type[Readout]] = {}

#: other spellings of registered names (after :func:`canonical_name`'s normalisation)
ALIASES = {
    "add": "sum",
    "avg": "mean",
    "average": "mean",
    "gap": "mean",
    "amax": "max",
    "amin": "min",
    "variance": "var",
    "generalizedmean": "powermean",
    "gem": "powermean",
    "power": "powermean",
    "attentional": "attention",
    "weight": "weighted",
    "softmaxmean": "softmax",
}


def canonical_name(name: str) -> str:
    """Normalise a readout name: ``"Mean"``, ``"mean_readout"``, ``"MeanReadout"`` -> ``"mean"``.

    A name is letters, with ``_``, ``-`` or spaces; anything else (``"quantile(0.9)"``) is a ``ValueError``.
    """
    if not isinstance(name, str):
        raise TypeError(f"a readout name must be a str, got {type(name).__name__}")
    if torch.compiler.is_compiling():  # traced once into a constant; the cache would only draw dynamo's warning
        return _canonical.__wrapped__(name)
    return _canonical(name)


@lru_cache(maxsize=256)
def _canonical(name: str) -> str:
    stray = re.search(r"[^A-Za-z_\-\s].*", name)
    if stray is not None:  # "quantile(0.9)" is not "quantile": an option in the name would be dropped without a word
        raise ValueError(
            f"readout name {name!r} holds {stray.group().strip()!r}: a name is letters (with '_', '-' or spaces); "
            "give options as keyword arguments, e.g. resolve('quantile', q=0.9)"
        )
    key = re.sub(r"[^a-z]", "", name.lower())
    for suffix in ("readout", "aggregation", "aggr", "pool", "pooling"):
        if key.endswith(suffix) and key != suffix:
            key = key[: -len(suffix)]
            break
    return ALIASES.get(key, key)


_HALF_PRECISION = frozenset({torch.float16, torch.bfloat16})


def unregister_readout(name: str) -> None:
    """Remove readout ``name`` from :data:`REGISTRY` (for tests and notebooks that defined one)."""
    if name not in REGISTRY:
        raise ValueError(f"readout {name!r} is not registered")
    del REGISTRY[name]


class Readout(Aggregation):
    r"""Base class of graphpool's readouts; a PyG :class:`~torch_geometric.nn.aggr.Aggregation`.

    A readout maps the rows of each group (the nodes of a graph, or the messages into a
    node) to one row. A subclass states its ``name`` and implements only :meth:`compute` on
    validated input ``x: [N, F]`` and :class:`~graphpool.ops.Segments`; this class owns the
    argument checking, the ``dim`` handling, half-precision accumulation and PyG's calling
    convention, so every readout works as a global pool and as ``aggr=`` of a
    ``MessagePassing`` layer:

    >>> import torch
    >>> from torch_geometric.nn import SAGEConv
    >>> from graphpool.readout import MedianReadout
    >>> conv = SAGEConv(4, 8, aggr=MedianReadout())
    >>> conv(torch.randn(5, 4), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])).shape
    torch.Size([5, 8])

    Defining a subclass with a ``name`` registers it: :func:`~graphpool.readout.resolve` and
    :func:`~graphpool.readout.global_pool` then know it by that name, and its options are the
    arguments of its ``__init__``.

    Shapes:
        - input: ``x: [*, N, F]`` (pooled along ``dim``, default -2), ``index: [N]`` or
          ``ptr: [B + 1]``, ``dim_size = B``
        - output: ``[*, B, get_out_channels(F)]``
    """

    #: canonical name in :data:`REGISTRY` (empty: not registered)
    name: ClassVar[str] = ""
    #: whether integer features are rejected
    needs_float: ClassVar[bool] = True
    #: whether float16/bfloat16 input is reduced in float32 and returned in its own dtype
    #: (as :func:`torch.mean` does: a float16 sum of 1,100 values of 60 overflows 65,504)
    accumulates_in_float32: ClassVar[bool] = True
    #: names of per-node keyword inputs that :meth:`compute` accepts (e.g. ``weight``)
    extra_inputs: tuple[str, ...] = ()
    # the constructor's argument names, all and those without a default, and whether it takes **kwargs (set for
    # every subclass)
    _options: ClassVar[tuple[str, ...]] = ()
    _required: ClassVar[tuple[str, ...]] = ()
    _open: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
        named = [p for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        cls._options = tuple(p.name for p in named)
        cls._required = tuple(p.name for p in named if p.default is p.empty)
        cls._open = any(p.kind is p.VAR_KEYWORD for p in parameters)
        name = cls.__dict__.get("name", "")
        if not name:
            return
        if canonical_name(name) != name:  # resolve() could not find it by its own name
            raise ValueError(
                f"readout name {name!r} is read as {canonical_name(name)!r} by resolve(); name the readout "
                "in lower-case letters, without a suffix such as 'readout'"
            )
        if name in REGISTRY and REGISTRY[name].__qualname__ != cls.__qualname__:
            raise ValueError(f"readout name {name!r} is taken by {REGISTRY[name].__qualname__}")
        REGISTRY[name] = cls

    @classmethod
    def options(cls) -> tuple[str, ...]:
        """Names of the constructor's arguments (the readout's options), in order."""
        return cls._options

    @classmethod
    def takes_any_option(cls) -> bool:
        """Whether the constructor takes ``**kwargs``: options beyond :meth:`options` too."""
        return cls._open

    @classmethod
    def required_options(cls) -> tuple[str, ...]:
        """Constructor arguments without a default (e.g. the width of learnable weights)."""
        return cls._required

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        # Bypass Aggregation.__call__: its checks call index.max() and rephrase errors; ours
        # run once in forward() with messages that name the argument.
        return torch.nn.Module.__call__(self, *args, **kwargs)

    def forward(
        self,
        x: Tensor,
        index: Tensor | None = None,
        ptr: Tensor | None = None,
        dim_size: int | None = None,
        dim: int = -2,
        **inputs: Tensor,
    ) -> Tensor:
        """Pool ``x`` along ``dim`` group by group (see the class docstring for shapes). A readout of several
        parts (:meth:`parts`: quantiles, the members of a :class:`MultiReadout`) puts them side by side along the
        features (the last dimension, or the one before it when pooling along the last), each unflattened on
        its own; ``x: [N]`` then gives ``[B, parts]``, as :func:`global_pool` does."""
        if inputs and (unknown := sorted(set(inputs) - set(self.extra_inputs))):
            raise ValueError(f"unexpected inputs {unknown}; this readout takes {list(self.extra_inputs)}")
        x2d, seg, unflatten = self.prepare(x, index, ptr, dim_size, dim)
        if type(self).parts is Readout.parts:  # one part, the common case: no list (~2 us of a 40 us call)
            return unflatten(self.reduce_segments(x2d, seg, **inputs))
        pieces = [unflatten(part) for part in self.parts(x2d, seg, **inputs)]
        if len(pieces) == 1:
            return pieces[0]
        if x.dim() == 1:
            return torch.stack(pieces, dim=-1)
        return torch.cat(pieces, dim=-1 if dim % x.dim() != x.dim() - 1 else -2)

    def prepare(
        self, x: Tensor, index: Tensor | None, ptr: Tensor | None, dim_size: int | None, dim: int
    ) -> tuple[Tensor, Segments, Callable[[Tensor], Tensor]]:
        """Validate the arguments once.

        Returns ``x`` as ``[N, F']`` (``dim`` moved first, the other dims flattened), the
        segments, and ``unflatten``: ``[B, F'']`` -> the output layout (``B`` at ``dim``).
        """
        check_tensor("x", x)
        if x.dim() == 0 or not -x.dim() <= dim < x.dim():
            raise ValueError(f"'dim' = {dim} is out of range for x of shape {tuple(x.shape)}")
        self.check_features(x)
        dim = dim % x.dim()
        moved = x.movedim(dim, 0)
        lead = moved.shape[1:-1]
        columns = math.prod(moved.shape[1:])  # explicit: reshape(N, -1) is ambiguous for N = 0
        x2d = moved.reshape(moved.size(0), columns)
        seg = segments_from(x2d.size(0), index, ptr, dim_size, device=x.device)

        def unflatten(out: Tensor) -> Tensor:
            if moved.dim() == 1:
                return out.reshape(out.size(0))
            if moved.dim() == 2 and dim == 0:
                return out
            width = out.size(-1) // math.prod(lead) if math.prod(lead) else 0
            return out.reshape(out.size(0), *lead, width).movedim(0, dim)

        return x2d, seg, unflatten

    def check_features(self, x: Tensor) -> None:
        """Reject complex or boolean ``x``, and integer ``x`` where this readout needs real floats."""
        reduce = self.name or type(self).__name__
        if x.dtype.is_complex:
            raise ValueError(f"x must be real, got dtype {x.dtype}")
        if self.needs_float and not x.dtype.is_floating_point:
            raise ValueError(
                f"reduce '{reduce}' needs floating-point features, but x has dtype {x.dtype}; convert with x.float()"
            )
        if x.dtype == torch.bool:
            raise ValueError(f"x has dtype torch.bool; convert with x.float() or x.long() for reduce '{reduce}'")

    def reduce_segments(self, x: Tensor, seg: Segments, **inputs: Tensor) -> Tensor:
        """:meth:`compute` on validated ``x: [N, F]``, in float32 for half-precision ``x`` where the class says so."""
        if self.accumulates_in_float32 and x.dtype in _HALF_PRECISION:
            return self.compute(x.float(), seg, **inputs).to(x.dtype)
        return self.compute(x, seg, **inputs)

    def parts(self, x: Tensor, seg: Segments, **inputs: Tensor) -> list[Tensor]:
        """The output of validated ``x: [N, F]`` as parts that each lay out their columns as ``x`` does (one
        part, :meth:`reduce_segments`; several quantiles give one per quantile): a readout of several feature
        dimensions unflattens each part on its own before they are put side by side (:meth:`forward`)."""
        return [self.reduce_segments(x, seg, **inputs)]

    def compute(self, x: Tensor, seg: Segments) -> Tensor:
        """Reduce validated ``x: [N, F]`` to ``[B, get_out_channels(F)]``: the readout's maths (a readout that
        reads per-node inputs, :attr:`extra_inputs`, takes them as further keywords)."""
        raise NotImplementedError

    def get_out_channels(self, in_channels: int) -> int:
        """Width of the output for ``in_channels`` input features (PyG's name, read by ``SAGEConv``)."""
        return in_channels

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def per_column(values: Tensor | float, width: int, name: str) -> Tensor | float:
    """Tile a per-feature parameter ``[C]`` over the ``width = L * C`` columns of flattened ``[*, N, C]`` input.

    A number or one value (``C = 1``) broadcasts as it is; otherwise ``width`` must be a
    multiple of ``C`` (the leading dimensions were flattened into the columns, features last).
    """
    if not isinstance(values, Tensor):
        return values
    channels = values.numel()
    if channels == 1 or channels == width:
        return values
    if channels == 0 or width % channels:
        raise ValueError(f"'channels' = {channels} ({name}) does not divide the {width} feature columns of x")
    return values.repeat(width // channels)


def check_number(name: str, value: Any, low: float = -math.inf, high: float = math.inf, nonzero: bool = False) -> float:
    """``value`` as a float if it is a finite real number in ``[low, high]`` (and nonzero if asked).

    The one check of every numeric readout option; the message names the option and the range.
    """
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not low <= value <= high or (nonzero and value == 0) or not math.isfinite(value):
        what = "a finite nonzero number" if nonzero else "a finite number"
        if math.isfinite(low) or math.isfinite(high):
            what = f"a number in [{low:g}, {high:g}]"
        raise ValueError(f"{name!r} must be {what}, got {value!r}")
    return float(value)

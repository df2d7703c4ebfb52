r"""Figures of cell tables for a paper: tissue maps, side-by-side maps, neighbourhood enrichment heatmaps.

Conventions (those of squidpy's ``spatial_scatter``, so that both tools' figures sit side by side):

- image orientation: y grows downwards (the origin at the top left, as in the microscope image);
- points sized to the cell density, so that the tissue looks filled at any cell count: a point's area
  is the axes' area over the number of cells, :math:`s = 0.8\,w h / n` (pt², clipped to ``[0.05, 40]``),
  drawn in a random order, so that no label hides another because it was drawn last, and rasterised
  inside the vector PDF/SVG (text and axes stay vector; a million vector circles would not open);
- a scale bar in the table's unit instead of axis ticks; the legend outside the tissue;
- one colour per category (:func:`palette`), stored by the AnnData writer in ``uns[f"{key}_colors"]``.

Every function draws into matplotlib axes or returns a figure; :func:`save` writes it as PNG and vector
formats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from graphpool.ops.ranges import check_distinct

#: the formats :func:`save` writes by default: a PNG to look at, a PDF to put in a paper
FORMATS = ("png", "pdf")


def palette(k: int) -> list[str]:
    """``k`` distinct hex colours: matplotlib's ``tab10`` (k <= 10), ``tab20`` (k <= 20), else evenly around
    ``gist_rainbow``."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if k <= 20:
        return [to_hex(colormaps["tab10" if k <= 10 else "tab20"](i)) for i in range(k)]
    return [to_hex(colormaps["gist_rainbow"](i / k)) for i in range(k)]


def point_size(cells: int, axes: Any) -> float:
    """The marker area (pt²) at which ``cells`` points fill ``axes``: 0.8 of its area per cell, clipped."""
    box = axes.get_position()
    width, height = axes.figure.get_size_inches()
    area = box.width * width * box.height * height * 72**2
    return float(np.clip(0.8 * area / max(cells, 1), 0.05, 40.0))


def scale_bar(axes: Any, extent: float, unit: str) -> None:
    """A bar of a round length (1, 2 or 5 x 10^n, about a fifth of ``extent``) labelled in ``unit``, under the
    axes' bottom left corner."""
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    if extent <= 0:
        return
    target = extent / 5
    power = 10 ** math.floor(math.log10(target))
    length = max(step * power for step in (1, 2, 5) if step * power <= target)
    bar = AnchoredSizeBar(
        axes.transData,
        length,
        f"{length:g} {unit}".strip(),
        "upper left",  # just below the tissue, not on it
        pad=0.1,
        frameon=False,
        size_vertical=extent / 150,
        fontproperties=FontProperties(size=7),
        bbox_to_anchor=(0.0, 0.0),
        bbox_transform=axes.transAxes,
    )
    axes.add_artist(bar)


def _tissue_axes(axes: Any, pos: np.ndarray, unit: str, title: str) -> None:
    """Equal aspect, y downwards, no ticks, a scale bar, a small title."""
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])
    for side in axes.spines.values():
        side.set_visible(False)
    if len(pos):
        low, high = pos.min(0), pos.max(0)
        margin = 0.02 * float((high - low).max() or 1.0)
        axes.set_xlim(low[0] - margin, high[0] + margin)
        axes.set_ylim(high[1] + margin, low[1] - margin)  # y grows downwards, as in the image
        scale_bar(axes, float(high[0] - low[0]), unit)
    axes.set_title(title, fontsize=9)


def categorical_map(
    axes: Any,
    pos: ArrayLike,
    codes: ArrayLike,
    names: Sequence[str],
    colours: Sequence[str] | None = None,
    *,
    title: str = "",
    unit: str = "",
    legend_title: str | None = None,
    seed: int = 0,
) -> None:
    """Cells at ``pos`` ``[n, 2]`` coloured by ``codes`` ``[n]`` (``0 .. len(names)-1``), legend outside."""
    from matplotlib.colors import to_rgba_array

    pos, codes = np.asarray(pos, dtype=np.float64), np.asarray(codes)
    colours = list(colours) if colours is not None else palette(len(names))
    order = np.random.default_rng(seed).permutation(len(pos))  # no category always on top
    rgb = to_rgba_array(colours)
    size = point_size(len(pos), axes)
    axes.scatter(*pos[order].T, c=rgb[codes[order]], s=size, linewidths=0, rasterized=True)
    counts = np.bincount(codes, minlength=len(names))
    for name, colour, count in zip(names, colours, counts, strict=True):
        axes.scatter([], [], color=colour, s=20, label=f"{name} ({count:,})")
    axes.legend(
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
        fontsize=7,
        title=legend_title,
        title_fontsize=7,
        handletextpad=0.2,
    )
    _tissue_axes(axes, pos, unit, title)


def continuous_map(
    axes: Any,
    pos: ArrayLike,
    values: ArrayLike,
    *,
    title: str = "",
    unit: str = "",
    label: str = "",
    symmetric: bool = True,
    cmap: str = "RdBu_r",
    seed: int = 0,
) -> None:
    """Cells at ``pos`` coloured by ``values`` (a diverging map centred at 0 when ``symmetric``), colour bar."""
    pos, values = np.asarray(pos, dtype=np.float64), np.asarray(values, dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(pos))
    limit = float(np.abs(values).max()) if len(values) else 1.0
    bounds = {"vmin": -limit, "vmax": limit} if symmetric and limit > 0 else {}
    size = point_size(len(pos), axes)
    dots = axes.scatter(*pos[order].T, c=values[order], cmap=cmap, s=size, linewidths=0, rasterized=True, **bounds)
    axes.figure.colorbar(dots, ax=axes, fraction=0.046, pad=0.02, label=label)
    _tissue_axes(axes, pos, unit, title)


def matched_colours(reference: ArrayLike, other: ArrayLike, k_reference: int, k_other: int) -> list[str]:
    """Colours for the ``k_other`` categories of ``other`` such that each takes the colour (:func:`palette`
    of ``k_reference``) of the ``reference`` category it overlaps most under a one-to-one Hungarian matching;
    the unmatched ones get further colours. So an annotation drawn beside neighbourhoods shares their colours."""
    from scipy.optimize import linear_sum_assignment

    overlap = np.zeros((k_other, k_reference))
    np.add.at(overlap, (np.asarray(other), np.asarray(reference)), 1)
    rows, columns = linear_sum_assignment(-overlap)
    colours = palette(k_reference + k_other)
    chosen = [""] * k_other
    spare = iter(colours[k_reference:])
    for row, column in zip(rows, columns, strict=True):
        chosen[row] = colours[column]
    return [c or next(spare) for c in chosen]


def log2_enrichment(composition: pd.DataFrame, overall: pd.Series, pseudo: float = 1e-3) -> pd.DataFrame:
    r"""``[K, types]`` :math:`\log_2\frac{p_{kt} + \epsilon}{p_t + \epsilon}`: how much more (> 0) or less (< 0)
    common type ``t`` is among neighbourhood ``k``'s cells than in the whole tissue (``overall``: the type
    shares of every cell), with ``pseudo`` :math:`\epsilon` so that an absent type is finite."""
    shares = composition.fillna(0)
    return np.log2((shares + pseudo) / (overall.reindex(shares.columns).fillna(0) + pseudo))


def similarity_order(matrix: np.ndarray) -> np.ndarray:
    """Row order of ``matrix`` by average-linkage hierarchical clustering (optimal leaf order): similar rows
    side by side."""
    from scipy.cluster.hierarchy import leaves_list, linkage

    if len(matrix) < 3:
        return np.arange(len(matrix))
    return leaves_list(linkage(matrix, "average", optimal_ordering=True))


def composition_heatmap(
    values: pd.DataFrame,
    sizes: Sequence[int],
    *,
    diverging: bool,
    label: str,
    title: str = "",
    colours: Sequence[str] | None = None,
) -> Any:
    """A figure: neighbourhoods (rows, with their cell counts ``sizes``) x cell types or markers (columns) coloured
    by ``values``, on a diverging map centred at 0 clipped at +-3 (``diverging``: log2 enrichments, z-scores)
    or a sequential one from 0 (shares); rows and columns ordered by similarity (:func:`similarity_order`), the
    values written in the cells when there are at most 600. ``colours``: a swatch behind each row's name (the
    maps' colours); ``label`` names the colour bar."""
    from graphpool.experiment import pyplot

    matrix = values.fillna(0).to_numpy(dtype=np.float64)
    rows, columns = similarity_order(matrix), similarity_order(matrix.T)
    matrix = matrix[np.ix_(rows, columns)]
    plt = pyplot()
    height, width = matrix.shape
    figure, axes = plt.subplots(figsize=(2.4 + 0.34 * width, 1.3 + 0.34 * height))
    if diverging:
        limit = float(min(3.0, max(np.abs(matrix).max(), 0.5)))
        image = axes.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    else:
        image = axes.imshow(matrix, cmap="viridis", vmin=0, aspect="auto")
    if height * width <= 600:
        for (i, j), value in np.ndenumerate(matrix):
            r, g, b, _ = image.cmap(image.norm(value))
            ink = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
            axes.text(j, i, f"{value:.1f}" if diverging else f"{value:.2f}", ha="center", va="center",
                      fontsize=5.5, color=ink)  # fmt: skip
    axes.set_xticks(range(width), [str(values.columns[j]) for j in columns], rotation=90, fontsize=7)
    axes.set_yticks(range(height), [f"{values.index[i]} ({int(sizes[i]):,})" for i in rows], fontsize=7)
    if colours is not None:
        for tick, i in zip(axes.get_yticklabels(), rows, strict=True):
            tick.set_bbox({"facecolor": colours[i], "edgecolor": "none", "alpha": 0.6, "pad": 1})
    axes.set_ylabel("neighbourhood (cells)", fontsize=8)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.02).set_label(label, fontsize=8)
    axes.set_title(title, fontsize=9)
    return figure


def check_formats(formats: Sequence[str] | str) -> None:
    """A ``ValueError`` naming a figure format that is not png, pdf or svg, or one given twice (a string:
    comma-separated)."""
    names = formats.split(",") if isinstance(formats, str) else list(formats)
    unknown = [fmt for fmt in names if fmt not in ("png", "pdf", "svg")]
    if unknown or not names:
        raise ValueError(f"figure format {unknown[0] if unknown else ''!r} is not one of png, pdf, svg")
    check_distinct("figure formats:", names)


def save(figure: Any, stem: Path | str, formats: Sequence[str] = FORMATS, dpi: int = 200) -> list[Path]:
    """Write ``figure`` as ``stem.<format>`` for every format (png, pdf, svg), close it; returns the paths.

    The same figure gives the same bytes every time: no date in a PDF or SVG, the SVG's element ids from a fixed
    salt (matplotlib's default is random), so a results folder compares equal to an earlier run's.
    """
    import matplotlib

    from graphpool.experiment import pyplot

    check_formats(formats)
    paths = []
    undated = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        with matplotlib.rc_context({"svg.hashsalt": "graphpool"}):
            figure.savefig(path, dpi=dpi, bbox_inches="tight", metadata=undated.get(fmt))
        paths.append(path)
    pyplot().close(figure)
    return paths

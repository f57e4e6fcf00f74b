"""Static PNG figures for committee papers (matplotlib; text drawn literally, never as maths)."""

from __future__ import annotations

import dataclasses
import functools
import math
import textwrap
from pathlib import Path
from typing import Callable, Optional, cast

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # figures are written to files; never open a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
from matplotlib import patheffects
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath

from pli._map_assets import (
    format_number,
)
from pli.area.wording import area_type
from pli.config import AreaSpec, MapSpec
from pli.maps.bundle import MapBundle, _check_spec, _validate
from pli.maps.credits import Credit, long_attribution, run_credits
from pli.maps.placement import number_positions
from pli.maps.prepare import _classify, _simplify
from pli.maps.style import NEIGHBOURHOOD_COLOUR, UPPER_COLOUR, score_note
from pli.outputs import write_atomic

__all__ = [
    "plot_index_figure",
    "plot_neighbourhoods_figure",
]


def _literal_text(plot: Callable[..., plt.Figure]) -> Callable[..., plt.Figure]:
    """Draw every text of the figure as written.

    Names come from data; matplotlib would read ``$...$`` in one as mathtext (``Price
    $5$`` drawn as maths, ``\\$`` losing its backslash, ``$$`` or ``$x^$`` stopping the
    save with a parse error) and ``text.usetex`` would hand it to LaTeX. Each Text
    takes both settings when it is created, so they hold through the later ``savefig``.
    """

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return plot(*args, **kwargs)

    return wrapper


def _figure_frame(area: AreaSpec, period: str, heading: str) -> tuple[plt.Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(8.27, 9.2))
    title = f"{area.name}: {heading}\nData period: {period}"
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.03, ha="left", y=0.985)
    if area.simulated:
        sim = ", ".join(area.simulated_domains) or "some inputs"
        fig.text(0.03, 0.915, f"SIMULATED data ({sim}): not facts about the area", color="#b00020", fontsize=10,
                 fontweight="bold")
    ax.set_axis_off()
    ax.set_aspect("equal")
    return fig, ax


def _halo(width: float = 2.2) -> list:
    return [patheffects.withStroke(linewidth=width, foreground="white")]


MAX_UPPER_LABELS = 60
"""Most upper-layer names tried on a PNG map (largest areas first; clashing names are dropped)."""

# Scale bar lengths, longest first: 1-2-5 steps from 500 km down to 100 m.
_SCALE_STEPS_M = (500_000, 200_000, 100_000, 50_000, 20_000, 10_000, 5_000, 2_000, 1_000, 500, 200, 100)


# A printed map is about this many pixels across; finer detail cannot show on it.
_PRINT_PIXELS = 1500
# Below this tolerance (maps up to ~75 km across, a borough or a city) the figure keeps
# the geometry as it is.
_PRINT_MIN_TOLERANCE_M = 50.0


def print_tolerance(bounds: tuple[float, float, float, float] | np.ndarray) -> float:
    """Simplification tolerance (metres) for a printed map of this extent; 0 for areas
    up to about 75 km across, which are drawn as they are.

    Examples
    --------
    >>> from pli.maps.figures import print_tolerance
    >>> print_tolerance((530000, 155000, 550000, 172000)), print_tolerance((135000, 10000, 656000, 657000))
    (0.0, 431.3)
    """
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    tolerance = max(maxx - minx, maxy - miny, 0.0) / _PRINT_PIXELS
    return round(tolerance, 1) if tolerance > _PRINT_MIN_TOLERANCE_M else 0.0


def _for_print(bundle: MapBundle) -> MapBundle:
    """The bundle with its polygons simplified to what a printed page can show (a national
    map draws in seconds instead of minutes); small areas are returned unchanged."""
    if not len(bundle.lsoa):
        return bundle
    tolerance = print_tolerance(bundle.lsoa.total_bounds)
    if tolerance <= 0:
        return bundle
    return dataclasses.replace(
        bundle,
        lsoa=bundle.lsoa.set_geometry(_simplify(bundle.lsoa.geometry, tolerance, coverage=True)),
        wards=bundle.wards.set_geometry(_simplify(bundle.wards.geometry, tolerance, coverage=True)),
        neighbourhoods=bundle.neighbourhoods.set_geometry(
            _simplify(bundle.neighbourhoods.geometry, tolerance, coverage=False)
        ),
    )


def upper_line_width(n_areas: int) -> float:
    """Line width (points) of upper-layer boundaries: 0.6 up to 200 areas, thinner beyond,
    so thousands of boundaries (a national map) do not paint the map dark.

    Examples
    --------
    >>> from pli.maps.figures import upper_line_width
    >>> upper_line_width(28), upper_line_width(7201)
    (0.6, 0.1)
    """
    if n_areas <= 200:
        return 0.6
    return round(max(0.1, 0.6 * math.sqrt(200.0 / n_areas)), 2)


def _draw_upper(
    ax: plt.Axes, wards: gpd.GeoDataFrame, *, names: bool = True, avoid: Optional[gpd.GeoSeries] = None
) -> None:
    """Upper-layer boundaries and names.

    A name whose box would cover a number circle (``avoid``) or a name already placed
    is tried just below, then just above its spot, and left off if both clash.
    """
    wards.boundary.plot(ax=ax, color=UPPER_COLOUR, linewidth=upper_line_width(len(wards)))
    if not names or not len(wards):
        return
    size = 6.5
    fig = cast(Figure, ax.figure)  # a map axis is never in a subfigure
    pos = ax.get_position()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    # Equal aspect: the tighter direction sets map units per printed point.
    width, height = fig.get_size_inches()
    per_pt = max((x1 - x0) / (pos.width * width * 72), (y1 - y0) / (pos.height * height * 72))
    texts = wards["ward_name"].astype(str).map(lambda t: textwrap.fill(t, 16)).to_numpy()
    lines = np.char.count(texts.astype(str), "\n") + 1
    widest = np.array([max(len(part) for part in t.split("\n")) for t in texts])
    half_w = widest * 0.55 * size * per_pt / 2
    half_h = lines * 1.2 * size * per_pt / 2
    pts = wards.geometry.representative_point()
    boxes: list[tuple[float, float, float, float]] = []
    if avoid is not None and len(avoid):
        r = 9 * per_pt  # number circle radius at 9 pt with padding
        boxes = [(x - r, y - r, x + r, y + r) for x, y in zip(avoid.x, avoid.y)]
    # Bigger areas first: their names matter more and have more room to move. A page
    # holds a few dozen readable names; past that (a county, a country) only the
    # largest areas are tried, so labels thin out with scale.
    order = np.argsort(-wards.geometry.area.to_numpy(), kind="stable")[:MAX_UPPER_LABELS]
    px, py = pts.x.to_numpy(), pts.y.to_numpy()
    for i in order:  # one pass over a few dozen upper-layer areas
        for shift in (0.0, -2.2, 2.2):
            cy = py[i] + shift * half_h[i]
            box = (px[i] - half_w[i], cy - half_h[i], px[i] + half_w[i], cy + half_h[i])
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes):
                boxes.append(box)
                ax.annotate(
                    texts[i],
                    (px[i], cy),
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="#222222",
                    path_effects=_halo(1.8),
                )
                break


def _draw_numbers(ax: plt.Axes, nb: gpd.GeoDataFrame) -> None:
    pts = number_positions(nb)  # the same spots as on the web maps, clear of each other
    for x, y, rank in zip(pts.x, pts.y, nb["rank"].astype(int)):
        ax.annotate(
            str(rank), (x, y), ha="center", va="center", fontsize=9, fontweight="bold", color="white",
            bbox={"boxstyle": "circle,pad=0.25", "fc": NEIGHBOURHOOD_COLOUR, "ec": "white", "lw": 1.2},
        )  # fmt: skip


def scale_bar_length(span_m: float) -> float:
    """The longest 1-2-5 length (100 m to 500 km) at most a quarter of the map's width.

    Examples
    --------
    >>> from pli.maps.figures import scale_bar_length
    >>> scale_bar_length(20_000), scale_bar_length(650_000)
    (5000, 100000)
    """
    if span_m <= 400:
        return span_m / 4
    return next(v for v in _SCALE_STEPS_M if v <= span_m / 4)


def _scale_bar(ax: plt.Axes) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    span = x1 - x0
    length = scale_bar_length(span)
    x, y = x0 + span * 0.03, y0 + (y1 - y0) * 0.03
    ax.plot([x, x + length], [y, y], color="black", linewidth=2.5, solid_capstyle="butt")
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.annotate(label, (x + length / 2, y), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=7)


def _attribution_text(fig: plt.Figure, text: str) -> None:
    width = int(fig.get_figwidth() * 19)  # characters per line at 5.5 pt, inside the margins
    fig.text(0.03, 0.012, textwrap.fill(text, width), fontsize=5.5, color="#444444", va="bottom")


def _fill_polygons(ax: plt.Axes, geoms: np.ndarray, colours: np.ndarray, *, edgecolor: str,
                   linewidth: float) -> None:
    """Polygons filled by colour, one compound path per colour.

    geopandas draws one matplotlib patch per polygon, built in Python: ten seconds for
    the 34,753 LSOAs of England and Wales. Here each colour's rings become a single path
    from shapely's coordinate arrays (exteriors counter-clockwise, holes clockwise, so the
    non-zero fill leaves the holes open), drawn with the same fill, edge and width.
    """
    colours = np.asarray(colours, dtype=object)
    geoms = np.asarray(geoms, dtype=object)
    for colour in pd.unique(colours):
        parts = shapely.get_parts(shapely.orient_polygons(geoms[colours == colour], exterior_cw=False))
        rings = shapely.get_rings(parts)
        xy, ring = shapely.get_coordinates(rings, return_index=True)
        if not len(xy):
            continue
        codes = np.full(len(xy), MplPath.LINETO, dtype=MplPath.code_type)
        starts = np.r_[0, np.flatnonzero(np.diff(ring)) + 1]
        codes[starts] = MplPath.MOVETO
        codes[np.r_[starts[1:] - 1, len(xy) - 1]] = MplPath.CLOSEPOLY
        # add_artist, not add_patch: add_patch walks every segment in Python to grow the
        # data limits, which are set from the bounds below instead.
        ax.add_artist(PathPatch(MplPath(xy, codes), facecolor=colour, edgecolor=edgecolor, linewidth=linewidth))
    if len(geoms):
        west, south, east, north = shapely.total_bounds(geoms)
        ax.update_datalim([(west, south), (east, north)])
        ax.autoscale_view()
    ax.set_aspect("equal")


@_literal_text
def plot_index_figure(bundle: MapBundle, *, spec: MapSpec, area: AreaSpec, period: str) -> plt.Figure:
    """Static map of the index with upper-layer names and numbered neighbourhoods.

    Parameters
    ----------
    bundle : MapBundle
    spec : MapSpec
        Map settings (checked); the classes are ``bundle.classes``, as on the web maps.
    area : AreaSpec
    period : str
        Data period for the title.

    Returns
    -------
    matplotlib.figure.Figure
        A4-width figure; the caller saves or closes it.
    """
    _check_spec(spec)
    _validate(bundle)
    bundle = _for_print(bundle)
    lsoa = bundle.lsoa
    classes = _classify(lsoa["score"], scheme=bundle.classes, rank=lsoa["rank"], what="Priority Localities Index")
    fig, ax = _figure_frame(area, period, "Priority Localities Index")
    _fill_polygons(ax, lsoa.geometry.to_numpy(), classes.colour_of().to_numpy(), edgecolor="white", linewidth=0.15)
    upper = bundle.upper_layer_label or "Ward"
    _draw_upper(ax, bundle.wards, avoid=number_positions(bundle.neighbourhoods))
    bundle.neighbourhoods.boundary.plot(ax=ax, color=NEIGHBOURHOOD_COLOUR, linewidth=1.8)
    _draw_numbers(ax, bundle.neighbourhoods)
    _scale_bar(ax)
    handles: list[Artist] = [Patch(facecolor=c, edgecolor="#777777", label=lab) for c, lab in classes.legend_items()]
    handles += [
        Line2D([], [], color=NEIGHBOURHOOD_COLOUR, linewidth=1.8, label="Priority neighbourhood (numbered by rank)"),
        Line2D([], [], color=UPPER_COLOUR, linewidth=0.6, label=f"{upper} boundary"),
    ]
    ax.legend(
        handles=handles, title=classes.title, loc="upper left", bbox_to_anchor=(0.0, -0.005),
        ncol=2, fontsize=7, title_fontsize=8, frameon=False,
    )  # fmt: skip
    note = bundle.upper_layer_note
    credits = _attribution_text_for(area, bundle.credits)
    _attribution_text(fig, (note + " " if note else "") + score_note(area_type(area)) + " " + credits)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.16)
    return fig


def _attribution_text_for(area: AreaSpec, credits: tuple[Credit, ...] = ()) -> str:
    """The credits printed under a figure: the same list as the web pages, in full."""
    text = " ".join(long_attribution(credits or run_credits(None)))
    if area.simulated and not credits:
        text += " Crime and deprivation: SIMULATED by pli (demo)."
    return text


@_literal_text
def plot_neighbourhoods_figure(bundle: MapBundle, *, area: AreaSpec, period: str) -> plt.Figure:
    """Static map of the priority neighbourhoods with a numbered key.

    Returns
    -------
    matplotlib.figure.Figure
        Map on the left, the ranked list (name, population, share of harm) on the right.
    """
    _validate(bundle)
    bundle = _for_print(bundle)
    nb = bundle.neighbourhoods.sort_values("rank")
    fig, ax = _figure_frame(area, period, "Priority neighbourhoods")
    fig.set_size_inches(11.69, 8.27)  # A4 landscape leaves room for the key
    ax.set_position((0.01, 0.06, 0.64, 0.82))
    _fill_polygons(ax, bundle.lsoa.geometry.to_numpy(), np.full(len(bundle.lsoa), "#eeeeee", dtype=object),
                   edgecolor="#ffffff", linewidth=0.2)
    nb.plot(ax=ax, color="#f03b20", alpha=0.55, edgecolor="none")
    _draw_upper(ax, bundle.wards, avoid=number_positions(nb))
    nb.boundary.plot(ax=ax, color=NEIGHBOURHOOD_COLOUR, linewidth=1.6)
    _draw_numbers(ax, nb)
    _scale_bar(ax)
    share = pd.to_numeric(nb["harm_share"], errors="coerce") * 100
    lines = (
        nb["rank"].astype(int).astype(str) + ". " + nb["name"].astype(str) + "\n     population "
        + format_number(nb["population"], ",.0f") + ", " + format_number(share, ".1f")
        + f"% of {area_type(area)} crime harm"
    )  # fmt: skip
    fig.text(0.67, 0.86, "Ranked by priority (1 = highest)", fontsize=10, fontweight="bold", va="top")
    fig.text(0.67, 0.82, "\n".join(lines), fontsize=8.5, va="top", linespacing=1.5)
    upper = bundle.upper_layer_label or "Ward"
    handles = [
        Patch(facecolor="#f03b20", alpha=0.55, edgecolor="none", label="Priority neighbourhood (area)"),
        Line2D([], [], color=NEIGHBOURHOOD_COLOUR, linewidth=1.6, label="Priority neighbourhood outline"),
        Line2D(
            [], [], marker="o", linestyle="none", markersize=10, markerfacecolor=NEIGHBOURHOOD_COLOUR,
            markeredgecolor="white", label="Number = priority rank (1 = highest)",
        ),
        Line2D([], [], color=UPPER_COLOUR, linewidth=0.6, label=f"{upper} boundary"),
        Patch(facecolor="#eeeeee", edgecolor="#cccccc", label="Other LSOAs"),
    ]  # fmt: skip
    fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.665, 0.08),
        fontsize=8,
        frameon=False,
        title="Key",
        title_fontsize=9,
        alignment="left",
    )
    note = bundle.upper_layer_note
    _attribution_text(fig, (note + " " if note else "") + _attribution_text_for(area, bundle.credits))
    return fig


def png_bytes(fig: plt.Figure, *, dpi: float = 200) -> bytes:
    """The figure as PNG bytes that depend only on what is drawn; the figure is closed.

    No "Software" chunk: the manifest records package versions instead.
    """
    import io

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    finally:
        plt.close(fig)
    return buf.getvalue()


def _save_figure(fig: plt.Figure, path: Path) -> None:
    write_atomic(path, png_bytes(fig))

"""The report's own figures (PNG bytes): a locator map per neighbourhood, the harm trend
of each, and the rank intervals of the uncertainty analysis.

Text from data is drawn literally (``text.parse_math`` off), as in :mod:`pli.maps.figures`.
Figures are sized for a column of A4 portrait (about 17 cm wide).
"""

from __future__ import annotations

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # files only; never open a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pli.maps.figures import png_bytes

#: This neighbourhood's outline: blue stands out on the yellow-red index colours.
THIS_COLOUR = "#08519c"

__all__ = ["locator_map", "harm_trend_chart", "rank_interval_chart"]



def _literal_text():
    """Draw text from data as written: no mathtext, no LaTeX."""
    return matplotlib.rc_context({"text.parse_math": False, "text.usetex": False})


def locator_map(boundaries: gpd.GeoDataFrame, scores: pd.Series, neighbourhoods: pd.DataFrame, rank: int) -> bytes:
    """Where neighbourhood ``rank`` lies: the study area shaded by index decile, it in red.

    Parameters
    ----------
    boundaries : GeoDataFrame
        ``lsoa_code`` and geometry (any projected CRS).
    scores : Series
        Index score by LSOA code (blank cells are drawn grey).
    neighbourhoods : DataFrame
        ``rank`` and ``lsoa_codes`` (``;``-joined).
    rank : int
        The neighbourhood to show.
    """
    with _literal_text():
        lsoa = boundaries.assign(score=boundaries["lsoa_code"].astype(str).map(scores))
        codes = neighbourhoods.set_index("rank")["lsoa_codes"].astype(str).str.split(";")
        mine = lsoa[lsoa["lsoa_code"].isin([c.strip() for c in codes.loc[rank]])]
        others = lsoa[lsoa["lsoa_code"].isin([c.strip() for r, cs in codes.items() if r != rank for c in cs])]
        fig, axes = plt.subplots(1, 2, figsize=(4.4, 2.5))
        for ax in axes:
            ax.set_axis_off()
            ax.set_aspect("equal")
        whole, zoom = axes
        lsoa.plot(ax=whole, column="score", cmap="YlOrRd", edgecolor="white", linewidth=0.1,
                  missing_kwds={"color": "#dddddd"})
        if len(others):
            others.dissolve().boundary.plot(ax=whole, color="#555555", linewidth=0.6)
        mine.dissolve().boundary.plot(ax=whole, color=THIS_COLOUR, linewidth=2.0)
        whole.set_title("Where it is", fontsize=8, loc="left")
        x0, y0, x1, y1 = mine.total_bounds
        pad = max(x1 - x0, y1 - y0) * 0.35 + 200
        near = lsoa.cx[x0 - pad:x1 + pad, y0 - pad:y1 + pad]
        near.plot(ax=zoom, column="score", cmap="YlOrRd", edgecolor="white", linewidth=0.4,
                  vmin=lsoa["score"].min(), vmax=lsoa["score"].max(), missing_kwds={"color": "#dddddd"})
        mine.boundary.plot(ax=zoom, color="#333333", linewidth=0.6)
        mine.dissolve().boundary.plot(ax=zoom, color=THIS_COLOUR, linewidth=2.6)
        zoom.set_xlim(x0 - pad, x1 + pad)
        zoom.set_ylim(y0 - pad, y1 + pad)
        zoom.set_title("Close up: its LSOAs", fontsize=8, loc="left")
        fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.02, wspace=0.05)
        return png_bytes(fig, dpi=150)


def harm_trend_chart(series: pd.DataFrame, *, title: str) -> bytes:
    """Harm per slice with its 12-month (or 4-quarter) rolling mean.

    Parameters
    ----------
    series : DataFrame
        ``period`` and ``harm_days`` of one neighbourhood and series, in order.
    title : str
        Drawn literally.
    """
    with _literal_text():
        s = series.sort_values("period")
        per_year = 4 if s["period"].astype(str).str.contains("Q").any() else 12
        x = np.arange(len(s))
        fig, ax = plt.subplots(figsize=(6.6, 2.0))
        ax.plot(x, s["harm_days"], color="#9e9e9e", linewidth=0.8, label="each slice")
        rolling = s["harm_days"].rolling(per_year, min_periods=per_year).mean()
        ax.plot(x, rolling, color="#b2182b", linewidth=2, label=f"mean of the last {per_year}")
        step = max(1, len(s) // 8)
        ax.set_xticks(x[::step], s["period"].astype(str).iloc[::step], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylabel("harm (days)", fontsize=7)
        ax.set_title(title, fontsize=8, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
        fig.subplots_adjust(left=0.1, right=0.99, top=0.85, bottom=0.15)
        return png_bytes(fig, dpi=150)


def rank_interval_chart(intervals: pd.DataFrame, *, top: int = 30) -> bytes:
    """The 5-95% rank interval of the ``top`` LSOAs (by their rank in the run), best first.

    Parameters
    ----------
    intervals : DataFrame
        ``lsoa_code, lsoa_name, base_rank, median_rank, rank_p05, rank_p95``.
    """
    with _literal_text():
        t = intervals.sort_values("base_rank").head(top).iloc[::-1]
        y = np.arange(len(t))
        fig, ax = plt.subplots(figsize=(6.6, 0.17 * len(t) + 0.9))
        ax.hlines(y, t["rank_p05"], t["rank_p95"], color="#6baed6", linewidth=4, label="5-95% of runs")
        ax.plot(t["median_rank"], y, "o", color="#08519c", markersize=4, label="median rank")
        ax.plot(t["base_rank"], y, "|", color="#b2182b", markersize=9, markeredgewidth=2, label="rank in this run")
        ax.set_yticks(y, (t["lsoa_name"].astype(str) + " (" + t["lsoa_code"].astype(str) + ")").tolist(), fontsize=6.5)
        ax.set_xlabel("rank (1 = highest priority)", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlim(0.5, max(float(t["rank_p95"].max()), float(top)) + 1)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7, frameon=True, framealpha=0.9, edgecolor="none", loc="upper right")
        fig.subplots_adjust(left=0.3, right=0.98, top=0.98, bottom=0.9 / (0.17 * len(t) + 0.9))
        return png_bytes(fig, dpi=150)

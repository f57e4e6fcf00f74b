"""Charts of ``pli track``: harm per slice with its Sen trend line and 12-month rolling mean.

One chart for the whole study area (all areas summed) and one per area of interest: every
area for ward series, the significantly changing areas (at most :data:`MAX_AREA_CHARTS`,
steepest first) for LSOA and grid series. Names come from data, so text is drawn as
written (no mathtext: see :func:`pli.maps.figures._literal_text`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from pli.maps.figures import _literal_text, _save_figure, plt
from pli.track.series import TrackSeries
from pli.track.trend import mann_kendall, seasonal_mann_kendall

__all__ = ["MAX_AREA_CHARTS", "plot_harm_chart", "write_charts"]

MAX_AREA_CHARTS = 30
_ROLLING = {"month": 12, "quarter": 4}


@_literal_text
def plot_harm_chart(values: pd.Series, *, title: str, period: str = "month", seasonal: bool = False) -> plt.Figure:
    """Harm per slice, its Sen's-slope trend line and a 12-month rolling mean.

    Parameters
    ----------
    values : Series
        Harm per slice (index: slice labels in order).
    title : str
        Drawn as written (``$`` stays a dollar sign).
    period : {"month", "quarter"}
    seasonal : bool
        Trend line and p from the seasonal Mann-Kendall test (as ``trend_test: seasonal``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = np.arange(len(values))
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(x, values.to_numpy(), color="#9ecae1", lw=1, label=f"harm days per {period}")
    window = _ROLLING[period]
    ax.plot(x, values.rolling(window, min_periods=window).mean().to_numpy(), color="#08519c", lw=2,
            label="12-month rolling mean")
    v = values.to_numpy(dtype=float)
    if seasonal and len(v) >= 2 * window:
        mk = seasonal_mann_kendall(v, period=window)
    elif len(v) >= 3:
        mk = mann_kendall(v)
    if len(v) >= 3:
        test = "seasonal Mann-Kendall" if seasonal else "Mann-Kendall"
        ax.plot(x, mk.intercept + mk.slope * x, color="#cb181d", lw=1.5, ls="--",
                label=f"Sen trend {mk.slope * window:+,.0f} a year ({test} p {mk.p:.2g})")
    step = max(1, len(values) // 12)
    ax.set_xticks(x[::step], [str(v) for v in values.index[::step]], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("harm days (CCHI)")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _file_name(code: str, name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", f"{code}_{name}").strip("_")[:80] + ".png"


def write_charts(series: TrackSeries, trends: pd.DataFrame, folder: Path, *, area_label: str = "",
                 seasonal: bool = False) -> list[Path]:
    """Write the study-area chart and the per-area charts of one series into ``folder``.

    Returns
    -------
    list of Path
        The PNG files written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    total = series.harm.sum(axis=1)
    path = folder / "study_area.png"
    _save_figure(plot_harm_chart(total, title=f"{series.name}: all {series.level} areas{area_label}",
                                 period=series.period, seasonal=seasonal), path)
    written.append(path)
    t = trends[(trends["series"] == series.name) & (trends["measure"] == "harm_days")]
    if series.level != "ward":
        t = t[t["significant"]]
        t = t.loc[t["sen_slope_per_year"].abs().sort_values(ascending=False, kind="stable").index]
        t = t.head(MAX_AREA_CHARTS)
    for _, row in t.iterrows():
        code, name = str(row["area_code"]), str(row["area_name"])
        verdict = {"up": "rising (FDR)", "down": "falling (FDR)"}.get(row["direction"], "no significant trend")
        path = folder / _file_name(code, name if name != code else "")
        _save_figure(plot_harm_chart(series.harm[code], title=f"{name} ({code}): harm {verdict}",
                                     period=series.period, seasonal=seasonal), path)
        written.append(path)
    return written

"""Treated and control areas: matching on the pre-period, buffer rings, monthly series.

Controls are the nearest neighbours of each treated area on standardised pre-period
features (mean monthly level as ``log(1 + mean)``, and trend as the least-squares slope
of ``log(1 + monthly value)`` per year; plus deprivation when given), chosen greedily
without replacement, treated areas with the fewest close candidates first. Areas that
touch a treated area (the buffer ring) are never controls: they may gain or lose from
displacement, and are measured separately (:mod:`pli.evaluate.displacement`).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from pli.evaluate.design import pre_features
>>> s = pd.DataFrame([[1, 2, 3, 4], [4, 4, 4, 4]], index=["a", "b"],
...                  columns=pd.period_range("2020-01", periods=4, freq="M"))
>>> pre_features(s, pd.Period("2020-04", "M"), pre_months=3).round(3)
   level  trend
a  1.099  4.159
b  1.609  0.000
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from pli.errors import PliError
from pli.indicators.mps import read_met_monthly

__all__ = ["EvaluationError", "Design", "pre_features", "touching", "match_controls", "read_ward_history",
           "points_series", "treated_from_run"]


class EvaluationError(PliError, ValueError):
    """An evaluation cannot be set up as asked (unknown areas, too few controls, no data)."""


def pre_features(series: pd.DataFrame, start: pd.Period, *, pre_months: int) -> pd.DataFrame:
    """Pre-period level and trend of each area's monthly series (rows = areas)."""
    cols = [c for c in series.columns if start - pre_months <= c < start]
    if len(cols) < 3:
        raise EvaluationError(f"need at least 3 months before the start {start}; the series has {len(cols)}")
    logs = np.log1p(series[cols].to_numpy(dtype=float))
    t = np.arange(len(cols), dtype=float)
    t -= t.mean()
    slope = (logs - logs.mean(axis=1, keepdims=True)) @ t / (t @ t) * 12
    level = np.log1p(series[cols].to_numpy(dtype=float).mean(axis=1))
    return pd.DataFrame({"level": level, "trend": slope}, index=series.index)


def touching(geoms: gpd.GeoSeries, codes: Iterable[str]) -> list[str]:
    """Areas sharing a boundary point with any of ``codes`` (not themselves)."""
    codes = set(codes)
    inner = geoms[geoms.index.isin(list(codes))]
    if inner.empty:
        return []
    # A 1 m tolerance: generalised boundaries leave slivers between true neighbours.
    ring = geoms[geoms.intersects(inner.buffer(1.0).union_all())]
    return sorted(c for c in ring.index if c not in codes)


@dataclass(frozen=True)
class Design:
    """Who is treated, who is a control, who is in the buffer, and why.

    Attributes
    ----------
    groups : dict
        Group name -> treated area codes.
    controls : dict
        Group name -> its matched control codes.
    buffers : dict
        Group name -> codes touching the group (excluded from every group's controls).
    matches : DataFrame
        One row per (treated area, control): features of both and their distance.
    """

    groups: dict[str, tuple[str, ...]]
    controls: dict[str, tuple[str, ...]]
    buffers: dict[str, tuple[str, ...]]
    matches: pd.DataFrame


def match_controls(features: pd.DataFrame, groups: Mapping[str, Iterable[str]], *, per_treated: int = 2,
                   exclude: Iterable[str] = (), given: Iterable[str] = (),
                   buffers: Mapping[str, Iterable[str]] | None = None) -> Design:
    """Match ``per_treated`` controls to each treated area, without replacement.

    Parameters
    ----------
    features : DataFrame
        Rows = every candidate and treated area; columns = matching features.
    groups : mapping
        Group name -> treated codes.
    exclude : iterable of str
        Codes that may not be controls (buffer rings).
    given : iterable of str
        A user-chosen control list: used for every group, no matching.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"level": [1.0, 1.1, 5.0, 0.9]}, index=["t", "c1", "far", "c2"])
    >>> d = match_controls(f, {"g": ["t"]}, per_treated=2)
    >>> d.controls["g"]
    ('c1', 'c2')
    """
    named = {g: tuple(dict.fromkeys(codes)) for g, codes in groups.items()}
    treated = {c for codes in named.values() for c in codes}
    missing = sorted(treated - set(features.index))
    if missing:
        raise EvaluationError(f"treated areas not in the monthly series: {', '.join(missing[:10])}")
    rings = {g: tuple(buffers.get(g, ())) if buffers else () for g in named}
    given = tuple(given)
    if given:
        bad = sorted(set(given) - set(features.index))
        clash = sorted(set(given) & treated)
        if bad or clash:
            raise EvaluationError(
                "controls: " + "; ".join(filter(None, [
                    f"not in the monthly series: {', '.join(bad)}" if bad else "",
                    f"also treated: {', '.join(clash)}" if clash else ""])))
        empty = pd.DataFrame(columns=["group", "treated", "control", "distance"])
        return Design(named, {g: given for g in named}, rings, empty)
    z = (features - features.mean()) / features.std(ddof=0).replace(0, 1)
    pool = [c for c in z.index if c not in treated and c not in set(exclude)]
    need = per_treated * len(treated)
    if len(pool) < need:
        raise EvaluationError(
            f"only {len(pool)} candidate controls outside the treated areas and their buffers, "
            f"{need} needed ({per_treated} per treated area); lower controls_per_treated or give controls"
        )
    dist = pd.DataFrame(
        np.sqrt(((z.loc[sorted(treated)].to_numpy()[:, None, :] - z.loc[pool].to_numpy()[None]) ** 2).sum(-1)),
        index=sorted(treated), columns=pool)
    used: set[str] = set()
    chosen: dict[str, list[str]] = {t: [] for t in dist.index}
    rows = []
    for _ in range(per_treated):
        # Hardest first: the treated area whose best remaining candidate is farthest.
        for t in dist.index.to_series().map(lambda t: dist.loc[t].min()).sort_values(ascending=False).index:
            free = dist.loc[t].drop(labels=list(used))
            c = str(free.idxmin())
            used.add(c)
            chosen[t].append(c)
            rows.append({"treated": t, "control": c, "distance": float(free.min())})
    controls = {g: tuple(c for t in codes for c in chosen[t]) for g, codes in named.items()}
    matches = pd.DataFrame(rows)
    group_of = {t: g for g, codes in named.items() for t in codes}
    matches.insert(0, "group", matches["treated"].map(group_of))
    for col in features.columns:
        matches[f"treated_{col}"] = features.loc[matches["treated"], col].to_numpy()
        matches[f"control_{col}"] = features.loc[matches["control"], col].to_numpy()
    return Design(named, controls, rings, matches.sort_values(["group", "treated", "control"], ignore_index=True))


def read_ward_history(path: str | Path, *, weights: Mapping[str, float] | None = None,
                      categories: Iterable[str] = ()) -> pd.DataFrame:
    """The Met's ward crime history (one column per month ``YYYYMM``) as wards x months.

    Read by :func:`pli.indicators.mps.read_met_monthly`, the reader ``pli track`` uses, so a
    suppressed cell stops the run instead of counting as 0. ``weights`` maps
    ``"MAJOR/MINOR"`` to harm days (None: counts); ``categories`` keeps rows whose major or
    ``MAJOR/MINOR`` text is listed (empty: all).
    """
    long, level = read_met_monthly(Path(path), what=f"evaluate.ward_history ({Path(path).name})")
    if level != "ward":
        raise EvaluationError(f"{path}: keyed by LSOA, expected the Met ward history (keyed by WardCode)")
    cats = {c.upper() for c in categories}
    if cats:
        major = long["category"].str.split("/", n=1).str[0].str.upper()
        long = long[major.isin(cats) | long["category"].str.upper().isin(cats)]
        if long.empty:
            raise EvaluationError(f"{path}: no rows in categories {', '.join(sorted(cats))}")
    if weights is not None:
        w = long["category"].map(weights)
        unknown = sorted(long.loc[w.isna(), "category"].unique())
        if unknown:
            raise EvaluationError(f"{path}: no harm weight for {', '.join(unknown[:5])}")
        long = long.assign(n=long["n"] * w)
    out = long.pivot_table(index="code", columns="month", values="n", aggfunc="sum", fill_value=0.0)
    out.columns = pd.PeriodIndex(out.columns, freq="M")
    out.index.name = "area"
    return out.astype(float).sort_index(axis=1)


def points_series(points: pd.DataFrame, area_column: str, *, weights: np.ndarray | None = None) -> pd.DataFrame:
    """Monthly totals per area from records with a ``month`` column (police.uk points)."""
    if "month" not in points.columns or area_column not in points.columns:
        raise EvaluationError(f"points need 'month' and {area_column!r} columns")
    w = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=float)
    frame = pd.DataFrame({"area": points[area_column].to_numpy(),
                          "month": pd.PeriodIndex(points["month"].astype(str), freq="M"), "w": w})
    out = frame.pivot_table(index="area", columns="month", values="w", aggfunc="sum", fill_value=0.0)
    out.columns = pd.PeriodIndex(out.columns, freq="M")
    return out


def treated_from_run(run_dir: str | Path, *, level: str, ward_of: Mapping[str, str] | None = None
                     ) -> dict[str, tuple[str, ...]]:
    """Priority neighbourhoods of a ``pli index`` run as treated groups.

    At ward level each neighbourhood becomes the wards of its LSOAs (``ward_of``, from
    the run's ``rankings.csv``); a ward already taken by an earlier (higher-ranked)
    neighbourhood stays there, so groups never overlap.
    """
    path = Path(run_dir) / "priority_neighbourhoods.csv"
    if not path.is_file():
        raise EvaluationError(f"{path}: not found (give the output folder of a pli index run)")
    nb = pd.read_csv(path, dtype=str)
    if not {"name", "lsoa_codes"} <= set(nb.columns):
        raise EvaluationError(f"{path}: expected columns name and lsoa_codes")
    taken: set[str] = set()
    groups: dict[str, tuple[str, ...]] = {}
    for name, codes in zip(nb["name"], nb["lsoa_codes"]):
        lsoas = [c.strip() for c in str(codes).split(";") if c.strip()]
        if level == "ward":
            if ward_of is None:
                raise EvaluationError("ward level needs the LSOA -> ward lookup of the run (rankings.csv)")
            lsoas = list(dict.fromkeys(ward_of[c] for c in lsoas if c in ward_of))
        fresh = tuple(c for c in lsoas if c not in taken)
        taken.update(fresh)
        if fresh:
            groups[str(name)] = fresh
    return groups

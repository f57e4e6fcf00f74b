"""Crime counts and harm per area and time slice, over every month a source holds.

Sources: point records (``police_uk``, ``points``; all months present, whatever the
source's ``window_months``) are placed in LSOA or ward polygons, or grid cells, by their
coordinates; Met monthly tables (``mps_lsoa_crime``, or a ``path`` to the LSOA table or
the ward history file keyed by ``WardCode``) are read month by month, stub months at
either end left out as the index does; an LSOA table summed to wards gives each LSOA
wholly to the ward holding most of its area (``Boundaries.lsoa.ward_code``). Harm is every
offence times its weight in the run's harm table; offences the Cambridge Crime Harm Index
leaves out of harm totals (proactive drugs and weapons finds, nominal categories,
anti-social behaviour) add to ``count`` but not to ``harm_days``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from pli._codes import list_codes
from pli.config.specs import StudyConfig, TrackSeriesSpec
from pli.errors import InputError
from pli.indicators.mps import read_met_monthly

__all__ = ["TrackSeries", "build_series", "period_label", "read_met_monthly"]

logger = logging.getLogger(__name__)



@dataclass(frozen=True, eq=False)
class TrackSeries:
    """Counts and harm per area and time slice for one ``track.series`` entry.

    Attributes
    ----------
    name, level, period : str
        From the spec (``level``: lsoa, ward or grid; ``period``: month or quarter).
    counts, harm : DataFrame
        Slices (``"2010-04"`` or ``"2010-Q2"``, in order) x areas, zeros where nothing happened.
    areas : GeoDataFrame
        The areas (index ``area_code``, column ``area_name``, geometry in EPSG:27700).
    files : tuple of Path
        Files read.
    dropped : int
        Records or offences outside every area (or in an incomplete quarter).
    """

    name: str
    level: str
    period: str
    counts: pd.DataFrame
    harm: pd.DataFrame
    areas: gpd.GeoDataFrame
    files: tuple[Path, ...]
    dropped: int = 0

    def to_frame(self) -> pd.DataFrame:
        """Long table: ``series``, ``area_code``, ``area_name``, ``period``, ``count``, ``harm_days``."""
        c = self.counts.stack().rename("count")
        h = self.harm.stack().rename("harm_days")
        out = pd.concat([c, h], axis=1).reset_index()
        out.columns = ["period", "area_code", "count", "harm_days"]
        out.insert(0, "series", self.name)
        out.insert(2, "area_name", out["area_code"].map(self.areas["area_name"]).fillna(""))
        out["count"] = out["count"].astype("int64")
        return out.sort_values(["area_code", "period"], kind="stable").reset_index(drop=True)


def period_label(months: pd.Series | pd.Index, period: str) -> pd.Index:
    """``YYYY-MM`` months to slice labels (``YYYY-MM`` or ``YYYY-Qn``).

    Examples
    --------
    >>> list(period_label(pd.Index(["2010-04", "2010-12"]), "quarter"))
    ['2010-Q2', '2010-Q4']
    """
    m = pd.Index(months).astype(str)
    if period == "month":
        return m
    q = (m.str[5:7].astype(int) - 1) // 3 + 1
    return pd.Index(m.str[:4] + "-Q" + q.astype(str))


def _harm_weights_for(categories: pd.Index, harm_weights, scheme: str) -> pd.Series:
    """Harm days per category, 0 for those the CCHI leaves out of harm totals."""
    w = pd.Series(harm_weights.weight_for(categories, scheme), index=categories)
    flagged = harm_weights.left_out_of_harm(scheme)
    left_out = [c for c in categories if c in flagged]
    if left_out:
        logger.info("harm leaves out proactive/non-crime categories %s (still counted)", list_codes(left_out))
    w[w.index.isin(list(flagged))] = 0.0
    return w


def _areas(level: str, boundaries, cell_size_m: float) -> gpd.GeoDataFrame:
    if level == "lsoa":
        a = boundaries.lsoa[["lsoa_name", "geometry"]].rename(columns={"lsoa_name": "area_name"})
    elif level == "ward":
        a = boundaries.wards[["ward_name", "geometry"]].rename(columns={"ward_name": "area_name"})
    else:
        from pli.patrols.grid import build_grid

        g = build_grid(boundaries.lsoa, cell_size_m=cell_size_m)
        a = gpd.GeoDataFrame({"area_name": g.index.astype(str)}, geometry=g.geometry, index=g.index,
                             crs=g.crs)
    a = a.copy()
    a.index = pd.Index(a.index.astype(str), name="area_code")
    return a.sort_index()


def _slices(long: pd.DataFrame, period: str) -> tuple[pd.DataFrame, list[str]]:
    """Add a ``slice`` column; quarters missing a month at either end are left out."""
    months = sorted(long["month"].unique())
    out = long.assign(slice=np.asarray(period_label(long["month"], period)))
    if period == "quarter":
        per = pd.Series(months, index=period_label(pd.Index(months), period)).groupby(level=0).size()
        partial = [q for q in per.index if per[q] < 3]
        if partial:
            logger.info("quarters with fewer than 3 months left out: %s", ", ".join(partial))
            out = out[~out["slice"].isin(partial)]
    order = sorted(out["slice"].unique())
    return out, order


def _point_records(cfg: StudyConfig, spec: TrackSeriesSpec, boundaries, areas: gpd.GeoDataFrame,
                   loaded: dict | None):
    from pli.indicators import load_source

    assert spec.source is not None
    src = (loaded or {}).get(spec.source)
    if src is None:
        src_spec = dataclasses.replace(cfg.sources[spec.source], window_months=None, start_month=None,
                                       end_month=None)
        src = load_source(spec.source, src_spec, resolve=cfg.resolve, lsoa=boundaries.lsoa)
        if loaded is not None:
            loaded[spec.source] = src
    pts = src.points
    if pts is None or not len(pts):
        raise InputError(f"track series {spec.name!r}: source {spec.source!r} has no point records")
    if spec.level == "grid":
        from pli.patrols.grid import locate_cells

        i, j = locate_cells(pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy(), cell_size_m=spec.cell_size_m)
        key = pd.Series(list(zip(i, j)))
        lookup = {(int(a), int(b)): code for code, a, b in
                  zip(areas.index, *_grid_ij(areas, boundaries, spec.cell_size_m))}
        code = key.map(lookup)
    else:
        joined = gpd.sjoin(pts[["geometry"]].reset_index(drop=True), areas[["geometry"]], how="left",
                           predicate="within")
        # A point on a shared edge matches both areas: keep the first so it counts once.
        joined = joined[~joined.index.duplicated(keep="first")]
        code = joined["area_code"] if "area_code" in joined else joined["index_right"]
    long = pd.DataFrame({"code": np.asarray(code, dtype=object), "category": pts["category"].astype(str).to_numpy(),
                         "month": pts["month"].astype(str).to_numpy(), "n": 1.0})
    scheme = "police_uk" if src.kind == "police_uk" else None
    return long, src.files, scheme


def _grid_ij(areas: gpd.GeoDataFrame, boundaries, cell_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    from pli.patrols.grid import build_grid

    g = build_grid(boundaries.lsoa, cell_size_m=cell_size_m)
    g.index = g.index.astype(str)
    g = g.reindex(areas.index)
    return g["cell_i"].to_numpy(), g["cell_j"].to_numpy()


def build_series(cfg: StudyConfig, spec: TrackSeriesSpec, boundaries, harm_weights, *,
                 reconcile=None, loaded: dict | None = None) -> TrackSeries:
    """Counts and harm per area and slice for one ``track.series`` entry.

    Parameters
    ----------
    cfg : StudyConfig
    spec : TrackSeriesSpec
    boundaries : pli.boundaries.Boundaries
    harm_weights : pli.harm.HarmWeights
    reconcile : pli.boundaries.CodeReconciler, optional
        Brings LSOA-keyed Met tables onto the boundary LSOAs (required for them).
    loaded : dict, optional
        Point sources already read (all months), by name; filled as sources are read, so
        several series on one source read it once.

    Returns
    -------
    TrackSeries
    """
    areas = _areas(spec.level, boundaries, spec.cell_size_m)
    scheme: str | None
    if spec.path is not None or cfg.sources[spec.source or ""].kind == "mps_lsoa_crime":
        path = cfg.resolve(spec.path if spec.path is not None else cfg.sources[spec.source or ""].path)
        long, key = read_met_monthly(Path(path), what=f"track series {spec.name!r}")
        if spec.source is None or cfg.sources[spec.source].drop_partial_months:
            long = _drop_partial_months(long, spec.name)
        files: tuple[Path, ...] = (Path(path),)
        scheme = "mps"
        if key == "ward" and spec.level != "ward":
            raise InputError(f"track series {spec.name!r}: the table is keyed by ward, so level must be 'ward', "
                             f"not {spec.level!r}", path=str(path))
        if key == "lsoa" and spec.level == "ward":
            ward_of = boundaries.lsoa["ward_code"]
            long = _reconcile_long(long, reconcile, spec, boundaries)
            long["code"] = long["code"].map(ward_of)
        elif key == "lsoa":
            long = _reconcile_long(long, reconcile, spec, boundaries)
    else:
        long, files, scheme = _point_records(cfg, spec, boundaries, areas, loaded)
    if spec.categories:
        keep = long["category"].isin(list(spec.categories))
        if not keep.any():
            raise InputError(f"track series {spec.name!r}: none of the categories {list(spec.categories)} "
                             f"occur; found {list_codes(sorted(long['category'].unique()))}")
        long = long[keep]
    cats = pd.Index(sorted(long["category"].unique()))
    scheme = scheme or harm_weights.scheme_for(cats)
    weights = _harm_weights_for(cats, harm_weights, scheme)
    long = long.assign(harm=long["n"] * long["category"].map(weights).to_numpy())
    outside = ~long["code"].isin(areas.index)
    dropped = float(long.loc[outside, "n"].sum())
    if dropped:
        shown = list_codes(sorted(long.loc[outside, "code"].dropna().astype(str).unique()))
        logger.warning("track series %s: %s offence(s) outside the %s areas left out (codes: %s)",
                       spec.name, f"{dropped:,.0f}", spec.level, shown or "none: points outside every area")
    all_months = sorted(long["month"].unique())
    long, order = _slices(long[~outside], spec.period)
    counts = long.pivot_table(index="slice", columns="code", values="n", aggfunc="sum", fill_value=0)
    harm = long.pivot_table(index="slice", columns="code", values="harm", aggfunc="sum", fill_value=0)
    counts = counts.reindex(index=order, columns=areas.index, fill_value=0).round().astype("int64")
    harm = harm.reindex(index=order, columns=areas.index, fill_value=0.0).astype(float)
    for f in (counts, harm):
        f.index.name, f.columns.name = "period", "area_code"
    logger.info("track series %s: %s offences in %d %s areas, %d %ss (%s to %s)", spec.name,
                f"{int(counts.to_numpy().sum()):,}", len(areas), spec.level, len(order), spec.period,
                all_months[0] if all_months else "-", all_months[-1] if all_months else "-")
    return TrackSeries(name=spec.name, level=spec.level, period=spec.period, counts=counts, harm=harm,
                       areas=areas, files=files, dropped=int(round(dropped)))


def _drop_partial_months(long: pd.DataFrame, name: str) -> pd.DataFrame:
    """Leave out stub months at either end (total below 10% of the median month), as the index does."""
    from pli.indicators.window import _PARTIAL_MONTH_SHARE

    totals = long.groupby("month")["n"].sum().sort_index()
    low = (totals < _PARTIAL_MONTH_SHARE * float(totals.median())).to_numpy()
    if low.all() or not low.any():
        return long
    lead, trail = int(np.argmin(low)), int(np.argmin(low[::-1]))
    dropped = list(totals.index[:lead]) + (list(totals.index[len(low) - trail:]) if trail else [])
    if dropped:
        logger.warning("track series %s: left out partial month(s) %s (below 10%% of the median month)",
                       name, ", ".join(dropped))
    return long[~long["month"].isin(dropped)]


def _reconcile_long(long: pd.DataFrame, reconcile, spec: TrackSeriesSpec, boundaries) -> pd.DataFrame:
    """LSOA codes of a Met table onto the boundary LSOAs, month by month (counts summed)."""
    if reconcile is None:
        raise ValueError("build_series: an LSOA-keyed Met table needs reconcile (a CodeReconciler)")
    wide = long.pivot_table(index="code", columns=["category", "month"], values="n", aggfunc="sum", fill_value=0)
    flat = pd.DataFrame(wide.to_numpy(), index=pd.Index(wide.index, name="lsoa_code"),
                        columns=[f"{c}\t{m}" for c, m in wide.columns])
    done = reconcile(flat, aggregation="sum", source=spec.source or spec.name)
    out = done.stack().rename("n").reset_index()
    out.columns = ["code", "key", "n"]
    parts = out["key"].str.split("\t", expand=True)
    return pd.DataFrame({"code": out["code"].astype(str), "category": parts[0], "month": parts[1],
                         "n": out["n"].astype(float)})

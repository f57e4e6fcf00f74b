"""Per-neighbourhood facts for the report: drivers, crime mix, trend and patrols.

Plain functions on the tables an index run wrote; each returns a new frame and leaves its
inputs alone. In a public run the tables are already suppressed (:mod:`pli.disclosure`);
these functions then only combine published cells: a neighbourhood total of an indicator
is shown only when every member LSOA's cell is published (otherwise it is withheld, since
the total minus the published cells would give a suppressed one back).

Examples
--------
>>> import pandas as pd
>>> nb = pd.DataFrame({"rank": [1], "lsoa_codes": ["A;B"]})
>>> members(nb).to_dict(orient="records")
[{'rank': 1, 'lsoa_code': 'A'}, {'rank': 1, 'lsoa_code': 'B'}]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pli.indicators.sources import COUNT_KINDS

__all__ = ["members", "indicator_catalogue", "domain_drivers", "indicator_drivers", "crime_mix", "trend_summary",
           "patrol_summary", "neighbourhood_series"]

_STEPS_PER_YEAR = {"month": 12, "quarter": 4}


def members(neighbourhoods: pd.DataFrame) -> pd.DataFrame:
    """One row per (neighbourhood rank, member LSOA code)."""
    codes = neighbourhoods.set_index("rank")["lsoa_codes"].astype(str).str.split(";").explode().str.strip()
    codes = codes[codes != ""]
    return pd.DataFrame({"rank": codes.index.astype(int), "lsoa_code": codes.to_numpy()})


def indicator_catalogue(manifest: dict) -> pd.DataFrame:
    """Indicator, label, domain, weight, source kind, transform, harm, from an index manifest.

    Returns
    -------
    DataFrame
        Indexed by indicator name, in the manifest's weight order.
    """
    config = manifest.get("config") or {}
    sources = config.get("sources") or {}
    specs = {s.get("name"): s for s in config.get("indicators") or [] if isinstance(s, dict)}
    rows = []
    for w in (manifest.get("index") or {}).get("weights") or []:
        name = w.get("indicator")
        spec = specs.get(name, {})
        source = sources.get(spec.get("source"), {}) if isinstance(sources, dict) else {}
        rows.append({"indicator": name, "label": spec.get("label") or name, "domain": w.get("domain"),
                     "domain_weight": w.get("domain_weight"), "weight": w.get("weight"),
                     "source": spec.get("source"), "kind": source.get("kind") if isinstance(source, dict) else None,
                     "transform": spec.get("transform"), "harm": bool(spec.get("harm"))})
    return pd.DataFrame(rows, columns=["indicator", "label", "domain", "domain_weight", "weight", "source", "kind",
                                       "transform", "harm"]).set_index("indicator")


def _member_values(neighbourhoods: pd.DataFrame, table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    joined = members(neighbourhoods).merge(table[["lsoa_code", *columns]].astype({"lsoa_code": str}),
                                           on="lsoa_code", how="left")
    return joined


def _mean_if_complete(joined: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Mean over members per rank; NaN where any member's cell is blank (withheld)."""
    grouped = joined.groupby("rank")[columns]
    means = grouped.mean()
    complete = grouped.count().eq(grouped.size(), axis=0)
    return means.where(complete)


def domain_drivers(neighbourhoods: pd.DataFrame, rankings: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Each domain's contribution to the neighbourhood's mean index score.

    A domain contributes its weight times its score; averaged over the member LSOAs,
    the contributions add up to the neighbourhood's mean score (0 = borough average).

    Returns
    -------
    DataFrame
        Index: neighbourhood rank; one column per domain (contribution, score points).
    """
    weights = catalogue.groupby("domain", sort=False)["domain_weight"].first()
    cols = [f"domain_{d}" for d in weights.index if f"domain_{d}" in rankings.columns]
    joined = _member_values(neighbourhoods, rankings, cols)
    means = _mean_if_complete(joined, cols)
    out = pd.DataFrame({c.removeprefix("domain_"): means[c] * float(weights[c.removeprefix("domain_")])
                        for c in cols}, index=means.index)
    return out


def indicator_drivers(neighbourhoods: pd.DataFrame, rankings: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Mean contribution of each indicator to the member LSOAs' scores (NaN where withheld).

    Returns
    -------
    DataFrame
        Index: neighbourhood rank; one column per indicator.
    """
    cols = [f"contribution_{i}" for i in catalogue.index if f"contribution_{i}" in rankings.columns]
    means = _mean_if_complete(_member_values(neighbourhoods, rankings, cols), cols)
    means.columns = [c.removeprefix("contribution_") for c in means.columns]
    return means


def crime_mix(neighbourhoods: pd.DataFrame, indicator_inputs: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Recorded offences per crime indicator: neighbourhood count and rate against the borough's.

    Only count indicators of crime sources (police.uk, Met tables, points), not harm.

    Returns
    -------
    DataFrame
        ``rank, indicator, label, count, rate_per_1000, area_rate_per_1000, ratio``;
        ``count`` and the rates are NaN where a member cell is suppressed.
    """
    crime = catalogue[catalogue["kind"].isin(COUNT_KINDS) & ~catalogue["harm"]
                      & catalogue["transform"].isin(["rate", "count"])]
    rows = []
    nb_members = members(neighbourhoods)
    for name, spec in crime.iterrows():
        num, den = f"{name}_numerator", f"{name}_denominator"
        if num not in indicator_inputs.columns:
            continue
        cols = [num] + ([den] if den in indicator_inputs.columns else [])
        joined = nb_members.merge(indicator_inputs[["lsoa_code", *cols]].astype({"lsoa_code": str}),
                                  on="lsoa_code", how="left")
        grouped = joined.groupby("rank")[cols]
        complete = grouped.count().eq(grouped.size(), axis=0).all(axis=1)
        sums = grouped.sum(min_count=1).where(complete)
        area_complete = bool(indicator_inputs[cols].notna().all().all())
        area = indicator_inputs[cols].sum() if area_complete else pd.Series(np.nan, index=cols)
        rate = sums[num] / sums[den] * 1000 if den in cols else pd.Series(np.nan, index=sums.index)
        area_rate = float(area[num] / area[den] * 1000) if den in cols and area_complete else np.nan
        for rank in sums.index:
            rows.append({"rank": int(rank), "indicator": name, "label": spec["label"], "count": sums.at[rank, num],
                         "rate_per_1000": rate.get(rank, np.nan), "area_rate_per_1000": area_rate,
                         "ratio": rate.get(rank, np.nan) / area_rate if area_rate else np.nan})
    return pd.DataFrame(rows, columns=["rank", "indicator", "label", "count", "rate_per_1000",
                                       "area_rate_per_1000", "ratio"])


def neighbourhood_series(neighbourhoods: pd.DataFrame, rankings: pd.DataFrame, series: pd.DataFrame,
                         trends: pd.DataFrame) -> pd.DataFrame:
    """Each neighbourhood's monthly (or quarterly) counts and harm, summed over its areas.

    LSOA-level series sum the member LSOAs; ward-level series the wards holding them
    (so the ward figures cover more than the neighbourhood, and the report says so).
    Grid series are left out: cells do not follow neighbourhood boundaries.

    Returns
    -------
    DataFrame
        ``rank, series, level, test, areas, period, count, harm_days``.
    """
    nb_members = members(neighbourhoods)
    wards = nb_members.merge(rankings[["lsoa_code", "ward_code"]].astype(str), on="lsoa_code", how="left") \
        if "ward_code" in rankings.columns else nb_members.assign(ward_code=np.nan)
    tests = trends.drop_duplicates("series").set_index("series")["test"]
    frames = []
    for name, s in series.groupby("series", sort=False):
        codes = set(s["area_code"].astype(str))
        lsoa_hits = nb_members[nb_members["lsoa_code"].isin(codes)]
        ward_hits = wards[wards["ward_code"].isin(codes)]
        if len(lsoa_hits):
            level, mapping = "lsoa", lsoa_hits[["rank", "lsoa_code"]].rename(columns={"lsoa_code": "area_code"})
        elif len(ward_hits):
            level, mapping = "ward", ward_hits[["rank", "ward_code"]].drop_duplicates().rename(
                columns={"ward_code": "area_code"})
        else:
            continue
        names = s.drop_duplicates("area_code").set_index("area_code")["area_name"].astype(str)
        joined = mapping.merge(s.astype({"area_code": str}), on="area_code")
        sums = joined.groupby(["rank", "period"], as_index=False)[["count", "harm_days"]].sum()
        named = mapping.assign(area=mapping["area_code"].map(names).fillna(mapping["area_code"]))
        areas = named.groupby("rank")["area"].agg(lambda c: "; ".join(sorted(set(c))))
        sums.insert(1, "series", name)
        sums.insert(2, "level", level)
        sums.insert(3, "test", tests.get(name, "mann_kendall"))
        sums.insert(4, "areas", sums["rank"].map(areas))
        frames.append(sums)
    if not frames:
        return pd.DataFrame(columns=["rank", "series", "level", "test", "areas", "period", "count", "harm_days"])
    return pd.concat(frames, ignore_index=True)


def _steps_per_year(periods: pd.Series) -> int:
    return _STEPS_PER_YEAR["quarter"] if periods.astype(str).str.contains("Q").any() else _STEPS_PER_YEAR["month"]


def trend_summary(per_neighbourhood: pd.DataFrame) -> pd.DataFrame:
    """Mann-Kendall trend of each neighbourhood's harm, and the last year against the year before.

    Parameters
    ----------
    per_neighbourhood : DataFrame
        From :func:`neighbourhood_series`.

    Returns
    -------
    DataFrame
        ``rank, series, level, areas, first, last, direction, tau, p, slope_per_year,
        last_year_harm, previous_year_harm, change`` (``change`` a fraction).
    """
    from pli.track.trend import mann_kendall, seasonal_mann_kendall

    rows = []
    for (rank, name), s in per_neighbourhood.groupby(["rank", "series"], sort=True):
        s = s.sort_values("period")
        per_year = _steps_per_year(s["period"])
        harm = s["harm_days"].to_numpy(dtype=float)
        seasonal = s["test"].iloc[0] == "seasonal" and len(harm) >= 2 * per_year
        r = seasonal_mann_kendall(harm, period=per_year) if seasonal else mann_kendall(harm)
        last = harm[-per_year:].sum() if len(harm) >= per_year else np.nan
        previous = harm[-2 * per_year:-per_year].sum() if len(harm) >= 2 * per_year else np.nan
        direction = ("rising" if r.s > 0 else "falling") if r.p <= 0.05 else "no clear trend"
        rows.append({"rank": int(rank), "series": name, "level": s["level"].iloc[0], "areas": s["areas"].iloc[0],
                     "first": s["period"].iloc[0], "last": s["period"].iloc[-1], "direction": direction,
                     "tau": r.tau, "p": r.p, "slope_per_year": r.slope * per_year, "last_year_harm": last,
                     "previous_year_harm": previous,
                     "change": (last - previous) / previous if previous and previous > 0 else np.nan})
    return pd.DataFrame(rows, columns=["rank", "series", "level", "areas", "first", "last", "direction", "tau", "p",
                                       "slope_per_year", "last_year_harm", "previous_year_harm", "change"])


def patrol_summary(patrol_totals: pd.DataFrame | None, patrol_plan: pd.DataFrame | None,
                   *, top: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Totals per neighbourhood (and the area's row 0) and its first ``top`` places.

    Returns
    -------
    (DataFrame, DataFrame)
        The totals indexed by neighbourhood rank, and the places (``place_number,
        neighbourhood_rank, location, ward, visits_per_week, evidence``); empty frames
        when there is no patrol plan. No coordinates are taken.
    """
    totals = pd.DataFrame() if patrol_totals is None else patrol_totals.set_index("neighbourhood_rank")
    if patrol_plan is None or not len(patrol_plan):
        return totals, pd.DataFrame()
    keep = [c for c in ("place_number", "neighbourhood_rank", "place_rank", "location", "ward", "visits_per_week",
                        "evidence") if c in patrol_plan.columns]
    order = "place_rank" if "place_rank" in patrol_plan.columns else "place_number"
    places = patrol_plan.sort_values(["neighbourhood_rank", order]).groupby("neighbourhood_rank").head(top)
    return totals, places[keep].reset_index(drop=True)

"""The index recomputed on rolling windows: rank, score and neighbourhood of every LSOA per window.

The crime sources the indicators read (``police_uk``, ``mps_lsoa_crime``, ``points``) are
re-read with ``start_month``/``end_month`` set to each window; every other source
(deprivation, census) is read once. Each window then goes through the index's own stages,
in the order :mod:`pli.pipeline` wires them: indicators, composite index, priority
neighbourhoods (on the same contiguity weights). The window is as long as the index's
(the crime source's months inside its configured window) and the latest one is the
index's own; earlier windows step back ``step_months`` at a time, at most ``windows`` of
them, as far as the months present allow. Stability runs are left out: they only fill
the ``stability`` column, not who is in which neighbourhood.

Neighbourhoods are matched across windows by the Jaccard index of their LSOA sets
(:func:`pli.compare.match_neighbourhoods`, one to one): ``rolling_neighbourhoods.csv``
says, for every window's neighbourhood, which latest-window neighbourhood it became and
how much they overlap; :meth:`RollingIndex.movers` ranks the latest neighbourhoods by how
far the mean index rank of their LSOAs moved between the first and the latest window.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import pandas as pd

from pli.config.specs import StudyConfig
from pli.errors import InputError
from pli.progress import quieted

__all__ = ["IndexSources", "RollingIndex", "index_neighbourhoods", "read_index_sources", "rolling_index", "window_ends"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class RollingIndex:
    """The index on every rolling window.

    Attributes
    ----------
    lsoa : DataFrame
        One row per window and LSOA: ``window`` (``"YYYY-MM to YYYY-MM"``),
        ``window_start``, ``window_end``, ``lsoa_code``, ``lsoa_name``, ``score``, ``rank``,
        ``neighbourhood_rank`` (empty outside) and ``neighbourhood``.
    neighbourhoods : DataFrame
        One row per window and neighbourhood: ``window``, ``window_start``,
        ``window_end``, ``neighbourhood_rank``, ``neighbourhood``, ``n_lsoas``,
        ``lsoa_codes`` (``;``-joined), ``mean_lsoa_rank``, and its match in the latest
        window: ``latest_rank``, ``latest_name``, ``jaccard_latest``.
    windows : tuple of (str, str)
        First and last month of each window, oldest first.
    """

    lsoa: pd.DataFrame
    neighbourhoods: pd.DataFrame
    windows: tuple[tuple[str, str], ...]

    def movers(self, n: int = 5) -> pd.DataFrame:
        """Latest neighbourhoods whose LSOAs moved most in the index between the first and latest window.

        Returns
        -------
        DataFrame
            ``neighbourhood_rank``, ``neighbourhood``, ``mean_rank_first``,
            ``mean_rank_latest``, ``rank_change`` (first minus latest: positive = climbed
            towards rank 1), ``first_rank`` (the matched neighbourhood's rank in the first
            window, empty when nothing matched) and ``jaccard_first``, largest moves first.
        """
        if len(self.windows) < 2:
            return pd.DataFrame(columns=["neighbourhood_rank", "neighbourhood", "mean_rank_first",
                                         "mean_rank_latest", "rank_change", "first_rank", "jaccard_first"])
        first, latest = (f"{a} to {b}" for a, b in (self.windows[0], self.windows[-1]))
        rank = self.lsoa.pivot(index="lsoa_code", columns="window", values="rank")
        nb = self.neighbourhoods
        last = nb[nb["window"] == latest]
        earliest = nb[nb["window"] == first]
        rows = []
        for _, r in last.iterrows():
            codes = str(r["lsoa_codes"]).split(";")
            match = earliest[earliest["latest_rank"] == r["neighbourhood_rank"]]
            rows.append({
                "neighbourhood_rank": int(r["neighbourhood_rank"]), "neighbourhood": r["neighbourhood"],
                "mean_rank_first": float(rank.loc[codes, first].mean()),
                "mean_rank_latest": float(rank.loc[codes, latest].mean()),
                "first_rank": int(match["neighbourhood_rank"].iloc[0]) if len(match) else pd.NA,
                "jaccard_first": float(match["jaccard_latest"].iloc[0]) if len(match) else 0.0,
            })
        out = pd.DataFrame(rows)
        out.insert(4, "rank_change", out["mean_rank_first"] - out["mean_rank_latest"])
        order = out["rank_change"].abs().sort_values(ascending=False, kind="stable").index
        return out.loc[order].head(n).reset_index(drop=True)


def window_ends(months: list[str], *, length: int, last: str, step_months: int, windows: int) -> list[tuple[str, str]]:
    """Windows of ``length`` months ending at ``last`` and every ``step_months`` before, oldest first.

    Only windows whose first month is among ``months`` (sorted ``YYYY-MM``) are kept.

    Examples
    --------
    >>> months = [f"2024-{m:02d}" for m in range(1, 13)] + [f"2025-{m:02d}" for m in range(1, 13)]
    >>> window_ends(months, length=12, last="2025-12", step_months=6, windows=8)
    [('2024-01', '2024-12'), ('2024-07', '2025-06'), ('2025-01', '2025-12')]
    """
    end = pd.Period(last, freq="M")
    first_present = pd.Period(months[0], freq="M")
    out = []
    for k in range(windows):
        e = end - k * step_months
        s = e - (length - 1)
        if s < first_present:
            break
        out.append((str(s), str(e)))
    return out[::-1]


def _crime_sources(cfg: StudyConfig) -> list[str]:
    from pli.indicators import COUNT_KINDS

    used = {i.source for i in cfg.indicators}
    return [n for n, s in cfg.sources.items() if n in used and s.kind in COUNT_KINDS]


@dataclass(frozen=True, eq=False)
class IndexSources:
    """The sources the index reads, read once for every window.

    Attributes
    ----------
    crime : list of str
        Crime sources with months read by an indicator (the first sets the window).
    static : dict
        Every other source the indicators and denominators read, as configured.
    whole : dict
        The crime sources' specs without a window (each window sets its own months).
    present : dict
        Months each crime source holds.
    own : list of str
        Months of the index's own window.
    """

    crime: list[str]
    static: dict
    whole: dict
    present: dict
    own: list[str]


def read_index_sources(cfg: StudyConfig, boundaries, *, loaded: dict | None = None) -> IndexSources:
    """Read what the index needs once; crime sources with every month they hold.

    Parameters
    ----------
    cfg : StudyConfig
    boundaries : pli.boundaries.Boundaries
    loaded : dict, optional
        Point sources already read with every month (``pli track`` series), by name.
    """
    from pli import indicators
    from pli.indicators.window import _select_window

    crime = _crime_sources(cfg)
    needed = {i.source for i in cfg.indicators} | {d.source for d in cfg.denominators.values()}
    static = {n: indicators.load_source(n, s, resolve=cfg.resolve, lsoa=boundaries.lsoa)
              for n, s in cfg.sources.items() if n in needed and n not in crime}
    whole = {n: dataclasses.replace(cfg.sources[n], window_months=None, start_month=None, end_month=None)
             for n in crime}
    present = {}
    for n, spec in whole.items():
        src = (loaded or {}).get(n) or indicators.load_source(n, spec, resolve=cfg.resolve, lsoa=boundaries.lsoa)
        present[n] = list(src.months)
    # The index's window is chosen over the months present exactly as its loader chooses it.
    own = (_select_window(present[crime[0]], cfg.sources[crime[0]], name=crime[0], where=crime[0], announce=False)
           if crime else [])
    return IndexSources(crime=crime, static=static, whole=whole, present=present, own=list(own))


def rolling_index(cfg: StudyConfig, boundaries, reconcile, harm_weights, *, step_months: int = 3,
                  windows: int = 8, sources: IndexSources | None = None) -> RollingIndex | None:
    """Recompute the index and its neighbourhoods on rolling windows of the crime sources.

    Parameters
    ----------
    cfg : StudyConfig
        The index config (indicators, index, priorities).
    boundaries : pli.boundaries.Boundaries
    reconcile : pli.boundaries.CodeReconciler
    harm_weights : pli.harm.HarmWeights
    step_months : int
        Months between the ends of consecutive windows.
    windows : int
        At most this many windows (the latest is the index's own).
    sources : IndexSources, optional
        From :func:`read_index_sources` (read here when not given).

    Returns
    -------
    RollingIndex or None
        None (with the reason logged) when no indicator reads a crime source with months,
        or the months present hold fewer than two windows.
    """
    src = sources or read_index_sources(cfg, boundaries)
    if not src.crime:
        logger.warning("rolling index off: no indicator reads a crime source with months")
        return None
    primary = src.crime[0]
    length, last = len(src.own), src.own[-1]
    first_common = max(m[0] for m in src.present.values())
    months = [m for m in src.present[primary] if m >= first_common]
    spans = window_ends(months, length=length, last=last, step_months=step_months, windows=windows)
    if len(spans) < 2:
        logger.warning("rolling index off: %s holds %d month(s) (%s to %s); a window of %d months stepping back "
                       "%d needs at least %d", primary, len(months), months[0], months[-1], length, step_months,
                       length + step_months)
        return None
    logger.info("rolling index: %d windows of %d months, every %d months, %s to %s", len(spans), length,
                step_months, spans[0][0], spans[-1][1])
    return _index_on_windows(cfg, boundaries, reconcile, harm_weights, src.static, src.whole, spans)


def index_neighbourhoods(cfg: StudyConfig, boundaries, reconcile, harm_weights, *,
                         sources: IndexSources | None = None) -> tuple[pd.DataFrame, tuple[str, str] | None]:
    """The index's own priority neighbourhoods, recomputed (its window only, no stability runs).

    Returns
    -------
    (DataFrame, tuple or None)
        The rows of ``rolling_neighbourhoods.csv`` for the index's window
        (``neighbourhood_rank``, ``neighbourhood``, ``lsoa_codes`` ``;``-joined, ...), and
        that window's first and last month (None when no indicator reads a crime source
        with months: the sources are then used as configured).
    """
    src = sources or read_index_sources(cfg, boundaries)
    span = (src.own[0], src.own[-1]) if src.crime else None
    hoods = _index_on_windows(cfg, boundaries, reconcile, harm_weights, src.static, src.whole,
                              [span or ("", "")]).neighbourhoods
    return hoods, span


def _index_on_windows(cfg: StudyConfig, boundaries, reconcile, harm_weights, static: dict, whole: dict,
                      spans: list[tuple[str, str]]) -> RollingIndex:
    """The index's stages on each window: crime sources in ``whole`` re-read for it, ``static`` as read."""
    from pli import clustering, index, indicators, presets, priorities
    from pli.compare import match_neighbourhoods

    crime = list(whole)
    index_spec = presets.resolve_index_spec(cfg.index, raw=cfg.raw.get("index"))
    weights = clustering.build_weights(boundaries.lsoa, cfg.clustering)
    lsoa_rows, nb_rows, results = [], [], []
    for start, end in spans:
        label = f"{start} to {end}"
        sources = dict(static)
        # Per-window messages repeat the index's own (and would point at files only
        # `pli index` writes); the whole history was announced once above.
        # Source messages were given once on the whole history; repeating them per window is noise.
        with quieted(("pli.indicators", "pli.boundaries", "pli.index", "pli.priorities")):
            for n in crime:
                spec = dataclasses.replace(whole[n], start_month=start, end_month=end)
                sources[n] = indicators.load_source(n, spec, resolve=cfg.resolve, lsoa=boundaries.lsoa)
            population = indicators.population_denominator(cfg, sources, reconcile, boundaries.lsoa.index)
            table = indicators.build_indicators(cfg, boundaries, sources, reconcile=reconcile,
                                                harm_weights=harm_weights)
            result = index.build_index(table.values, cfg.indicators, index_spec, seed=cfg.seed,
                                       wards=boundaries.lsoa["ward_code"], reference_values=table.study_area_rates())
            lsoa = boundaries.lsoa.join(table.values).join(result.to_frame())
            lsoa = lsoa.assign(population=population, harm=table.harm_total())
            nb = priorities.select_neighbourhoods(lsoa, weights, cfg.priorities, drivers=result.contributions,
                                                  seed=cfg.seed)
        member = nb.membership.reindex(lsoa.index)
        names = nb.neighbourhoods["name"]
        frame = pd.DataFrame({
            "window": label, "window_start": start, "window_end": end, "lsoa_code": lsoa.index.astype(str),
            "lsoa_name": lsoa["lsoa_name"].to_numpy(), "score": lsoa["score"].to_numpy(),
            "rank": lsoa["rank"].astype(int).to_numpy(), "neighbourhood_rank": member.to_numpy(),
            "neighbourhood": member.map(names).fillna("").to_numpy(),
        })
        lsoa_rows.append(frame.sort_values(["rank", "lsoa_code"], kind="stable"))
        hoods = nb.neighbourhoods.drop(columns="geometry").reset_index(drop=True)
        hoods["lsoa_codes"] = hoods["lsoa_codes"].str.split(";")
        hoods["mean_lsoa_rank"] = [float(lsoa.loc[c, "rank"].mean()) for c in hoods["lsoa_codes"]]
        results.append((label, start, end, hoods))
    latest = results[-1][3]
    for label, start, end, hoods in results:
        match = match_neighbourhoods(hoods, latest)
        match = match[match["rank_a"].notna()].set_index("rank_a")
        nb_rows.append(pd.DataFrame({
            "window": label, "window_start": start, "window_end": end,
            "neighbourhood_rank": hoods["rank"].astype(int).to_numpy(), "neighbourhood": hoods["name"].to_numpy(),
            "n_lsoas": hoods["lsoa_codes"].map(len).to_numpy(),
            "lsoa_codes": hoods["lsoa_codes"].map(lambda c: ";".join(sorted(c))).to_numpy(),
            "mean_lsoa_rank": hoods["mean_lsoa_rank"].round(2).to_numpy(),
            "latest_rank": match["rank_b"].reindex(hoods["rank"]).astype("Int64").to_numpy(),
            "latest_name": match["name_b"].reindex(hoods["rank"]).fillna("").to_numpy(),
            "jaccard_latest": match["jaccard"].reindex(hoods["rank"]).fillna(0.0).round(4).to_numpy(),
        }))
    lsoa_all = pd.concat(lsoa_rows, ignore_index=True)
    lsoa_all["neighbourhood_rank"] = lsoa_all["neighbourhood_rank"].astype("Int64")
    if lsoa_all.empty:
        raise InputError("rolling index: no LSOA in any window")
    return RollingIndex(lsoa=lsoa_all, neighbourhoods=pd.concat(nb_rows, ignore_index=True), windows=tuple(spans))

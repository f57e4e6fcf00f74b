"""``pli track``: time series, trends and emerging hot spots on the config of ``pli index``.

Its own entry point and its own output folder (``--out``, default ``output-track``): the
folder is replaced all-or-nothing like an index run's, so it must not be the index's
output folder; a folder holding an index run is refused. It writes

* ``series.csv``: ``series, area_code, area_name, period, count, harm_days``;
* ``trends.csv``: Mann-Kendall and Sen's slope of count and harm per area (FDR across
  the areas of one series and measure);
* ``changing_areas.csv``: areas whose harm trend is significantly up (deteriorating) or
  down (improving);
* ``neighbourhood_trends.csv``: the same trends for each LSOA series summed over every
  priority neighbourhood (FDR across the neighbourhoods);
* ``emerging_hotspots.csv``: Gi* classes of the counts (:mod:`pli.track.emerging`);
* ``rolling_index.csv`` and ``rolling_neighbourhoods.csv``: the index recomputed on
  rolling windows (``track.rolling``; :mod:`pli.track.rolling`);
* ``maps/emerging_hotspots.html``: classes per series, deteriorating and improving areas,
  the priority neighbourhoods (:mod:`pli.track.hotspot_map`);
* ``neighbourhoods/<rank>-<name>.html`` and ``neighbourhoods/study_area.html``: interactive
  charts of monthly harm and counts (:mod:`pli.track.pages`); the neighbourhoods are
  those of an index run (``index_out``) or recomputed;
* ``charts/<series>/*.png`` when charts are asked for;
* ``manifest.json``: inputs, outputs (``pli verify`` reads it) and the class counts.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pli.config.specs import StudyConfig
from pli.errors import InputError
from pli.track.emerging import emerging_hot_spots
from pli.track.rolling import RollingIndex
from pli.track.series import TrackSeries, build_series
from pli.track.trend import trend_table

__all__ = ["TrackRun", "run_track"]

logger = logging.getLogger(__name__)

_STEPS_PER_YEAR = {"month": 12, "quarter": 4}


@dataclass(frozen=True)
class TrackRun:
    """What ``pli track`` wrote: the folder, its files and the headline tables."""

    out_dir: Path
    files: tuple[Path, ...]
    series: tuple[TrackSeries, ...]
    trends: pd.DataFrame
    changing: pd.DataFrame
    patterns: pd.DataFrame
    rolling: RollingIndex | None = None
    neighbourhood_trends: pd.DataFrame | None = None

    def summary(self) -> str:
        lines = []
        for s in self.series:
            t = self.trends[(self.trends["series"] == s.name) & (self.trends["measure"] == "harm_days")]
            up = t[t["direction"] == "up"]
            method = str(t["autocorrelation"].iloc[0]) if len(t) else "none"
            plain = t["significant_uncorrected"]
            plain_up = int((plain & (t["mk_s"] > 0)).sum())
            plain_down = int((plain & (t["mk_s"] < 0)).sum())
            note = "" if method == "none" else (f"; serial correlation corrected ({method}): without it up in "
                                                f"{plain_up}, down in {plain_down}")
            lines.append(f"{s.name}: {s.counts.shape[1]} {s.level} areas x {s.counts.shape[0]} {s.period}s "
                         f"({s.counts.index[0]} to {s.counts.index[-1]}); harm trend up in {len(up)}, "
                         f"down in {int((t['direction'] == 'down').sum())} (FDR){note}")
            for _, r in up.sort_values("sen_slope_per_year", ascending=False).iterrows():
                name = "" if r["area_name"] == r["area_code"] else f" {r['area_name']}"
                lines.append(f"    up: {r['area_code']}{name}: {_per_year(r['sen_slope_per_year'])} "
                             f"(tau {r['tau']:.2f}, q {r['q']:.2g})")
            pat = self.patterns[self.patterns["series"] == s.name]["pattern"].value_counts()
            lines.append("    emerging hot spots: " + ", ".join(f"{k} {v}" for k, v in pat.items()))
        nbt = self.neighbourhood_trends
        if nbt is not None and len(nbt):
            for name, t in nbt[nbt["measure"] == "harm_days"].groupby("series", sort=False):
                up, plain = t[t["direction"] == "up"], t[t["significant_uncorrected"] & (t["mk_s"] > 0)]
                lines.append(f"{name}, priority neighbourhoods: harm trend up in {len(up)} of {len(t)} "
                             f"(without the serial-correlation correction: {len(plain)})")
                lines += [f"    up: {r['neighbourhood']}: {_per_year(r['sen_slope_per_year'])} "
                          f"(q {r['q']:.2g})" for _, r in up.iterrows()]
        if self.rolling is not None:
            w = self.rolling.windows
            lines.append(f"rolling index: {len(w)} windows, {w[0][0]} to {w[0][1]} ... {w[-1][0]} to {w[-1][1]}; "
                         "neighbourhoods whose LSOAs moved most (mean index rank, first -> latest window):")
            for _, r in self.rolling.movers().iterrows():
                lines.append(f"    {int(r['neighbourhood_rank'])}. {r['neighbourhood']}: "
                             f"{r['mean_rank_first']:.1f} -> {r['mean_rank_latest']:.1f} "
                             f"({'up' if r['rank_change'] > 0 else 'down'} {abs(r['rank_change']):.1f} places)")
        lines.append(f"Outputs: {self.out_dir}")
        return "\n".join(lines)


def _per_year(slope: float) -> str:
    """Sen's slope for the summary; a zero slope with a significant test needs saying why.

    >>> _per_year(21.06), _per_year(0.0)
    ('+21.1 harm days a year', "Sen's slope 0 (most pairs of periods are equal; the rise is in their order)")
    """
    if slope == 0:
        return "Sen's slope 0 (most pairs of periods are equal; the rise is in their order)"
    return f"{slope:+,.1f} harm days a year" if abs(slope) >= 0.05 else f"{slope:+.2g} harm days a year"


def _trends(s: TrackSeries, alpha: float, test: str = "mann_kendall", autocorrelation: str = "none") -> pd.DataFrame:
    frames = []
    period = _STEPS_PER_YEAR[s.period] if test == "seasonal" else None
    for measure, wide in (("count", s.counts), ("harm_days", s.harm)):
        t = trend_table(wide, alpha=alpha, seasonal_period=period, autocorrelation=autocorrelation).reset_index()
        if autocorrelation == "none":
            t["q_uncorrected"] = t["q"]
        else:
            plain = trend_table(wide, alpha=alpha, seasonal_period=period)
            t["q_uncorrected"] = plain["q"].reindex(t["area_code"]).to_numpy()
        t["significant_uncorrected"] = t["q_uncorrected"] <= alpha
        t.insert(0, "measure", measure)
        t.insert(0, "series", s.name)
        t.insert(3, "area_name", t["area_code"].map(s.areas["area_name"]))
        t.insert(4, "test", test)
        t.insert(5, "autocorrelation", autocorrelation)
        t["sen_slope_per_year"] = t["sen_slope"] * _STEPS_PER_YEAR[s.period]
        t["mean_per_step"] = wide.mean().reindex(t["area_code"]).to_numpy()
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def _neighbours(areas) -> dict[str, list[str]]:
    from pli.stats.weights import build_weights

    w = build_weights(areas)
    return {str(k): [str(v) for v in vs] for k, vs in w.graph.neighbors.items()}


def _refuse_index_folder(out_dir: Path) -> None:
    from pli.outputs import manifest_role

    role = manifest_role(out_dir)
    if role is not None and role != "track":
        raise InputError(f"{out_dir} holds a `pli index` run (or another folder with a manifest); "
                         "`pli track` replaces its whole output folder, so give it a folder of its own "
                         "(--out, default output-track)", path=str(out_dir))


def _neighbourhoods(cfg: StudyConfig, boundaries, reconcile, harm_weights, rolling: RollingIndex | None,
                    index_out: Path | None, index_sources):
    """Priority neighbourhoods (rank, name, ``;``-joined LSOA codes, geometry), where they came
    from, and the index window (first and last month, or None)."""
    import geopandas as gpd

    from pli.track.rolling import index_neighbourhoods

    if index_out is not None:
        path = Path(index_out) / "priority_neighbourhoods.geojson"
        if not path.is_file():
            raise InputError("--index-out: no priority_neighbourhoods.geojson; expected the output folder of "
                             "`pli index`", path=str(path))
        nb = gpd.read_file(path)
        missing = [c for c in ("rank", "name", "lsoa_codes") if c not in nb.columns]
        if missing:
            raise InputError(f"--index-out: priority_neighbourhoods.geojson has no {', '.join(missing)} column(s); "
                             "expected the file `pli index` writes", path=str(path))
        nb = nb.rename(columns={"rank": "neighbourhood_rank", "name": "neighbourhood"})
        own = index_sources.own
        window = (own[0], own[-1]) if own else None
        return nb[["neighbourhood_rank", "neighbourhood", "lsoa_codes", "geometry"]], str(path), window
    if rolling is not None:
        last = rolling.neighbourhoods[rolling.neighbourhoods["window"] == rolling.neighbourhoods["window"].iloc[-1]]
        how, window = "recomputed (latest rolling window)", rolling.windows[-1]
    else:
        last, window = index_neighbourhoods(cfg, boundaries, reconcile, harm_weights, sources=index_sources)
        how = "recomputed"
    geometry = [boundaries.lsoa.loc[[c for c in codes.split(";") if c in boundaries.lsoa.index]].union_all()
                for codes in last["lsoa_codes"]]
    nb = gpd.GeoDataFrame(last[["neighbourhood_rank", "neighbourhood", "lsoa_codes"]].reset_index(drop=True),
                          geometry=geometry, crs=boundaries.lsoa.crs)
    return nb, how, window


def _neighbourhood_trends(built, specs, nb) -> pd.DataFrame:
    """Trends of each LSOA series summed over every priority neighbourhood (FDR across them)."""
    import geopandas as gpd

    frames = []
    codes = {f"N{int(r['neighbourhood_rank'])}": [c for c in str(r["lsoa_codes"]).split(";") if c]
             for _, r in nb.iterrows()}
    names = gpd.GeoDataFrame({"area_name": list(nb["neighbourhood"])}, geometry=list(nb.geometry),
                             index=pd.Index(list(codes), name="area_code"), crs=nb.crs)
    for s, spec in zip(built, specs):
        if s.level != "lsoa" or len(codes) < 1:
            continue

        def summed(wide: pd.DataFrame) -> pd.DataFrame:
            out = pd.DataFrame({k: wide[[c for c in v if c in wide.columns]].sum(axis=1) for k, v in codes.items()})
            out.columns.name = "area_code"
            return out

        hoods = TrackSeries(name=s.name, level="neighbourhood", period=s.period, counts=summed(s.counts),
                            harm=summed(s.harm), areas=names, files=s.files)
        t = _trends(hoods, spec.alpha, spec.trend_test, spec.autocorrelation_method())
        t.insert(2, "neighbourhood_rank", t["area_code"].str[1:].astype(int))
        frames.append(t.rename(columns={"area_code": "neighbourhood_code", "area_name": "neighbourhood"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _write_pages(tx, cfg: StudyConfig, built, specs, nb, index_window, boundaries, patterns, trends, changing,
                 offline: bool) -> None:
    """The emerging-hot-spot map and the chart pages (study area and each neighbourhood)."""
    from pli.track.hotspot_map import emerging_hotspot_page
    from pli.track.pages import ChartSpec, neighbourhood_file, series_charts, track_page

    chart_spec = {s.name: ChartSpec(period=s.period, seasonal=sp.trend_test == "seasonal",
                                    autocorrelation=sp.autocorrelation_method(), index_window=index_window)
                  for s, sp in zip(built, specs)}
    folder = tx.staging_dir("output") / "neighbourhoods"
    folder.mkdir(parents=True, exist_ok=True)
    files = {int(r["neighbourhood_rank"]): neighbourhood_file(int(r["neighbourhood_rank"]), r["neighbourhood"])
             for _, r in nb.iterrows()}
    nav = [("../maps/emerging_hotspots.html", "map"), ("study_area.html", "study area")]
    window_note = (f"Shaded: the index window, {index_window[0]} to {index_window[1]}." if index_window else "")
    notes = ["Hover a point for its value; the dashed line is the Sen's-slope trend of the series' own test.",
             window_note]
    sections = [(f"{s.name} ({s.level} by {s.period}, all areas)",
                 series_charts(s, None, chart_spec[s.name], label=cfg.area.name)) for s in built]
    (folder / "study_area.html").write_text(
        track_page(f"{cfg.area.name}: crime harm and offences over time", notes, sections, nav=nav),
        encoding="utf-8")
    lsoa_series = [s for s in built if s.level == "lsoa"]
    for _, r in nb.iterrows():
        rank, name = int(r["neighbourhood_rank"]), str(r["neighbourhood"])
        codes = [c for c in str(r["lsoa_codes"]).split(";") if c]
        sections = [(f"{s.name} ({s.period}ly)", series_charts(s, codes, chart_spec[s.name], label=name))
                    for s in lsoa_series]
        intro = notes if sections else ["No LSOA-level track series: add one (level: lsoa) to chart this "
                                        "neighbourhood.", window_note]
        names = boundaries.lsoa["lsoa_name"].reindex(codes).fillna("")
        table = pd.DataFrame({"LSOA": codes, "name": names.to_numpy()})
        (folder / files[rank]).write_text(
            track_page(f"{rank}. {name}", intro, sections, nav=nav, lsoas=table), encoding="utf-8")
    maps = tx.staging_dir("output") / "maps"
    maps.mkdir(parents=True, exist_ok=True)
    page = emerging_hotspot_page(list(built), patterns, trends, changing, neighbourhoods=nb,
                                 pages={k: f"../neighbourhoods/{v}" for k, v in files.items()},
                                 study_area_page="../neighbourhoods/study_area.html",
                                 title=f"{cfg.area.name}: emerging hot spots", simplify_m=cfg.maps.simplify_m,
                                 offline=offline)
    (maps / "emerging_hotspots.html").write_text(page, encoding="utf-8")


def run_track(cfg: StudyConfig, *, out_dir: Path, charts: bool = False, index_out: Path | None = None,
              offline: bool | None = None) -> TrackRun:
    """Build every ``track.series`` of the config and write the track outputs.

    Parameters
    ----------
    cfg : StudyConfig
        A config with a ``track:`` section.
    out_dir : Path
        Output folder of its own (replaced all-or-nothing; an index output folder is refused).
    charts : bool
        Also draw the charts (PNG) of :mod:`pli.track.charts`.
    index_out : Path, optional
        Output folder of ``pli index``: its ``priority_neighbourhoods.geojson`` gives the
        neighbourhood pages; without it they are recomputed.
    offline : bool, optional
        Inline the map's JavaScript and CSS (default: yes, unless the config says ``maps.online``).

    Returns
    -------
    TrackRun
    """
    from pli import boundaries as bnd_stage
    from pli import harm, outputs, transaction

    if cfg.track is None or not cfg.track.series:
        raise InputError("the config has no 'track:' section; add track.series (see README, Tracking change)",
                         path=str(cfg.config_path) if cfg.config_path else None)
    out_dir = Path(out_dir)
    inputs = [cfg.resolve(p) for _, p in cfg.input_paths()]
    inputs += [cfg.resolve(s.path) for s in cfg.track.series if s.path is not None]
    targets = {"output": out_dir}
    transaction.check_output_paths(targets, data_dir=cfg.data_dir, config_path=cfg.config_path, inputs=inputs)
    _refuse_index_folder(out_dir)

    boundaries = bnd_stage.load_boundaries(cfg)
    reconcile = bnd_stage.CodeReconciler(boundaries, cfg.sources)
    harm_path = cfg.resolve(cfg.index.harm_weights) if cfg.index.harm_weights else None
    harm_weights = harm.load_harm_weights(harm_path)
    built, trends, patterns = [], [], []
    loaded: dict = {}
    for spec in cfg.track.series:
        s = build_series(cfg, spec, boundaries, harm_weights, reconcile=reconcile, loaded=loaded)
        built.append(s)
        trends.append(_trends(s, spec.alpha, spec.trend_test, spec.autocorrelation_method()))
        ehs = emerging_hot_spots(s.counts, _neighbours(s.areas), alpha=spec.alpha).to_frame().reset_index()
        ehs.insert(0, "series", s.name)
        ehs.insert(2, "area_name", ehs["area_code"].map(s.areas["area_name"]))
        patterns.append(ehs)
    trend = pd.concat(trends, ignore_index=True)
    pattern = pd.concat(patterns, ignore_index=True)
    changing = trend[(trend["measure"] == "harm_days") & trend["significant"]].copy()
    changing.insert(1, "change", changing["direction"].map({"up": "deteriorating", "down": "improving"}))
    changing = changing.sort_values(["series", "change", "sen_slope_per_year"], ascending=[True, True, False])
    from pli.track.rolling import read_index_sources, rolling_index

    rolling = None
    index_sources = read_index_sources(cfg, boundaries, loaded=loaded)
    if cfg.track.rolling.enabled:
        rolling = rolling_index(cfg, boundaries, reconcile, harm_weights, step_months=cfg.track.rolling.step_months,
                                windows=cfg.track.rolling.windows, sources=index_sources)
    nb, nb_source, window = _neighbourhoods(cfg, boundaries, reconcile, harm_weights, rolling, index_out,
                                            index_sources)
    nb_trends = _neighbourhood_trends(built, cfg.track.series, nb)
    series_long = pd.concat([s.to_frame() for s in built], ignore_index=True)

    with transaction.TargetLock(targets) as lock, outputs.OutputTransaction(targets, lock=lock) as tx:
        outputs.write_csv(series_long, tx.path("output", "series.csv"))
        outputs.write_csv(trend, tx.path("output", "trends.csv"))
        outputs.write_csv(changing.reset_index(drop=True), tx.path("output", "changing_areas.csv"))
        if len(nb_trends):
            outputs.write_csv(nb_trends, tx.path("output", "neighbourhood_trends.csv"))
        outputs.write_csv(pattern, tx.path("output", "emerging_hotspots.csv"))
        if rolling is not None:
            outputs.write_csv(rolling.lsoa, tx.path("output", "rolling_index.csv"))
            outputs.write_csv(rolling.neighbourhoods, tx.path("output", "rolling_neighbourhoods.csv"))
        _write_pages(tx, cfg, built, cfg.track.series, nb, window, boundaries, pattern, trend, changing,
                     cfg.maps.inline_assets if offline is None else offline)
        if charts:
            from pli.track.charts import write_charts

            for s, spec in zip(built, cfg.track.series):
                write_charts(s, trend, tx.staging_dir("output") / "charts" / s.name,
                             seasonal=spec.trend_test == "seasonal")
        manifest = _manifest(cfg, built, pattern, harm_path, tx)
        manifest["rolling"] = ({"windows": [f"{a} to {b}" for a, b in rolling.windows]} if rolling is not None
                               else None)
        manifest["neighbourhoods"] = {"source": nb_source, "count": int(len(nb))}
        if index_out is not None:
            # The pages describe that run's neighbourhoods: a re-run index makes them stale.
            nb_file = Path(index_out) / "priority_neighbourhoods.geojson"
            manifest["inputs"][outputs.input_key(nb_file, cfg.data_dir)] = outputs.file_sha256(nb_file)
        outputs.write_json(manifest, tx.path("output", outputs.MANIFEST_NAME))
        files = tuple(tx.commit())
    return TrackRun(out_dir=out_dir, files=files, series=tuple(built), trends=trend, changing=changing,
                    patterns=pattern, rolling=rolling, neighbourhood_trends=nb_trends)


def _manifest(cfg: StudyConfig, built, pattern: pd.DataFrame, harm_path, tx) -> dict:
    from pli import __version__, outputs
    from pli.harm import DEFAULT_HARM_WEIGHTS

    paths = {p for s in built for p in s.files}
    inputs = outputs.hash_inputs(sorted(paths), relative_to=cfg.data_dir)
    for p in (harm_path or DEFAULT_HARM_WEIGHTS, cfg.config_path):
        if p is not None and Path(p).is_file():
            inputs[outputs.input_key(p, cfg.data_dir)] = outputs.file_sha256(p)
    return {
        "pli_version": __version__,
        "role": "track",
        "run_id": tx.run_id,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "area": cfg.area.name,
        "config_path": str(cfg.config_path) if cfg.config_path else None,
        "config": cfg.raw,
        "data_dir": str(cfg.data_dir),
        "inputs": inputs,
        "series": {s.name: {"level": s.level, "period": s.period, "areas": int(s.counts.shape[1]),
                            "slices": int(s.counts.shape[0]), "first": str(s.counts.index[0]),
                            "last": str(s.counts.index[-1]), "offences": int(s.counts.to_numpy().sum()),
                            "left_out_outside_areas": s.dropped,
                            "patterns": {str(k): int(v) for k, v in
                                         pattern.loc[pattern["series"] == s.name, "pattern"].value_counts().items()}}
                   for s in built},
        "outputs": outputs.staged_hashes(tx),
    }

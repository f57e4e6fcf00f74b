"""Compare two runs: who moved, who entered or left the top, which neighbourhoods changed, and why.

``pli compare RUN_A RUN_B`` reads two output folders of ``pli index`` (``rankings.csv``,
``priority_neighbourhoods.csv``, ``manifest.json`` and the ``lsoa`` layer of ``pli.gpkg``)
and writes, into a folder of its own:

* ``rank_changes.csv``: one row per LSOA, rank and score in both runs, the change
  (positive ``rank_change`` = moved towards priority 1), and top-N membership;
* ``top_changes.csv``: the LSOAs that entered or left the top N;
* ``neighbourhood_churn.csv``: each neighbourhood of run A matched one to one with a
  neighbourhood of run B by the Jaccard index of their LSOA sets (the assignment that
  maximises total overlap, Hungarian algorithm), unmatched ones listed with 0;
* ``config_changes.csv``: every config value, indicator weight and input file (by hash)
  that differs between the manifests: the likely reasons for the changes above;
* ``comparison.html``: a map of rank change with the top-N entries and exits named in the
  tooltips, and ``manifest.json`` with the hashes of both runs' files.

Runs on LSOAs of different vintages are refused (their codes cannot be joined one to one).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from pli.compare import compare_runs, read_run
>>> from pli.config import default_data_dir, load_config
>>> from pli.pipeline import run_index
>>> cfg = load_config(default_data_dir() / "configs" / "croydon-demo.yml")
>>> base = Path(tempfile.mkdtemp())
>>> _ = run_index(cfg, out_dir=base / "a", maps_dir=None, seed=0)
>>> _ = run_index(cfg, out_dir=base / "b", maps_dir=None, seed=0)
>>> same = compare_runs(read_run(base / "a"), read_run(base / "b"))
>>> int(same.rank_changes["rank_change"].abs().max()), same.top_changes.empty
(0, True)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from pli import outputs
from pli._codes import list_codes
from pli._map_assets import (
    Attribution,
    FitView,
    LegendControl,
    MapPanel,
    escape_text,
    inline_assets,
    legend_html,
    stable_element_ids,
)
from pli.errors import InputError
from pli.maps.pages import plain_map
from pli.maps.rendering import render_page

__all__ = ["RunComparison", "RunOutputs", "compare_runs", "read_run", "write_comparison"]

# Rank change classes of the map, from most towards priority to most away from it.
_CHANGE_CLASSES = (
    (20, np.inf, "#b2182b", "up 20 or more places"),
    (5, 20, "#ef8a62", "up 5 to 19 places"),
    (-4, 5, "#f7f7f7", "within 4 places"),
    (-19, -4, "#67a9cf", "down 5 to 19 places"),
    (-np.inf, -19, "#2166ac", "down 20 or more places"),
)


@dataclass(frozen=True)
class RunOutputs:
    """What :func:`compare_runs` needs from one output folder of ``pli index``.

    Attributes
    ----------
    folder : Path
    rankings : DataFrame
        ``rankings.csv`` indexed by ``lsoa_code``.
    neighbourhoods : DataFrame
        ``priority_neighbourhoods.csv`` with ``lsoa_codes`` split into lists.
    manifest : dict
    lsoa : GeoDataFrame or None
        The ``lsoa`` layer of ``pli.gpkg`` (geometry for the map), when present.
    """

    folder: Path
    rankings: pd.DataFrame
    neighbourhoods: pd.DataFrame
    manifest: dict
    lsoa: gpd.GeoDataFrame | None

    @property
    def label(self) -> str:
        """The folder name and the run id, for headings."""
        return f"{self.folder.name} (run {self.manifest.get('run_id', 'unknown')})"


def read_run(folder: str | Path) -> RunOutputs:
    """Read the files of one ``pli index`` output folder.

    Raises
    ------
    InputError
        When a file is missing or lacks the columns a comparison needs.
    """
    folder = Path(folder)
    needed = ("rankings.csv", "priority_neighbourhoods.csv", outputs.MANIFEST_NAME)
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise InputError(f"{folder} is not an output folder of `pli index`: no {', '.join(missing)}; "
                         "pass the folder given to --out")
    rankings = pd.read_csv(folder / "rankings.csv", dtype={"lsoa_code": str}).set_index("lsoa_code")
    gaps = [c for c in ("rank", "score") if c not in rankings.columns]
    if gaps:
        raise InputError(f"{folder / 'rankings.csv'}: no column {', '.join(gaps)}; expected the rankings of "
                         "`pli index`")
    neighbourhoods = pd.read_csv(folder / "priority_neighbourhoods.csv")
    if "lsoa_codes" not in neighbourhoods.columns:
        raise InputError(f"{folder / 'priority_neighbourhoods.csv'}: no column 'lsoa_codes'")
    neighbourhoods["lsoa_codes"] = neighbourhoods["lsoa_codes"].fillna("").astype(str).str.split(";")
    manifest = json.loads((folder / outputs.MANIFEST_NAME).read_text(encoding="utf-8"))
    gpkg = folder / "pli.gpkg"
    lsoa = gpd.read_file(gpkg, layer="lsoa").set_index("lsoa_code")[["geometry"]] if gpkg.is_file() else None
    return RunOutputs(folder, rankings, neighbourhoods, manifest, lsoa)


@dataclass(frozen=True)
class RunComparison:
    """The differences between two runs (see the module docstring for each table)."""

    run_a: str
    run_b: str
    top_n: int
    rank_changes: pd.DataFrame
    top_changes: pd.DataFrame
    neighbourhood_churn: pd.DataFrame
    config_changes: pd.DataFrame

    def summary(self) -> str:
        """A few lines for the terminal."""
        moved = self.rank_changes["rank_change"].abs()
        entered = self.top_changes[self.top_changes["change"] == "entered"].index
        left = self.top_changes[self.top_changes["change"] == "left"].index
        churn = self.neighbourhood_churn
        matched = churn.dropna(subset=["rank_a", "rank_b"])
        lines = [
            f"Comparing {self.run_a} with {self.run_b} ({len(self.rank_changes)} LSOAs)",
            f"  rank change: median {moved.median():.0f} places, largest {moved.max():.0f}; "
            f"{int((moved >= 20).sum())} LSOA(s) moved 20 or more places",
            f"  top {self.top_n}: {len(entered)} entered ({list_codes(entered, 5)}), "
            f"{len(left)} left ({list_codes(left, 5)})",
            f"  neighbourhoods: {int((matched['jaccard'] >= 0.5).sum())} of {len(churn)} kept (Jaccard >= 0.5), "
            f"mean Jaccard {matched['jaccard'].mean() if len(matched) else 0:.2f}",
            f"  config, weights or inputs that differ: {len(self.config_changes)}",
        ]
        return "\n".join(lines)


def compare_runs(run_a: RunOutputs, run_b: RunOutputs, *, top_n: int = 20) -> RunComparison:
    """Compare two runs LSOA by LSOA, neighbourhood by neighbourhood and setting by setting.

    Parameters
    ----------
    run_a, run_b : RunOutputs
        From :func:`read_run`; A is the earlier or reference run.
    top_n : int
        Size of the top list whose entries and exits are reported.

    Returns
    -------
    RunComparison

    Raises
    ------
    InputError
        When the runs share no LSOA (another area, or another LSOA vintage).
    """
    if top_n < 1:
        raise InputError(f"--top: expected a positive number of LSOAs, got {top_n}")
    a, b = run_a.rankings, run_b.rankings
    shared = a.index.intersection(b.index)
    if len(shared) == 0:
        raise InputError(f"{run_a.folder} and {run_b.folder} share no LSOA code: they cover different areas "
                         "or LSOA vintages and cannot be compared LSOA by LSOA")
    codes = a.index.union(b.index).sort_values()
    frame = pd.DataFrame(index=pd.Index(codes, name="lsoa_code"))
    for col in ("lsoa_name", "ward_name"):
        if col in a.columns or col in b.columns:
            frame[col] = a[col].reindex(codes).fillna(b[col].reindex(codes)) if col in a.columns else b[col]
    frame["rank_a"] = a["rank"].reindex(codes)
    frame["rank_b"] = b["rank"].reindex(codes)
    frame["score_a"] = a["score"].reindex(codes)
    frame["score_b"] = b["score"].reindex(codes)
    # Positive: the LSOA moved towards rank 1 (higher priority) in run B.
    frame["rank_change"] = frame["rank_a"] - frame["rank_b"]
    frame["top_a"] = frame["rank_a"] <= top_n
    frame["top_b"] = frame["rank_b"] <= top_n
    if "neighbourhood_rank" in a.columns and "neighbourhood_rank" in b.columns:
        frame["neighbourhood_a"] = a["neighbourhood_rank"].reindex(codes)
        frame["neighbourhood_b"] = b["neighbourhood_rank"].reindex(codes)
    frame = frame.sort_values(["rank_b", "rank_a"], kind="stable")
    entered = frame[frame["top_b"] & ~frame["top_a"]].assign(change="entered")
    left = frame[frame["top_a"] & ~frame["top_b"]].assign(change="left")
    top = pd.concat([entered, left])[["change", *[c for c in frame.columns if c in (
        "lsoa_name", "ward_name", "rank_a", "rank_b", "rank_change")]]]
    return RunComparison(
        run_a=run_a.label, run_b=run_b.label, top_n=top_n, rank_changes=frame, top_changes=top,
        neighbourhood_churn=match_neighbourhoods(run_a.neighbourhoods, run_b.neighbourhoods),
        config_changes=_manifest_changes(run_a.manifest, run_b.manifest),
    )


def match_neighbourhoods(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Match neighbourhoods one to one by the Jaccard index of their LSOA sets.

    The pairing maximises the total Jaccard index (Hungarian algorithm); a neighbourhood
    with no partner (the runs drew different numbers, or nothing overlaps) is listed with
    a Jaccard index of 0.

    Parameters
    ----------
    a, b : DataFrame
        Neighbourhoods with ``rank``, ``name`` and ``lsoa_codes`` (lists of codes).

    Returns
    -------
    DataFrame
        ``rank_a``, ``name_a``, ``rank_b``, ``name_b``, ``jaccard``, ``shared``,
        ``only_a``, ``only_b`` (LSOA codes joined by ``;``), best match first.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"rank": [1, 2], "name": ["North", "South"], "lsoa_codes": [["E1", "E2"], ["E3"]]})
    >>> b = pd.DataFrame({"rank": [1], "name": ["South"], "lsoa_codes": [["E3", "E4"]]})
    >>> match_neighbourhoods(a, b)[["name_a", "name_b", "jaccard"]].to_dict("records")
    [{'name_a': 'South', 'name_b': 'South', 'jaccard': 0.5}, {'name_a': 'North', 'name_b': None, 'jaccard': 0.0}]
    """
    sets_a = [set(codes) - {""} for codes in a["lsoa_codes"]]
    sets_b = [set(codes) - {""} for codes in b["lsoa_codes"]]
    jaccard = np.zeros((len(sets_a), len(sets_b)))
    for i, sa in enumerate(sets_a):
        for j, sb in enumerate(sets_b):
            union = len(sa | sb)
            jaccard[i, j] = len(sa & sb) / union if union else 0.0
    rows, cols = linear_sum_assignment(-jaccard) if jaccard.size else (np.array([], int), np.array([], int))
    pairs = [(i, j) for i, j in zip(rows, cols) if jaccard[i, j] > 0]
    paired_a, paired_b = {i for i, _ in pairs}, {j for _, j in pairs}
    pairs += [(i, None) for i in range(len(sets_a)) if i not in paired_a]
    pairs += [(None, j) for j in range(len(sets_b)) if j not in paired_b]
    records = []
    for i, j in pairs:
        sa = sets_a[i] if i is not None else set()
        sb = sets_b[j] if j is not None else set()
        records.append({
            "rank_a": a["rank"].iloc[i] if i is not None else None,
            "name_a": a["name"].iloc[i] if i is not None else None,
            "rank_b": b["rank"].iloc[j] if j is not None else None,
            "name_b": b["name"].iloc[j] if j is not None else None,
            "jaccard": round(float(jaccard[i, j]), 6) if i is not None and j is not None else 0.0,
            "shared": ";".join(sorted(sa & sb)),
            "only_a": ";".join(sorted(sa - sb)),
            "only_b": ";".join(sorted(sb - sa)),
        })
    out = pd.DataFrame.from_records(records, columns=["rank_a", "name_a", "rank_b", "name_b", "jaccard", "shared",
                                                      "only_a", "only_b"])
    out = out.astype({"rank_a": "Int64", "rank_b": "Int64", "name_a": object, "name_b": object})
    for col in ("name_a", "name_b"):
        out[col] = out[col].where(out[col].notna(), None)
    return out.sort_values(["jaccard", "rank_a"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested config values as ``key.path -> JSON text`` (lists of mappings keyed by ``name``)."""
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, Mapping) and "name" in v for v in value):
        out = {}
        for item in value:
            out.update(_flatten({k: v for k, v in item.items() if k != "name"}, f"{prefix}[{item['name']}]"))
        return out
    return {prefix: json.dumps(value, sort_keys=True, default=str)}


def _manifest_changes(a: dict, b: dict) -> pd.DataFrame:
    """Config values, final indicator weights and input files (by hash) that differ."""
    rows: list[dict[str, Any]] = []

    def diff(kind: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        for key in sorted(set(before) | set(after)):
            x, y = before.get(key), after.get(key)
            if x != y:
                rows.append({"kind": kind, "key": key, "run_a": x, "run_b": y})

    diff("config", _flatten(a.get("config", {})), _flatten(b.get("config", {})))
    weights = [{str(w.get("indicator")): round(float(w.get("weight", np.nan)), 6)
                for w in m.get("index", {}).get("weights", [])} for m in (a, b)]
    diff("weight", *weights)
    diff("input", a.get("inputs", {}), b.get("inputs", {}))
    diff("seed", {"seed": a.get("seed")}, {"seed": b.get("seed")})
    return pd.DataFrame.from_records(rows, columns=["kind", "key", "run_a", "run_b"])


def _change_colour(change: pd.Series) -> pd.Series:
    colour = pd.Series("#cccccc", index=change.index, dtype=object)  # grey: in one run only
    for low, high, hex_colour, _ in _CHANGE_CLASSES:
        colour[(change >= low) & (change < high)] = hex_colour
    return colour


def comparison_page(comparison: RunComparison, lsoa: gpd.GeoDataFrame, *, offline: bool = True) -> str:
    """The HTML page: LSOAs coloured by rank change, top-N entries and exits in the tooltips.

    Every text that comes from data is escaped; element ids are stable, so the same two
    runs give the same bytes.
    """
    frame = comparison.rank_changes.join(lsoa[["geometry"]], how="inner")
    geo = gpd.GeoDataFrame(frame, geometry="geometry", crs=lsoa.crs).to_crs(4326)
    change = geo["rank_change"]
    colour = _change_colour(change)
    top = comparison.top_changes["change"].reindex(geo.index)

    def tip(code: str, row: pd.Series) -> str:
        name = escape_text(row.get("lsoa_name", ""))
        rank_a = "-" if pd.isna(row["rank_a"]) else f"{int(row['rank_a'])}"
        rank_b = "-" if pd.isna(row["rank_b"]) else f"{int(row['rank_b'])}"
        moved = "" if pd.isna(row["rank_change"]) else f" ({int(row['rank_change']):+d})"
        flag = "" if pd.isna(top.get(code)) else f"<br>{escape_text(top[code])} the top {comparison.top_n}"
        return f"<b>{escape_text(code)}</b> {name}<br>rank {rank_a} &rarr; {rank_b}{moved}{flag}"

    features = []
    for code, row in geo.iterrows():
        features.append({
            "type": "Feature", "id": escape_text(code),
            "properties": {"colour": colour[code], "tip": tip(str(code), row),
                           "edge": "#111111" if pd.notna(top.get(code)) else "#ffffff",
                           "width": 2.5 if pd.notna(top.get(code)) else 0.4},
            "geometry": row.geometry.__geo_interface__,
        })
    west, south, east, north = geo.total_bounds
    with stable_element_ids("comparison.html"):
        m = plain_map((west, south, east, north), zoom_start=12)
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=escape_text("Rank change"),
            style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": f["properties"]["edge"],
                                      "weight": f["properties"]["width"], "fillOpacity": 0.85},
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True, class_name="pli-tip"),
        )
        layer.add_to(m)
        items = [(hex_colour, label) for _, _, hex_colour, label in _CHANGE_CLASSES] + [("#cccccc", "in one run only")]
        LegendControl(legend_html("Rank change, run A to run B", items,
                                  note="Up = towards priority 1. Hover an area for its ranks."),
                      layer=None, key="rank-change", position="bottomleft").add_to(m)
        LegendControl(legend_html(f"Top {comparison.top_n}", [("#111111", "entered or left the top", {"width": 2.5})],
                                  kind="line"), layer=None, key="top-change", position="bottomright").add_to(m)
        heading = (f"<b>Run comparison</b><br>A: {escape_text(comparison.run_a)}<br>B: {escape_text(comparison.run_b)}"
                   f"<br>Top {comparison.top_n}: {int((comparison.top_changes['change'] == 'entered').sum())} "
                   f"entered, {int((comparison.top_changes['change'] == 'left').sum())} left")
        MapPanel(heading, key="title", position="topleft", css_class="pli-panel pli-title").add_to(m)
        Attribution(escape_text("Boundaries: ONS (OGL v3). Rankings: pli.")).add_to(m)
        FitView([[float(south), float(west)], [float(north), float(east)]]).add_to(m)
        html = render_page(m)
    return inline_assets(html) if offline else html


def write_comparison(comparison: RunComparison, out_dir: str | Path, *, run_a: RunOutputs, run_b: RunOutputs,
                     offline: bool = True) -> tuple[Path, ...]:
    """Write the comparison tables, the map page and a manifest into ``out_dir``, all or nothing.

    Returns
    -------
    tuple of Path
        The files written.
    """
    from pli import transaction

    target = {"output": Path(out_dir)}
    transaction.check_output_paths(target, inputs=[run_a.folder, run_b.folder])
    with outputs.OutputTransaction(target) as tx:
        outputs.write_csv(comparison.rank_changes.reset_index(), tx.path("output", "rank_changes.csv"))
        outputs.write_csv(comparison.top_changes.reset_index(), tx.path("output", "top_changes.csv"))
        outputs.write_csv(comparison.neighbourhood_churn, tx.path("output", "neighbourhood_churn.csv"))
        outputs.write_csv(comparison.config_changes, tx.path("output", "config_changes.csv"))
        geometry = run_a.lsoa if run_a.lsoa is not None else run_b.lsoa
        if geometry is not None:
            page = comparison_page(comparison, geometry, offline=offline)
            tx.path("output", "comparison.html").write_text(page, encoding="utf-8")
        manifest = {
            "command": "pli compare",
            "run_id": tx.run_id,
            "run_a": {"folder": str(run_a.folder.resolve()), "run_id": run_a.manifest.get("run_id"),
                      "manifest_sha256": outputs.file_sha256(run_a.folder / outputs.MANIFEST_NAME)},
            "run_b": {"folder": str(run_b.folder.resolve()), "run_id": run_b.manifest.get("run_id"),
                      "manifest_sha256": outputs.file_sha256(run_b.folder / outputs.MANIFEST_NAME)},
            "top_n": comparison.top_n,
            "outputs": outputs.staged_hashes(tx),
        }
        outputs.write_json(manifest, tx.path("output", outputs.MANIFEST_NAME))
        return tuple(tx.commit())

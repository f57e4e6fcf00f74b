"""What ``pli report`` reads: an index run, its maps and, optionally, track and uncertainty folders.

Everything the report shows comes from files other commands wrote; nothing is recomputed
from the raw data. The folders are checked once here and every problem is raised in one
:class:`pli.errors.InputError` naming the file and what was expected.

A public report (``--public``) needs an index folder written by ``pli index --public``:
its tables were suppressed by :mod:`pli.disclosure`, it holds no patrol plan, and the
report shows nothing that is not already in them (see :mod:`pli.report.profiles`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import geopandas as gpd
import pandas as pd

from pli.errors import InputError
from pli.outputs import MANIFEST_NAME

log = logging.getLogger(__name__)

__all__ = ["ReportInputs", "read_report_inputs", "UNCERTAINTY_FILES", "TRACK_FILES"]

#: The tables ``pli uncertainty`` writes, with the columns the report reads.
UNCERTAINTY_FILES = {
    "lsoa_rank_intervals.csv": ("lsoa_code", "lsoa_name", "base_rank", "median_rank", "rank_p05", "rank_p95",
                                "p_top_n"),
    "neighbourhood_frequency.csv": ("neighbourhood", "name", "selection_frequency", "mean_jaccard"),
    "sobol.csv": ("output", "factor", "S1", "S1_conf", "ST", "ST_conf"),
}
#: The tables of ``pli track`` the report reads.
TRACK_FILES = {
    "series.csv": ("series", "period", "area_code", "area_name", "count", "harm_days"),
    "trends.csv": ("series", "measure", "area_code", "test"),
}
_INDEX_FILES = {
    "priority_neighbourhoods.csv": ("rank", "name", "slug", "lsoa_codes", "n_lsoas", "population", "harm_share",
                                    "top_drivers"),
    "rankings.csv": ("lsoa_code", "lsoa_name", "score", "rank"),
    "indicator_inputs.csv": ("lsoa_code",),
}
_FIGURES = ("priority_localities.png", "priority_neighbourhoods.png")


@dataclass(frozen=True)
class ReportInputs:
    """The frames and files of the runs a report is made from.

    Attributes
    ----------
    index_dir, maps_dir : Path
        The ``pli index`` output folder and its maps folder.
    manifest : dict
        The index run's ``manifest.json``.
    neighbourhoods, rankings, indicator_inputs : DataFrame
        The index tables (already suppressed in a public run).
    patrol_totals, patrol_plan : DataFrame or None
        Patrol tables (None in a public run or when patrols were not planned).
    boundaries : GeoDataFrame or None
        The ``lsoa`` layer of ``pli.gpkg`` (EPSG:27700) for the locator maps.
    figures : dict of str to Path
        The maps folder's PNG figures that exist.
    track_dir, uncertainty_dir : Path or None
        The optional folders.
    track : dict of str to DataFrame
        ``series`` and ``trends`` when a track folder was given.
    uncertainty : dict of str to DataFrame
        The uncertainty tables found (keys are file names).
    public : bool
        The index run was public (``pli index --public``).
    files : tuple of Path
        Every file read, for the report's manifest.
    """

    index_dir: Path
    maps_dir: Path
    manifest: dict
    neighbourhoods: pd.DataFrame
    rankings: pd.DataFrame
    indicator_inputs: pd.DataFrame
    patrol_totals: Optional[pd.DataFrame]
    patrol_plan: Optional[pd.DataFrame]
    boundaries: Optional[gpd.GeoDataFrame]
    figures: dict
    track_dir: Optional[Path]
    uncertainty_dir: Optional[Path]
    track: dict
    uncertainty: dict
    public: bool
    files: tuple

    @property
    def config(self) -> dict:
        """The index run's config as written (``manifest["config"]``)."""
        return self.manifest.get("config") or {}

    @property
    def simulated(self) -> bool:
        return bool(self.manifest.get("simulated"))

    @property
    def area_name(self) -> str:
        return str(self.manifest.get("area") or "Study area")


def _read_json(path: Path, problems: list[str]) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: unreadable JSON ({exc})")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a JSON object")
        return {}
    return data


def _read_table(path: Path, columns: tuple[str, ...], problems: list[str], *, dtype=None) -> Optional[pd.DataFrame]:
    if not path.is_file():
        problems.append(f"{path}: file not found")
        return None
    try:
        frame = pd.read_csv(path, comment="#", dtype=dtype)
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: not a readable CSV ({exc})")
        return None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        problems.append(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
        return None
    return frame


def read_report_inputs(index_dir: str | Path, maps_dir: str | Path, *, track_dir: str | Path | None = None,
                       uncertainty_dir: str | Path | None = None, public: bool = False) -> ReportInputs:
    """Read and check every folder a report is made from.

    Parameters
    ----------
    index_dir : str or Path
        Output folder of ``pli index`` (holds ``manifest.json``).
    maps_dir : str or Path
        Its maps folder; it must come from the same run (same ``run_id``).
    track_dir, uncertainty_dir : str or Path, optional
        Output folders of ``pli track`` and ``pli uncertainty``.
    public : bool
        A public report is asked for: the index run must be public.

    Returns
    -------
    ReportInputs

    Raises
    ------
    InputError
        Listing every problem found.
    """
    index_dir, maps_dir = Path(index_dir), Path(maps_dir)
    problems: list[str] = []
    files: list[Path] = []
    manifest_path = index_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise InputError(f"no {MANIFEST_NAME} here; expected the output folder of `pli index`", path=str(index_dir))
    manifest = _read_json(manifest_path, problems)
    files.append(manifest_path)
    run_public = bool(manifest.get("public_mode"))
    if public and not run_public:
        problems.append(f"{index_dir}: --public needs the output of `pli index --public` (its tables are "
                        "suppressed); this run was not public. Re-run the index with --public into another folder")
    maps_manifest = maps_dir / MANIFEST_NAME
    if not maps_dir.is_dir():
        problems.append(f"{maps_dir}: maps folder not found (--maps)")
    elif maps_manifest.is_file():
        maps_run = _read_json(maps_manifest, problems).get("run_id")
        if maps_run != manifest.get("run_id"):
            problems.append(f"{maps_dir}: holds run {maps_run or 'unknown'} but {index_dir} holds run "
                            f"{manifest.get('run_id')}; give the maps folder of the same run (--maps)")
        files.append(maps_manifest)
    else:
        problems.append(f"{maps_dir}: no {MANIFEST_NAME}; expected the maps folder of `pli index`")

    tables = {}
    for name, columns in _INDEX_FILES.items():
        tables[name] = _read_table(index_dir / name, columns, problems, dtype={"lsoa_code": str})
        files.append(index_dir / name)
    patrol_totals = patrol_plan = None
    if not run_public:
        for name in ("patrol_totals.csv", "patrol_plan.csv"):
            if (index_dir / name).is_file():
                files.append(index_dir / name)
        if (index_dir / "patrol_totals.csv").is_file():
            patrol_totals = _read_table(index_dir / "patrol_totals.csv",
                                        ("neighbourhood_rank", "places", "visits_per_week", "officer_hours_per_week"),
                                        problems)
        if (index_dir / "patrol_plan.csv").is_file():
            patrol_plan = _read_table(index_dir / "patrol_plan.csv",
                                      ("place_number", "neighbourhood_rank", "location", "visits_per_week"), problems)
    boundaries = None
    gpkg = index_dir / "pli.gpkg"
    if gpkg.is_file():
        try:
            boundaries = gpd.read_file(gpkg, layer="lsoa")[["lsoa_code", "geometry"]]
            files.append(gpkg)
        except Exception as exc:  # noqa: BLE001 - a broken GeoPackage only costs the locator maps
            log.warning("report: %s: layer 'lsoa' with lsoa_code unreadable (%s); no locator maps", gpkg, exc)
    figures = {name: maps_dir / name for name in _FIGURES if (maps_dir / name).is_file()}
    files.extend(figures.values())

    track: dict = {}
    if track_dir is not None:
        track_dir = Path(track_dir)
        for name, columns in TRACK_FILES.items():
            frame = _read_table(track_dir / name, columns, problems, dtype={"area_code": str, "period": str})
            if frame is not None:
                track[name.removesuffix(".csv")] = frame
                files.append(track_dir / name)
    uncertainty: dict = {}
    if uncertainty_dir is not None:
        uncertainty_dir = Path(uncertainty_dir)
        if not uncertainty_dir.is_dir():
            problems.append(f"{uncertainty_dir}: uncertainty folder not found (--uncertainty)")
        else:
            for name, columns in UNCERTAINTY_FILES.items():
                if (uncertainty_dir / name).is_file():
                    frame = _read_table(uncertainty_dir / name, columns, problems, dtype={"lsoa_code": str})
                    if frame is not None:
                        uncertainty[name] = frame
                        files.append(uncertainty_dir / name)
            if not uncertainty:
                problems.append(f"{uncertainty_dir}: none of {', '.join(UNCERTAINTY_FILES)} found; expected the "
                                "output folder of `pli uncertainty`")
    if problems:
        raise InputError("cannot make the report:\n  " + "\n  ".join(problems))
    nb = tables["priority_neighbourhoods.csv"]
    assert nb is not None and tables["rankings.csv"] is not None and tables["indicator_inputs.csv"] is not None
    return ReportInputs(
        index_dir=index_dir, maps_dir=maps_dir, manifest=manifest,
        neighbourhoods=nb.sort_values("rank").reset_index(drop=True),
        rankings=tables["rankings.csv"], indicator_inputs=tables["indicator_inputs.csv"],
        patrol_totals=patrol_totals, patrol_plan=patrol_plan, boundaries=boundaries, figures=figures,
        track_dir=Path(track_dir) if track_dir is not None else None,
        uncertainty_dir=Path(uncertainty_dir) if uncertainty_dir is not None else None,
        track=track, uncertainty=uncertainty, public=run_public, files=tuple(files),
    )

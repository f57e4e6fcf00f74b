"""One validation pass at the edge, before any stage runs.

:func:`validate_inputs` looks at every file the config names (existence, emptiness,
readability, CRS, header columns) and raises a single :class:`~pli.errors.InputError`
listing every problem, each naming the file and column, what was expected, what
arrived and how to fix it. Checks that need the data itself (duplicate codes, invalid
geometry, non-numeric counts, points outside the area) run in the stage that reads
the data and raise the same kind of error.
"""

from __future__ import annotations

import csv
import difflib
import logging
from pathlib import Path
from typing import Iterable

from pli.config import BoundaryLayerSpec, SourceSpec, StudyConfig
from pli.errors import InputError

__all__ = ["REQUIRED_COLUMNS", "read_header", "validate_inputs"]

log = logging.getLogger(__name__)

#: Header columns each loader needs (matched case- and space-insensitively).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "police_uk": ("Month", "Longitude", "Latitude", "LSOA code", "Crime type"),
    "iod2019": ("LSOA code (2011)", "Index of Multiple Deprivation (IMD) Score"),
    "census2011_population": ("LSOA Code", "Persons"),
}


def _norm(name: str) -> str:
    return " ".join(str(name).replace("_", " ").split()).lower()


def read_header(path: Path, *, encoding: str = "utf-8") -> list[str]:
    """The first row of a CSV file (BOM stripped)."""
    with open(path, newline="", encoding=encoding, errors="replace") as fh:
        row = next(csv.reader(fh), None)
    if row is None:
        return []
    if row and row[0].startswith("\ufeff"):
        row[0] = row[0][1:]
    return [c.strip() for c in row]


def _missing(header: Iterable[str], wanted: Iterable[str]) -> list[str]:
    have = {_norm(h) for h in header}
    return [w for w in wanted if _norm(w) not in have]


def _suggest(name: str, header: list[str]) -> str:
    close = difflib.get_close_matches(name, header, n=1, cutoff=0.5)
    return f" (closest: {close[0]!r})" if close else ""


def _check_file(path: Path, key: str, problems: list[str]) -> bool:
    if not path.exists():
        parent = path.parent
        hint = ""
        if parent.is_dir():
            close = difflib.get_close_matches(path.name, [p.name for p in parent.iterdir()], n=1)
            if close:
                hint = f"; did you mean {close[0]!r}?"
        problems.append(f"{key}: file not found: {path}{hint} (paths resolve against --data-dir)")
        return False
    if path.is_file() and path.stat().st_size == 0:
        problems.append(f"{key}: {path} is empty (0 bytes); expected data")
        return False
    return True


def _check_csv_columns(path: Path, wanted: Iterable[str], key: str, problems: list[str], *, encoding: str) -> None:
    try:
        header = read_header(path, encoding=encoding)
    except OSError as exc:
        problems.append(f"{key}: cannot read {path}: {exc}")
        return
    if not header:
        problems.append(f"{key}: {path} has no header row; expected columns {', '.join(wanted)}")
        return
    for col in _missing(header, wanted):
        problems.append(f"{key}: {path} has no column {col!r}{_suggest(col, header)}; "
                        f"columns are: {', '.join(header[:12])}{' ...' if len(header) > 12 else ''}")


def _check_layer(spec: BoundaryLayerSpec, key: str, cfg: StudyConfig, problems: list[str]) -> None:
    import pyogrio

    path = cfg.resolve(spec.path)
    if not _check_file(path, key, problems):
        return
    try:
        info = pyogrio.read_info(path, layer=spec.layer)
    except Exception as exc:  # pyogrio raises several DataSource errors
        problems.append(f"{key}: cannot read {path} as a GIS layer ({type(exc).__name__}: {exc}); "
                        "expected GeoJSON, GeoPackage or Shapefile")
        return
    fields = [str(f) for f in info.get("fields", [])]
    for opt in ("code_field", "name_field"):
        name = getattr(spec, opt)
        if name is not None and name not in fields:
            problems.append(f"{key}.{opt}: {path} has no field {name!r}{_suggest(name, fields)}; "
                            f"fields are: {', '.join(fields)}")
    if info.get("crs") is None and spec.crs is None:
        problems.append(f"{key}: {path} has no CRS; set {key}.crs (e.g. 'EPSG:27700' for British "
                        "National Grid or 'EPSG:4326' for lon/lat)")
    if info.get("features", 1) == 0:
        problems.append(f"{key}: {path} has no features")


def _source_columns(spec: SourceSpec) -> tuple[str, ...]:
    if spec.kind in REQUIRED_COLUMNS:
        return REQUIRED_COLUMNS[spec.kind]
    if spec.kind in ("lsoa_table", "census2021"):
        code = spec.code_column or ("geography code" if spec.kind == "census2021" else None)
        cols = tuple(c for c in spec.columns if not any(ch in c for ch in "*?["))
        return ((code,) if code else ()) + cols
    if spec.kind == "points":
        extra = (spec.category_column, spec.date_column, spec.time_column, spec.location_column)
        return (spec.x_column, spec.y_column) + tuple(c for c in extra if c)
    return ()


def _check_source(name: str, spec: SourceSpec, cfg: StudyConfig, problems: list[str]) -> None:
    key = f"sources.{name}"
    path = cfg.resolve(spec.path)
    if not _check_file(path, key, problems):
        return
    if spec.kind == "lsoa_table" and not spec.code_column:
        problems.append(f"{key}.code_column: required for kind 'lsoa_table' (the column holding LSOA codes)")
    if spec.kind == "mps_lsoa_crime":
        _check_mps_header(path, key, problems, encoding=spec.encoding)
        return
    wanted = _source_columns(spec)
    if spec.kind == "police_uk" and path.is_dir():
        files = sorted(path.rglob("*-street.csv"))
        if not files:
            problems.append(f"{key}: no police.uk street files (*-street.csv) under {path}")
        for f in files:
            if f.stat().st_size == 0:
                problems.append(f"{key}: {f} is empty (0 bytes)")
            else:
                _check_csv_columns(f, wanted, key, problems, encoding=spec.encoding)
        return
    if path.is_dir():
        problems.append(f"{key}: {path} is a folder; kind {spec.kind!r} expects one CSV file")
        return
    _check_csv_columns(path, wanted, key, problems, encoding=spec.encoding)


def _check_mps_header(path: Path, key: str, problems: list[str], *, encoding: str) -> None:
    header = read_header(path, encoding=encoding)
    norm = {_norm(h) for h in header}
    need = {
        "LSOA code column": ("lsoa code",),
        "major category column": ("major category", "majortext"),
        "minor category column": ("minor category", "minortext"),
    }
    for label, options in need.items():
        if not norm.intersection(options):
            problems.append(f"{key}: {path} has no {label} (expected one of {', '.join(options)}); "
                            f"columns are: {', '.join(header[:8])}")
    if not any(h.isdigit() and len(h) == 6 for h in header):
        problems.append(f"{key}: {path} has no monthly columns named YYYYMM (e.g. '202402')")


def validate_inputs(cfg: StudyConfig) -> None:
    """Check every input the config names; raise one InputError listing all problems."""
    problems: list[str] = []
    b = cfg.boundaries
    _check_layer(b.lsoa, "boundaries.lsoa", cfg, problems)
    if b.wards is not None:
        _check_layer(b.wards, "boundaries.wards", cfg, problems)
    if b.upper_from_table is not None:
        t = b.upper_from_table
        p = cfg.resolve(t.path)
        if _check_file(p, "boundaries.upper_from_table", problems):
            cols = [c for c in (t.lsoa_column, t.code_column, t.name_column) if c]
            _check_csv_columns(p, cols, "boundaries.upper_from_table", problems, encoding="utf-8")
    if b.vintage_lookup is not None:
        v = b.vintage_lookup
        p = cfg.resolve(v.path)
        if _check_file(p, "boundaries.vintage_lookup", problems):
            cols = [c for c in (v.from_2011_column, v.to_2021_column, v.change_column) if c]
            _check_csv_columns(p, cols, "boundaries.vintage_lookup", problems, encoding="utf-8-sig")
    for name, spec in cfg.sources.items():
        _check_source(name, spec, cfg, problems)
    if cfg.index.harm_weights:
        _check_file(cfg.resolve(cfg.index.harm_weights), "index.harm_weights", problems)
    if problems:
        raise InputError(problems)
    log.info("validated %d input(s): no problems found", 1 + len(cfg.sources) + (b.wards is not None))

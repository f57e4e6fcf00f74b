"""One validation pass at the edge, before any stage runs.

:func:`validate_inputs` looks at the config and every file it names (existence,
emptiness, binary content, header-only files, CRS and extent of boundary layers, header
columns, the columns indicators and denominators ask for, month windows, thresholds,
the harm weight table) and raises a single :class:`~pli.errors.InputError` listing
every problem, each naming the file and column, what was expected, what arrived and how
to fix it. It reads headers and layer metadata only (plus the last line of IoD and
census tables, which must not stop mid-row), so it takes milliseconds.

Checks that need the data itself run in the stage that reads the data and raise the
same kind of error: duplicate or null codes and invalid geometry
(:mod:`pli.boundaries`), non-numeric or negative values, records outside the study area
above ``outside_error_share``, all-missing or constant indicators
(:mod:`pli.indicators`), zero denominators.

Examples
--------
>>> from pli.config import load_config
>>> from pli.validate import validate_inputs
>>> validate_inputs(load_config("configs/croydon-demo.yml"))       # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import csv
import difflib
import fnmatch
import functools
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from pli._codes import list_codes
from pli.config import BoundaryLayerSpec, SourceSpec, StudyConfig
from pli.errors import InputError
from pli.indicators.street_files import is_archive, street_files

__all__ = ["REQUIRED_COLUMNS", "read_header", "validate_inputs", "withhold_outside_content"]

log = logging.getLogger(__name__)

#: Header columns each loader needs (matched case- and space-insensitively).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "police_uk": ("Month", "Longitude", "Latitude", "LSOA code", "Crime type"),
    "iod2019": ("LSOA code (2011)", "Index of Multiple Deprivation (IMD) Score"),
    "iod2025": ("LSOA code (2021)", "Index of Multiple Deprivation (IMD) Score"),
    "census2011_population": ("LSOA Code", "Persons"),
}

_OUTSIDE = "the file is outside --data-dir"
_MONTH_RE = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])")
_SNIFF_BYTES = 1 << 16
_WILDCARD = set("*?[")
# Columns the census2021 loader derives from the TS007A age bands.
_CENSUS2021_DERIVED = ("residents_total", "young_residents_10_24")


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


def _shown(header: list[str], n: int = 12) -> str:
    return list_codes(header, n)


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
        problems.append(f"{key}: {path} is empty (0 bytes); expected data: download or export the file again")
        return False
    return True


def _check_text(path: Path, key: str, problems: list[str], *, encoding: str) -> bool:
    """A readable text CSV with at least one data row (only the first 64 KB are read)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        problems.append(f"{key}: cannot read {path}: {exc}")
        return False
    if b"\x00" in head:
        problems.append(f"{key}: {path} is not a text CSV (it holds binary data, e.g. a zip, Excel or "
                        "corrupted file); expected comma-separated text: export or unzip it as CSV")
        return False
    try:
        # Incremental, so a multi-byte character cut at the 64 KB boundary is not an error.
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        problems.append(f"{key}: {path} cannot be decoded as {encoding} ({exc.reason} at byte {exc.start}); "
                        "set the source's 'encoding' (e.g. cp1252) or re-save the file as UTF-8")
        return False
    except LookupError:
        problems.append(f"{key}: unknown encoding {encoding!r}; use e.g. utf-8 or cp1252")
        return False
    if len(head) < _SNIFF_BYTES:
        lines = [ln for ln in text.splitlines() if ln.strip(" ,;\t\ufeff")]
        if len(lines) == 1:
            problems.append(f"{key}: {path} has a header row but no data rows; expected one row per "
                            "record or LSOA: check the export or download")
            return False
    return True


def _check_csv_columns(path: Path, wanted: Iterable[str], key: str, problems: list[str], *,
                       encoding: str, echo: bool = True) -> list[str] | None:
    """Header of a CSV after the text checks, or None when the file is unusable.

    With ``echo=False`` (files outside the data directory) no part of the file is
    quoted in a message: such a file may be anything, and messages get pasted into
    tickets and logs.
    """
    wanted = list(wanted)
    if not _check_text(path, key, problems, encoding=encoding):
        return None
    try:
        header = read_header(path, encoding=encoding)
    except (OSError, LookupError) as exc:
        problems.append(f"{key}: cannot read {path}: {exc}")
        return None
    if not header or not any(header):
        problems.append(f"{key}: {path} has no header row; expected columns {', '.join(wanted)}")
        return None
    if not echo and len(header) < 2:
        problems.append(f"{key}: {path} does not look like a CSV table (its first line has no commas); "
                        f"expected columns {', '.join(wanted) or 'separated by commas'} "
                        f"(content not shown: {_OUTSIDE})")
        return None
    for col in _missing(header, wanted):
        shown = f"columns are: {_shown(header)}" if echo else f"{len(header)} columns (not shown: {_OUTSIDE})"
        problems.append(f"{key}: {path} has no column {col!r}{_suggest(col, header) if echo else ''}; {shown}")
    return header


def _check_layer(spec: BoundaryLayerSpec, key: str, cfg: StudyConfig, problems: list[str], *,
                 min_features: int = 1) -> None:
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
            if cfg.is_inside_data_dir(path):
                problems.append(f"{key}.{opt}: {path} has no field {name!r}{_suggest(name, fields)}; "
                                f"fields are: {', '.join(fields)}")
            else:
                problems.append(f"{key}.{opt}: {path} has no field {name!r}; {len(fields)} fields "
                                f"(not shown: {_OUTSIDE})")
    crs = info.get("crs")
    if crs is None and spec.crs is None:
        problems.append(f"{key}: {path} has no CRS (e.g. a Shapefile without its .prj); set {key}.crs "
                        "(e.g. 'EPSG:27700' for British National Grid or 'EPSG:4326' for lon/lat)")
    bounds = info.get("total_bounds")
    if crs is not None and bounds is not None and _is_geographic(crs):
        xmin, ymin, xmax, ymax = bounds
        if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
            problems.append(
                f"{key}: {path} declares {crs} (longitude/latitude) but its coordinates span x "
                f"{xmin:.0f}..{xmax:.0f}, y {ymin:.0f}..{ymax:.0f}, which look like metres (British "
                "National Grid?); a GeoJSON without a 'crs' member is always read as lon/lat, so "
                "reproject the file to EPSG:4326 or save it as GeoPackage/Shapefile with its CRS")
    n = info.get("features", -1)
    if n == 0:
        problems.append(f"{key}: {path} has no features")
    elif 0 < n < min_features:
        problems.append(
            f"{key}: {path} has {n} feature; a study area needs at least {min_features} LSOAs to rank "
            "and test for clustering (a local authority has 80-700): check the filter that made the file")


def _is_geographic(crs: str) -> bool:
    from pyproj import CRS

    try:
        return bool(CRS.from_user_input(crs).is_geographic)
    except Exception:  # pyproj CRSError: an unreadable CRS is reported by the boundaries stage
        return False


def _source_columns(spec: SourceSpec) -> tuple[str, ...]:
    if spec.kind in REQUIRED_COLUMNS:
        return REQUIRED_COLUMNS[spec.kind]
    if spec.kind in ("lsoa_table", "census2021"):
        code = spec.code_column or ("geography code" if spec.kind == "census2021" else None)
        cols = tuple(c for c in spec.columns if not _WILDCARD.intersection(c))
        return ((code,) if code else ()) + cols
    if spec.kind == "points":
        extra = (spec.category_column, spec.date_column, spec.time_column, spec.location_column)
        return (spec.x_column, spec.y_column) + tuple(c for c in extra if c)
    return ()


def _check_source(name: str, spec: SourceSpec, cfg: StudyConfig, problems: list[str]) -> list[str] | None:
    """Check one source's file(s); returns the header of a single-file source."""
    key = f"sources.{name}"
    path = cfg.resolve(spec.path)
    if not _check_file(path, key, problems):
        return None
    echo = cfg.is_inside_data_dir(path)
    if spec.kind == "lsoa_table" and not spec.code_column:
        problems.append(f"{key}.code_column: required for kind 'lsoa_table' (the column holding LSOA codes)")
    if spec.kind == "mps_lsoa_crime":
        if _check_text(path, key, problems, encoding=spec.encoding):
            _check_mps_header(path, key, problems, encoding=spec.encoding, echo=echo)
        return None
    wanted = _source_columns(spec)
    if spec.kind == "police_uk" and (path.is_dir() or is_archive(path)):
        from pli.indicators.police_uk import _duplicate_street_files

        try:
            found = street_files(path)
        except InputError as exc:
            problems.append(f"{key}: {exc}")
            return None
        for sf in found:
            f = sf.path
            if f is None:
                continue  # a zip member: its header is checked as it is read
            inside = cfg.is_inside_data_dir(f)
            if not inside and not cfg.allow_outside_data_dir:
                # A symlink in the folder leading out is the same as a path leading out.
                problems.append(f"{key}: {f} resolves to {f.resolve()}, outside the data directory "
                                f"{cfg.data_dir}; replace the link with the file, or set "
                                "allow_outside_data_dir: true at the top level of the config")
            elif f.stat().st_size == 0:
                problems.append(f"{key}: {f} is empty (0 bytes); download that month again or delete it")
            else:
                _check_csv_columns(f, wanted, key, problems, encoding=spec.encoding, echo=inside)
        # Identical copies are skipped (and announced) by the loader; differing ones are not.
        _, _, clashes = _duplicate_street_files(found)
        problems.extend(f"{key}: {path}: {c}" for c in clashes)
        return None
    if path.is_dir():
        problems.append(f"{key}: {path} is a folder; kind {spec.kind!r} expects one CSV file")
        return None
    header = _check_csv_columns(path, wanted, key, problems, encoding=spec.encoding, echo=echo)
    if header is not None and spec.kind in ("iod2019", "iod2025", "census2011_population", "census2021"):
        _check_not_cut_off(path, key, problems, encoding=spec.encoding)
    return header


def _check_not_cut_off(path: Path, key: str, problems: list[str], *, encoding: str) -> None:
    """An IoD or census CSV whose last line stops mid-row, without a line ending.

    pandas would read the missing trailing fields as blanks, and the index stage would
    impute them as if the data were merely missing.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return  # reported by the other checks
    if not data or data.endswith((b"\n", b"\r")):
        return
    start = data.rfind(b"\n") + 1
    if start == 0:
        return  # one line only: the header-only check covers it
    try:
        last = next(csv.reader([data[start:].decode(encoding, errors="replace")]), [])
    except csv.Error:
        return
    width = len(read_header(path, encoding=encoding))
    if 0 < len(last) < width:
        line = data.count(b"\n") + 1
        problems.append(
            f"{key}: {path}: the file looks truncated: its last line ({line}) stops after "
            f"{len(last)} of the header's {width} fields, with no line ending; download the file again")


def _check_mps_header(path: Path, key: str, problems: list[str], *, encoding: str, echo: bool = True) -> None:
    header = read_header(path, encoding=encoding)
    if not echo and len(header) < 2:
        problems.append(f"{key}: {path} does not look like a CSV table (its first line has no commas); "
                        f"content not shown: {_OUTSIDE}")
        return
    norm = {_norm(h) for h in header}
    need = {
        "LSOA code column": ("lsoa code",),
        "major category column": ("major category", "majortext"),
        "minor category column": ("minor category", "minortext"),
    }
    for label, options in need.items():
        if not norm.intersection(options):
            shown = f"columns are: {', '.join(header[:8])}" if echo else f"columns not shown: {_OUTSIDE}"
            problems.append(f"{key}: {path} has no {label} (expected one of {', '.join(options)}); {shown}")
    months = [h.strip() for h in header if h.strip().isdigit() and len(h.strip()) == 6]
    if not months:
        problems.append(f"{key}: {path} has no monthly columns named YYYYMM (e.g. '202402')")
    for month in sorted({m for m in months if months.count(m) > 1}):
        cols = [str(i + 1) for i, h in enumerate(header) if h.strip() == month]
        problems.append(f"{key}: {path}: month column {month!r} appears {len(cols)} times (columns "
                        f"{', '.join(cols)}); a month must have one column, or its offences would be "
                        "counted twice: remove the repeat")


def _check_source_options(name: str, spec: SourceSpec, problems: list[str]) -> None:
    key = f"sources.{name}"
    months = {}
    for opt in ("start_month", "end_month"):
        value = getattr(spec, opt)
        if value is None:
            continue
        if not _MONTH_RE.fullmatch(str(value).strip()):
            problems.append(f"{key}.{opt}: expected a month as YYYY-MM (e.g. 2025-01), got {value!r}")
        else:
            months[opt] = str(value).strip()
    if len(months) == 2 and months["start_month"] > months["end_month"]:
        problems.append(f"{key}: start_month {months['start_month']} is after end_month "
                        f"{months['end_month']}; swap them")
    warn, err = spec.outside_shares()
    if not (0 <= warn <= 1 and 0 <= err <= 1) or warn > err:
        problems.append(f"{key}: expected 0 <= outside_warn_share <= outside_error_share <= 1, got "
                        f"{warn:g} and {err:g} (shares, not percentages)")
    if spec.kind == "points":
        from pyproj import CRS

        try:
            epsg = CRS.from_user_input(spec.crs).to_epsg()
        except Exception:  # pyproj CRSError
            epsg = None
        if epsg not in (4326, 27700):
            problems.append(f"{key}.crs: expected EPSG:4326 (lon/lat) or EPSG:27700 (easting/northing), "
                            f"got {spec.crs!r}")
        if spec.categories and not spec.category_column:
            problems.append(f"{key}.categories: needs category_column to filter on")
        if (spec.start_month or spec.end_month) and not spec.date_column:
            problems.append(f"{key}: start_month/end_month need date_column")


def _known_columns(spec: SourceSpec, header: list[str] | None) -> list[str] | None:
    """Columns a keyed source will offer, or None when they are only known after reading."""
    from pli.indicators import CENSUS2011_COLUMNS, IOD2019_COLUMNS
    from pli.indicators.iod import IOD2025_COLUMNS, IOD2025_REQUIRED

    if spec.kind == "iod2019":
        return list(IOD2019_COLUMNS)
    if spec.kind == "iod2025":
        present = {_norm(h) for h in header or ()}
        return [a for a, pub in IOD2025_COLUMNS.items() if a in IOD2025_REQUIRED or _norm(pub) in present]
    if spec.kind == "census2011_population":
        return list(CENSUS2011_COLUMNS)
    if header is None:
        return None
    if spec.kind == "lsoa_table":
        return list(spec.columns) if spec.columns else header
    if spec.kind == "census2021":
        return (list(spec.columns) if spec.columns else header) + list(_CENSUS2021_DERIVED)
    return None


def _check_requested_columns(cfg: StudyConfig, headers: dict[str, list[str] | None], problems: list[str]) -> None:
    """Indicator and denominator columns that a keyed source will not have."""
    available = {name: _known_columns(spec, headers.get(name)) for name, spec in cfg.sources.items()}
    hidden = {name for name, spec in cfg.sources.items() if not cfg.is_inside_data_dir(spec.path)}

    def listed(have: list[str], source: str) -> str:
        return f"(not shown: {_OUTSIDE})" if source in hidden else _shown(have)

    for i, ind in enumerate(cfg.indicators):
        have = available.get(ind.source)
        if have is None:
            continue
        wanted = ind.columns or ((ind.name,) if not ind.harm else ())
        for pattern in wanted:
            if _WILDCARD.intersection(pattern):
                if not fnmatch.filter(have, pattern):
                    problems.append(f"indicators[{i}] ({ind.name}).columns: pattern {pattern!r} matches no "
                                    f"column of source {ind.source!r}; columns are: "
                                    f"{listed(have, ind.source)}")
            elif pattern not in have:
                hint = "" if ind.source in hidden else _suggest(pattern, have)
                problems.append(
                    f"indicators[{i}] ({ind.name}).columns: source {ind.source!r} "
                    f"({cfg.sources[ind.source].path}) has no column {pattern!r}{hint}; "
                    f"columns are: {listed(have, ind.source)}")
    for name, den in cfg.denominators.items():
        have = available.get(den.source)
        if have is not None and den.column not in have:
            hint = "" if den.source in hidden else _suggest(den.column, have)
            problems.append(f"denominators.{name}.column: source {den.source!r} has no column "
                            f"{den.column!r}{hint}; columns are: {listed(have, den.source)}")


def _check_harm_weights(cfg: StudyConfig, problems: list[str]) -> None:
    from pli.harm import load_harm_weights

    if cfg.index.harm_weights is None:
        return
    path = cfg.resolve(cfg.index.harm_weights)
    if not _check_file(path, "index.harm_weights", problems):
        return
    try:
        load_harm_weights(path)
    except InputError as exc:
        if cfg.is_inside_data_dir(path):
            problems.extend(f"index.harm_weights: {path}: {p}" for p in exc.problems)
        else:
            problems.append(f"index.harm_weights: {path} is not a usable harm weight table "
                            f"({len(exc.problems)} problem(s); details not shown: {_OUTSIDE})")


def validate_inputs(cfg: StudyConfig) -> None:
    """Check the config and every input it names; raise one InputError listing all problems.

    Parameters
    ----------
    cfg : StudyConfig
        A parsed config (unknown keys and wrong types were already caught by
        :func:`pli.config.parse_config`).

    Raises
    ------
    InputError
        Every problem found, one per line, each naming the config key and file.
    """
    problems: list[str] = []
    b = cfg.boundaries
    _check_layer(b.lsoa, "boundaries.lsoa", cfg, problems, min_features=2)
    if b.wards is not None:
        _check_layer(b.wards, "boundaries.wards", cfg, problems)
    if b.upper_from_table is not None:
        t = b.upper_from_table
        p = cfg.resolve(t.path)
        if _check_file(p, "boundaries.upper_from_table", problems):
            cols = [c for c in (t.lsoa_column, t.code_column, t.name_column) if c]
            _check_csv_columns(p, cols, "boundaries.upper_from_table", problems, encoding="utf-8",
                               echo=cfg.is_inside_data_dir(p))
    if b.vintage_lookup is not None:
        v = b.vintage_lookup
        p = cfg.resolve(v.path)
        if _check_file(p, "boundaries.vintage_lookup", problems):
            cols = [c for c in (v.from_2011_column, v.to_2021_column, v.change_column) if c]
            _check_csv_columns(p, cols, "boundaries.vintage_lookup", problems, encoding="utf-8-sig",
                               echo=cfg.is_inside_data_dir(p))
    if cfg.area.lookup is not None:
        lk = cfg.area.lookup
        p = cfg.resolve(lk.path)
        if _check_file(p, "area.lookup", problems):
            cols = [c for c in (lk.lsoa_column, lk.lad_column, lk.force_column) if c]
            _check_csv_columns(p, cols, "area.lookup", problems, encoding="utf-8-sig", echo=cfg.is_inside_data_dir(p))
    headers: dict[str, list[str] | None] = {}
    for name, spec in cfg.sources.items():
        _check_source_options(name, spec, problems)
        n_before = len(problems)
        headers[name] = _check_source(name, spec, cfg, problems)
        if len(problems) > n_before:
            headers[name] = None  # already reported; do not pile column problems on top
    _check_requested_columns(cfg, headers, problems)
    if cfg.index.harm_weights:
        _check_harm_weights(cfg, problems)
    if problems:
        raise InputError(problems)
    log.info("validated %d input(s): no problems found", 1 + len(cfg.sources) + (b.wards is not None))


_F = TypeVar("_F", bound=Callable)


def _outside_names(cfg: StudyConfig) -> list[str]:
    """How files outside the data directory may be spelled in a message."""
    names: set[str] = set()
    for key, written in cfg.input_paths():
        if not cfg.is_inside_data_dir(written):
            full = cfg.resolve(written)
            # Loaders' log lines often name a file by its base name only.
            names.update({str(written), str(full), str(full.resolve()), full.name})
            if key.startswith("sources."):
                # Some loader messages name the source rather than its file.
                source = key.removeprefix("sources.").removesuffix(".path")
                names.update({f"source {source!r}", f"sources.{source}"})
    return sorted(names, key=len, reverse=True)


def _withheld(problem: str, names: list[str]) -> str | None:
    """The problem text, or a content-free replacement when it quotes an outside file."""
    if _OUTSIDE in problem or not any(n in problem for n in names):
        return None
    name = next(n for n in names if n in problem)
    return (f"{name} could not be used, and the details are not shown because they may quote the "
            f"file and {_OUTSIDE}; copy the file under --data-dir and run again to see them")


def withhold_outside_content(run: _F) -> _F:
    """Decorate a function taking a StudyConfig first so its errors never quote outside files.

    Loaders name offending values (codes, cells) in their messages, which is right for
    the study's own data; a file outside ``--data-dir`` (allowed with
    ``allow_outside_data_dir``) may be anything, so each problem that names such a file
    is replaced by a content-free line. Validation messages (already content-free) pass.
    """

    @functools.wraps(run)
    def wrapper(cfg: StudyConfig, *args, **kwargs):
        names = _outside_names(cfg) if cfg.allow_outside_data_dir else []
        quiet = _WithholdLogs(names, cfg) if names else None
        loggers = _pli_loggers() if quiet else []
        for lg in loggers:
            lg.addFilter(quiet)  # type: ignore[arg-type]  # loggers is empty when quiet is None
        try:
            return run(cfg, *args, **kwargs)
        except InputError as exc:
            if exc.path and any(exc.path == n for n in names):
                replaced = [_withheld(f"{exc.path}: {p}", names) for p in exc.problems]
            else:
                replaced = [_withheld(p, names) for p in exc.problems]
            if not any(replaced):
                raise
            problems = [new or f"{exc.path + ': ' if exc.path else ''}{old}"
                        for new, old in zip(replaced, exc.problems)]
            raise InputError(list(dict.fromkeys(problems))) from None
        finally:
            for lg in loggers:
                lg.removeFilter(quiet)  # type: ignore[arg-type]

    return wrapper  # type: ignore[return-value]


def _pli_loggers() -> list[logging.Logger]:
    # Filters on a logger do not see records of its children, so each module's logger
    # gets one; importing the loaders first makes sure theirs exist.
    import importlib

    for module in ("pli.boundaries", "pli.indicators"):
        importlib.import_module(module)

    names = [n for n in logging.root.manager.loggerDict if n == "pli" or n.startswith("pli.")]
    return [logging.getLogger(n) for n in names]


class _WithholdLogs(logging.Filter):
    """Rewrites log records that name an outside file or its source (they may quote it)."""

    def __init__(self, names: list[str], cfg: StudyConfig):
        super().__init__()
        self.names = names
        self.prefixes = tuple(f"{key.removeprefix('sources.').removesuffix('.path')}:"
                              for key, path in cfg.input_paths()
                              if key.startswith("sources.") and not cfg.is_inside_data_dir(path))

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(n in text for n in self.names) or text.startswith(self.prefixes):
            record.msg = f"(a message about a file outside --data-dir is not shown: {_OUTSIDE})"
            record.args = ()
        return True

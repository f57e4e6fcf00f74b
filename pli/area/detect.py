"""Recognise national input files by their columns, whatever they are called.

:func:`scan_data_dir` looks at every CSV header and vector layer in a folder and says
what each file is: LSOA boundaries (2011 or 2021), ward boundaries, an LSOA -> LAD
lookup, the LSOA 2011 -> 2021 lookup, IoD2019 or IoD2025 File 7, the Census 2011
population file, a Census 2021 (Nomis) table, or police.uk street files (a folder of
months, or the monthly bulk archive zip).
"""

from __future__ import annotations

import csv
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FoundFile",
    "scan_data_dir",
]

logger = logging.getLogger(__name__)


_VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")
_STREET_RE = re.compile(r"\d{4}-\d{2}-(.+)-street\.csv$", re.IGNORECASE)


@dataclass(frozen=True)
class FoundFile:
    """One recognised input.

    Attributes
    ----------
    kind : str
        ``lsoa_boundaries``, ``ward_boundaries``, ``lad_lookup``, ``vintage_lookup``,
        ``iod2019``, ``iod2025``, ``census2011_population``, ``census2021``,
        ``police_uk`` or ``police_uk_zip``.
    path : Path
        The file (or folder of police.uk months).
    vintage : int or None
        LSOA vintage of its codes.
    columns : dict
        Role -> column name in the file (``lsoa``, ``lsoa_name``, ``lad``, ``lad_name``,
        ``force``, ``ward``, ``ward_name``, ``msoa``, ``msoa_name``).
    """

    kind: str
    path: Path
    vintage: int | None = None
    columns: dict[str, str] = field(default_factory=dict)


def _first(names: list[str], pattern: str) -> str | None:
    rx = re.compile(pattern, re.IGNORECASE)
    return next((n for n in names if rx.fullmatch(n.strip())), None)


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return next(csv.reader(fh), [])
    except (UnicodeDecodeError, OSError):
        return []


def _classify_csv(path: Path) -> list[FoundFile]:
    header = _csv_header(path)
    names = [h.strip() for h in header]
    low = [n.casefold() for n in names]
    found: list[FoundFile] = []
    if "crime type" in low and "lsoa code" in low and "month" in low:
        return []  # a police.uk street file: found with its folder
    if "lsoa code (2011)" in low and any(n.startswith("index of multiple deprivation (imd) score") for n in low):
        found.append(FoundFile("iod2019", path, 2011, _roles(names, "LSOA code \\(2011\\)", "LSOA name \\(2011\\)",
                                                             r"Local Authority District code \(\d{4}\)",
                                                             r"Local Authority District name \(\d{4}\)")))
    elif "lsoa code (2021)" in low and any(n.startswith("index of multiple deprivation (imd) score") for n in low):
        found.append(FoundFile("iod2025", path, 2021, _roles(names, "LSOA code \\(2021\\)", "LSOA name \\(2021\\)",
                                                             r"Local Authority District code \(\d{4}\)",
                                                             r"Local Authority District name \(\d{4}\)")))
    elif "lsoa code" in low and low.count("persons") == 3 and "hectares" in low:
        roles = _roles(names, "LSOA Code", "LSOA Name", "Local authority code", "Local authority name")
        roles.update({k: v for k, v in (("msoa", _first(names, "MSOA Code")), ("msoa_name", _first(names, "MSOA Name")))
                      if v})
        found.append(FoundFile("census2011_population", path, 2011, roles))
    elif "geography code" in low and any(n.startswith("age: total") for n in low):
        found.append(FoundFile("census2021", path, 2021, {"lsoa": names[low.index("geography code")]}))
    if found:
        # IoD File 7 and the Census 2011 file name each LSOA's authority: lookups too.
        first = found[0]
        if "lad" in first.columns and "lsoa" in first.columns:
            found.append(FoundFile("lad_lookup", path, first.vintage, dict(first.columns)))
        return found
    lsoa11, lsoa21 = _first(names, r"LSOA11CD"), _first(names, r"LSOA21CD")
    if lsoa11 and lsoa21:
        found.append(FoundFile("vintage_lookup", path, None, {"lsoa11": lsoa11, "lsoa21": lsoa21,
                                                              "change": _first(names, "CHGIND") or ""}))
    lsoa = lsoa11 or lsoa21 or _first(names, "LSOA Code")
    lad = _first(names, r"LAD\d{2}CD") or _first(names, "Local authority code")
    force = _first(names, r"Police_?force|PFA\d{2}NM")
    if lsoa and (lad or force):
        lad_name = _first(names, r"LAD\d{2}NM") or _first(names, "Local authority name")
        optional = (("lad", lad), ("force", force), ("lad_name", lad_name),
                    ("ward", _first(names, r"WD\d{2}CD")), ("ward_name", _first(names, r"WD\d{2}NM")))
        roles = {"lsoa": lsoa, **{k: v for k, v in optional if v}}
        vintage = 2021 if lsoa == lsoa21 else 2011
        found.append(FoundFile("lad_lookup", path, vintage, roles))
    return found


def _roles(names: list[str], lsoa: str, lsoa_name: str, lad: str, lad_name: str) -> dict[str, str]:
    roles = {"lsoa": _first(names, lsoa), "lsoa_name": _first(names, lsoa_name), "lad": _first(names, lad),
             "lad_name": _first(names, lad_name)}
    return {k: v for k, v in roles.items() if v}


def _classify_vector(path: Path) -> list[FoundFile]:
    import pyogrio

    try:
        fields = [str(f) for f in pyogrio.read_info(path)["fields"]]
    except Exception:  # noqa: BLE001 - GDAL raises many types; unreadable files are just not inputs
        return []
    lsoa = _first(fields, r"LSOA(11|21)CD")
    if lsoa:
        vintage = 2011 if "11" in lsoa else 2021
        name = _first(fields, r"LSOA(11|21)NM")
        return [FoundFile("lsoa_boundaries", path, vintage, {"lsoa": lsoa, **({"lsoa_name": name} if name else {})})]
    ward = _first(fields, r"WD\d{2}CD|GSS_CODE")
    if ward:
        name = _first(fields, r"WD\d{2}NM|NAME")
        return [FoundFile("ward_boundaries", path, None, {"ward": ward, **({"ward_name": name} if name else {})})]
    return []


def _police_folders(root: Path) -> list[FoundFile]:
    """Folders holding police.uk ``YYYY-MM-<force>-street.csv`` files (the top-most one per tree)."""
    files = sorted(p for p in root.rglob("*-street*.csv") if _STREET_RE.search(p.name))
    tops: dict[Path, set[str]] = {}
    for f in files:
        # The download unzips to YYYY-MM/ folders; the source is their parent.
        folder = f.parent.parent if re.fullmatch(r"\d{4}-\d{2}", f.parent.name) else f.parent
        m = _STREET_RE.search(f.name)
        tops.setdefault(folder, set()).add(m.group(1) if m else "?")
    return [FoundFile("police_uk", folder, None, {"forces": ", ".join(sorted(forces))})
            for folder, forces in sorted(tops.items())]


def _police_zips(root: Path) -> list[FoundFile]:
    found = []
    for z in sorted(root.rglob("*.zip")):
        try:
            with zipfile.ZipFile(z) as zf:
                if any(_STREET_RE.search(n) for n in zf.namelist()):
                    found.append(FoundFile("police_uk_zip", z))
        except (zipfile.BadZipFile, OSError):
            continue
    return found


def scan_data_dir(data_dir: Path) -> list[FoundFile]:
    """Every recognised input under ``data_dir``, in path order.

    Parameters
    ----------
    data_dir : Path
        Folder to search (recursively).

    Returns
    -------
    list of FoundFile
        A file may be recognised twice (the Census 2011 file is also an LSOA -> LAD
        lookup). Files nothing recognises are left out.
    """
    found: list[FoundFile] = []
    for path in sorted(p for p in Path(data_dir).rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if suffix == ".csv":
            found.extend(_classify_csv(path))
        elif suffix in _VECTOR_SUFFIXES:
            found.extend(_classify_vector(path))
    found.extend(_police_folders(Path(data_dir)))
    found.extend(_police_zips(Path(data_dir)))
    for f in found:
        logger.info("init: %s: %s%s", f.path.relative_to(data_dir) if f.path != data_dir else ".", f.kind,
                    f" (LSOA {f.vintage})" if f.vintage else "")
    return found

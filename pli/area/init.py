"""``pli init``: write a commented study-area config from the national files in a folder.

The files are recognised by their columns (:func:`pli.area.detect.scan_data_dir`), the
area is named by LAD code(s) or a police force, and the config cuts every national
file to it through an LSOA -> LAD lookup found in the folder. What is missing is said
plainly: no boundaries or no lookup stop; no crime, deprivation or population source
leaves that part out and says so in the config and the log.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pli.area.detect import FoundFile, scan_data_dir
from pli.area.selection import force_key
from pli.area.wording import area_type
from pli.config import AreaSpec
from pli.errors import InputError

__all__ = [
    "InitResult",
    "init_config",
]

logger = logging.getLogger(__name__)


# The pli preset's domain weights, kept in proportion for the domains present.
_DOMAIN_WEIGHTS = {"crime": 0.5, "deprivation": 0.35, "demography": 0.15}

# (indicator line, crime types it needs: written only when the records hold one of them)
_CRIME_INDICATORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ('  - {name: crime_harm_rate, label: "Crime harm (days per 1,000)", source: crime, columns: ["*"], harm: true, '
     "transform: rate, domain: crime, weight: 2}", ()),
    ('  - {name: violence_rate, label: "Violence and sexual offences", source: crime, '
     'columns: ["Violence and sexual offences"], transform: rate, domain: crime}', ("Violence and sexual offences",)),
    ('  - {name: robbery_rate, label: "Robbery", source: crime, columns: ["Robbery"], transform: rate, domain: crime}',
     ("Robbery",)),
    ('  - {name: weapons_drugs_rate, label: "Weapons and drugs", source: crime, '
     'columns: ["Possession of weapons", "Drugs"], transform: rate, domain: crime}',
     ("Possession of weapons", "Drugs")),
    ('  - {name: arson_damage_rate, label: "Criminal damage and arson", source: crime, '
     'columns: ["Criminal damage and arson"], transform: rate, domain: crime}', ("Criminal damage and arson",)),
    ('  - {name: asb_rate, label: "Anti-social behaviour", source: crime, columns: ["Anti-social behaviour"], '
     "transform: rate, domain: crime}", ("Anti-social behaviour",)),
)

_PATROL_TYPES = ("Violence and sexual offences", "Robbery", "Possession of weapons")


@dataclass(frozen=True)
class InitResult:
    """What ``pli init`` wrote.

    Attributes
    ----------
    path : Path
        The config file.
    text : str
        Its contents.
    used : dict
        Role -> file used (relative to the data folder).
    missing : tuple of str
        One sentence per part left out for want of a file.
    """

    path: Path
    text: str
    used: dict[str, str]
    missing: tuple[str, ...]


def _q(text: object) -> str:
    """A YAML scalar: JSON strings are valid YAML and quote anything odd."""
    return json.dumps(str(text), ensure_ascii=False)


def _lookup_holds(found: FoundFile, lad_codes: Sequence[str], force: str | None) -> tuple[bool, str | None]:
    """Does this lookup hold every requested LAD code (and the force)? Also the area's name."""
    cols = [c for c in (found.columns.get("lad"), found.columns.get("lad_name"), found.columns.get("force")) if c]
    frame = pd.read_csv(found.path, usecols=cols, dtype=str, encoding="utf-8-sig")
    name = None
    if lad_codes:
        lad_col = found.columns.get("lad")
        if lad_col is None:
            return False, None
        codes = frame[lad_col].str.strip().str.upper()
        if not set(lad_codes) <= set(codes.dropna()):
            return False, None
        name_col = found.columns.get("lad_name")
        if name_col:
            names = [frame.loc[codes == c, name_col].dropna().iloc[0] for c in lad_codes]
            name = " and ".join(n.removesuffix(" UA").strip() for n in names)
    if force:
        force_col = found.columns.get("force")
        if force_col is None or not frame[force_col].dropna().map(force_key).eq(force_key(force)).any():
            return False, name
        name = name or force
    return True, name


def _vintage_lookup_line(found: FoundFile, rel: Callable[[Path], str]) -> str:
    vl = found.columns
    change = f", change_column: {_q(vl['change'])}" if vl.get("change") else ", change_column: null"
    return (f"  vintage_lookup: {{path: {_q(rel(found.path))}, from_2011_column: {_q(vl['lsoa11'])}, "
            f"to_2021_column: {_q(vl['lsoa21'])}{change}}}")


def _police_vintage(folder: Path, vintage_lookup: FoundFile | None, default: int) -> int:
    """LSOA vintage of the latest police.uk month: the codes only one vintage has decide.

    police.uk moved from 2011 to 2021 LSOAs; most codes are the same in both, so only
    the codes of split or merged LSOAs (from the ONS lookup) tell them apart.
    """
    if vintage_lookup is None:
        return default
    cols = vintage_lookup.columns
    link = pd.read_csv(vintage_lookup.path, usecols=[cols["lsoa11"], cols["lsoa21"]], dtype=str, encoding="utf-8-sig")
    only11 = set(link[cols["lsoa11"]]) - set(link[cols["lsoa21"]])
    only21 = set(link[cols["lsoa21"]]) - set(link[cols["lsoa11"]])
    codes = _latest_street_column(folder, "LSOA code")
    n11, n21 = len(codes & only11), len(codes & only21)
    return 2021 if n21 > n11 else 2011 if n11 > n21 else default


def _latest_street_column(source: Path, column: str) -> set[str]:
    """Distinct values of one column in the latest police.uk street file of a folder or zip.

    Names sort by month (``YYYY-MM/YYYY-MM-<force>-street.csv``), so the last is the
    latest; in an all-forces archive that is one force's file, enough to see the codes
    and crime types in use.
    """
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            names = sorted(n for n in zf.namelist() if n.lower().endswith("-street.csv"))
            if not names:
                return set()
            with zf.open(names[-1]) as fh:
                values = pd.read_csv(fh, usecols=[column], dtype=str)[column]
    else:
        files = sorted(source.rglob("*-street*.csv"))
        if not files:
            return set()
        values = pd.read_csv(files[-1], usecols=[column], dtype=str)[column]
    return set(values.dropna().str.strip())


def _crime_types(source: Path) -> set[str]:
    """Crime types in the latest police.uk month: indicators are written only for those present."""
    return _latest_street_column(source, "Crime type")


def _pick(found: list[FoundFile], kind: str, vintage: int | None = None) -> FoundFile | None:
    for f in found:
        if f.kind == kind and (vintage is None or f.vintage == vintage):
            return f
    return None


def init_config(
    data_dir: str | Path,
    *,
    lad_codes: Sequence[str] = (),
    police_force: str | None = None,
    name: str | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
) -> InitResult:
    """Write a commented config for one area from the national files in ``data_dir``.

    Parameters
    ----------
    data_dir : str or Path
        Folder holding the files; the config's paths are relative to it (run with
        ``pli index --config OUT --data-dir DATA_DIR``).
    lad_codes : sequence of str
        ONS local-authority codes of the area (e.g. ``["E08000035"]``).
    police_force : str, optional
        A police force instead of (or with) LAD codes; the lookup needs a force column.
    name : str, optional
        Area name (default: the authority names in the lookup, or the force).
    out : str or Path, optional
        Config file to write (default ``DATA_DIR/<first code or force>.yml``).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    InitResult

    Raises
    ------
    InputError
        No LSOA boundaries, no lookup holding the area, no population source, no
        upper layer, or ``out`` exists already; the message lists what was found.
    """
    from pli.config import load_config

    root = Path(data_dir).resolve()
    if not root.is_dir():
        raise InputError("pli init: --data-dir is not a folder", path=str(root))
    codes = [c.strip().upper() for c in lad_codes if c.strip()]
    if not codes and not police_force:
        raise InputError("pli init: name the area with --lad CODE (repeatable) or --force NAME")
    found = scan_data_dir(root)
    seen = "; ".join(f"{f.kind}: {f.path.relative_to(root)}" for f in found) or "nothing recognised"

    def rel(p: Path) -> str:
        return p.relative_to(root).as_posix()

    iod = _pick(found, "iod2025") or _pick(found, "iod2019")
    boundary_kinds = [f for f in found if f.kind == "lsoa_boundaries"]
    if not boundary_kinds:
        raise InputError(
            "pli init: no LSOA boundary file (a GeoJSON/GeoPackage/Shapefile with an LSOA11CD or LSOA21CD field) "
            f"in the data folder; download the ONS LSOA 2011 or 2021 boundaries into it. Found: {seen}",
            path=str(root),
        )
    vintages = [f.vintage for f in boundary_kinds]
    vintage: int = iod.vintage if iod is not None and iod.vintage in vintages and iod.vintage else (
        2011 if 2011 in vintages else 2021)
    lsoa = _pick(found, "lsoa_boundaries", vintage)
    assert lsoa is not None
    lookups = [f for f in found if f.kind == "lad_lookup"]
    # Same vintage first, then a lookup with a force column when a force is asked for.
    lookups.sort(key=lambda f: (f.vintage != vintage, police_force is not None and "force" not in f.columns))
    area_lookup, area_name = None, None
    for cand in lookups:
        ok, area_name = _lookup_holds(cand, codes, police_force)
        if ok:
            area_lookup = cand
            break
    if area_lookup is None:
        asked = " + ".join([*codes, *([f"force {police_force!r}"] if police_force else [])])
        raise InputError(
            f"pli init: no LSOA -> local authority lookup in the data folder holds {asked}; add the ONS LSOA -> "
            "LAD lookup (or IoD File 7, or the Census 2011 population file) covering it, and check the code. "
            f"Found: {seen}",
            path=str(root),
        )
    area_name = name or area_name or " + ".join(codes)
    vintage_lookup = _pick(found, "vintage_lookup")
    missing: list[str] = []
    used: dict[str, str] = {"lsoa_boundaries": rel(lsoa.path), "area_lookup": rel(area_lookup.path)}

    def usable(f: FoundFile | None, what: str) -> FoundFile | None:
        if f is None or f.vintage in (None, vintage) or vintage_lookup is not None:
            return f
        missing.append(f"{what} ({rel(f.path)}) uses {f.vintage} LSOA codes but the boundaries are {vintage}, and "
                       "there is no LSOA11 -> LSOA21 lookup in the folder: left out")
        return None

    iod = usable(iod, "IoD")
    census11 = usable(_pick(found, "census2011_population"), "Census 2011 population")
    census21 = usable(_pick(found, "census2021"), "Census 2021 table")
    # A folder of months, else a zip as downloaded (the loader reads it without unpacking).
    police = _pick(found, "police_uk") or _pick(found, "police_uk_zip")
    if police is None:
        missing.append("no crime source: no police.uk street files (YYYY-MM-<force>-street.csv) or police.uk zip "
                       "in the folder; download them from data.police.uk and run pli init again")
    if iod is None:
        missing.append("no deprivation source: no IoD2019 or IoD2025 File 7 in the folder (the index has no "
                       "deprivation domain)")
    population = census11 if census11 is not None and (census11.vintage == vintage or census21 is None) else census21
    if population is None and iod is None:
        raise InputError(
            "pli init: no population source for rates (the Census 2011 population file, a Census 2021 TS007A "
            f"table or IoD File 7); add one. Found: {seen}",
            path=str(root),
        )
    # Of several ward layers, the last by name: file names usually carry the year (wards_2014, wards_2018).
    ward_files = [f for f in found if f.kind == "ward_boundaries"]
    wards = max(ward_files, key=lambda f: f.path.name) if ward_files else None
    # An LSOA -> ward lookup of the boundaries' vintage dissolves LSOAs into wards (ONS best fit).
    ward_lookup = next((f for f in found if f.kind == "lad_lookup" and "ward" in f.columns and f.vintage == vintage),
                       None)
    named = " + ".join([*codes, *([f"police force {police_force}"] if police_force else [])])
    lines = [
        f"# Study area {area_name} ({named}), written by pli init",
        "# from the files it recognised in the data folder; paths are relative to it:",
        f"#   pli index --config THIS_FILE --data-dir {root}",
        "# Every file may be national: the area lookup cuts boundaries and tables to the area.",
    ]
    lines += [f"# NOT INCLUDED: {m}" for m in missing]
    lines += ["", "area:", f"  name: {_q(area_name)}"]
    if codes:
        lines.append(f"  lad_codes: [{', '.join(codes)}]")
    if police_force:
        lines.append(f"  police_force: {_q(police_force)}")
    kind = area_type(AreaSpec(name=area_name, lad_codes=tuple(codes), police_force=police_force))
    lines.append(f"  type: {kind}        # borough | district | force area | region | area: the word maps use")
    lk = area_lookup.columns
    lookup_items = [f"path: {_q(rel(area_lookup.path))}", f"lsoa_column: {_q(lk['lsoa'])}"]
    if codes:
        lookup_items.append(f"lad_column: {_q(lk['lad'])}")
    if police_force:
        lookup_items.append(f"force_column: {_q(lk['force'])}")
    if area_lookup.vintage != vintage:
        lookup_items.append(f"vintage: {area_lookup.vintage}")
    lines.append("  # LSOA -> local authority table that says which LSOAs are in the area.")
    lines.append(f"  lookup: {{{', '.join(lookup_items)}}}")
    upper: list[str]
    if wards is not None:
        used["wards"] = rel(wards.path)
        lines.append('  upper_layer_label: "Ward"')
        upper = [f"  wards: {{path: {_q(rel(wards.path))}, code_field: {_q(wards.columns['ward'])}"
                 + (f", name_field: {_q(wards.columns['ward_name'])}" if "ward_name" in wards.columns else "") + "}"]
        others = [rel(f.path) for f in ward_files if f is not wards]
        upper[:0] = [f"  # other ward layers found: {', '.join(others)}"] if others else []
    elif census11 is not None and vintage == 2011 and "msoa" in census11.columns:
        used["upper_layer"] = rel(census11.path)
        lines.append('  upper_layer_label: "MSOA (2011)"')
        lines.append('  upper_layer_note: "No ward boundaries in the data folder, so LSOAs dissolved to their 2011 '
                     'MSOAs stand in for wards."')
        upper = ["  upper_from_table:", f"    path: {_q(rel(census11.path))}",
                 f"    lsoa_column: {_q(census11.columns['lsoa'])}", f"    code_column: {_q(census11.columns['msoa'])}",
                 f"    name_column: {_q(census11.columns.get('msoa_name', census11.columns['msoa']))}"]
    elif ward_lookup is not None:
        wl = ward_lookup.columns
        used["upper_layer"] = rel(ward_lookup.path)
        lines.append('  upper_layer_label: "Ward"')
        upper = ["  upper_from_table:", f"    path: {_q(rel(ward_lookup.path))}", f"    lsoa_column: {_q(wl['lsoa'])}",
                 f"    code_column: {_q(wl['ward'])}", f"    name_column: {_q(wl.get('ward_name', wl['ward']))}"]
    else:
        raise InputError(
            "pli init: no upper layer: add ward boundaries (a layer with a WDxxCD field), an LSOA -> ward lookup of "
            f"the boundaries' vintage ({vintage}), or the Census 2011 population file (MSOA codes). Found: {seen}",
            path=str(root),
        )
    lines += ["", "seed: 0", "", "boundaries:"]
    lsoa_name = f", name_field: {_q(lsoa.columns['lsoa_name'])}" if "lsoa_name" in lsoa.columns else ""
    lines.append(f"  lsoa: {{path: {_q(rel(lsoa.path))}, code_field: {_q(lsoa.columns['lsoa'])}{lsoa_name}}}")
    lines.append(f"  lsoa_vintage: {vintage}")
    lines += upper
    sources = [(s, k) for s, k in ((iod, "iod"), (census11, "census11"), (census21, "census21")) if s is not None]
    if vintage_lookup is not None and any(s.vintage != vintage for s, _ in sources):
        used["vintage_lookup"] = rel(vintage_lookup.path)
        lines.append(_vintage_lookup_line(vintage_lookup, rel))
    police_vintage = _police_vintage(police.path, vintage_lookup, vintage) if police is not None else vintage
    if police is not None and police_vintage != vintage and vintage_lookup is not None and not any(
            line.startswith("  vintage_lookup:") for line in lines):
        lines.append(_vintage_lookup_line(vintage_lookup, rel))
    lines += ["", "sources:"]
    if police is not None:
        used["crime"] = rel(police.path)
        lines += ["  crime:", "    kind: police_uk", f"    path: {_q(rel(police.path) or '.')}",
                  (f"    # forces in the folder: {police.columns.get('forces', '?')}" if police.kind == "police_uk"
                   else "    # a police.uk zip, read without unpacking") + "; records outside the area are counted "
                  "and dropped", "    window_months: 12",
                  f"    vintage: {police_vintage}        # LSOA codes of the latest month's records"]
    if iod is not None:
        used["deprivation"] = rel(iod.path)
        lines.append(f"  iod: {{kind: {iod.kind}, path: {_q(rel(iod.path))}, vintage: {iod.vintage}}}")
    if census11 is not None:
        used["census2011"] = rel(census11.path)
        lines.append(f"  population: {{kind: census2011_population, path: {_q(rel(census11.path))}}}")
    if census21 is not None:
        used["census2021"] = rel(census21.path)
        lines.append(f"  census2021: {{kind: census2021, path: {_q(rel(census21.path))}, vintage: 2021, "
                     f"code_column: {_q(census21.columns['lsoa'])}}}")
    if population is not None:
        pop_source, pop_column = ("population", "usual_residents") if population is census11 else ("census2021",
                                                                                                   "residents_total")
    else:
        assert iod is not None
        pop_source, pop_column = "iod", "population_total_2015" if iod.kind == "iod2019" else "population_total_2022"
    lines += ["", "denominators:", "  # Rates are per resident; the floor keeps an LSOA with few residents from "
              "swinging its rates.", f"  population: {{source: {pop_source}, column: {pop_column}, floor: 1000}}"]
    if census21 is not None:
        lines.append("  residents: {source: census2021, column: residents_total}")
    domains = ([*(["crime"] if police is not None else []), *(["deprivation"] if iod is not None else []),
                *(["demography"] if census21 is not None else [])])
    if not domains:
        raise InputError(["pli init: no indicator source (police.uk, IoD or Census 2021) in the data folder, "
                          f"so nothing to rank. Found: {seen}", *missing], path=str(root))
    lines += ["", "index:", "  preset: pli", "  # The pli preset's domain weights, for the domains the data allow.",
              "  domain_weights: {" + ", ".join(f"{d}: {_DOMAIN_WEIGHTS[d]}" for d in domains) + "}", "",
              "indicators:"]
    if police is not None:
        present = _crime_types(police.path)
        lines += [line for line, needs in _CRIME_INDICATORS if not needs or present & set(needs)]
    if iod is not None:
        edition = "IoD2025" if iod.kind == "iod2025" else "IoD2019"
        lines += [
            f'  - {{name: income_deprivation, label: "Income deprivation ({edition})", source: iod, '
            "columns: [income_score], domain: deprivation}",
            f'  - {{name: employment_deprivation, label: "Employment deprivation ({edition})", source: iod, '
            "columns: [employment_score], domain: deprivation}",
            f'  - {{name: child_poverty, label: "Child poverty (IDACI, {edition})", source: iod, '
            "columns: [idaci_score], domain: deprivation}",
        ]
    if census21 is not None:
        lines.append('  - {name: young_residents_share, label: "Residents aged 10-24 (Census 2021)", '
                     "source: census2021, columns: [young_residents_10_24], transform: share, "
                     "denominator: residents, domain: demography}")
    lines += ["", "priorities:", "  count: 9", "  min_population: 5000", "  max_population: 15000", "  max_lsoas: 8"]
    if police is not None:
        patrol_types = [t for t in _PATROL_TYPES if t in present] or sorted(present - {"Anti-social behaviour"})
        lines += ["", "patrols:", "  source: crime",
                  "  categories: [" + ", ".join(_q(t) for t in patrol_types) + "]",
                  "  cell_size_m: 150", "  top_places: 10"]
    text = "\n".join(lines) + "\n"

    stem = codes[0] if codes else force_key(police_force).replace(" ", "-")
    target = Path(out) if out is not None else root / f"{stem}.yml"
    if target.exists() and not overwrite:
        raise InputError("pli init: the config file exists already; choose another --out or pass --overwrite",
                         path=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        load_config(tmp, data_dir=root)  # the config must parse before it replaces anything
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    for m in missing:
        logger.warning("init: %s", m)
    logger.info("init: wrote %s for %s (%s)", target, area_name, ", ".join(f"{k}: {v}" for k, v in used.items()))
    return InitResult(target, text, used, tuple(missing))

"""Who to credit on a map: built from the sources a run actually used, in one place.

Every page (the index maps, neighbourhood pages, ``index.html``) and both PNG figures
take their credits from :func:`run_credits`: the boundaries, then each source an
indicator, a denominator or the patrol plan read, named by its kind (police.uk, the
Met's London Datastore table, IoD2019, Census 2011/2021, or a local file), with the
period the run used and its licence. Simulated demo sources say so instead.

Examples
--------
>>> from pli.config import SourceSpec
>>> credits = run_credits({"crime": SourceSpec(kind="mps_lsoa_crime", path="mps.csv")},
...                       periods={"crime": "2025-03 to 2026-02"}, simulated=False, year=2026)
>>> print(short_attribution(credits))  # doctest: +NORMALIZE_WHITESPACE
Boundaries: ONS, OS © Crown copyright and database right 2026; Crime: Metropolitan Police
(London Datastore), 2025-03 to 2026-02. Open Government Licence v3.0 unless stated.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath

from pli.config import SourceSpec

__all__ = [
    "Credit",
    "copyright_year",
    "long_attribution",
    "run_credits",
    "short_attribution",
]

OGL = "Open Government Licence v3.0"


@dataclass(frozen=True)
class Credit:
    """One credited input.

    Parameters
    ----------
    what : str
        What it gave the run ("Boundaries", "Crime", "Deprivation").
    short : str
        Publisher in a few words, for the map corner.
    full : str
        Publisher, dataset and licence, for ``index.html`` and the printed figures.
    period : str
        Period the run used ("2025-03 to 2026-02"), or ``""`` when the dataset is dated by its name.
    licence : str
        Licence of the data (``""`` when not known: a local file).
    """

    what: str
    short: str
    full: str
    period: str = ""
    licence: str = OGL


# Kind -> (what, short, full); census and IoD name their own year.
_KINDS: dict[str, tuple[str, str, str]] = {
    "police_uk": ("Crime", "police.uk", "police.uk street-level crime (Home Office, data.police.uk)"),
    "mps_lsoa_crime": (
        "Crime", "Metropolitan Police (London Datastore)",
        "Metropolitan Police Service recorded crime by LSOA (London Datastore)",
    ),
    "iod2019": (
        "Deprivation", "IoD2019 (MHCLG)",
        "English Indices of Deprivation 2019 (Ministry of Housing, Communities and Local Government)",
    ),
    "census2011_population": (
        "Population", "Census 2011 (ONS)", "Census 2011 usual residents (Office for National Statistics)",
    ),
    "census2021": ("Population", "Census 2021 (ONS)", "Census 2021 (Office for National Statistics, via Nomis)"),
}  # fmt: skip

# Official statistics a demo can ship as they are; everything else in a simulated run is made up.
_REAL_IN_DEMOS = {"census2011_population", "census2021"}


def copyright_year() -> int:
    """This year, or the year of ``SOURCE_DATE_EPOCH`` (reproducible-builds convention) when set."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if raw.isdigit():
        return _dt.datetime.fromtimestamp(int(raw), tz=_dt.timezone.utc).year
    return _dt.date.today().year


def _source_credit(name: str, spec: SourceSpec, *, period: str, simulated: bool) -> Credit:
    file_name = PurePath(spec.path).name or spec.path
    if spec.kind in _KINDS:
        what, short, full = _KINDS[spec.kind]
        licence = OGL
    else:  # lsoa_table, points: a local file whose licence pli cannot know
        what, short, full = name.replace("_", " ").capitalize(), file_name, f"{file_name} (local data)"
        licence = ""
    # A source marked simulated says so; without any marks, a simulated area's non-census
    # sources are taken as simulated (the older demo convention).
    if spec.simulated or (simulated and spec.kind not in _REAL_IN_DEMOS):
        return Credit(
            what=what, short="SIMULATED by pli (demo)",
            full=f"SIMULATED by pli for demonstration ({file_name}); not real data", period=period, licence="",
        )  # fmt: skip
    return Credit(what=what, short=short, full=full, period=period, licence=licence)


def run_credits(
    sources: Mapping[str, SourceSpec] | None,
    *,
    periods: Mapping[str, str] | None = None,
    simulated: bool = False,
    used: Iterable[str] | None = None,
    year: int | None = None,
) -> tuple[Credit, ...]:
    """The credits of one run: boundaries first, then each source used, in config order.

    Parameters
    ----------
    sources : mapping of str to SourceSpec, optional
        The config's ``sources``; ``None`` credits the boundaries only.
    periods : mapping of str to str, optional
        Source name -> period the run used (from the loaded sources).
    simulated : bool
        The run's data are simulated (``area.simulated``). Sources marked
        ``sources.<name>.simulated: true`` are credited as simulated; when no source is
        marked, every source except Census tables is.
    used : iterable of str, optional
        Names of the sources the run read (indicators, denominators, patrols); default all.
    year : int, optional
        Copyright year of the boundaries; default :func:`copyright_year`.
    """
    year = copyright_year() if year is None else int(year)
    credits = [Credit(
        what="Boundaries", short=f"ONS, OS \u00a9 Crown copyright and database right {year}",
        full=("Office for National Statistics and Ordnance Survey boundaries: contains National Statistics "
              f"data and OS data \u00a9 Crown copyright and database right {year}"),
    )]  # fmt: skip
    wanted = None if used is None else set(used)
    periods = periods or {}
    marked = any(spec.simulated for spec in (sources or {}).values())
    made = [
        _source_credit(name, spec, period=periods.get(name, "") or "", simulated=simulated and not marked)
        for name, spec in (sources or {}).items()
        if wanted is None or name in wanted
    ]
    # Two sources of one kind and publisher (two police.uk folders, say) keep apart by name;
    # a Met table and police.uk points are told apart by their publishers already.
    whats = [(c.what, c.short) for c in made]
    names = [n for n in (sources or {}) if wanted is None or n in wanted]
    seen: set[tuple[str, str, str]] = set()
    for name, credit in zip(names, made):
        if whats.count((credit.what, credit.short)) > 1:
            credit = Credit(credit.what + f" ({name})", credit.short, credit.full, credit.period, credit.licence)
        key = (credit.what, credit.short, credit.period)
        if key not in seen:
            seen.add(key)
            credits.append(credit)
    return tuple(credits)


def short_attribution(credits: Iterable[Credit]) -> str:
    """One line for the map corner: ``what: publisher, period`` joined by ``;``."""
    parts = []
    for c in credits:
        text = f"{c.what}: {c.short}" + (f", {c.period}" if c.period else "")
        if c.licence not in ("", OGL):
            text += f" ({c.licence})"
        parts.append(text)
    return "; ".join(parts) + f". {OGL} unless stated."


def long_attribution(credits: Iterable[Credit]) -> list[str]:
    """One sentence per credit, with period and licence, for ``index.html`` and figures."""
    lines = []
    for c in credits:
        text = f"{c.what}: {c.full}"
        if c.period:
            text += f", {c.period}"
        text += f". {c.licence}." if c.licence else "." if c.full.startswith("SIMULATED") else ". Licence as supplied."
        lines.append(text)
    return lines

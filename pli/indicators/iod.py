"""English Indices of Deprivation 2019 and 2025, File 7 layout.

IoD2025 (published 30 October 2025 on 2021 LSOAs, 33,755 in England) keeps the 2019
domain headers; its key is ``LSOA code (2021)``, its denominators are mid-2022 and the
working-age band is 18-66.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from pli.config import SourceSpec
from pli.errors import InputError
from pli.indicators.reading import (
    _check_complete_rows,
    _csv_encoding,
    _integerise,
    _key_index,
    _norm,
    _parse_numbers,
    _read_header,
)
from pli.indicators.sources import SourceTable

__all__ = [
    "IOD2019_COLUMNS",
    "IOD2025_COLUMNS",
    "IOD2025_REQUIRED",
]

logger = logging.getLogger(__name__)


_IOD_RANK = " Rank (where 1 is most deprived)"


_IOD_DECILE = " Decile (where 1 is most deprived 10% of LSOAs)"


def _iod_domain(alias: str, stem: str, score: str = " Score") -> dict[str, str]:
    return {
        f"{alias}_score": f"{stem}{score}",
        f"{alias}_rank": f"{stem}{_IOD_RANK}",
        f"{alias}_decile": f"{stem}{_IOD_DECILE}",
    }


IOD2019_COLUMNS: dict[str, str] = {
    **_iod_domain("imd", "Index of Multiple Deprivation (IMD)"),
    **_iod_domain("income", "Income", " Score (rate)"),
    **_iod_domain("employment", "Employment", " Score (rate)"),
    **_iod_domain("education", "Education, Skills and Training"),
    **_iod_domain("health", "Health Deprivation and Disability"),
    **_iod_domain("crime", "Crime"),
    **_iod_domain("housing", "Barriers to Housing and Services"),
    **_iod_domain("living_environment", "Living Environment"),
    **_iod_domain("idaci", "Income Deprivation Affecting Children Index (IDACI)", " Score (rate)"),
    **_iod_domain("idaopi", "Income Deprivation Affecting Older People (IDAOPI)", " Score (rate)"),
    **_iod_domain("cyp", "Children and Young People Sub-domain"),
    **_iod_domain("adult_skills", "Adult Skills Sub-domain"),
    **_iod_domain("geographical_barriers", "Geographical Barriers Sub-domain"),
    **_iod_domain("wider_barriers", "Wider Barriers Sub-domain"),
    **_iod_domain("indoors", "Indoors Sub-domain"),
    **_iod_domain("outdoors", "Outdoors Sub-domain"),
    "population_total_2015": "Total population: mid 2015 (excluding prisoners)",
    "population_0_15_2015": "Dependent Children aged 0-15: mid 2015 (excluding prisoners)",
    "population_16_59_2015": "Population aged 16-59: mid 2015 (excluding prisoners)",
    "population_60plus_2015": "Older population aged 60 and over: mid 2015 (excluding prisoners)",
    "population_working_age_2015": (
        "Working age population 18-59/64: for use with Employment Deprivation Domain "
        "(excluding prisoners)"
    ),
}


"""IoD2019 File 7 columns: short alias -> published header.

Headers are matched ignoring case, surrounding spaces and repeated spaces, so the
published trailing space in the working-age population header does not matter. Ranks
and deciles are national (1 = most deprived of 32,844 LSOAs); population denominators
are mid-2015 and exclude prisoners. The key column is ``LSOA code (2011)``.

=============================  ======================================================
alias                          published header (score; rank and decile alike)
=============================  ======================================================
imd_score/_rank/_decile        Index of Multiple Deprivation (IMD) Score
income_score/...               Income Score (rate)
employment_score/...           Employment Score (rate)
education_score/...            Education, Skills and Training Score
health_score/...               Health Deprivation and Disability Score
crime_score/...                Crime Score
housing_score/...              Barriers to Housing and Services Score
living_environment_score/...   Living Environment Score
idaci_score/...                Income Deprivation Affecting Children Index (IDACI) Score (rate)
idaopi_score/...               Income Deprivation Affecting Older People (IDAOPI) Score (rate)
cyp_score/...                  Children and Young People Sub-domain Score
adult_skills_score/...         Adult Skills Sub-domain Score
geographical_barriers_score/.. Geographical Barriers Sub-domain Score
wider_barriers_score/...       Wider Barriers Sub-domain Score
indoors_score/...              Indoors Sub-domain Score
outdoors_score/...             Outdoors Sub-domain Score
population_total_2015          Total population: mid 2015 (excluding prisoners)
population_0_15_2015           Dependent Children aged 0-15: mid 2015 (...)
population_16_59_2015          Population aged 16-59: mid 2015 (...)
population_60plus_2015         Older population aged 60 and over: mid 2015 (...)
population_working_age_2015    Working age population 18-59/64: for use with Employment
                               Deprivation Domain (excluding prisoners)
=============================  ======================================================
"""


_IOD2019_CODE = "LSOA code (2011)"


_IOD2025_CODE = "LSOA code (2021)"


IOD2025_COLUMNS: dict[str, str] = {
    **{alias: pub for alias, pub in IOD2019_COLUMNS.items() if not alias.startswith("population_")},
    "population_total_2022": "Total population: mid 2022",
    "population_0_15_2022": "Dependent Children aged 0-15: mid 2022",
    "population_16_59_2022": "Population aged 16-59: mid 2022",
    "population_60plus_2022": "Older population aged 60 and over: mid 2022",
    "population_working_age_2022": (
        "Working age population 18-66 (for use with Employment Deprivation Domain): mid 2022"
    ),
}


"""IoD2025 File 7 columns: short alias -> published header (2019 aliases, mid-2022 denominators).

The key ``LSOA code (2021)`` and the IMD and seven domain score, rank and decile headers
were checked against published readers of ``File_7_IoD2025_All_Ranks_Scores_Deciles_
Population_Denominators.csv``; they must all be present (:data:`IOD2025_REQUIRED`). The
supplementary indices, sub-domains and denominators are read when present, so a file
that renames one of them still loads (the log names what is missing). Ranks are
national, 1 = most deprived of 33,755 LSOAs.
"""


IOD2025_REQUIRED: tuple[str, ...] = tuple(
    alias for alias in IOD2025_COLUMNS
    if alias.split("_")[0] in ("imd", "income", "employment", "education", "health", "crime", "housing")
    or alias.startswith("living_environment_")
)


"""IoD2025 aliases a File 7 must hold: IMD and the seven domains (score, rank, decile)."""


def _load_iod2019(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    return _load_iod_file7(name, spec, path, edition=2019)


def _load_iod2025(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    return _load_iod_file7(name, spec, path, edition=2025)


def _load_iod_file7(name: str, spec: SourceSpec, path: Path, *, edition: int) -> SourceTable:
    columns, code, required = (
        (IOD2019_COLUMNS, _IOD2019_CODE, tuple(IOD2019_COLUMNS)) if edition == 2019
        else (IOD2025_COLUMNS, _IOD2025_CODE, IOD2025_REQUIRED)
    )
    header = _read_header(path, spec.encoding)
    lookup = {_norm(h): h for h in header}
    wanted = [code, *(columns[a] for a in required)]
    missing = [pub for pub in wanted if _norm(pub) not in lookup]
    if missing:
        other = _IOD2025_CODE if edition == 2019 else _IOD2019_CODE
        hint = (f" This looks like the IoD{2025 if edition == 2019 else 2019} file ({other!r}): set kind: "
                f"iod{2025 if edition == 2019 else 2019}." if _norm(other) in lookup else "")
        raise InputError(
            f"not an IoD{edition} File 7 table: {len(missing)} expected column(s) missing: "
            + "; ".join(repr(m) for m in missing)
            + f". Use File 7 (all scores, ranks, deciles and population denominators) or a "
            f"'lsoa_table' source for other layouts.{hint}",
            path=str(path),
        )
    present = {alias: pub for alias, pub in columns.items() if _norm(pub) in lookup}
    absent = [alias for alias in columns if alias not in present]
    if absent:
        logger.info("%s: IoD%d optional column(s) not in the file: %s", name, edition, ", ".join(absent))
    raw_names = {lookup[_norm(pub)]: alias for alias, pub in present.items()}
    code_raw = lookup[_norm(code)]
    _check_complete_rows(path, spec.encoding, code_position=header.index(code_raw))
    raw = pd.read_csv(
        path, usecols=[code_raw, *raw_names], dtype="str", encoding=_csv_encoding(spec.encoding)
    )
    index, keep = _key_index(raw[code_raw], path=path, column=code_raw)
    values = _parse_numbers(raw.loc[keep, list(raw_names)], path=path).rename(columns=raw_names)
    table = _integerise(values[list(present)]).set_axis(index, axis=0)
    logger.info("%s: IoD%d for %d LSOAs, %d columns", name, edition, len(table), table.shape[1])
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=None,
        months=(), files=(path,), rows_read=len(raw),
    )

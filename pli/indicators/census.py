"""Census 2011 population and Census 2021 (Nomis bulk) tables."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from pli._codes import list_codes
from pli.config import SourceSpec
from pli.errors import InputError
from pli.indicators.reading import (
    _check_complete_rows,
    _check_counts,
    _csv_encoding,
    _integerise,
    _key_index,
    _norm,
    _parse_numbers,
    _read_header,
)
from pli.indicators.sources import _LSOA_INDEX, SourceTable
from pli.indicators.tables import _read_keyed_table

__all__ = [
    "CENSUS2011_COLUMNS",
]

logger = logging.getLogger(__name__)


CENSUS2011_COLUMNS: dict[str, str] = {
    "usual_residents": "1st 'Persons' column: all usual residents",
    "household_residents": "2nd 'Persons' column: residents in households",
    "communal_residents": "3rd 'Persons' column: residents in communal establishments",
    "hectares": "Hectares",
    "households": "Households",
}


"""Census 2011 population file: output column -> where it comes from.

The published header names three columns ``Persons`` and leaves the 9th blank, so the
three ``Persons`` columns are taken by position, in this order.
"""


# Nomis TS007A five-year bands summed into the "young residents" indicator.
_TS007A_YOUNG = ("Age: Aged 10 to 14 years", "Age: Aged 15 to 19 years", "Age: Aged 20 to 24 years")


_TS007A_TOTAL = "Age: Total"


_NOMIS_CODE = "geography code"


_NOMIS_NON_DATA = ("date", "geography")


def _load_census2011_population(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    header = _read_header(path, spec.encoding)
    norm = [_norm(h) for h in header]
    persons = [i for i, h in enumerate(norm) if h == "persons"]
    problems = []
    if len(persons) != 3:
        problems.append(
            f"expected three 'Persons' columns (usual, household, communal residents), found {len(persons)}"
        )
    positions: dict[str, int] = {}
    for label, wanted in (("lsoa", "lsoa code"), ("hectares", "hectares"), ("households", "households")):
        if wanted in norm:
            positions[label] = norm.index(wanted)
        else:
            problems.append(f"no {wanted!r} column")
    if problems:
        raise InputError(
            [*problems, f"found columns {list_codes(header, 16)}; expected the Census 2011 "
             "population/households/hectares layout"],
            path=str(path),
        )
    cols = {
        positions["lsoa"]: _LSOA_INDEX,
        persons[0]: "usual_residents",
        persons[1]: "household_residents",
        persons[2]: "communal_residents",
        positions["hectares"]: "hectares",
        positions["households"]: "households",
    }
    _check_complete_rows(path, spec.encoding, code_position=positions["lsoa"])
    # Read by position: pandas would rename the duplicate and blank headers.
    raw = pd.read_csv(
        path, header=None, skiprows=1, usecols=list(cols), dtype="str",
        encoding=_csv_encoding(spec.encoding),
    ).rename(columns=cols)
    index, keep = _key_index(raw[_LSOA_INDEX], path=path, column="LSOA Code")
    # Messages name the published header; the three 'Persons' columns also say which one.
    published = {c: header[i].strip() + (f" ({c})" if _norm(header[i]) == "persons" else "")
                 for i, c in cols.items() if c != _LSOA_INDEX}
    values = _parse_numbers(raw.loc[keep, list(CENSUS2011_COLUMNS)].rename(columns=published), path=path)
    _check_counts(values, path=path)
    values = values.rename(columns={v: k for k, v in published.items()})[list(CENSUS2011_COLUMNS)]
    table = _integerise(values).set_axis(index, axis=0)
    off = table["usual_residents"] != table["household_residents"] + table["communal_residents"]
    if off.any():
        logger.warning(
            "%s: usual residents differ from household + communal residents in %d LSOA(s): %s",
            name, int(off.sum()), list_codes(table.index[off]),
        )
    logger.info("%s: Census 2011 population for %d LSOAs (%s usual residents)",
                name, len(table), f"{table['usual_residents'].sum():,.0f}")
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=None,
        months=(), files=(path,), rows_read=len(raw),
    )


def _load_census2021(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    table, rows_read, _ = _read_keyed_table(
        name, spec, path, code_column=spec.code_column or _NOMIS_CODE, exclude=_NOMIS_NON_DATA
    )
    # Nomis spells the same band with or without "; measures: Value" across editions.
    lookup = {_norm(re.sub(r";\s*measures:\s*value\s*$", "", c, flags=re.I)): c for c in table.columns}
    extra: dict[str, pd.Series] = {}
    if _norm(_TS007A_TOTAL) in lookup:
        extra["residents_total"] = table[lookup[_norm(_TS007A_TOTAL)]]
    if all(_norm(b) in lookup for b in _TS007A_YOUNG):
        extra["young_residents_10_24"] = table[[lookup[_norm(b)] for b in _TS007A_YOUNG]].sum(axis=1)
    if extra:
        table = table.assign(**{k: v for k, v in extra.items() if k not in table.columns})
        logger.info("%s: derived %s from the TS007A age bands", name, ", ".join(extra))
    logger.info("%s: Census 2021 table for %d LSOAs, %d columns", name, len(table), table.shape[1])
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=None,
        months=(), files=(path,), rows_read=rows_read,
    )

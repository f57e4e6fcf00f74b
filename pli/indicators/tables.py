"""Any LSOA-keyed CSV table (``lsoa_table``), and the keyed-table reader census files share."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pli._codes import list_codes
from pli.config import ConfigError, SourceSpec
from pli.errors import InputError
from pli.indicators.reading import (
    _check_complete_rows,
    _csv_encoding,
    _find_column,
    _integerise,
    _key_index,
    _norm,
    _parse_numbers,
    _read_header,
)
from pli.indicators.sources import SourceTable

__all__ = [
]

logger = logging.getLogger(__name__)


def _read_keyed_table(
    name: str, spec: SourceSpec, path: Path, *, code_column: str, exclude: Sequence[str] = ()
) -> tuple[pd.DataFrame, int, list[str]]:
    """An LSOA-keyed CSV: numeric columns (all, or ``spec.columns``) indexed by code."""
    header = _read_header(path, spec.encoding)
    code_raw = _find_column(header, code_column, path=path, what="LSOA code")
    if spec.columns:
        missing = [c for c in spec.columns if c not in header]
        if missing:
            hints = []
            for m in missing:
                close = difflib.get_close_matches(m, header, n=1)
                hints.append(f"{m!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise InputError(
                f"requested column(s) not found: {', '.join(hints)}; available: {list_codes(header, 20)}",
                path=str(path),
            )
        data_cols = list(dict.fromkeys(spec.columns))
    else:
        skip = {_norm(e) for e in exclude} | {_norm(code_raw)}
        data_cols = [h for h in header if _norm(h) not in skip and h.strip()]
    _check_complete_rows(path, spec.encoding, code_position=header.index(code_raw))
    raw = pd.read_csv(
        path, usecols=[code_raw, *data_cols], dtype="str", encoding=_csv_encoding(spec.encoding)
    )
    index, keep = _key_index(raw[code_raw], path=path, column=code_raw)
    values = _parse_numbers(raw.loc[keep, data_cols], path=path, strict=bool(spec.columns))
    if values.shape[1] == 0:
        raise InputError(
            f"no numeric columns besides {code_raw!r}; list the wanted columns under 'columns'",
            path=str(path),
        )
    return _integerise(values).set_axis(index, axis=0), len(raw), list(header)


def _load_lsoa_table(name: str, spec: SourceSpec, path: Path) -> SourceTable:
    if not spec.code_column:
        raise ConfigError([f"sources.{name}.code_column: required for kind 'lsoa_table' (the LSOA code column)"])
    table, rows_read, _ = _read_keyed_table(name, spec, path, code_column=spec.code_column)
    logger.info("%s: %d LSOAs, %d numeric columns", name, len(table), table.shape[1])
    return SourceTable(
        name=name, kind=spec.kind, table=table, vintage=spec.vintage, period=None,
        months=(), files=(path,), rows_read=rows_read,
    )

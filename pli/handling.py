"""Handling markings: what each output file may be shared as, kept out of the data rows.

A CSV whose first line is a ``# marking`` comment opens as one column in a spreadsheet
and in a plain :func:`pandas.read_csv`. So markings live in two places instead:

* every table whose marking is not the folder's default gets a first column
  ``classification`` holding the marking on each row, so a table copied or filtered on
  its own still says how to handle it (GeoJSON carries it as a top-level member);
* each output folder holds one ``HANDLING.txt`` listing every file of the folder with
  its marking. One note per folder rather than a sidecar per file: a folder is what is
  shared or archived, one list is read at a glance and cannot be separated from half of
  its files, and the rows already carry the marking of a table that travels alone.

Examples
--------
>>> import pandas as pd
>>> from pli.handling import SENSITIVE, marked
>>> marked(pd.DataFrame({"place_id": ["a"]}), SENSITIVE).columns.tolist()
['classification', 'place_id']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pli.maps.style import SENSITIVE_BANNER

__all__ = [
    "CLASSIFICATION_COLUMN",
    "HANDLING_NAME",
    "SENSITIVE",
    "default_marking",
    "handling_note",
    "marked",
    "write_handling_note",
]

#: Files and map pages holding point-derived (patrol) data: one wording everywhere.
SENSITIVE = SENSITIVE_BANNER
#: The column that carries a table's marking on every row.
CLASSIFICATION_COLUMN = "classification"
#: The note listing each file of a folder with its marking.
HANDLING_NAME = "HANDLING.txt"


def default_marking(*, public: bool, suppress_below: int = 5) -> str:
    """The marking of a folder's files that carry no marking of their own.

    Parameters
    ----------
    public : bool
        Whether the run was a public (disclosure-controlled) one.
    suppress_below : int
        Its suppression threshold, named in the public marking.
    """
    if public:
        # The wording of pli report's public marking.
        return (f"OFFICIAL: public version, small numbers suppressed (counts below {suppress_below} and the "
                "values that would reveal them are blank; no point-level data)")
    return "OFFICIAL: aggregated to areas; check local policy before publishing (or re-run with --public)"


def marked(frame: pd.DataFrame, marking: str) -> pd.DataFrame:
    """A copy of ``frame`` with a first column ``classification`` holding ``marking``."""
    out = frame.drop(columns=[CLASSIFICATION_COLUMN], errors="ignore")
    out.insert(0, CLASSIFICATION_COLUMN, marking)
    return out


def handling_note(files: Mapping[str, str], *, default: str, heading: str) -> str:
    """The text of ``HANDLING.txt``.

    Parameters
    ----------
    files : mapping
        Every file of the folder (relative POSIX path) -> its marking; files marked with
        ``default`` are listed under it.
    default : str
        The folder's default marking.
    heading : str
        First line, e.g. ``"pli index run 2026-... for Croydon"``.
    """
    lines = [heading, "", f"Default marking: {default}", ""]
    special = {name: mark for name, mark in files.items() if mark != default}
    if special:
        lines.append("Files with their own marking (also in their 'classification' column or member):")
        lines.extend(f"  {name}: {special[name]}" for name in sorted(special))
        lines.append("")
    lines.append("Every file in this folder:")
    lines.extend(f"  {name}: {'default' if files[name] == default else files[name]}" for name in sorted(files))
    lines.append("")
    lines.append("Maps pages that show point-level data carry the same marking in a banner.")
    return "\n".join(lines) + "\n"


def write_handling_note(tx: Any, target: str, marks: Mapping[str, str], *, default: str, heading: str) -> Path:
    """Write ``HANDLING.txt`` into a transaction's folder, listing every file staged there.

    Call it after the folder's other files are staged; the manifest written after it
    (``manifest.json``) is listed too, with the default marking.

    Parameters
    ----------
    tx : OutputTransaction
    target : str
        The folder (``"output"``).
    marks : mapping
        Files with a marking of their own (relative POSIX path -> marking).
    default, heading : str
        See :func:`handling_note`.
    """
    from pli.outputs import MANIFEST_NAME

    files = {rel.as_posix(): default for rel in tx.staged_files().get(target, ())}
    files.update({HANDLING_NAME: default, MANIFEST_NAME: default})
    files.update(marks)
    path = tx.path(target, HANDLING_NAME)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(handling_note(files, default=default, heading=heading))
    return path

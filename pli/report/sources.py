"""The data sources of an index run, with their periods and licences, for the report's method page.

Built from the run's manifest (config, input hashes, periods); no file is re-read. The
licence follows the source kind: the loaders of pli read published UK datasets whose
terms are known; a generic table or point file says "see the data owner's terms".
"""

from __future__ import annotations

import pandas as pd

__all__ = ["source_table", "KIND_LICENCES", "BOUNDARY_LICENCE"]

#: Publisher and licence of each source kind pli reads.
KIND_LICENCES = {
    "police_uk": "police.uk street-level crime; Open Government Licence v3.0",
    "mps_lsoa_crime": "Metropolitan Police Service recorded crime (London Datastore); Open Government Licence v2.0",
    "iod2019": "English Indices of Deprivation 2019 (MHCLG); Open Government Licence v3.0",
    "census2011_population": "ONS Census 2011; Open Government Licence v3.0",
    "census2021": "ONS Census 2021 (Nomis); Open Government Licence v3.0",
    "lsoa_table": "LSOA table supplied for this run; see the data owner's terms",
    "points": "point records supplied for this run; see the data owner's terms",
}
BOUNDARY_LICENCE = ("ONS and OS boundaries: contains National Statistics data and OS data, Crown copyright and "
                    "database right; Open Government Licence v3.0")
_SIMULATED = "SIMULATED by pli for the demo (MIT licence): not facts about the area"


def _files(inputs: dict, path: str) -> list[str]:
    prefix = str(path).rstrip("/")
    return sorted(k for k in inputs if k == prefix or k.startswith(prefix + "/"))


def source_table(manifest: dict) -> pd.DataFrame:
    """One row per input: what it is, its files, period or vintage, and licence.

    Parameters
    ----------
    manifest : dict
        An index run's ``manifest.json``.

    Returns
    -------
    DataFrame
        ``name, what, files, period, licence``.

    Examples
    --------
    >>> m = {"config": {"sources": {"crime": {"kind": "police_uk", "path": "pu"}},
    ...                 "indicators": [{"name": "robbery", "source": "crime"}]},
    ...      "periods": {"robbery": "2025-01 to 2025-12"}, "inputs": {"pu/2025-01.csv": "ab"}}
    >>> source_table(m).loc[0, ["name", "period"]].tolist()
    ['crime', '2025-01 to 2025-12']
    """
    config = manifest.get("config") or {}
    inputs = manifest.get("inputs") or {}
    periods = manifest.get("periods") or {}
    indicator_source = {s.get("name"): s.get("source") for s in config.get("indicators") or [] if isinstance(s, dict)}
    rows = []
    boundaries = config.get("boundaries") or {}
    for layer in ("lsoa", "wards"):
        spec = boundaries.get(layer)
        if isinstance(spec, dict) and spec.get("path"):
            vintage = boundaries.get("lsoa_vintage", "") if layer == "lsoa" else ""
            rows.append({"name": f"{layer} boundaries", "what": f"{layer.upper() if layer == 'lsoa' else 'Ward'} "
                         f"boundaries{f' ({vintage})' if vintage else ''}", "files": _files(inputs, spec["path"]),
                         "period": str(vintage) if vintage else "as published", "licence": BOUNDARY_LICENCE})
    for name, spec in (config.get("sources") or {}).items():
        if not isinstance(spec, dict):
            continue
        kind = str(spec.get("kind", ""))
        files = _files(inputs, str(spec.get("path", "")))
        used = sorted({periods[i] for i, s in indicator_source.items() if s == name and i in periods})
        if used:
            period = "; ".join(used)
        elif kind == "iod2019":
            period = "IoD 2019 (indicators mostly 2015-16)"
        elif kind.startswith("census"):
            period = "Census " + kind.removeprefix("census")[:4]
        else:
            period = "as supplied"
        licence = KIND_LICENCES.get(kind, "see the data owner's terms")
        if manifest.get("simulated") and any("simulat" in f.lower() for f in files):
            licence = _SIMULATED
        rows.append({"name": name, "what": f"{kind} source", "files": files, "period": period, "licence": licence})
    harm = [k for k in inputs if k.endswith("harm_weights.csv")]
    if harm:
        rows.append({"name": "harm weights", "what": "crime harm weights (days per offence)", "files": harm,
                     "period": (config.get("index") or {}).get("harm_scheme", "cchi2026"),
                     "licence": "pli (MIT); values sourced in indicators/HARM_WEIGHTS.md"})
    return pd.DataFrame(rows, columns=["name", "what", "files", "period", "licence"])

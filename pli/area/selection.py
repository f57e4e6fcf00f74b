"""Cutting national files to a study area named by local-authority codes or a police force.

An LSOA -> LAD (-> force) lookup says which LSOAs belong to the named authorities. The
boundary file keeps only those; every LSOA-keyed table loses the rows of LSOAs the
lookup places in another authority. Both cuts are counted, logged and recorded in the
manifest, so a national boundary file or IoD table needs no ``outside_error_share``.
Codes the lookup does not know are left alone, so the usual checks on records outside
the study area still catch a file for the wrong area or vintage.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from pli._codes import list_codes, normalise_codes
from pli.config import AreaLookupSpec, AreaSpec
from pli.errors import InputError

__all__ = [
    "AreaSelection",
    "force_key",
    "read_area_lookup",
    "restrict_sources",
    "select_area",
]

logger = logging.getLogger(__name__)


_COUNT_KINDS = ("police_uk", "mps_lsoa_crime", "points")
_ALL_CRIME = "all_crime"


def force_key(name: object) -> str:
    """A police force name compared loosely: case, spaces and a trailing "Police" ignored.

    >>> force_key("West Yorkshire Police") == force_key(" west  yorkshire")
    True
    """
    words = str(name).casefold().replace("-", " ").split()
    if words and words[-1] == "police":
        words = words[:-1]
    return " ".join(words)


@dataclass(frozen=True, eq=False)
class AreaSelection:
    """Which LSOAs belong to a study area named by LAD codes or a police force.

    Attributes
    ----------
    lad_codes : tuple of str
        The authorities asked for (``area.lad_codes``).
    police_force : str or None
        The force asked for (``area.police_force``).
    kept : tuple of str
        Boundary LSOAs (boundary vintage) inside the area, in code order.
    excluded_by_authority : dict
        Boundary LSOAs left out, counted by the authority the lookup places them in.
    unplaced : tuple of str
        Boundary LSOAs the lookup does not hold at all (left out too).
    area_codes, other_codes : frozenset of str
        LSOA codes (either vintage) inside the area, and placed in another authority.
    lookup_file : Path
        The lookup read.
    sources_excluded : dict
        Source name -> ``{"lsoas": n, "records": n[, "points": n]}`` cut by
        :func:`restrict_sources` (``records``: recorded crimes of crime sources, else
        table rows; ``points``: point records dropped with them).
    """

    lad_codes: tuple[str, ...]
    police_force: str | None
    kept: tuple[str, ...]
    excluded_by_authority: dict[str, int]
    unplaced: tuple[str, ...]
    area_codes: frozenset[str]
    other_codes: frozenset[str]
    lookup_file: Path
    sources_excluded: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def excluded(self) -> int:
        """Boundary LSOAs left out (other authorities plus unplaced)."""
        return sum(self.excluded_by_authority.values()) + len(self.unplaced)

    def describe(self) -> str:
        """The area as named: ``"E08000033"``, ``"force West Yorkshire"`` or both."""
        parts = list(self.lad_codes)
        if self.police_force:
            parts.append(f"force {self.police_force}")
        return " + ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for the manifest (``area_selection``)."""
        return {
            "lad_codes": list(self.lad_codes),
            "police_force": self.police_force,
            "lookup": self.lookup_file.name,
            "lsoas_kept": len(self.kept),
            "lsoas_excluded": self.excluded,
            "lsoas_excluded_by_authority": dict(sorted(self.excluded_by_authority.items())),
            "lsoas_not_in_lookup": list(self.unplaced),
            "sources_excluded": {k: dict(v) for k, v in sorted(self.sources_excluded.items())},
        }

    def __repr__(self) -> str:
        return (f"AreaSelection({self.describe()}: {len(self.kept)} LSOAs kept, {self.excluded} excluded, "
                f"{len(self.sources_excluded)} sources cut)")


def read_area_lookup(spec: AreaLookupSpec, *, resolve: Callable[[str], Path] = Path) -> pd.DataFrame:
    """Read an LSOA -> LAD (-> force) lookup.

    Parameters
    ----------
    spec : AreaLookupSpec
        The CSV and its columns.
    resolve : callable
        Turns the configured path into a file path (``cfg.resolve``).

    Returns
    -------
    DataFrame
        Columns ``lsoa``, ``lad``, ``force`` and ``lad_name`` (``None`` where the lookup
        has no such column), one row per LSOA code.

    Raises
    ------
    InputError
        File missing or unreadable, a column missing (the closest is suggested), or
        one LSOA placed in two authorities.
    """
    from pli.boundaries.reading import _check_columns, _read_table

    path = Path(resolve(spec.path))
    what = "area lookup (area.lookup)"
    raw = _read_table(path, what=what)
    _check_columns(raw, {"lsoa_column": spec.lsoa_column, "lad_column": spec.lad_column,
                         "lad_name_column": spec.lad_name_column, "force_column": spec.force_column},
                   what=what, path=path)
    lsoa = normalise_codes(raw[spec.lsoa_column], where=f"{what} ({path.name})", column=spec.lsoa_column)
    frame = pd.DataFrame({
        "lsoa": lsoa,
        "lad": raw[spec.lad_column].str.strip().str.upper() if spec.lad_column else None,
        "force": raw[spec.force_column].str.strip() if spec.force_column else None,
        "lad_name": raw[spec.lad_name_column].str.strip() if spec.lad_name_column else None,
    }).dropna(subset=["lsoa"])
    frame = frame[frame["lsoa"].astype(str).str.len() > 0].drop_duplicates()
    clash = frame["lsoa"][frame["lsoa"].duplicated(keep=False)]
    if len(clash):
        raise InputError(
            f"{what}: {clash.nunique()} LSOA code(s) in column {spec.lsoa_column!r} are placed in more than one "
            f"authority or force: {list_codes(sorted(clash.unique()))}; use a lookup with one row per LSOA",
            path=str(path),
        )
    return frame.reset_index(drop=True)


def _in_area(lookup: pd.DataFrame, area: AreaSpec, path: Path) -> pd.Series:
    """Mask of lookup rows in the listed authorities or the named force; unknown names raise."""
    inside = pd.Series(False, index=lookup.index)
    codes = area.authority_codes()
    if codes:
        lads = lookup["lad"].astype("string")
        missing = [c for c in codes if not lads.eq(c).any()]
        if missing:
            known = sorted(lads.dropna().unique())
            hints = [f"{c} (did you mean {', '.join(difflib.get_close_matches(c, known, n=2)) or 'none close'}?)"
                     for c in missing]
            raise InputError(
                f"area.lad_codes: {len(missing)} code(s) are not in the lookup's LAD column: {'; '.join(hints)}. "
                f"The lookup holds {len(known)} authorities ({list_codes(known, 6)}); check the code, or use a "
                "lookup of the same year's authorities",
                path=str(path),
            )
        inside |= lads.isin(codes).fillna(False).astype(bool)
    if area.police_force:
        forces = lookup["force"].astype("string").map(force_key, na_action="ignore")
        wanted = force_key(area.police_force)
        if not forces.eq(wanted).any():
            known = sorted(lookup["force"].dropna().unique())
            close = difflib.get_close_matches(area.police_force, known, n=2)
            raise InputError(
                f"area.police_force: {area.police_force!r} is not a force in the lookup"
                + (f"; did you mean {', '.join(map(repr, close))}?" if close else "")
                + f" Forces in it: {list_codes(known, 8)}",
                path=str(path),
            )
        inside |= forces.eq(wanted).fillna(False).astype(bool)
    return inside


def _carry(codes: pd.Index, vintage_lookup: pd.DataFrame | None, *, src: int, dst: int) -> pd.Index:
    """Codes of vintage ``src`` carried to vintage ``dst`` through the ONS 2011 <-> 2021 lookup."""
    if src == dst or vintage_lookup is None:
        return codes
    a, b = ("lsoa11", "lsoa21") if src == 2011 else ("lsoa21", "lsoa11")
    return pd.Index(vintage_lookup.loc[vintage_lookup[a].isin(codes), b].astype(str)).unique()


def select_area(
    lsoa: gpd.GeoDataFrame,
    area: AreaSpec,
    *,
    boundary_vintage: int,
    resolve: Callable[[str], Path] = Path,
    vintage_lookup: pd.DataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, AreaSelection]:
    """Keep the boundary LSOAs that the area lookup places in the named area.

    Parameters
    ----------
    lsoa : GeoDataFrame
        Boundary LSOAs indexed by code (any extent, up to all of England and Wales).
    area : AreaSpec
        ``lad_codes``/``lad_code``/``police_force`` and ``lookup``.
    boundary_vintage : int
        2011 or 2021: the vintage of ``lsoa.index``.
    resolve : callable
        Turns the lookup's path into a file path (``cfg.resolve``).
    vintage_lookup : DataFrame, optional
        From :func:`pli.boundaries.read_vintage_lookup`; needed when the area lookup's
        vintage differs from the boundaries'.

    Returns
    -------
    (GeoDataFrame, AreaSelection)
        A new frame holding only the area's LSOAs, and what was kept and left out.

    Raises
    ------
    InputError
        No lookup, an authority or force the lookup does not hold, no boundary LSOA
        inside the area, or boundary LSOAs missing from the lookup when the boundary
        file holds no other authority's LSOAs (a national file may hold LSOAs a lookup
        for one country lacks: those are left out with a warning).
    """
    spec = area.lookup
    if spec is None:
        raise InputError("area.lookup: the area is named by lad_codes or police_force but no lookup is given")
    path = Path(resolve(spec.path))
    lookup = read_area_lookup(spec, resolve=resolve)
    inside = _in_area(lookup, area, path)
    lookup_vintage = spec.vintage or boundary_vintage
    area_own = pd.Index(lookup.loc[inside, "lsoa"].astype(str))
    other_own = pd.Index(lookup.loc[~inside, "lsoa"].astype(str))
    area_b = _carry(area_own, vintage_lookup, src=lookup_vintage, dst=boundary_vintage)
    other_b = _carry(other_own, vintage_lookup, src=lookup_vintage, dst=boundary_vintage).difference(area_b)
    # Both vintages, so a table keyed by the other one (IoD2025 on 2011 boundaries) is cut too.
    other_vintage = 2021 if lookup_vintage == 2011 else 2011
    area_codes = frozenset(area_own.union(area_b).union(
        _carry(area_own, vintage_lookup, src=lookup_vintage, dst=other_vintage)))
    other_codes = frozenset(other_own.union(other_b).union(
        _carry(other_own, vintage_lookup, src=lookup_vintage, dst=other_vintage))) - area_codes

    codes = pd.Index(lsoa.index.astype(str))
    keep = codes.isin(area_b)
    other = codes.isin(other_b) & ~keep
    unplaced = codes[~keep & ~other]
    named = f"{area.name} ({' + '.join([*area.authority_codes(), *filter(None, [area.police_force])])})"
    if not keep.any():
        raise InputError(
            f"area: none of the {len(codes)} boundary LSOAs ({boundary_vintage}) is in {named} according to "
            f"{path.name} ({len(area_own)} LSOAs of the area there, {lookup_vintage} codes); check that the "
            "boundary file covers the area, and area.lookup.vintage",
            path=str(path),
        )
    # Count the LSOAs left out by the authority (or force) that holds them.
    by = "lad" if area.authority_codes() else "force"
    holder = lookup.set_index("lsoa")[by]
    if lookup_vintage == boundary_vintage:
        left = holder.reindex(codes[other]).fillna("?").astype(str)
    else:
        left = pd.Series("other authorities", index=codes[other])
    excluded_by = {str(k): int(v) for k, v in left.value_counts().items()}
    if len(unplaced) and not other.any():
        # The boundary file holds the area alone, so an LSOA the lookup misses is a hole
        # in the lookup, not a neighbour's LSOA: stop rather than drop part of the area.
        raise InputError(
            f"area lookup (area.lookup): {len(unplaced)} of {len(codes)} LSOAs are not in column "
            f"{spec.lsoa_column!r}: {list_codes(unplaced)}; the boundary file holds no LSOA of another authority, "
            "so these belong to the area: use a lookup that lists every LSOA of the boundary file (same vintage)",
            path=str(path),
        )
    if len(unplaced):
        logger.warning(
            "area: %d boundary LSOA(s) are not in the area lookup %s, so cannot be placed in an authority; "
            "left out: %s", len(unplaced), path.name, list_codes(unplaced),
        )
    logger.info(
        "area: kept %d LSOAs of %s; excluded %d boundary LSOA(s) of %d other authorit%s%s",
        int(keep.sum()), named, int(other.sum()), len(excluded_by), "y" if len(excluded_by) == 1 else "ies",
        f" and {len(unplaced)} not in the lookup" if len(unplaced) else "",
    )
    selection = AreaSelection(
        lad_codes=area.authority_codes(),
        police_force=area.police_force,
        kept=tuple(codes[keep]),
        excluded_by_authority=excluded_by,
        unplaced=tuple(unplaced),
        area_codes=area_codes,
        other_codes=other_codes,
        lookup_file=path,
    )
    return lsoa[keep], selection


def restrict_sources(selection: AreaSelection | None, sources: Mapping[str, Any]) -> tuple[dict[str, Any],
                                                                                          AreaSelection | None]:
    """Drop the rows (and points) of LSOAs the area lookup places in another authority.

    Parameters
    ----------
    selection : AreaSelection or None
        From :func:`select_area`; ``None`` (the area is not named) returns the sources
        unchanged.
    sources : mapping
        Source name -> :class:`pli.indicators.SourceTable`.

    Returns
    -------
    (dict, AreaSelection or None)
        New source tables, and the selection with ``sources_excluded`` filled in.
    """
    if selection is None:
        return dict(sources), None
    other = pd.Index(sorted(selection.other_codes), dtype="str")
    out: dict[str, Any] = {}
    cut: dict[str, dict[str, int]] = {}
    for name, src in sources.items():
        table = src.table
        drop = pd.Index(table.index.astype(str)).isin(other)
        points = src.points
        point_drop = None
        if points is not None and len(points) and "lsoa_code" in points.columns:
            # Categorical codes: isin looks at each category once, not at every point.
            point_drop = points["lsoa_code"].isin(other).to_numpy(dtype=bool)
        if not drop.any() and (point_drop is None or not point_drop.any()):
            out[name] = src
            continue
        if src.kind in _COUNT_KINDS and _ALL_CRIME in table.columns:
            records, unit = int(table.loc[drop, _ALL_CRIME].sum()), "recorded crimes"
        else:
            records, unit = int(drop.sum()), "rows"
        cut[name] = {"lsoas": int(drop.sum()), "records": records}
        changes: dict[str, Any] = {"table": table[~drop]}
        if point_drop is not None and point_drop.any():
            changes["points"] = points[~point_drop].reset_index(drop=True)
            cut[name]["points"] = int(point_drop.sum())
        out[name] = dataclasses.replace(src, **changes)
        logger.info(
            "%s: excluded %d LSOA(s) of other authorities (%s %s)%s; %d LSOA(s) left",
            name, int(drop.sum()), f"{records:,}", unit,
            f" and {int(point_drop.sum()):,} points" if point_drop is not None and point_drop.any() else "",
            int((~drop).sum()),
        )
    return out, dataclasses.replace(selection, sources_excluded=cut)

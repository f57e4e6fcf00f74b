"""Which part of a split area map each LSOA goes on: its local authority, where known.

Above ``maps.split_above`` LSOAs the detailed area maps are written in parts
(:mod:`pli.maps.split`). An analyst looks for "Leeds", not "Part 7", so when the local
authority (LAD) of the LSOAs is known each part is one authority:

* from the map bundle's ``lad_code`` / ``lad_name`` columns, which
  :func:`pli.maps.bundle.bundle_for_run` fills from ``area.lookup`` (its ``lad_column``
  and optional ``lad_name_column``) when the lookup has the boundaries' LSOA vintage;
* otherwise from the ONS LSOA names, which are "<LAD name> <3-digit number><letter>"
  ("City of London 001A", "Rhondda Cynon Taf 012B").

An LSOA whose authority is unknown (a name of another form) joins the authority of the
nearest LSOA whose authority is known. An authority of fewer than
:data:`MIN_AUTHORITY_LSOAS` LSOAs (City of London, the Isles of Scilly, or one cut by the
study area's edge) shares the page of its nearest neighbour: the authority of the
nearest LSOA outside it, smallest first, until none is that small. A big authority is
never cut. When no authority is known, or the area is one authority, the parts stay
whole upper-layer areas gathered by place (:func:`pli.maps.split.part_of_lsoas`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from pli.maps.prepare import _simplify, display_tolerance

__all__ = [
    "MIN_AUTHORITY_LSOAS",
    "MapParts",
    "authority_of_lsoas",
    "authority_parts",
    "lad_name_from_lsoa_name",
]

# About a quarter of a small district: below this an authority's own page would be a
# handful of polygons (City of London has 6 LSOAs, the Isles of Scilly 1).
MIN_AUTHORITY_LSOAS = 30

_LSOA_NAME = re.compile(r"^(?P<lad>.*\S)\s+\d{3}[A-Z]$")


def lad_name_from_lsoa_name(names: pd.Series) -> pd.Series:
    """The local authority's name in each ONS LSOA name; NA where the name is not of that form.

    Examples
    --------
    >>> import pandas as pd
    >>> lad_name_from_lsoa_name(pd.Series(["City of London 001A", "Rhondda Cynon Taf 012B", "Ward 7"])).tolist()
    ['City of London', 'Rhondda Cynon Taf', <NA>]
    """
    text = names.astype("string").str.strip()
    return text.str.extract(_LSOA_NAME, expand=False).astype("string")


def authority_of_lsoas(lsoa: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Local-authority key and name of each LSOA (NA where unknown).

    The key is the LAD code from ``lad_code`` where the frame has it, else the name
    (``lad_name``, else the name in ``lsoa_name``). Both are raw text: escape them
    before they reach a page.

    Parameters
    ----------
    lsoa : DataFrame
        The map bundle's LSOAs.

    Returns
    -------
    (Series, Series)
        Key and name, string dtype, indexed like ``lsoa``.
    """
    na = pd.Series(pd.NA, index=lsoa.index, dtype="string")
    code = lsoa["lad_code"].astype("string").str.strip() if "lad_code" in lsoa.columns else na
    code = code.where(code != "")
    name = lsoa["lad_name"].astype("string").str.strip() if "lad_name" in lsoa.columns else na
    name = name.where(name != "")
    from_lsoa = lad_name_from_lsoa_name(lsoa["lsoa_name"]) if "lsoa_name" in lsoa.columns else na
    if code.notna().any():
        # A lookup without names: the LSOA names still say which authority a code is.
        return code, name.fillna(from_lsoa).fillna(code)
    name = name.fillna(from_lsoa)
    return name, name


@dataclass(frozen=True)
class MapParts:
    """The parts a split area map is written in.

    Parameters
    ----------
    part : ndarray of int
        Part (0 .. n - 1) of each LSOA, in the bundle's row order.
    titles : tuple of str
        Title of each part ("Croydon", "Tower Hamlets with City of London", "Part 3"); raw
        text, escaped where shown.
    slugs : tuple of str
        File-safe name of each part (``[A-Za-z0-9-]`` only, from the LAD code, or from the
        name when no code is known).
    by_authority : bool
        Whether the parts are local authorities (else whole upper-layer areas by place).
    authorities : DataFrame
        One row per local authority, in name order: ``code`` (``""`` when only the name
        is known), ``name``, ``n_lsoas``, ``part`` and ``neighbourhoods`` (ranks of the
        priority neighbourhoods most of whose LSOAs lie in it); empty unless
        ``by_authority``.
    authority : ndarray of int, optional
        Row of ``authorities`` of each LSOA (bundle row order); ``None`` unless
        ``by_authority``.
    """

    part: np.ndarray
    titles: tuple[str, ...]
    slugs: tuple[str, ...]
    by_authority: bool = False
    authorities: pd.DataFrame = field(default_factory=pd.DataFrame)
    authority: Optional[np.ndarray] = None

    @property
    def n(self) -> int:
        """Number of parts."""
        return len(self.titles)

    def file(self, page: str, k: int) -> str:
        """File name of part ``k`` of ``page``: ``priority_localities_E09000008.html``, or
        ``priority_localities-part-01.html`` for parts by place."""
        if self.by_authority:
            return f"{page}_{self.slugs[k]}.html"
        return f"{page}-part-{k + 1:02d}.html"

    def listing(self) -> list[tuple[str, str, int]]:
        """``(title, file, n_lsoas)`` of each part (``index.html``)."""
        counts = np.bincount(self.part, minlength=self.n)
        return [(self.titles[k], self.file("priority_localities", k), int(counts[k])) for k in range(self.n)]


STALE_PART = re.compile(r"(priority_localities|hotspots)(-part-\d+|_[A-Za-z0-9-]+)\.html")


def _slug(values: list[str], *, lower: bool) -> list[str]:
    """File-safe, unique slugs: ``[A-Za-z0-9-]``, at most 40 characters, numbered on a clash."""
    seen: dict[str, int] = {}
    out = []
    for v in values:
        s = re.sub(r"[^A-Za-z0-9]+", "-", v.lower() if lower else v).strip("-")[:40].strip("-") or "area"
        seen[s] = seen.get(s, 0) + 1
        out.append(s if seen[s] == 1 else f"{s}-{seen[s]}")
    return out


def _fill_unknown(key: pd.Series, xy: np.ndarray) -> pd.Series:
    """Unknown authorities take that of the nearest LSOA whose authority is known."""
    known = key.notna().to_numpy()
    if known.all():
        return key
    _, nearest = cKDTree(xy[known]).query(xy[~known])
    filled = key.copy()
    filled.iloc[np.flatnonzero(~known)] = key[known].to_numpy()[nearest]
    return filled


def _merge_small(group: np.ndarray, xy: np.ndarray, min_lsoas: int) -> np.ndarray:
    """Groups of fewer than ``min_lsoas`` LSOAs join the group of the nearest LSOA outside them."""
    group = group.copy()
    while True:
        ids, counts = np.unique(group, return_counts=True)
        if len(ids) < 2 or counts.min() >= min_lsoas:
            return group
        # Smallest first, ties by group number, so the result does not depend on sort stability.
        small = ids[np.lexsort((ids, counts))[0]]
        inside = group == small
        centre = xy[inside].mean(axis=0)
        outside = np.flatnonzero(~inside)
        _, j = cKDTree(xy[outside]).query(centre)
        group[inside] = group[outside[int(j)]]


def _neighbourhood_authority(neighbourhoods: pd.DataFrame, key: pd.Series) -> pd.Series:
    """Authority key of each neighbourhood: where most of its LSOAs are (ties: the first listed)."""
    codes = neighbourhoods["lsoa_codes"].astype("string").fillna("").str.split(";").explode().str.strip()
    codes = codes[codes.fillna("") != ""]
    held = pd.DataFrame({"rank": neighbourhoods["rank"].reindex(codes.index).to_numpy(),
                         "key": codes.map(key).to_numpy(), "order": np.arange(len(codes))}).dropna(subset=["key"])
    if held.empty:
        return pd.Series(dtype="string")
    counted = held.groupby(["rank", "key"], sort=False).agg(n=("order", "size"), first=("order", "min")).reset_index()
    top = counted.sort_values(["rank", "n", "first"], ascending=[True, False, True]).drop_duplicates("rank")
    return top.set_index("rank")["key"]


def authority_parts(lsoa: pd.DataFrame, points: np.ndarray, neighbourhoods: pd.DataFrame, *,
                    min_lsoas: int = MIN_AUTHORITY_LSOAS) -> Optional[MapParts]:
    """One part per local authority (small ones merged), or ``None`` to split by place.

    Parameters
    ----------
    lsoa : DataFrame
        The map bundle's LSOAs (``lad_code`` / ``lad_name`` / ``lsoa_name``, see
        :func:`authority_of_lsoas`).
    points : ndarray, shape (n_lsoas, 2)
        A point inside each LSOA, in metres.
    neighbourhoods : DataFrame
        ``rank`` and ``lsoa_codes`` (``;``-joined) of the priority neighbourhoods.
    min_lsoas : int
        Smallest authority given a page of its own.

    Returns
    -------
    MapParts or None
        ``None`` when no LSOA's authority is known or the area (after merging) is one
        authority.
    """
    key, name = authority_of_lsoas(lsoa)
    if key.notna().sum() == 0 or key.nunique() < 2:
        return None
    # LSOA names carry the authorities of their year: under a lookup of later codes a merged
    # authority (Buckinghamshire) holds several older names, and its title lists them all.
    names_of = name.dropna().groupby(key).agg(lambda v: " / ".join(dict.fromkeys(v)))
    key = _fill_unknown(key, points)
    uniq = sorted(key.unique(), key=lambda k: (str(names_of.get(k, k)).casefold(), str(k)))
    position = {k: i for i, k in enumerate(uniq)}
    own = key.map(position).to_numpy(dtype=int)
    group = _merge_small(own, points, min_lsoas)
    # Parts numbered in the order of their (host) authority's name.
    hosts = np.unique(group)
    if len(hosts) < 2:
        return None
    part = np.searchsorted(hosts, group)
    n_lsoas = np.bincount(own, minlength=len(uniq))
    # Merging moves whole authorities, so each authority has one group (that of its host).
    group_of = np.empty(len(uniq), dtype=int)
    group_of[own] = group
    titles = []
    for g in hosts:
        # Authorities sharing the host's page, biggest first, name the page after the host.
        guests = sorted((a for a in np.flatnonzero(group_of == g) if a != g), key=lambda a: (-n_lsoas[a], a))
        title = str(names_of.get(uniq[g], uniq[g]))
        if guests:
            title += " with " + " and ".join(str(names_of.get(uniq[a], uniq[a])) for a in guests)
        titles.append(title)
    by_code = "lad_code" in lsoa.columns and lsoa["lad_code"].notna().any()
    nb_key = _neighbourhood_authority(neighbourhoods, key)
    authorities = pd.DataFrame({
        "code": [str(k) if by_code else "" for k in uniq],
        "name": [str(names_of.get(k, k)) for k in uniq],
        "n_lsoas": n_lsoas,
        "part": np.searchsorted(hosts, group_of),
        "neighbourhoods": [tuple(sorted(int(r) for r in nb_key.index[nb_key == k])) for k in uniq],
    })
    slugs = _slug([str(uniq[g]) for g in hosts], lower=not by_code)
    return MapParts(part=part, titles=tuple(titles), slugs=tuple(slugs), by_authority=True,
                    authorities=authorities, authority=own)


def authority_shapes(lsoa_metric: gpd.GeoSeries, authority: np.ndarray, n: int) -> gpd.GeoSeries:
    """One polygon per authority (0 .. n - 1), dissolved from its LSOAs and simplified for display.

    ``lsoa_metric`` is the map's LSOA geometry (already simplified as one coverage, so
    neighbouring LSOAs share their edges exactly and dissolve without slivers); the
    authorities are simplified again as a coverage, to the whole page's scale
    (:func:`pli.maps.prepare.display_tolerance`, no finer than 0 m).
    """
    geoms = lsoa_metric.to_numpy()
    shapes = []
    for k in range(n):
        members = geoms[authority == k]
        try:
            shape = shapely.coverage_union_all(members)
        except Exception:  # GEOS rejects a coverage with overlaps: the general union still works
            shape = shapely.union_all(members)
        shapes.append(shape)
    out = gpd.GeoSeries(shapes, crs=lsoa_metric.crs)
    return _simplify(out, display_tolerance(out.total_bounds, 0.0), coverage=True)


def lsoa_points(geometry: gpd.GeoSeries) -> np.ndarray:
    """A point inside each LSOA (``representative_point``), as an ``(n, 2)`` array in the frame's units."""
    return shapely.get_coordinates(geometry.representative_point().values)


def authority_rows(parts: MapParts) -> list[tuple[str, str, int, tuple[int, ...], str]]:
    """``(name, code, n_lsoas, neighbourhood ranks, file)`` of each authority, for ``index.html``.

    ``file`` is the detailed index page holding it (its own, or the neighbour's it shares).
    """
    return [(str(r.name), str(r.code), int(r.n_lsoas), tuple(r.neighbourhoods),
             parts.file("priority_localities", int(r.part)))
            for r in parts.authorities.itertuples(index=False)]

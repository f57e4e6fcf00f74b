"""The boundaries stage: LSOA polygons with their upper-layer area, and the vintage lookup."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import shapely

from pli._codes import list_codes
from pli.boundaries.coverage import OVERLAP_SHARE, find_overlaps
from pli.boundaries.reading import _layer_files, _read_layer
from pli.boundaries.vintage import read_vintage_lookup
from pli.boundaries.wards import assign_by_code, assign_to_wards, dissolve_by_code, upper_codes_from_table
from pli.config import StudyConfig
from pli.errors import InputError

__all__ = [
    "Boundaries",
    "load_boundaries",
]

if TYPE_CHECKING:
    from pli.area import AreaSelection

logger = logging.getLogger(__name__)




@dataclass(frozen=True, eq=False)
class Boundaries:
    """The LSOA layer, the upper layer and the vintage lookup of one study area.

    Attributes
    ----------
    lsoa : GeoDataFrame
        Index ``lsoa_code``; columns ``lsoa_name``, ``ward_code``, ``ward_name``,
        ``ward_overlap_share`` (share of the LSOA's area in its ward, 0-1) and
        ``geometry`` in EPSG:27700.
    wards : GeoDataFrame
        Index ``ward_code``; columns ``ward_name`` and ``geometry`` in EPSG:27700.
        When the upper layer is dissolved from a table these are not electoral wards;
        ``cfg.area.upper_layer_label`` says what they are.
    lsoa_vintage : int
        2011 or 2021: the vintage of ``lsoa.index``.
    lookup : DataFrame or None
        LSOA11 -> LSOA21 lookup (columns ``lsoa11``, ``lsoa21``, ``change``).
    files : tuple of Path
        Every file read, for the manifest.
    repaired_codes : tuple of str
        LSOA and ward codes whose geometry was invalid and repaired.
    overlaps : DataFrame or None
        LSOA pairs overlapping by more than ``OVERLAP_SHARE`` of the smaller polygon
        (see :func:`find_overlaps`).
    area : AreaSelection or None
        When the area is named by LAD codes or a police force: which boundary LSOAs
        were kept and which left out (see :func:`pli.area.select_area`).
    """

    lsoa: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    lsoa_vintage: int
    lookup: pd.DataFrame | None
    files: tuple[Path, ...]
    repaired_codes: tuple[str, ...] = ()
    overlaps: pd.DataFrame | None = None
    area: AreaSelection | None = None

    def to_frame(self) -> pd.DataFrame:
        """The LSOA table without geometry (one row per LSOA)."""
        return pd.DataFrame(self.lsoa.drop(columns=self.lsoa.geometry.name))

    def __repr__(self) -> str:
        lookup = "no lookup" if self.lookup is None else f"lookup {len(self.lookup)} rows"
        return (
            f"Boundaries({len(self.lsoa)} LSOAs ({self.lsoa_vintage}), {len(self.wards)} wards, "
            f"{len(self.repaired_codes)} geometries repaired, {lookup})"
        )


def load_boundaries(cfg: StudyConfig) -> Boundaries:
    """Read the LSOA and upper layers of a study area and assign LSOAs to wards.

    Parameters
    ----------
    cfg : StudyConfig
        Uses ``cfg.boundaries`` and resolves paths with ``cfg.resolve``.

    Returns
    -------
    Boundaries

    Raises
    ------
    InputError
        From :func:`read_polygons`, :func:`dissolve_upper_layer`,
        :func:`assign_to_wards` or :func:`read_vintage_lookup`.

    Examples
    --------
    >>> from pli.config import default_data_dir, load_config
    >>> cfg = load_config(default_data_dir() / "configs" / "croydon-demo.yml")
    >>> from pli.boundaries import load_boundaries
    >>> load_boundaries(cfg)
    Boundaries(220 LSOAs (2011), 44 wards, 0 geometries repaired, no lookup)
    """
    b = cfg.boundaries
    lsoa, repaired, lsoa_path = _read_layer(
        b.lsoa, cfg, what=f"LSOA {b.lsoa_vintage}", index_name="lsoa_code", name_column="lsoa_name"
    )
    files = _layer_files(lsoa_path)
    lookup = None
    if b.vintage_lookup is not None:
        lookup = read_vintage_lookup(b.vintage_lookup, resolve=cfg.resolve)
        files.append(cfg.resolve(b.vintage_lookup.path))
    selection = None
    if cfg.area.is_selected():
        from pli.area import select_area

        lsoa, selection = select_area(lsoa, cfg.area, boundary_vintage=b.lsoa_vintage, resolve=cfg.resolve,
                                      vintage_lookup=lookup)
        repaired = tuple(c for c in repaired if c in lsoa.index)
        if selection.lookup_file not in files:
            files.append(selection.lookup_file)
    if b.wards is not None:
        wards, ward_repaired, ward_path = _read_layer(
            b.wards, cfg, what=cfg.area.upper_layer_label, index_name="ward_code", name_column="ward_name"
        )
        repaired += ward_repaired
        files += _layer_files(ward_path)
    elif b.upper_from_table is not None:
        upper_codes = upper_codes_from_table(lsoa, b.upper_from_table, resolve=cfg.resolve)
        wards = dissolve_by_code(lsoa, upper_codes, source=f"{b.upper_from_table.code_column!r} from "
                                 f"{cfg.resolve(b.upper_from_table.path).name}")
        files.append(cfg.resolve(b.upper_from_table.path))
    else:
        raise InputError("boundaries: give either 'wards' (polygons) or 'upper_from_table' in the config")
    if selection is not None and b.wards is not None:
        # A national ward file: keep the wards near the area before the overlay.
        near = wards.geometry.intersects(shapely.box(*lsoa.total_bounds))
        wards = wards[near.to_numpy()]
    if b.wards is not None:
        lsoa = assign_to_wards(lsoa, wards, layer="wards")
    else:
        lsoa = assign_by_code(lsoa, wards, upper_codes)
    if selection is not None:
        wards = wards[wards.index.isin(lsoa["ward_code"])]
    overlaps = find_overlaps(lsoa)
    if len(overlaps):
        logger.warning(
            "%s: %d pair(s) of LSOA polygons overlap by more than %.0f%% of the smaller one, so "
            "points there fall in two LSOAs: %s; check the boundary file (duplicated or misdrawn areas)",
            lsoa_path.name, len(overlaps), 100 * OVERLAP_SHARE,
            list_codes(f"{r.code_a}/{r.code_b} ({r.share:.0%})" for r in overlaps.itertuples()),
        )

    logger.info(
        "boundaries: %d LSOAs, %d %s, %d geometries repaired",
        len(lsoa),
        len(wards),
        "wards" if b.wards is not None else f"upper areas ({cfg.area.upper_layer_label})",
        len(repaired),
    )
    return Boundaries(
        lsoa=lsoa,
        wards=wards,
        lsoa_vintage=b.lsoa_vintage,
        lookup=lookup,
        files=tuple(files),
        repaired_codes=repaired,
        overlaps=overlaps,
        area=selection,
    )

"""Does the boundary file cover the study area, once, without overlaps?"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pli._codes import isin_text, list_codes
from pli.config import StudyConfig
from pli.errors import InputError

if TYPE_CHECKING:  # the stage module imports this one
    from pli.boundaries.loading import Boundaries

__all__ = [
    "check_source_coverage",
    "OVERLAP_SHARE",
    "Coverage",
    "check_coverage",
    "find_overlaps",
]

logger = logging.getLogger(__name__)


# Generalised boundaries overlap their neighbours by slivers; more than this share of
# the smaller polygon is a duplicated or misdrawn area, which would count events twice.
OVERLAP_SHARE = 0.01


def _candidate_pairs(geoms: np.ndarray, tree: shapely.STRtree) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a < b) of polygons whose interiors may meet by an area.

    A boundary file is a coverage: neighbours share edges and nothing else. GEOS's
    coverage validator finds the few polygons whose edges do not match a neighbour's
    (0.6 s for England and Wales, against seconds for testing every pair of neighbours);
    only their pairs are intersected. Exact duplicates, whose edges all match, are found
    by their normalised shape.
    """
    if hasattr(shapely, "coverage_invalid_edges"):
        odd = np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(geoms)))
        i, b = tree.query(geoms[odd], predicate="intersects")
        a = odd[i]
        shape_code = pd.factorize(shapely.to_wkb(shapely.normalize(geoms)))[0]
        first_of_shape = np.unique(shape_code, return_index=True)[1][shape_code]
        dup = np.flatnonzero(first_of_shape != np.arange(len(geoms)))
        a, b = np.r_[a, first_of_shape[dup]], np.r_[b, dup]
    else:  # shapely < 2.1: the interiors must meet, by overlap or containment
        overlapping = tree.query(geoms, predicate="overlaps")
        containing = tree.query(geoms, predicate="contains")
        a, b = np.concatenate([overlapping, containing], axis=1)
    a, b = np.minimum(a, b), np.maximum(a, b)
    pair = a < b
    a, b = a[pair], b[pair]
    if len(a):
        a, b = np.unique(np.column_stack([a, b]), axis=0).T
    return a, b


def find_overlaps(lsoa: gpd.GeoDataFrame, *, share: float = OVERLAP_SHARE) -> pd.DataFrame:
    """LSOA pairs whose polygons overlap by more than ``share`` of the smaller one.

    Parameters
    ----------
    lsoa : GeoDataFrame
        Polygons indexed by code, in a metric CRS.
    share : float
        Tolerance: generalised boundaries overlap their neighbours by slivers.

    Returns
    -------
    DataFrame
        Columns ``code_a``, ``code_b`` (``code_a < code_b``), ``overlap_m2`` and
        ``share`` (overlap / area of the smaller polygon), sorted by the codes.
    """
    geoms = lsoa.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    a, b = _candidate_pairs(geoms, tree)
    columns = ["code_a", "code_b", "overlap_m2", "share"]
    if not len(a):
        return pd.DataFrame(columns=columns)
    inter = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    areas = shapely.area(geoms)
    smaller = np.minimum(areas[a], areas[b])
    ratio = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
    big = ratio > share
    codes = lsoa.index.astype(str).to_numpy()
    out = pd.DataFrame(
        {"code_a": codes[a[big]], "code_b": codes[b[big]], "overlap_m2": inter[big], "share": ratio[big]}
    )
    return out.sort_values(["code_a", "code_b"], kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class Coverage:
    """How the boundary LSOAs and the study area's LSOAs match.

    Attributes
    ----------
    study_area : tuple of str
        LSOAs (boundary vintage) named by the study-area source.
    gaps : tuple of str
        Study-area LSOAs without a polygon in the boundary file.
    extra : tuple of str
        Boundary LSOAs that no source names at all.
    outside_study_area : tuple of str
        Boundary LSOAs the study-area source does not name.
    """

    study_area: tuple[str, ...]
    gaps: tuple[str, ...]
    extra: tuple[str, ...]
    outside_study_area: tuple[str, ...]

    def __repr__(self) -> str:
        return (
            f"Coverage({len(self.study_area)} study-area LSOAs, {len(self.gaps)} missing from the "
            f"boundaries, {len(self.extra)} boundary LSOAs in no source)"
        )


def _needed_codes(
    codes: pd.Index, lookup: pd.DataFrame | None, target: pd.Index, target_vintage: int
) -> pd.Index:
    """The boundary-vintage LSOAs a list of codes (either vintage) stands for.

    A code that is a target code, or that the lookup does not map, stands for itself;
    a mapped code stands for every target-vintage LSOA it maps to, present in the
    boundaries or not.
    """
    codes = pd.Index(codes.astype(str)).unique()
    pending = codes[~isin_text(codes, target)]
    if lookup is None or not len(pending):
        return codes.sort_values()
    src_col, tgt_col = ("lsoa21", "lsoa11") if target_vintage == 2011 else ("lsoa11", "lsoa21")
    rel = lookup[isin_text(lookup[src_col], pending)]
    unmapped = pending[~isin_text(pending, rel[src_col])]
    needed = codes[isin_text(codes, target)].append(pd.Index(rel[tgt_col].astype(str))).append(unmapped)
    return needed.unique().sort_values()


def _cut_off_hint(path: Path, file_codes: pd.Index, missing: pd.Index) -> str:
    """Evidence that a CSV was cut off: no final line ending, or missing codes all past its end."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    last = str(file_codes.max()) if len(file_codes) else ""
    if not data.endswith((b"\n", b"\r")):
        return (f"; the file looks truncated: it stops at line {n_lines} without a line ending "
                f"(last LSOA code {last}); download it again")
    if last and (pd.Index(missing.astype(str)) > last).all():
        return (f"; the file looks truncated: it stops at line {n_lines} "
                f"(last LSOA code {last}) and every missing code sorts after that one; download it again")
    return ""


def check_coverage(
    boundaries: Boundaries,
    sources: dict[str, tuple[pd.Index, Path | None]],
    *,
    study_area: str,
    complete: Sequence[str] = (),
    allow_gaps: bool = False,
) -> Coverage:
    """Check that the boundary file covers the study area, and report what it adds.

    The *study area* is the set of LSOAs named by the ``study_area`` source (the
    population denominator's source: a census table lists exactly the LSOAs whose
    residents are counted), each translated to the boundary vintage through the
    vintage lookup. The boundary file must hold a polygon for every one of them.

    Parameters
    ----------
    boundaries : Boundaries
        From :func:`load_boundaries`.
    sources : dict
        Source name -> (LSOA codes as found in the source, file or None). Sources
        whose codes come from the boundaries themselves (point sources) are left out.
    study_area : str
        Name of the source that defines the study area.
    complete : sequence of str
        Sources that publish every LSOA (IoD2019 covers all of England): a boundary
        LSOA missing from one of them means the file is incomplete or truncated.
    allow_gaps : bool
        ``boundaries.allow_coverage_gaps``: warn instead of raising when study-area
        LSOAs have no polygon (e.g. the population file deliberately covers a wider
        area than the boundaries).

    Returns
    -------
    Coverage

    Raises
    ------
    InputError
        Study-area LSOAs missing from the boundary file (unless ``allow_gaps``), or
        boundary LSOAs missing from a ``complete`` source.
    """
    target = pd.Index(boundaries.lsoa.index.astype(str))
    vintage = boundaries.lsoa_vintage
    lookup = boundaries.lookup
    boundary_file = boundaries.files[0].name if boundaries.files else "the boundary file"
    needed = {
        name: _needed_codes(codes, lookup, target, vintage) for name, (codes, _) in sources.items()
    }
    area = needed[study_area]
    gaps = area[~isin_text(area, target)]
    outside = target[~isin_text(target, area)]
    named = pd.Index([], dtype=str).append([n for n in needed.values()]).unique() if needed else target[:0]
    extra = target[~isin_text(target, named)]
    pop_path = sources[study_area][1]
    pop_file = pop_path.name if pop_path is not None else f"source {study_area!r}"
    problems: list[str] = []
    if len(gaps):
        text = (
            f"coverage: {len(gaps)} of the study area's {len(area)} LSOAs (those named in {pop_file}, "
            f"source {study_area!r}) have no polygon in {boundary_file}: {list_codes(gaps)}"
        )
        if allow_gaps:
            logger.warning("%s; boundaries.allow_coverage_gaps is set, so they are left out of every result", text)
        else:
            problems.append(
                f"{text}; use a boundary file that covers the whole study area, or, if the population "
                "file deliberately covers a wider area, clip it or set boundaries.allow_coverage_gaps: true"
            )
    for name in complete:
        codes, path = sources[name]
        missing = target[~isin_text(target, needed[name])]
        if len(missing):
            where = path.name if path is not None else f"source {name!r}"
            hint = _cut_off_hint(path, pd.Index(codes.astype(str)), missing) if path is not None else ""
            problems.append(
                f"source {name!r}: {len(missing)} of the {len(target)} boundary LSOAs are missing from "
                f"{where}: {list_codes(missing)}; this kind of file lists every LSOA in England (IoD), so it is "
                f"incomplete{hint}"
                + ("" if hint else "; download the full file again")
            )
    if problems:
        raise InputError(problems)
    if len(extra):
        logger.warning(
            "coverage: %d boundary LSOA(s) are named by no data source (%s): %s",
            len(extra), ", ".join(sources), list_codes(extra),
        )
    if len(outside):
        logger.warning(
            "coverage: %d boundary LSOA(s) are not in the study-area source %r (%s): %s",
            len(outside), study_area, pop_file, list_codes(outside),
        )
    logger.info(
        "coverage: %d study-area LSOAs (from %s), %d boundary LSOAs, %d missing, %d in no source",
        len(area), pop_file, len(target), len(gaps), len(extra),
    )
    return Coverage(tuple(area), tuple(gaps), tuple(extra), tuple(outside))


def check_source_coverage(cfg: StudyConfig, boundaries: Boundaries, sources: Mapping[str, Any]) -> Coverage | None:
    """:func:`check_coverage` with the study area and options the config names.

    The study area is the population denominator's source; IoD2019 sources must hold
    every boundary LSOA. Returns None when the config has no population denominator.
    """
    den = cfg.denominators.get("population")
    codes = {
        name: (src.table.index, src.files[0] if len(src.files) == 1 else None)
        for name, src in sources.items() if src.kind != "points"
    }
    if den is None or den.source not in codes:
        return None
    complete = [name for name, src in sources.items() if src.kind in ("iod2019", "iod2025")]
    return check_coverage(boundaries, codes, study_area=den.source, complete=complete,
                          allow_gaps=cfg.boundaries.allow_coverage_gaps)

"""The :class:`SourceTable` every loader returns, and the names shared by all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from pli.harm import ANTI_SOCIAL_BEHAVIOUR

if TYPE_CHECKING:
    from pli.indicators.record_cache import RecordCacheUse

__all__ = [
    "POLICE_UK_CRIME_TYPES",
    "ALL_CRIME",
    "ASB",
    "COUNT_KINDS",
    "SourceTable",
]


ALL_CRIME = "all_crime"


"""Column holding every recorded crime in a crime source (anti-social behaviour excluded)."""


ASB = ANTI_SOCIAL_BEHAVIOUR


"""police.uk's anti-social behaviour category: incidents, not recorded crimes."""


COUNT_KINDS = frozenset({"police_uk", "mps_lsoa_crime", "points"})


"""Source kinds holding counts: an LSOA absent from the file had zero events."""


_LSOA_INDEX = "lsoa_code"


@dataclass(frozen=True)
class SourceTable:
    """One input dataset, loaded and keyed by LSOA code.

    Attributes
    ----------
    name : str
        The source's name in the config.
    kind : str
        Loader used (``SourceSpec.kind``).
    table : pandas.DataFrame
        Index ``lsoa_code`` (codes as found in the file, any vintage), numeric columns.
    vintage : int
        LSOA vintage declared for the codes (2011 or 2021).
    period : str or None
        Crime sources: ``"YYYY-MM to YYYY-MM"`` covered by the counts.
    months : tuple of str
        Crime sources: every ``YYYY-MM`` month counted.
    files : tuple of Path
        Files read.
    rows_read : int
        Data rows read from the files, before any filtering.
    points : geopandas.GeoDataFrame or None
        Point sources (``police_uk``, ``points``): one row per geocoded record in the
        window, EPSG:27700.
    category_where : dict
        Crime sources: category column -> where it was first seen (file, line and
        record count), so a message about a category can point into the data.
    record_cache : RecordCacheUse or None
        ``police_uk`` sources with a record cache: whether the records came from the
        cache file, which file, and its SHA-256 (for the run manifest). None when no
        cache was used.
    """

    name: str
    kind: str
    table: pd.DataFrame
    vintage: int
    period: str | None
    months: tuple[str, ...]
    files: tuple[Path, ...]
    rows_read: int
    points: gpd.GeoDataFrame | None = None
    category_where: dict[str, str] = field(default_factory=dict)
    record_cache: RecordCacheUse | None = None

    def to_frame(self) -> pd.DataFrame:
        """A copy of :attr:`table`."""
        return self.table.copy()

    def __repr__(self) -> str:
        period = f", period={self.period!r}" if self.period else ""
        pts = f", {len(self.points):,} points" if self.points is not None else ""
        return (
            f"SourceTable({self.name!r}, kind={self.kind!r}, {len(self.table):,} LSOAs x "
            f"{self.table.shape[1]} columns{period}{pts}, rows_read={self.rows_read:,})"
        )


POLICE_UK_CRIME_TYPES: tuple[str, ...] = (
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery", "Shoplifting",
    "Theft from the person", "Vehicle crime", "Violence and sexual offences",
    # Published until May 2013, then split or renamed.
    "Public disorder and weapons", "Violent crime",
)


"""Every ``Crime type`` police.uk has published; spelling variants are mapped onto these."""

"""Loaders for the input formats analysts really have, and the indicator table.

Each loader reads one published format into a :class:`SourceTable`: a frame indexed by
the LSOA code *as found in the file* (index name ``lsoa_code``, any vintage), holding
numeric columns only. :func:`build_indicators` then reconciles every source to the
boundary vintage, aligns it to the boundary LSOAs and applies each indicator's
transform (value, count, rate per 1,000, share, log).

Source kinds (``SourceSpec.kind``)
----------------------------------
``police_uk``
    data.police.uk street-level CSVs (a folder searched recursively for
    ``*-street.csv``, or one file). One column per ``Crime type`` as published, plus
    ``all_crime`` (every type except anti-social behaviour); ``points`` holds the
    geocoded records in EPSG:27700. Nothing is counted twice: a byte-identical copy of a
    file (``... (1).csv``, ``backup/``) is skipped, two different files for one month and
    force are refused, a repeated Crime ID is counted once, and a row without an ID that
    another file of the same month repeats whole is dropped (each announced with its
    files). Spelling variants of a crime type (case, spaces, dashes) are mapped onto
    police.uk's name; a cut-off last row raises.
``mps_lsoa_crime``
    Met Police "recorded crime by LSOA" (London Datastore): one row per LSOA x major x
    minor category, one column per month ``YYYYMM``. Columns ``"MAJOR/MINOR"`` plus
    ``all_crime``. A repeated LSOA x category row or month column raises, and so does a
    suppression marker (``c``, ``..``, ``[x]``, ...) in a month of the window: a gap read
    as 0 would undercount.
``iod2019``
    English Indices of Deprivation 2019, File 7 layout; short aliases, see
    :data:`IOD2019_COLUMNS`.
``iod2025``
    English Indices of Deprivation 2025, File 7 layout on 2021 LSOAs: the same aliases,
    mid-2022 denominators (``pli.indicators.iod.IOD2025_COLUMNS``).
``census2011_population``
    The Census 2011 persons / households / hectares file; see :data:`CENSUS2011_COLUMNS`.
``census2021``
    Nomis bulk CSV keyed by ``geography code``; columns as published, plus
    ``residents_total`` and ``young_residents_10_24`` when the TS007A age bands are there.
``lsoa_table``
    Any LSOA-keyed CSV (``code_column`` required, ``columns`` optional).
``points``
    Any point CSV, spatially joined to the LSOA polygons.

One module per input format (``police_uk``, ``mps``, ``iod``, ``census``, ``tables``,
``points``), the CSV reading and checking they share (``reading``, ``window``,
``categories``), the dispatcher :func:`load_source` (``loading``) and the indicator table
(``table``).
"""

from pli.indicators.census import CENSUS2011_COLUMNS
from pli.indicators.iod import IOD2019_COLUMNS
from pli.indicators.loading import load_source
from pli.indicators.police_uk import POLICE_UK_COLUMNS
from pli.indicators.population import population_denominator
from pli.indicators.sources import ALL_CRIME, ASB, COUNT_KINDS, POLICE_UK_CRIME_TYPES, SourceTable
from pli.indicators.table import HarmWeightsLike, IndicatorTable, build_indicators

__all__ = [
    "ALL_CRIME",
    "ASB",
    "CENSUS2011_COLUMNS",
    "COUNT_KINDS",
    "IOD2019_COLUMNS",
    "POLICE_UK_COLUMNS",
    "POLICE_UK_CRIME_TYPES",
    "HarmWeightsLike",
    "IndicatorTable",
    "SourceTable",
    "build_indicators",
    "load_source",
    "population_denominator",
]

"""The study area: naming it by local authority or police force, and setting it up.

Modules: ``selection`` (cut national boundary files and tables to the LSOAs an
LSOA -> LAD lookup places in the named area, counting what is left out), ``wording``
(the area's kind, "borough", "district", "force area", and which data are simulated or
absent), ``detect`` (recognise national files by their columns) and ``init`` (``pli
init``: write a commented config for one area from the files in a folder).
"""

from pli.area.selection import AreaSelection, force_key, read_area_lookup, restrict_sources, select_area
from pli.area.wording import CRIME_KINDS, DataNotes, area_type, data_notes, with_data_notes

__all__ = [
    "CRIME_KINDS",
    "AreaSelection",
    "DataNotes",
    "area_type",
    "data_notes",
    "force_key",
    "read_area_lookup",
    "restrict_sources",
    "select_area",
    "with_data_notes",
]

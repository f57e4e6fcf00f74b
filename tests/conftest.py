"""Shared test helpers: where the real Croydon snapshot lives, and one frame built from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

#: The project root, whose ``boundaries/`` and ``indicators/`` hold the embedded demo.
ROOT = Path(__file__).resolve().parents[1]

#: The real open-data snapshot, read in place beside the project root.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def copy_demo_data(dest: Path) -> Path:
    """Copy the demo's input folders (``boundaries/``, ``indicators/``) into ``dest``.

    Tests that alter or poison inputs work on this copy, never on the shipped files.
    """
    for sub in ("boundaries", "indicators"):
        shutil.copytree(ROOT / sub, dest / sub)
    return dest


def load_croydon_imd_frame() -> gpd.GeoDataFrame:
    """Croydon's 220 LSOAs (EPSG:27700) with a realistic score, population, ward and harm.

    ``score`` is the published IMD 2019 score, ``population`` Census 2011 usual residents
    (the first of the file's three ``Persons`` columns), the ward the 2018 ward holding most
    of the LSOA's area, and ``harm`` the IoD crime score shifted to be non-negative.
    Skips the calling test when the snapshot is absent.
    """
    if not (SHARED_DATA / "croydon_lsoa11_bgc.geojson").is_file():
        pytest.skip(f"real Croydon snapshot not found at {SHARED_DATA} (needs ../shared/data beside the repo)")
    lsoa = gpd.read_file(SHARED_DATA / "croydon_lsoa11_bgc.geojson").to_crs(27700)
    lsoa = lsoa.set_index("lsoa11cd")[["geometry"]].rename_axis("lsoa_code")
    iod = pd.read_csv(SHARED_DATA / "croydon_iod2019.csv").set_index("LSOA code (2011)")
    pop = pd.read_csv(SHARED_DATA / "croydon_census2011_population.csv", thousands=",").set_index("LSOA Code")
    wards = pd.read_csv(SHARED_DATA / "croydon_lsoa11_to_ward2018_bestfit_DERIVED.csv").set_index("LSOA11CD")
    lsoa["score"] = iod["Index of Multiple Deprivation (IMD) Score"].reindex(lsoa.index)
    lsoa["population"] = pop["Persons"].reindex(lsoa.index)
    lsoa["ward_code"] = wards["WD18CD_max_area"].reindex(lsoa.index)
    lsoa["ward_name"] = wards["WD18NM_max_area"].reindex(lsoa.index)
    crime = iod["Crime Score"].reindex(lsoa.index)
    lsoa["harm"] = crime - crime.min()
    return lsoa


@pytest.fixture(scope="session")
def good_outputs(tmp_path_factory) -> Path:
    """One clean demo run (no maps) shared by every broken-input suite."""
    from broken_harness import make_good_outputs

    return make_good_outputs(tmp_path_factory.mktemp("good"))

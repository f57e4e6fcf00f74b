"""Seeded generator for the embedded demo's simulated inputs.

The Croydon demo ships real geometry (ONS LSOA 2011 boundaries) and real Census 2011
population, but no crime or deprivation data may be redistributed with it. This
module simulates both, with spatial structure a real borough has, so every stage of
the pipeline has something to find:

1. A latent **disadvantage** surface over LSOAs: a few Gaussian bumps centred at
   seeded random points inside the study area, plus noise smoothed by averaging over
   each LSOA's nearest neighbours, standardised to mean 0 and sd 1. It is *not* fitted
   to any real Croydon data.
2. **Deprivation** scores (IoD-like: income, employment, IDACI rates and an IMD-like
   score) that rise with the surface, with independent noise.
3. **Crime records**, a Poisson process per LSOA and crime type whose intensity is
   population x exp(beta_type x disadvantage) x an LSOA-level gamma frailty, plus a
   footfall component around a seeded **town centre** (a low-population LSOA) that does
   not scale with residents, so crime *rates* spike there as in a real town centre.
   Type totals follow ``DEFAULT_CRIME_SHARES`` in expectation; points are uniform
   inside their LSOA.
4. One **planted micro-hotspot**: a 150 m-wide cluster of violence, for the patrol
   stage to find.

Crime records are returned, and written, in the police.uk street-level CSV layout.

Examples
--------
>>> from pli.simulate import build_demo_inputs
>>> build_demo_inputs("boundaries/croydon_lsoa11_bsc.geojson",
...                   "indicators/demo/croydon_census2011_population.csv",
...                   "indicators/demo")                      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from libpysal.graph import Graph

from pli.errors import InputError

__all__ = [
    "CRIME_TYPES",
    "DEFAULT_CRIME_SHARES",
    "POLICE_UK_COLUMNS",
    "SIMULATED_FORCE",
    "SimulatedInputs",
    "build_demo_inputs",
    "read_demo_lsoa",
    "read_census2011_population",
    "simulate_demo_inputs",
    "write_demo_inputs",
]

logger = logging.getLogger(__name__)

POLICE_UK_COLUMNS: tuple[str, ...] = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)
"""The 12 columns of a police.uk street-level CSV, in published order."""

SIMULATED_FORCE = "Simulated (pli demo)"
"""Written in ``Reported by`` and ``Falls within`` so no record passes for real data."""

# Shares of all street-level records. Non-ASB crime is split roughly as in a London
# borough (violence and sexual offences ~32% of crime); ASB is ~30% of all records.
_CRIME_SHARE_OF_CRIME = {
    "Violence and sexual offences": 0.32,
    "Vehicle crime": 0.12,
    "Other theft": 0.10,
    "Public order": 0.08,
    "Shoplifting": 0.07,
    "Burglary": 0.07,
    "Criminal damage and arson": 0.07,
    "Drugs": 0.05,
    "Robbery": 0.04,
    "Theft from the person": 0.03,
    "Other crime": 0.02,
    "Possession of weapons": 0.015,
    "Bicycle theft": 0.015,
}
_ASB_SHARE = 0.30
DEFAULT_CRIME_SHARES: Mapping[str, float] = {
    "Anti-social behaviour": _ASB_SHARE,
    **{k: round(v * (1 - _ASB_SHARE), 6) for k, v in _CRIME_SHARE_OF_CRIME.items()},
}
"""Expected share of all records per police.uk crime type (sums to 1)."""

CRIME_TYPES: tuple[str, ...] = tuple(sorted(DEFAULT_CRIME_SHARES))
"""The 14 police.uk street-level crime types."""

# beta: log-intensity gradient per sd of disadvantage; centre: share of the type's
# records drawn by town-centre footfall rather than by residents. Acquisitive street
# crime concentrates in centres; burglary follows homes.
_TYPE_PARAMS: dict[str, tuple[float, float]] = {
    "Anti-social behaviour": (0.55, 0.10),
    "Bicycle theft": (0.10, 0.25),
    "Burglary": (0.20, 0.02),
    "Criminal damage and arson": (0.50, 0.05),
    "Drugs": (0.70, 0.12),
    "Other crime": (0.40, 0.08),
    "Other theft": (0.20, 0.20),
    "Possession of weapons": (0.70, 0.10),
    "Public order": (0.50, 0.15),
    "Robbery": (0.60, 0.20),
    "Shoplifting": (0.30, 0.35),
    "Theft from the person": (0.20, 0.45),
    "Vehicle crime": (0.30, 0.05),
    "Violence and sexual offences": (0.60, 0.10),
}
_DEFAULT_TYPE_PARAMS = (0.40, 0.10)

_OUTCOMES: tuple[str, ...] = (
    "Investigation complete; no suspect identified",
    "Unable to prosecute suspect",
    "Status update unavailable",
    "Under investigation",
    "Awaiting court outcome",
    "Local resolution",
    "Further investigation is not in the public interest",
    "Offender given a caution",
    "Court result unavailable",
    "Action to be taken by another organisation",
    "Formal action is not in the public interest",
)
_OUTCOME_P_SETTLED = np.array([0.38, 0.30, 0.08, 0.06, 0.04, 0.04, 0.03, 0.02, 0.02, 0.02, 0.01])
# The latest two months are mostly still open, as in a fresh police.uk download.
_OUTCOME_P_RECENT = np.where(np.arange(len(_OUTCOMES)) == 3, 0.45, _OUTCOME_P_SETTLED * 0.55 / 0.94)

_HOTSPOT_TYPE = "Violence and sexual offences"
_HOTSPOT_RADIUS_M = 75.0  # a 150 m-wide cluster: one patrol cell
_HOTSPOT_PER_MONTH = 6.0
_TOWN_CENTRE_BANDWIDTH_M = 500.0
# Points are kept this far inside their LSOA so that rounding lon/lat to 6 dp (< 0.1 m)
# and the lon/lat vs metric straight-edge difference can never move one outside.
_INSET_M = 1.0


@dataclass(frozen=True)
class SimulatedInputs:
    """Simulated demo inputs.

    Attributes
    ----------
    crime_points : DataFrame
        One row per record in police.uk street-level layout (``POLICE_UK_COLUMNS``);
        ``Longitude``/``Latitude`` are EPSG:4326, rounded to 6 dp.
    deprivation : DataFrame
        Indexed by ``lsoa_code``: ``income_score``, ``employment_score`` and
        ``idaci_score`` (rates, 0-0.5 for income/employment) and ``imd_score`` (0-70).
    disadvantage : Series
        The latent standardised surface both were drawn from, indexed by ``lsoa_code``.
    town_centre : tuple of float
        (x, y) in EPSG:27700 of the simulated town centre.
    hotspot : tuple of float
        (x, y) in EPSG:27700 of the planted violence micro-hotspot centre.
    hotspot_radius_m : float
        Radius of the planted cluster.
    months : tuple of str
        ``YYYY-MM`` months covered, oldest first.
    seed : int
        Seed every draw came from.
    """

    crime_points: pd.DataFrame
    deprivation: pd.DataFrame
    disadvantage: pd.Series
    town_centre: tuple[float, float]
    hotspot: tuple[float, float]
    hotspot_radius_m: float
    months: tuple[str, ...]
    seed: int
    crime_shares: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CRIME_SHARES))

    def to_frame(self) -> pd.DataFrame:
        """Per-LSOA summary: latent surface, deprivation and record count per crime type."""
        counts = pd.crosstab(self.crime_points["LSOA code"], self.crime_points["Crime type"])
        counts = counts.reindex(index=self.disadvantage.index, columns=list(CRIME_TYPES), fill_value=0)
        out = pd.concat([self.disadvantage.rename("disadvantage"), self.deprivation, counts], axis=1)
        out.index.name = "lsoa_code"
        return out


# --------------------------------------------------------------------------- validation


def _validate(lsoa: gpd.GeoDataFrame, population: pd.Series, months: int, end_month: str) -> pd.Series:
    problems: list[str] = []
    if not isinstance(lsoa, gpd.GeoDataFrame):
        raise InputError(f"lsoa: expected a GeoDataFrame indexed by lsoa_code, got {type(lsoa).__name__}")
    if lsoa.crs is None or lsoa.crs.to_epsg() != 27700:
        problems.append(
            f"lsoa: expected CRS EPSG:27700 (metres), got {lsoa.crs}; reproject with lsoa.to_crs(27700)"
        )
    if len(lsoa) == 0:
        problems.append("lsoa: expected at least one LSOA, got an empty frame")
    if not lsoa.index.is_unique:
        dup = lsoa.index[lsoa.index.duplicated()].unique()[:5]
        problems.append(
            f"lsoa: index (lsoa_code) has duplicates, e.g. {', '.join(map(str, dup))}; dissolve or drop them"
        )
    geom_types = set(lsoa.geom_type.dropna())
    if lsoa.geometry.isna().any() or lsoa.geometry.is_empty.any():
        problems.append("lsoa: some LSOAs have no geometry; drop or repair them")
    if not geom_types <= {"Polygon", "MultiPolygon"}:
        problems.append(f"lsoa: expected Polygon/MultiPolygon geometries, got {sorted(geom_types)}")
    pop = pd.to_numeric(pd.Series(population), errors="coerce")
    missing = lsoa.index.difference(pop.index)
    if len(missing):
        problems.append(
            f"population: no value for {len(missing)} LSOAs (e.g. {', '.join(map(str, missing[:5]))}); "
            "index it by the same lsoa_code as the boundaries"
        )
    else:
        pop = pop.reindex(lsoa.index)
        bad = pop.index[~np.isfinite(pop.to_numpy(dtype=float)) | (pop.to_numpy(dtype=float) < 0)]
        if len(bad):
            problems.append(
                f"population: expected non-negative numbers, got missing/negative values for "
                f"{len(bad)} LSOAs (e.g. {', '.join(map(str, bad[:5]))})"
            )
    if months < 1:
        problems.append(f"months: expected 1 or more, got {months}")
    if not (isinstance(end_month, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", end_month)):
        problems.append(f"end_month: expected 'YYYY-MM', got {end_month!r}")
    if problems:
        raise InputError(problems)
    return pop.astype(float)


# --------------------------------------------------------------------------- pieces


def _standardise(v: np.ndarray) -> np.ndarray:
    sd = v.std()
    return (v - v.mean()) / sd if sd > 0 else v - v.mean()


def _sample_in_polygons(
    geoms: np.ndarray, need: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform points inside each polygon, ``need[i]`` of them for polygon ``i``.

    Rejection sampling from bounding boxes in vectorised batches: each round draws,
    per polygon, enough candidates for its remaining need given its area/box ratio.
    Returns (owner index, x, y), ordered by owner.
    """
    need = need.astype(np.int64).copy()
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    box_area = (bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1])
    fill = np.clip(shapely.area(geoms) / np.where(box_area > 0, box_area, 1.0), 0.02, 1.0)
    owners, xs, ys = [], [], []
    for _ in range(200):
        if need.sum() == 0:
            break
        draw = np.where(need > 0, np.ceil(need / fill * 1.3).astype(np.int64) + 4, 0)
        idx = np.repeat(np.arange(len(geoms)), draw)
        x = bounds[idx, 0] + rng.random(len(idx)) * (bounds[idx, 2] - bounds[idx, 0])
        y = bounds[idx, 1] + rng.random(len(idx)) * (bounds[idx, 3] - bounds[idx, 1])
        ok = shapely.contains_xy(geoms[idx], x, y)
        idx, x, y = idx[ok], x[ok], y[ok]
        # idx is sorted, so the rank within each owner is position minus group start.
        starts = np.searchsorted(idx, idx, side="left")
        keep = (np.arange(len(idx)) - starts) < need[idx]
        idx, x, y = idx[keep], x[keep], y[keep]
        need -= np.bincount(idx, minlength=len(geoms))
        owners.append(idx)
        xs.append(x)
        ys.append(y)
    if need.sum() > 0:  # pragma: no cover - only for degenerate slivers
        raise InputError(f"could not place points inside {int((need > 0).sum())} LSOA polygons; check for slivers")
    owner = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
    order = np.argsort(owner, kind="stable")
    return owner[order], np.concatenate(xs)[order], np.concatenate(ys)[order]


def _disadvantage_surface(
    lsoa: gpd.GeoDataFrame, rng: np.random.Generator, *, n_bumps: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Latent standardised disadvantage per LSOA, and LSOA centroid coordinates."""
    cent = lsoa.geometry.centroid
    cxy = np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])
    area = np.array([lsoa.geometry.union_all()], dtype=object)
    _, bx, by = _sample_in_polygons(area, np.array([n_bumps]), rng)
    bandwidth = rng.uniform(1500.0, 3000.0, n_bumps)
    amplitude = rng.uniform(0.7, 1.3, n_bumps)
    d2 = (cxy[:, None, 0] - bx[None, :]) ** 2 + (cxy[:, None, 1] - by[None, :]) ** 2
    bumps = (amplitude * np.exp(-d2 / (2 * bandwidth**2))).sum(axis=1)

    # Smoothed noise gives local texture; nearest neighbours (not contiguity) so gaps or
    # islands in generalised boundaries cannot leave an LSOA unsmoothed.
    k = int(min(6, len(lsoa) - 1))
    noise = rng.standard_normal(len(lsoa))
    if k >= 1:
        graph = Graph.build_knn(cxy, k=k).transform("r")
        for _ in range(2):
            noise = 0.5 * noise + 0.5 * graph.lag(noise)
    z = _standardise(_standardise(bumps) + 0.6 * _standardise(noise) + 0.25 * rng.standard_normal(len(lsoa)))
    return z, cxy


def _deprivation(z: np.ndarray, index: pd.Index, rng: np.random.Generator) -> pd.DataFrame:
    n = len(z)

    def noisy(scale: float) -> np.ndarray:
        return scale * rng.standard_normal(n)

    income = np.clip(0.13 * np.exp(0.45 * z + noisy(0.15)), 0.005, 0.5)
    employment = np.clip(0.75 * income * np.exp(noisy(0.12)), 0.005, 0.5)
    idaci = np.clip(1.35 * income * np.exp(noisy(0.15)), 0.005, 0.9)
    imd = np.clip(np.exp(np.log(18.0) + 0.5 * z + noisy(0.15)), 1.0, 70.0)
    out = pd.DataFrame(
        {
            "income_score": income,
            "employment_score": employment,
            "idaci_score": idaci,
            "imd_score": imd,
        },
        index=pd.Index(index, name="lsoa_code"),
    ).round(3)
    return out


def _crime_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """64-hex identifiers like police.uk's (random, so they link to nothing real)."""
    if n == 0:
        return np.empty(0, dtype=object)
    raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    hexed = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype="S64")
    return hexed.astype(str).astype(object)


# --------------------------------------------------------------------------- main entry


def simulate_demo_inputs(
    lsoa: gpd.GeoDataFrame,
    population: pd.Series,
    *,
    seed: int = 0,
    months: int = 12,
    end_month: str = "2025-12",
    records_per_1000: float = 55.0,
    crime_shares: Mapping[str, float] | None = None,
    map_point_spacing_m: float | None = None,
) -> SimulatedInputs:
    """Simulate street-level crime records and deprivation scores for a set of LSOAs.

    Parameters
    ----------
    lsoa : GeoDataFrame
        LSOA polygons in EPSG:27700, indexed by ``lsoa_code``; an ``lsoa_name`` column
        is used for ``LSOA name`` when present.
    population : Series
        Residents per LSOA, indexed by ``lsoa_code`` (extra codes are ignored).
    seed : int
        Seed for every random draw; the same inputs and seed give identical output.
    months : int
        Number of monthly files to cover, ending at ``end_month``.
    end_month : str
        Last month, ``YYYY-MM``.
    records_per_1000 : float
        Expected records (crime + ASB) per 1,000 residents per year, before the planted
        hotspot. The default keeps the shipped demo under 5 MB (about 20k records a year
        for 363k residents, under half of real Croydon volume).
    crime_shares : mapping, optional
        Expected share of records per police.uk crime type (normalised to sum to 1);
        default ``DEFAULT_CRIME_SHARES``.
    map_point_spacing_m : float, optional
        Move every record to the nearest point of a square lattice this far apart, as
        police.uk moves every crime to one of a fixed set of anonymised map points, so
        that records share places. Default: each record keeps its own coordinate (the
        shipped demo's layout).

    Returns
    -------
    SimulatedInputs

    Raises
    ------
    InputError
        If the frame is not EPSG:27700, codes are duplicated, or population is missing
        or negative for any LSOA.
    """
    pop = _validate(lsoa, population, months, end_month)
    shares = dict(DEFAULT_CRIME_SHARES if crime_shares is None else crime_shares)
    if not shares or any((not np.isfinite(v)) or v < 0 for v in shares.values()) or sum(shares.values()) <= 0:
        raise InputError(f"crime_shares: expected non-negative numbers with a positive sum, got {shares}")
    types = sorted(shares)
    share = np.array([shares[t] for t in types], dtype=float)
    share /= share.sum()

    rng = np.random.default_rng(seed)
    n = len(lsoa)
    codes = lsoa.index.astype(str)
    names = (
        lsoa["lsoa_name"].astype(str).to_numpy() if "lsoa_name" in lsoa.columns else codes.to_numpy(dtype=object)
    )
    geoms = np.asarray(lsoa.geometry.array, dtype=object)
    last = pd.Period(end_month, freq="M")
    month_labels = tuple(str(last - (months - 1 - i)) for i in range(months))

    z, cxy = _disadvantage_surface(lsoa, rng)
    deprivation = _deprivation(z, codes, rng)

    # Town centre: a seeded low-population LSOA, whose footfall drives crime there and
    # around it regardless of residents.
    popv = pop.to_numpy()
    low = np.flatnonzero(popv <= np.quantile(popv, 0.25))
    centre_i = int(rng.choice(low))
    tc = cxy[centre_i]
    kernel = np.exp(-((cxy - tc) ** 2).sum(axis=1) / (2 * _TOWN_CENTRE_BANDWIDTH_M**2))

    frailty = rng.gamma(8.0, 1 / 8.0, n)
    beta = np.array([_TYPE_PARAMS.get(t, _DEFAULT_TYPE_PARAMS)[0] for t in types])
    c_share = np.array([_TYPE_PARAMS.get(t, _DEFAULT_TYPE_PARAMS)[1] for t in types])
    resident = popv[:, None] * np.exp(beta[None, :] * z[:, None]) * frailty[:, None]
    resident /= np.where(resident.sum(axis=0) > 0, resident.sum(axis=0), 1.0)
    footfall = (kernel / kernel.sum())[:, None]
    total = records_per_1000 * popv.sum() / 1000.0 * months / 12.0
    lam = total * share[None, :] * ((1 - c_share)[None, :] * resident + c_share[None, :] * footfall)
    counts = rng.poisson(lam)  # n x types

    rec_lsoa = np.repeat(np.repeat(np.arange(n), len(types)), counts.ravel())
    rec_type = np.repeat(np.tile(np.arange(len(types)), n), counts.ravel())
    inner = shapely.buffer(geoms, -_INSET_M)
    owner, px, py = _sample_in_polygons(inner, np.bincount(rec_lsoa, minlength=n), rng)
    # rec_lsoa and owner are both sorted by LSOA with equal group sizes, so they align.

    # Planted hotspot: in a more disadvantaged LSOA away from the town centre.
    far = np.sqrt(((cxy - tc) ** 2).sum(axis=1)) > 2000.0
    cand = np.flatnonzero((z > np.median(z)) & far)
    if len(cand) == 0:
        cand = np.arange(n)
    hs_point = shapely.get_coordinates(shapely.point_on_surface(geoms[int(rng.choice(cand))]))[0]
    n_hot = int(rng.poisson(_HOTSPOT_PER_MONTH * months))
    off = rng.normal(0.0, _HOTSPOT_RADIUS_M / 2, size=(3 * n_hot + 10, 2))
    off = off[np.hypot(off[:, 0], off[:, 1]) <= _HOTSPOT_RADIUS_M][:n_hot]
    hx, hy = hs_point[0] + off[:, 0], hs_point[1] + off[:, 1]
    pt_idx, poly_idx = gpd.GeoSeries(inner, crs=lsoa.crs).sindex.query(shapely.points(hx, hy), predicate="within")
    order = np.argsort(pt_idx, kind="stable")
    pt_idx, poly_idx = pt_idx[order], poly_idx[order]
    hx, hy = hx[pt_idx], hy[pt_idx]

    all_lsoa = np.concatenate([owner, poly_idx])
    all_x = np.concatenate([px, hx])
    all_y = np.concatenate([py, hy])
    m = len(all_lsoa)

    season = 1 + 0.08 * np.cos(2 * np.pi * (np.array([int(s[-2:]) for s in month_labels]) - 7) / 12)
    month_i = rng.choice(months, size=m, p=season / season.sum())
    type_names = np.concatenate(
        [np.array(types, dtype=object)[rec_type], np.full(len(poly_idx), _HOTSPOT_TYPE, dtype=object)]
    )
    is_asb = type_names == "Anti-social behaviour"

    ids = _crime_ids(m, rng)
    ids[is_asb] = ""
    u = rng.random(m)
    recent = month_i >= months - 2
    out_i = np.where(
        recent,
        np.searchsorted(np.cumsum(_OUTCOME_P_RECENT / _OUTCOME_P_RECENT.sum()), u, side="right"),
        np.searchsorted(np.cumsum(_OUTCOME_P_SETTLED / _OUTCOME_P_SETTLED.sum()), u, side="right"),
    )
    outcome = np.array(_OUTCOMES, dtype=object)[np.minimum(out_i, len(_OUTCOMES) - 1)]
    outcome[is_asb] = ""

    if map_point_spacing_m is not None:
        if not map_point_spacing_m > 0:
            raise InputError(
                f"map_point_spacing_m: expected a positive distance in metres, got {map_point_spacing_m!r}"
            )
        all_x = np.round(all_x / map_point_spacing_m) * map_point_spacing_m
        all_y = np.round(all_y / map_point_spacing_m) * map_point_spacing_m
    lonlat = gpd.GeoSeries(shapely.points(all_x, all_y), crs=lsoa.crs).to_crs(4326)
    lon = np.round(lonlat.x.to_numpy(), 6)
    lat = np.round(lonlat.y.to_numpy(), 6)
    # Street names come from a 250 m grid so neighbouring records share a "street".
    street = ((np.floor(all_x / 250).astype(np.int64) * 31 + np.floor(all_y / 250).astype(np.int64) * 17) % 99) + 1
    location = np.char.add("On or near Simulated Street ", np.char.zfill(street.astype(str), 2)).astype(object)

    frame = pd.DataFrame(
        {
            "Crime ID": ids,
            "Month": np.array(month_labels, dtype=object)[month_i],
            "Reported by": SIMULATED_FORCE,
            "Falls within": SIMULATED_FORCE,
            "Longitude": lon,
            "Latitude": lat,
            "Location": location,
            "LSOA code": codes.to_numpy(dtype=object)[all_lsoa],
            "LSOA name": np.asarray(names, dtype=object)[all_lsoa],
            "Crime type": type_names,
            "Last outcome category": outcome,
            "Context": "",
        }
    )
    frame = frame.sort_values(["Month", "LSOA code", "Crime type"], kind="stable").reset_index(drop=True)

    logger.info(
        "simulated %d records over %d months (%s to %s) for %d LSOAs, seed %d; town centre in %s, "
        "planted violence hotspot of %d records in %s",
        m, months, month_labels[0], month_labels[-1], n, seed, codes[centre_i], len(hx),
        ", ".join(sorted(set(codes[poly_idx]))) or "none",
    )  # fmt: skip
    return SimulatedInputs(
        crime_points=frame,
        deprivation=deprivation,
        disadvantage=pd.Series(z, index=pd.Index(codes, name="lsoa_code"), name="disadvantage"),
        town_centre=(float(tc[0]), float(tc[1])),
        hotspot=(float(hs_point[0]), float(hs_point[1])),
        hotspot_radius_m=_HOTSPOT_RADIUS_M,
        months=month_labels,
        seed=seed,
        crime_shares=dict(zip(types, share.tolist())),
    )


# --------------------------------------------------------------------------- files


def write_demo_inputs(inputs: SimulatedInputs, directory: str | Path) -> tuple[Path, ...]:
    """Write simulated inputs as the demo's files, byte-for-byte reproducibly.

    Writes ``police_uk/YYYY-MM/YYYY-MM-simulated-street.csv`` (police.uk layout, CRLF
    line ends as published) for every month, and ``simulated_deprivation.csv`` keyed
    by ``lsoa_code``. Older ``*-simulated-street.csv`` files in ``police_uk`` are
    removed first so a shorter run leaves no stale months.

    Returns
    -------
    tuple of Path
        The files written.
    """
    directory = Path(directory)
    police = directory / "police_uk"
    for old in sorted(police.glob("*/*-simulated-street.csv")):
        old.unlink()
        if not any(old.parent.iterdir()):
            old.parent.rmdir()
    written: list[Path] = []
    frame = inputs.crime_points
    for month in inputs.months:
        path = police / month / f"{month}-simulated-street.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.loc[frame["Month"] == month, list(POLICE_UK_COLUMNS)].to_csv(
            path, index=False, lineterminator="\r\n", float_format="%.6f", encoding="utf-8"
        )
        written.append(path)
    dep_path = directory / "simulated_deprivation.csv"
    dep_path.parent.mkdir(parents=True, exist_ok=True)
    inputs.deprivation.to_csv(dep_path, index=True, index_label="lsoa_code", lineterminator="\n", float_format="%.3f")
    written.append(dep_path)
    return tuple(written)


def read_demo_lsoa(path: str | Path) -> gpd.GeoDataFrame:
    """Read LSOA 2011 polygons with ``LSOA11CD``/``LSOA11NM`` into the pli LSOA layout.

    Returns a GeoDataFrame in EPSG:27700 indexed by ``lsoa_code`` with ``lsoa_name``.
    """
    path = Path(path)
    gdf = gpd.read_file(path)
    missing = [c for c in ("LSOA11CD", "LSOA11NM") if c not in gdf.columns]
    if missing:
        raise InputError(
            f"expected properties LSOA11CD and LSOA11NM, missing {', '.join(missing)} "
            f"(found {', '.join(map(str, gdf.columns))}); use the ONS LSOA 2011 boundary file",
            path=str(path),
        )
    if gdf.crs is None:
        raise InputError("the file has no CRS; expected EPSG:4326 (CRS84) GeoJSON", path=str(path))
    out = gdf.rename(columns={"LSOA11CD": "lsoa_code", "LSOA11NM": "lsoa_name"})[["lsoa_code", "lsoa_name", "geometry"]]
    return out.set_index("lsoa_code").to_crs(27700)


def read_census2011_population(path: str | Path) -> pd.Series:
    """Usual residents per LSOA from the ONS Census 2011 population/households file.

    The file has three columns all named ``Persons`` (all usual residents, residents in
    households, residents in communal establishments) and thousands separators; the
    first ``Persons`` column is all usual residents.
    """
    path = Path(path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "LSOA Code" not in table.columns or "Persons" not in table.columns:
        raise InputError(
            f"expected columns 'LSOA Code' and 'Persons', got {', '.join(map(str, table.columns))}; "
            "use the ONS Census 2011 usual residents/households file",
            path=str(path),
        )
    values = pd.to_numeric(table["Persons"].str.replace(",", "", regex=False), errors="coerce")
    bad = table.loc[values.isna(), "LSOA Code"]
    if len(bad):
        raise InputError(
            f"column 'Persons': expected whole numbers, got non-numeric values for {len(bad)} rows "
            f"(e.g. LSOA {', '.join(bad.iloc[:5])})",
            path=str(path),
        )
    return pd.Series(values.to_numpy(), index=pd.Index(table["LSOA Code"], name="lsoa_code"), name="population")


def build_demo_inputs(
    boundary_path: str | Path,
    census_path: str | Path,
    directory: str | Path,
    *,
    seed: int = 0,
    months: int = 12,
    end_month: str = "2025-12",
) -> tuple[Path, ...]:
    """Read the shipped boundary and census files, simulate, and write the demo inputs.

    This is exactly what produced the committed files under ``indicators/demo``.
    """
    lsoa = read_demo_lsoa(boundary_path)
    population = read_census2011_population(census_path)
    inputs = simulate_demo_inputs(lsoa, population, seed=seed, months=months, end_month=end_month)
    return write_demo_inputs(inputs, directory)

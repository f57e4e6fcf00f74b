"""The spec dataclasses: every stage's options, frozen, with their defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from pli.errors import PliError

__all__ = [
    "AreaLookupSpec",
    "AreaSpec",
    "AreaType",
    "BoundariesSpec",
    "BoundaryLayerSpec",
    "ClusteringSpec",
    "ConfigError",
    "DenominatorSpec",
    "IndexSpec",
    "IndicatorSpec",
    "MapSpec",
    "OutputSpec",
    "PatrolSpec",
    "PrioritySpec",
    "SourceKind",
    "SourceSpec",
    "StudyConfig",
    "TrackSeriesSpec",
    "TrackSpec",
    "TreatmentSpec",
    "TrialSpec",
    "UpperFromTableSpec",
    "VintageLookupSpec",
    "default_data_dir",
]


class ConfigError(PliError, ValueError):
    """A configuration file is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str], *, source: str | None = None):
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s){where}:\n{lines}")


AreaType = Literal["borough", "district", "force area", "region", "area"]


@dataclass(frozen=True)
class AreaLookupSpec:
    """A table placing each LSOA in its local authority (and police force).

    Any ONS LSOA -> LAD lookup, the ONS LSOA11 -> LSOA21 -> LAD lookup, IoD File 7
    (it names each LSOA's district) or the Census 2011 population file will do.

    Parameters
    ----------
    path : str
        CSV file, relative to the data directory.
    lsoa_column : str
        Column holding the LSOA code (e.g. ``LSOA11CD``, ``LSOA21CD``, ``LSOA Code``).
    lad_column : str, optional
        Column holding the local-authority (LAD) code (e.g. ``LAD22CD``); needed for
        ``area.lad_codes``.
    force_column : str, optional
        Column holding the police force name (e.g. ``Police_force``); needed for
        ``area.police_force``.
    vintage : {2011, 2021}, optional
        LSOA vintage of ``lsoa_column``; default: the boundaries' vintage. When it
        differs, codes are carried over by ``boundaries.vintage_lookup``.
    """

    path: str
    lsoa_column: str
    lad_column: Optional[str] = None
    force_column: Optional[str] = None
    vintage: Optional[Literal[2011, 2021]] = None


@dataclass(frozen=True)
class AreaSpec:
    """The study area.

    Parameters
    ----------
    name : str
        Human-readable area name shown on maps and in the manifest (e.g. "Leeds").
    simulated : bool
        True when any input is simulated; maps, the manifest and the run summary say
        so, naming the sources marked ``sources.<name>.simulated: true`` and the index
        domains they feed. Default false.
    upper_layer_label : str
        What the upper layer is called on maps and tables (default "Ward"; e.g.
        "MSOA (2011)").
    upper_layer_note : str
        Extra sentence for maps, e.g. why MSOAs stand in for wards. Default empty.
    type : {"borough", "district", "force area", "region", "area"}, optional
        What kind of area this is; wording on maps and in messages follows it
        ("borough-wide", "across the force area"). Default: from the LAD code prefix
        (E09 London borough -> "borough"; E06, E07, E08, W06 -> "district"), "force
        area" with ``police_force``, else "area".
    lad_codes : list of str
        ONS local-authority (LAD) codes of the study area, e.g. ``[E08000035]`` for
        Leeds. With ``lookup``, national boundary files and LSOA tables are cut to
        these authorities: LSOAs of other authorities are excluded, counted in the log
        and the manifest (``area_selection``), and need no ``outside_error_share``.
        Default empty (the files are taken as the area).
    lad_code : str, optional
        Older single-code form of ``lad_codes`` (``lad_code: X`` is ``lad_codes: [X]``).
    police_force : str, optional
        Name a police force instead of (or as well as) LAD codes, as police.uk spells it
        without "Police" (e.g. "West Yorkshire"); needs ``lookup.force_column``.
    lookup : mapping (AreaLookupSpec), optional
        The LSOA -> LAD (-> force) table that places each LSOA; required when
        ``lad_codes``, ``lad_code`` or ``police_force`` is set.

    Attributes
    ----------
    data_notes, simulated_domains : tuple of str
        Not read from YAML: filled in when the config is parsed, from the sources, by
        :func:`pli.area.data_notes` (what is simulated or absent, said per source; the
        index domains fed by simulated sources), for maps and summaries.
    """

    name: str
    simulated: bool = False
    upper_layer_label: str = "Ward"
    upper_layer_note: str = ""
    type: Optional[AreaType] = None
    lad_codes: tuple[str, ...] = ()
    lad_code: Optional[str] = None
    police_force: Optional[str] = None
    lookup: Optional[AreaLookupSpec] = None
    data_notes: tuple[str, ...] = field(default=(), metadata={"yaml": False}, compare=False)
    simulated_domains: tuple[str, ...] = field(default=(), metadata={"yaml": False}, compare=False)

    def authority_codes(self) -> tuple[str, ...]:
        """``lad_codes`` plus the older ``lad_code``, upper-case, without repeats."""
        codes = [*self.lad_codes, *([self.lad_code] if self.lad_code else [])]
        return tuple(dict.fromkeys(str(c).strip().upper() for c in codes if str(c).strip()))

    def notes(self) -> tuple[str, ...]:
        """``data_notes``, or a plain warning when the area says it is simulated but not what is."""
        if self.data_notes:
            return self.data_notes
        return ("SIMULATED data: some inputs are simulated, not facts about the area.",) if self.simulated else ()

    def is_selected(self) -> bool:
        """True when the area is named by LAD codes or a police force (files get cut to it)."""
        return bool(self.authority_codes() or self.police_force)


@dataclass(frozen=True)
class BoundaryLayerSpec:
    """One polygon layer read with GDAL (GeoJSON, GeoPackage, Shapefile, ...).

    ``crs`` is only used when the file carries no CRS of its own.
    """

    path: str
    code_field: str
    name_field: Optional[str] = None
    layer: Optional[str] = None
    crs: Optional[str] = None


@dataclass(frozen=True)
class UpperFromTableSpec:
    """Build the upper layer by dissolving LSOAs on codes held in a table.

    Used when no ward boundaries can be shipped (the demo dissolves LSOAs to their
    real 2011 MSOAs, codes from the Census 2011 file).
    """

    path: str
    lsoa_column: str
    code_column: str
    name_column: Optional[str] = None
    thousands: Optional[str] = None


@dataclass(frozen=True)
class VintageLookupSpec:
    """An ONS LSOA-to-LSOA lookup (e.g. LSOA11 -> LSOA21 exact fit, with CHGIND)."""

    path: str
    from_2011_column: str = "LSOA11CD"
    to_2021_column: str = "LSOA21CD"
    change_column: Optional[str] = "CHGIND"


@dataclass(frozen=True)
class BoundariesSpec:
    """LSOA polygons plus the upper layer they are assigned to.

    Exactly one of ``wards`` and ``upper_from_table`` must be given.
    ``allow_coverage_gaps`` lets the run go on (with a warning) when the population
    source names LSOAs that the boundary file lacks (see
    :func:`pli.boundaries.check_coverage`).
    """

    lsoa: BoundaryLayerSpec
    lsoa_vintage: Literal[2011, 2021] = 2011
    wards: Optional[BoundaryLayerSpec] = None
    upper_from_table: Optional[UpperFromTableSpec] = None
    vintage_lookup: Optional[VintageLookupSpec] = None
    metric_crs: str = "EPSG:27700"
    allow_coverage_gaps: bool = False


SourceKind = Literal[
    "police_uk",
    "mps_lsoa_crime",
    "iod2019",
    "iod2025",
    "census2011_population",
    "census2021",
    "lsoa_table",
    "points",
]


@dataclass(frozen=True)
class SourceSpec:
    """One input dataset, loaded into an LSOA-keyed table.

    Parameters
    ----------
    kind : str
        Loader to use: ``police_uk`` (folder or file(s) of police.uk street CSVs),
        ``mps_lsoa_crime`` (Met London Datastore LSOA table), ``iod2019`` (IoD2019 File 7
        layout, LSOA 2011), ``iod2025`` (IoD2025 File 7 layout, LSOA 2021: set
        ``vintage: 2021``), ``census2011_population``, ``census2021`` (Nomis bulk CSV),
        ``lsoa_table`` (any LSOA-keyed CSV) or ``points`` (any point CSV).
    path : str
        File or folder, relative to the data directory.
    vintage : {2011, 2021}
        LSOA vintage of the codes in this source; reconciled to the boundary vintage.
    window_months : int, optional
        Crime sources: keep the latest N complete months present (default 12).
    start_month, end_month : str, optional
        Crime sources: explicit ``YYYY-MM`` window, inclusive; overrides ``window_months``.
    drop_partial_months : bool
        Drop leading/trailing months whose total is below 10% of the median month
        (e.g. the stub first month of the MPS "most recent 24 months" tables).
    code_column : str, optional
        ``lsoa_table``/``census2021``: the LSOA code column.
    columns : tuple of str
        ``lsoa_table``: numeric columns to keep (empty keeps every numeric column).
    aggregation : {"sum", "mean"}, optional
        How values combine when several LSOAs of the source vintage map to one target
        LSOA: ``sum`` for counts, ``mean`` for scores and rates. Default: ``mean`` for
        ``iod2019`` and ``iod2025``, ``sum`` for counts; an ``lsoa_table`` whose codes need reconciling
        must say which.
    x_column, y_column, crs : str
        ``points``: coordinate columns and their CRS (EPSG:4326 lon/lat or EPSG:27700).
    category_column, date_column, date_format, time_column : str
        ``points``: crime type, date and optional time-of-day columns.
    categories : tuple of str
        Keep only these categories (crime types); empty keeps all.
    simulated : bool
        The source holds simulated values, not real data (default false); the run
        names it, and the domains it feeds, wherever it says what is simulated.
    outside_warn_share, outside_error_share : float
        Records (points, or rows with LSOA codes) falling outside the study area are
        counted and dropped; above the first share a warning names them, above the
        second the run stops (the extract is probably for another area or vintage).
        Defaults: 0.01 and 0.25, except force-wide ``police_uk`` and ``mps_lsoa_crime``
        files, which only log (see :meth:`outside_shares`).
    """

    kind: SourceKind
    path: str
    vintage: Literal[2011, 2021] = 2011
    window_months: Optional[int] = 12
    start_month: Optional[str] = None
    end_month: Optional[str] = None
    drop_partial_months: bool = True
    code_column: Optional[str] = None
    columns: tuple[str, ...] = ()
    aggregation: Optional[Literal["sum", "mean"]] = None
    x_column: str = "Longitude"
    y_column: str = "Latitude"
    crs: str = "EPSG:4326"
    category_column: Optional[str] = None
    date_column: Optional[str] = None
    date_format: Optional[str] = None
    time_column: Optional[str] = None
    location_column: Optional[str] = None
    categories: tuple[str, ...] = ()
    encoding: str = "utf-8"
    outside_warn_share: Optional[float] = None
    outside_error_share: Optional[float] = None
    simulated: bool = False

    def resolved_aggregation(self) -> str:
        """``mean`` for IoD scores, ``sum`` for counts (crime, points, Census) and tables.

        An ``lsoa_table`` may hold counts or rates, so when its codes actually need
        reconciling the pipeline asks for an explicit ``aggregation`` rather than guess.
        """
        if self.aggregation is not None:
            return self.aggregation
        return "mean" if self.kind in ("iod2019", "iod2025") else "sum"

    def outside_shares(self) -> tuple[float, float]:
        """(warn, error) shares of records outside the study area for this source.

        Force-wide police.uk files and London-wide Met tables are mostly outside any
        one borough by design, so by default they only log what was dropped; other
        extracts warn above 1% and stop above 25%. A source with no record inside
        the study area always stops the run.
        """
        force_wide = self.kind in ("police_uk", "mps_lsoa_crime")
        warn = self.outside_warn_share if self.outside_warn_share is not None else (1.0 if force_wide else 0.01)
        error = self.outside_error_share if self.outside_error_share is not None else (1.0 if force_wide else 0.25)
        return warn, error


@dataclass(frozen=True)
class DenominatorSpec:
    """A denominator column taken from a source (e.g. usual residents)."""

    source: str
    column: str
    floor: Optional[float] = None


@dataclass(frozen=True)
class IndicatorSpec:
    """One indicator in the index.

    Parameters
    ----------
    name : str
        Column name in the outputs (snake_case).
    source : str
        Name of a source under ``sources``.
    columns : tuple of str
        Source columns summed to make the numerator. Entries may use shell-style
        wildcards (``"VIOLENCE AGAINST THE PERSON/*"``). Empty means the single column
        named like the indicator.
    harm : bool
        Weight each crime category by the harm weight table before summing.
    transform : {"value", "count", "rate", "share", "log"}
        ``rate`` is per 1,000 of ``denominator``; ``share`` is numerator / denominator;
        ``log`` is log(1 + value).
    denominator : str, optional
        Name under ``denominators`` (default ``population`` for rates and shares).
    domain : str
        Domain the indicator belongs to (crime, deprivation, demography, ...).
    direction : {"higher_is_worse", "higher_is_better"}
    weight : float
        Weight within its domain.
    label : str, optional
        Human-readable label for maps and tooltips.
    """

    name: str
    source: str
    columns: tuple[str, ...] = ()
    harm: bool = False
    transform: Literal["value", "count", "rate", "share", "log"] = "value"
    denominator: Optional[str] = None
    domain: str = "other"
    direction: Literal["higher_is_worse", "higher_is_better"] = "higher_is_worse"
    weight: float = 1.0
    label: Optional[str] = None


@dataclass(frozen=True)
class TreatmentSpec:
    """Data treatment before normalisation."""

    outliers: Literal["none", "winsorise", "skew_kurtosis"] = "none"
    winsorise_quantile: float = 0.99
    skew_threshold: float = 2.0
    kurtosis_threshold: float = 3.5
    missing: Literal["error", "median", "ward_mean"] = "error"


@dataclass(frozen=True)
class IndexSpec:
    """How indicators become one composite score.

    Parameters
    ----------
    preset : str, optional
        ``pli`` (Croydon Priority Localities Index), ``vli`` or ``imd``; fills any
        option not set explicitly.
    normalisation : str
        ``zscore``, ``minmax``, ``percentile``, ``ratio`` (to the study-area rate x 100)
        or ``exponential`` (IMD exponential transformation of ranks).
    weighting : {"manual", "equal", "pca"}
    aggregation : {"arithmetic", "geometric"}
    domain_weights : dict
        Weight of each domain in the index (manual weighting).
    exponential_reference_size : int, optional
        Number of units the ranks refer to (IMD ranks are national: 32,844).
    harm_scheme : str, optional
        A harm weight table shipped with pli, by name (``pli.harm.WEIGHT_SCHEMES``):
        ``cchi2026`` (the default), ``counts`` (every offence weighs 1) or
        ``sentencing_legacy``. Parsing resolves it into ``harm_weights``.
    harm_weights : str, optional
        CSV replacing the shipped harm weight table (same columns); give this or
        ``harm_scheme``, not both.
    """

    preset: Optional[str] = None
    normalisation: Literal["zscore", "minmax", "percentile", "ratio", "exponential"] = "zscore"
    weighting: Literal["manual", "equal", "pca"] = "equal"
    aggregation: Literal["arithmetic", "geometric"] = "arithmetic"
    domain_weights: dict[str, float] = field(default_factory=dict)
    exponential_reference_size: Optional[int] = None
    harm_scheme: Optional[str] = None
    harm_weights: Optional[str] = None
    treatment: TreatmentSpec = field(default_factory=TreatmentSpec)


@dataclass(frozen=True)
class ClusteringSpec:
    """Spatial weights and clustering statistics.

    ``permutations`` is a floor: with ``fdr`` on it is raised (logged) to ``10 n / alpha``,
    five times the count with which the most extreme LSOA can just pass
    Benjamini-Hochberg at ``alpha``, up to ``max_permutations`` (a warning when even
    ``2 n / alpha`` is above that cap). ``gi_inference`` chooses
    the Gi* p behind the bins: ``normal`` (of the analytic z, as ArcGIS and spdep) or
    ``permutation`` (every value permuted, own included). ``stability_seeds`` reruns the
    LISA permutations with seeds ``seed .. seed + stability_seeds - 1`` for the
    manifest's ``seed_stability`` (0 or 1 skips it).
    """

    weights: Literal["queen", "rook", "knn", "distance_band"] = "queen"
    k: int = 6
    distance_m: Optional[float] = None
    permutations: int = 999
    alpha: float = 0.05
    fdr: bool = True
    gi_inference: Literal["normal", "permutation"] = "normal"
    max_permutations: int = 99_999
    stability_seeds: int = 5


@dataclass(frozen=True)
class PrioritySpec:
    """How priority neighbourhoods are drawn (see :mod:`pli.priorities`).

    ``count`` contiguous neighbourhoods, each of at least ``min_population`` residents
    (default 5,000: about three LSOAs, enough for one team's beat and for rates that do
    not swing on a handful of offences) and at most ``max_lsoas`` LSOAs and
    ``max_population`` residents, are grown around the highest-scoring LSOAs (candidates:
    the ``min_score_quantile`` quantile and above, plus the ``top_lsoas`` highest) and
    chosen by their concentration of priority. Every LSOA in the top ``cover_top_share``
    of scores is either inside a neighbourhood or listed with the reason in
    ``excluded_high_priority.csv``. ``method`` is ``"grow"`` (the default, seeded region
    growing) or ``"ward"`` (the earlier constrained Ward splitting, kept for comparison).
    ``harm_weight`` (0-1) blends the harm rate into priority; 0 by default because the
    index already holds harm. ``stability_runs`` Monte Carlo runs with indicator weights
    scaled by up to +-``stability_spread`` give each neighbourhood's ``stability``
    (0 turns it off).
    """

    count: int = 9
    top_lsoas: int = 20
    min_lsoas: int = 1
    max_lsoas: int = 8
    min_population: int = 5000
    max_population: int = 15000
    min_score_quantile: float = 0.75
    harm_weight: float = 0.0
    cover_top_share: float = 0.05
    method: Literal["grow", "ward"] = "grow"
    stability_runs: int = 200
    stability_spread: float = 0.2


@dataclass(frozen=True)
class PatrolSpec:
    """Micro-patrol planning inputs and options (see :func:`pli.patrols.plan_patrols`).

    ``categories`` empty means violence, robbery and weapons. Records are already
    windowed by their source; ``start_month``/``end_month``/``window_months`` narrow it.
    The dose: ``visit_minutes`` (Koper curve: 10-15), one weekly visit per
    ``harm_per_weekly_visit`` harm a month, up to ``max_visits_per_day`` a day, over a
    trial of ``trial_weeks``; with times of day in the points, visits fall in the
    busiest ``peak_window_hours`` (see :mod:`pli.patrols.dosage`).
    """

    source: Optional[str] = None
    cell_size_m: float = 150.0
    grid: Literal["square", "hex"] = "square"
    categories: tuple[str, ...] = ()
    top_places: int = 10
    permutations: int = 999
    alpha: float = 0.05
    fdr: bool = True
    contiguity: Literal["queen", "rook"] = "queen"
    hotspot_method: Literal["auto", "permutation", "analytic"] = "auto"
    max_permutation_cells: int = 20000
    start_month: Optional[str] = None
    end_month: Optional[str] = None
    window_months: Optional[int] = None
    kde: bool = False
    kde_bandwidth_m: Optional[float] = None
    kde_cell_size_m: float = 50.0
    visit_minutes: int = 15
    max_visits_per_day: int = 3
    plan_place_kind: Literal["grid", "snap"] = "grid"
    snap: Optional[bool] = None
    min_events: int = 3
    harm_per_weekly_visit: float = 100.0
    daily_minutes_budget: Optional[float] = None
    trial_weeks: int = 12
    peak_window_hours: int = 4


@dataclass(frozen=True)
class MapSpec:
    """Interactive map options."""

    offline: bool = False
    classes: int = 5
    scheme: Literal["quantiles", "deciles"] = "quantiles"
    simplify_m: float = 5.0
    tiles: bool = True


@dataclass(frozen=True)
class OutputSpec:
    """Where outputs go and what may be published."""

    public: bool = False
    suppress_below: int = 5


@dataclass(frozen=True)
class TrackSeriesSpec:
    """One time series analysis of ``pli track`` (issue 13).

    Parameters
    ----------
    name : str
        Label used in the output files (``series.csv`` column ``series``).
    source : str, optional
        A crime source under ``sources:`` (``police_uk``/``points``: every month present is
        used, whatever its ``window_months``).
    path : str, optional
        Instead of ``source``: a Met monthly table (``YYYYMM`` columns, ``MajorText`` and
        ``MinorText``) keyed by LSOA (``LSOA Code``) or ward (``WardCode``), such as the
        ward history file. Give exactly one of ``source`` and ``path``.
    level : {"lsoa", "ward", "grid"}
        Areas the counts are built on (``grid``: square cells of ``cell_size_m``; points only).
    period : {"month", "quarter"}
        Time slice.
    alpha : float
        Significance level for trends (after Benjamini-Hochberg FDR across areas) and Gi*.
    categories : tuple of str
        Keep only these crime categories (police.uk types or Met ``MAJOR/MINOR``); empty keeps all.
    cell_size_m : float
        Grid cell side (``level: grid``).
    vintage : {2011, 2021}
        LSOA codes of a ``path`` table keyed by LSOA.
    trend_test : {"mann_kendall", "seasonal"}
        ``seasonal``: the seasonal Mann-Kendall test and Sen's slope (each month, or
        quarter, compared only with the same one in other years).
    """

    name: str
    source: Optional[str] = None
    path: Optional[str] = None
    level: Literal["lsoa", "ward", "grid"] = "lsoa"
    period: Literal["month", "quarter"] = "month"
    alpha: float = 0.05
    categories: tuple[str, ...] = ()
    cell_size_m: float = 250.0
    vintage: Literal[2011, 2021] = 2021
    trend_test: Literal["mann_kendall", "seasonal"] = "mann_kendall"


@dataclass(frozen=True)
class TrackSpec:
    """``track:`` section: the series ``pli track`` builds (time series, trends, emerging hot spots)."""

    series: tuple[TrackSeriesSpec, ...] = ()


@dataclass(frozen=True)
class TrialSpec:
    """Options of ``pli trial`` (see :mod:`pli.trial`); command-line flags override them.

    ``design`` pairs, blocks (by neighbourhood) or crossover (pairs plus a schedule of
    ``period_weeks`` treated/control periods separated by ``washout_weeks``);
    ``places`` the run's patrol places, its ``top`` LSOAs or the ``top`` grid cells;
    power is simulated for trials of ``months`` months, with the detectable relative
    reduction at ``target_power`` and the length needed for ``effect``.
    """

    design: Literal["pairs", "blocks", "crossover"] = "pairs"
    places: Literal["plan", "lsoa", "cells"] = "plan"
    top: int = 20
    months: tuple[int, ...] = (3, 6, 12)
    effect: float = 0.2
    target_power: float = 0.8
    alpha: float = 0.05
    simulations: int = 500
    permutations: int = 199
    crossover_weeks: int = 8
    period_weeks: int = 1
    washout_weeks: int = 1


@dataclass(frozen=True)
class EvaluateSpec:
    """What ``pli evaluate`` measures: treated areas, intervention months, controls.

    ``ward_history`` (the Met's monthly ward table) or ``source`` (a police.uk source,
    whose records carry ``month``) gives the monthly series; ``level`` says whether areas
    are LSOAs or wards. Treated areas: ``treated`` (group name -> codes) or the priority
    neighbourhoods of a run (``pli evaluate --run``; ``run_neighbourhoods``: only the first
    N of them, as buffers around many treated wards can leave too few controls). Controls: ``controls`` (a fixed
    list) or ``controls_per_treated`` nearest neighbours on pre-period level and trend
    (and ``deprivation_source``/``deprivation_column`` when given), never touching a
    treated area.
    """

    start_month: Optional[str] = None
    end_month: Optional[str] = None
    level: Literal["lsoa", "ward"] = "ward"
    ward_history: Optional[str] = None
    source: Optional[str] = None
    categories: tuple[str, ...] = ()
    harm: bool = True
    treated: dict[str, tuple[str, ...]] = field(default_factory=dict)
    run_neighbourhoods: Optional[int] = None
    controls: tuple[str, ...] = ()
    controls_per_treated: int = 2
    pre_months: int = 24
    bin_months: int = 3
    deprivation_source: Optional[str] = None
    deprivation_column: Optional[str] = None
    permutations: int = 999
    alpha: float = 0.05


@dataclass(frozen=True)
class StudyConfig:
    """A whole study-area configuration.

    ``data_dir`` is not read from YAML: it is the directory that relative paths resolve
    against (``--data-dir``; default the project root). Input paths must stay inside it
    (no absolute paths, ``..`` or symlinks leading out) unless the config says
    ``allow_outside_data_dir: true``, so a config from elsewhere cannot make a run read,
    and echo in its errors, files the data directory does not hold.
    """

    area: AreaSpec
    boundaries: BoundariesSpec
    sources: dict[str, SourceSpec]
    indicators: tuple[IndicatorSpec, ...]
    denominators: dict[str, DenominatorSpec] = field(default_factory=dict)
    seed: int = 0
    index: IndexSpec = field(default_factory=IndexSpec)
    clustering: ClusteringSpec = field(default_factory=ClusteringSpec)
    priorities: PrioritySpec = field(default_factory=PrioritySpec)
    patrols: Optional[PatrolSpec] = None
    maps: MapSpec = field(default_factory=MapSpec)
    output: OutputSpec = field(default_factory=OutputSpec)
    allow_outside_data_dir: bool = False
    data_dir: Path = field(default=Path("."), metadata={"yaml": False})
    config_path: Optional[Path] = field(default=None, metadata={"yaml": False})
    raw: dict = field(default_factory=dict, metadata={"yaml": False}, compare=False)
    track: Optional[TrackSpec] = None
    trial: TrialSpec = field(default_factory=TrialSpec)
    evaluate: Optional[EvaluateSpec] = None

    def resolve(self, relative: str | Path) -> Path:
        """Resolve a path from the config against the data directory."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.data_dir / p)

    def input_paths(self) -> list[tuple[str, str]]:
        """Every input path the config names, as ``(config key, path as written)``."""
        b = self.boundaries
        found = [("boundaries.lsoa.path", b.lsoa.path)]
        for key, spec in (("wards", b.wards), ("upper_from_table", b.upper_from_table),
                          ("vintage_lookup", b.vintage_lookup)):
            if spec is not None:
                found.append((f"boundaries.{key}.path", spec.path))
        if self.area.lookup is not None:
            found.append(("area.lookup.path", self.area.lookup.path))
        found.extend((f"sources.{name}.path", src.path) for name, src in self.sources.items())
        if self.index.harm_weights:
            found.append(("index.harm_weights", self.index.harm_weights))
        if self.evaluate is not None and self.evaluate.ward_history:
            found.append(("evaluate.ward_history", self.evaluate.ward_history))
        return found

    def is_inside_data_dir(self, path: str | Path) -> bool:
        """True when ``path`` (after following symlinks and ``..``) lies inside ``data_dir``."""
        return self.resolve(path).resolve().is_relative_to(self.data_dir.resolve())


def default_data_dir() -> Path:
    """The project root when running from a checkout, else the working directory.

    Config paths resolve against it unless ``--data-dir`` says otherwise; the demo
    config and its data live there.

    Examples
    --------
    >>> from pli.config import default_data_dir
    >>> (default_data_dir() / "configs" / "croydon-demo.yml").is_file()
    True
    """
    root = Path(__file__).resolve().parents[2]  # pli/config/specs.py -> project root
    if (root / "pyproject.toml").is_file() and (root / "pli").is_dir():
        return root
    return Path.cwd()

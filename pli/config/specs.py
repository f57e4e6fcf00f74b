"""The spec dataclasses: every stage's options, frozen, with their defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional, Union

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
    "TrackRollingSpec",
    "TrackSeriesSpec",
    "TrackSpec",
    "TreatmentSpec",
    "TileSpec",
    "TrialSpec",
    "UncertaintySpec",
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
        ``area.lad_codes``. Split area maps (``maps.split_above``) are drawn one page
        per local authority from it.
    lad_name_column : str, optional
        Column holding the local authority's name (e.g. ``LAD22NM``), for the titles of
        the maps split by authority; without it the names come from the LSOA names
        ("Leeds 001A"). Default none.
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
    lad_name_column: Optional[str] = None
    force_column: Optional[str] = None
    vintage: Optional[Literal[2011, 2021]] = None


@dataclass(frozen=True)
class AreaSpec:
    """The study area (``area:``).

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
        Without ``lookup`` it only labels the area, as before (nothing is cut).
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
        """True when the area is named by LAD codes or a police force (files get cut to it).

        The older ``lad_code`` alone, without ``lookup``, keeps its old meaning: a label in
        messages, nothing cut (configs written before areas could be selected still run).
        """
        if self.lookup is None and not self.lad_codes and not self.police_force:
            return False
        return bool(self.authority_codes() or self.police_force)


@dataclass(frozen=True)
class BoundaryLayerSpec:
    """One polygon layer read with GDAL (GeoJSON, GeoPackage, Shapefile, ...).

    Parameters
    ----------
    path : str
        The file, relative to the data directory.
    code_field : str
        Attribute holding each polygon's code (``LSOA11CD``/``LSOA21CD`` for LSOAs, the
        ward's GSS code for wards).
    name_field : str, optional
        Attribute holding each polygon's name. Default: the code is used as the name.
    layer : str, optional
        Layer to read from a multi-layer file (GeoPackage). Default: the first layer.
    crs : str, optional
        CRS to assume (e.g. ``EPSG:27700``), used only when the file carries no CRS of
        its own. Default: a file without a CRS is an error.
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

    Parameters
    ----------
    path : str
        CSV (UTF-8, a BOM is fine) with one row per LSOA, relative to the data directory.
    lsoa_column : str
        Column holding the LSOA code.
    code_column : str
        Column holding the code of the upper area the LSOA belongs to (LSOAs sharing a
        code are dissolved into one polygon).
    name_column : str, optional
        Column holding the upper area's name. Default: the code is used as the name.
    thousands : str, optional
        Thousands separator used by numbers in the table (e.g. ``","``), passed to the
        CSV reader. Default: none.
    """

    path: str
    lsoa_column: str
    code_column: str
    name_column: Optional[str] = None
    thousands: Optional[str] = None


@dataclass(frozen=True)
class VintageLookupSpec:
    """An ONS LSOA-to-LSOA lookup (e.g. LSOA11 -> LSOA21 exact fit, with CHGIND).

    Needed when a source's ``vintage`` differs from ``boundaries.lsoa_vintage``: values are
    moved between vintages through it (``sources.<name>.aggregation`` says how they combine).

    Parameters
    ----------
    path : str
        The lookup CSV, relative to the data directory.
    from_2011_column : str
        Column with the 2011 LSOA code. Default ``LSOA11CD``.
    to_2021_column : str
        Column with the 2021 LSOA code. Default ``LSOA21CD``.
    change_column : str, optional
        ONS change indicator column (``U`` unchanged, ``S`` split, ``M`` merged, ``X``
        complex); ``null`` when the lookup has none. Default ``CHGIND``.
    """

    path: str
    from_2011_column: str = "LSOA11CD"
    to_2021_column: str = "LSOA21CD"
    change_column: Optional[str] = "CHGIND"


@dataclass(frozen=True)
class BoundariesSpec:
    """LSOA polygons plus the upper layer they are assigned to (``boundaries:``).

    Exactly one of ``wards`` and ``upper_from_table`` must be given.

    Parameters
    ----------
    lsoa : BoundaryLayerSpec
        The LSOA polygons: the units every indicator is built on and ranked.
    lsoa_vintage : {2011, 2021}
        Census vintage of the LSOA codes in ``lsoa``. Sources of the other vintage need
        ``vintage_lookup``. Default 2011.
    wards : BoundaryLayerSpec, optional
        Ward (or other upper-layer) polygons; each LSOA is assigned to the ward holding
        most of its area.
    upper_from_table : UpperFromTableSpec, optional
        Instead of ``wards``: build the upper layer by dissolving LSOAs on codes in a
        table.
    vintage_lookup : VintageLookupSpec, optional
        ONS LSOA11 -> LSOA21 lookup, required when any non-point source uses the other
        vintage.
    metric_crs : str
        Projected CRS (metres) every geometry is moved to for areas, distances and grids.
        Default ``EPSG:27700`` (British National Grid).
    allow_coverage_gaps : bool
        Go on (with a warning) when the population source names LSOAs that the boundary
        file lacks (see :func:`pli.boundaries.check_coverage`). Default false: the run
        stops.
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
        File or folder, relative to the data directory; a ``police_uk`` source may also
        name a zip archive as data.police.uk publishes it (a custom download, or the
        monthly all-forces bulk archive), read without unpacking.
    vintage : {2011, 2021}
        LSOA vintage of the codes in this source; reconciled to the boundary vintage.
    window_months : int, optional
        Crime sources (``police_uk``, ``mps_lsoa_crime``, dated ``points``): keep the
        latest N complete months present (1 or more; default 12; ``null`` keeps every month).
    start_month : str, optional
        Crime sources: first month (``YYYY-MM``) of an explicit window, inclusive; when
        given, ``window_months`` is ignored. Default: none.
    end_month : str, optional
        Crime sources: last month (``YYYY-MM``) of the window, inclusive; without
        ``start_month``, ``window_months`` counts back from it. Default: the latest month.
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
    x_column : str
        ``points``: column of the x coordinate (longitude or easting). Default ``Longitude``.
    y_column : str
        ``points``: column of the y coordinate (latitude or northing). Default ``Latitude``.
    crs : str
        ``points``: CRS of the coordinates, ``EPSG:4326`` (lon/lat; the default) or
        ``EPSG:27700`` (British National Grid); coordinates that look like the other one
        stop the run.
    category_column : str, optional
        ``points``: column of the crime type (needed by ``categories`` and by harm
        weights). Default: none.
    date_column : str, optional
        ``points``: column of the date, giving each record its month for the window.
        Default: none (every record counts; no time window).
    date_format : str, optional
        ``points``: ``strftime`` format of ``date_column`` (e.g. ``%d/%m/%Y``). Default:
        recognised automatically.
    time_column : str, optional
        ``points``: column of the time of day (``HH:MM``), used for patrol peak windows.
        Default: none.
    location_column : str, optional
        ``points``: column describing where the record is (e.g. police.uk's "On or near
        ..."); it lets patrol planning recognise snapped locations (``patrols.snap``).
        Default: none.
    encoding : str
        Text encoding of the file (e.g. ``cp1252`` for an Excel export). Default ``utf-8``
        (a byte-order mark is accepted).
    categories : tuple of str
        Keep only these categories (crime types); empty keeps all.
    simulated : bool
        The source holds simulated values, not real data (default false); the run
        names it, and the domains it feeds, wherever it says what is simulated.
    engine : {"auto", "pandas", "duckdb"}
        ``police_uk``: how the street CSVs are parsed. ``pandas`` reads each file whole;
        ``duckdb`` streams them through DuckDB, keeping only the study area's LSOAs, so
        memory follows the records kept (force-wide and all-forces downloads). ``auto``
        (default) streams a zip archive or files over 256 MiB in all, and uses pandas
        otherwise. Both give the same records and messages.
    outside_warn_share : float, optional
        Records (points, or rows with LSOA codes) outside the study area are counted and
        dropped; above this share a warning names them. Default 0.01, except force-wide
        ``police_uk`` and ``mps_lsoa_crime`` files, which only log (see
        :meth:`outside_shares`).
    outside_error_share : float, optional
        Above this share of records outside the study area the run stops (the extract is
        probably for another area or vintage). Default 0.25, except force-wide
        ``police_uk`` and ``mps_lsoa_crime`` files (1.0: never). A source with no record
        inside always stops the run.
    cache : str
        ``police_uk``: where the records read (the study area's, in the window) are kept
        as GeoParquet, so later runs with the same files, area and settings read them
        instead of the CSVs. ``auto`` (default): the ``.pli-cache`` folder beside the
        output folder of ``pli index``, ``pli track`` or ``pli uncertainty`` (nothing is
        cached when pli is called from Python without one); ``off``: never cache; any
        other value: that folder (relative to the data directory). The cache is keyed on
        the files' bytes, the area's LSOA codes, every other setting of the source and
        pli's reading code, so any change reads the files again; ``pli index
        --no-cache`` reads them anyway.
        Other kinds read small files and ignore it.
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
    engine: Literal["auto", "pandas", "duckdb"] = "auto"
    outside_warn_share: Optional[float] = None
    outside_error_share: Optional[float] = None
    simulated: bool = False
    cache: str = "auto"

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
    """A denominator column taken from a source (e.g. usual residents), under ``denominators:``.

    The denominator named ``population`` is the default for ``rate`` and ``share``
    indicators and gives the residents counted in neighbourhoods.

    Parameters
    ----------
    source : str
        Name of a source under ``sources``.
    column : str
        Column of that source holding the denominator.
    floor : float, optional
        Smallest denominator used: LSOAs below it are raised to it (logged), so a rate on
        a tiny population cannot explode. Default: no floor (a zero denominator is an
        error).
    """

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
        ``value`` (the default) and ``count`` use the numerator as it is; ``rate`` is per
        1,000 of ``denominator``; ``share`` is numerator / denominator; ``log`` is
        log(1 + value).
    denominator : str, optional
        Name under ``denominators`` (default ``population`` for rates and shares).
    domain : str
        Domain the indicator belongs to (crime, deprivation, demography, ...).
    direction : {"higher_is_worse", "higher_is_better"}
        Which way the indicator runs. ``higher_is_worse`` (the default): higher values
        raise the priority (crime, deprivation scores). ``higher_is_better``: higher
        values lower it (e.g. public transport access, IoD ranks and deciles, where 1 is
        the most deprived). pli knows the direction of crime sources, IoD2019 scores
        (worse) and ranks/deciles (better) and Census counts; any other indicator (e.g.
        from an ``lsoa_table``) without an explicit ``direction`` is counted as
        ``higher_is_worse`` and the run warns naming it, as does a direction that
        contradicts a known measure.
    weight : float
        Weight within its domain (manual weighting; not negative). Default 1.
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
    """Data treatment before normalisation (``index.treatment:``; see :mod:`pli.index`).

    Parameters
    ----------
    outliers : {"none", "winsorise", "skew_kurtosis"}
        ``winsorise`` clips each indicator to its ``[1 - q, q]`` quantiles
        (``winsorise_quantile``); ``skew_kurtosis`` (JRC/COIN practice) pulls in the most
        extreme values of an indicator whose skewness and kurtosis both exceed the
        thresholds, up to 5 values, else log-transforms it. Default ``none``.
    winsorise_quantile : float
        Upper quantile ``q`` kept by ``winsorise``. Default 0.99.
    skew_threshold : float
        ``skew_kurtosis``: absolute skewness above which an indicator is treated. Default 2.0.
    kurtosis_threshold : float
        ``skew_kurtosis``: excess kurtosis above which an indicator is treated. Default 3.5.
    missing : {"error", "median", "ward_mean"}
        What a missing indicator value does: ``error`` stops the run naming each indicator
        and its LSOAs (the default); ``median`` fills the study-area median; ``ward_mean``
        fills the mean of the LSOA's ward (the study-area median where the whole ward is
        missing). Imputations are logged with the LSOAs affected.
    """

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
        ``manual`` uses each indicator's ``weight`` and ``domain_weights``; ``equal`` (the
        default) gives every domain, and every indicator within a domain, the same weight;
        ``pca`` derives indicator weights from a principal component analysis.
    aggregation : {"arithmetic", "geometric"}
        How weighted indicators combine: a weighted sum (``arithmetic``, the default) or
        a weighted geometric mean (``geometric``: a low value is not fully offset by a
        high one).
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
    treatment : TreatmentSpec
        Missing values and outliers, dealt with before normalisation.
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
    """Spatial weights and clustering statistics (``clustering:``; see :mod:`pli.clustering`).

    ``permutations`` is a floor: with ``fdr`` on it is raised (logged) to ``10 n / alpha``,
    five times the count with which the most extreme LSOA can just pass
    Benjamini-Hochberg at ``alpha``, up to ``max_permutations`` (a warning when even
    ``2 n / alpha`` is above that cap).

    Parameters
    ----------
    weights : {"queen", "rook", "knn", "distance_band"}
        Neighbours of an LSOA: polygons sharing a point (``queen``, the default) or an
        edge (``rook``), the ``k`` nearest (``knn``), or all within ``distance_m``
        (``distance_band``). Islands are joined to their nearest polygon (logged).
    k : int
        Number of neighbours with ``weights: knn``. Default 6.
    distance_m : float, optional
        Threshold in metres with ``weights: distance_band``. Default: the smallest
        threshold giving every LSOA a neighbour (logged).
    permutations : int
        Conditional permutations for the LISA pseudo p-values (a floor, see above).
        Default 999.
    alpha : float
        Significance level of the LISA and Gi* classes, between 0 and 1. Default 0.05.
    fdr : bool
        Control the false discovery rate (Benjamini-Hochberg) across LSOAs. Default true.
    gi_inference : {"normal", "permutation"}
        The Gi* p behind the hot/cold bins: ``normal`` (of the analytic z, as ArcGIS and
        spdep; the default) or ``permutation`` (every value permuted, own included).
    max_permutations : int
        Cap on the raised permutation count. Default 99,999.
    stability_seeds : int
        Rerun the LISA permutations with seeds ``seed .. seed + stability_seeds - 1`` for
        the manifest's ``seed_stability``; 0 or 1 skips it. 0 to 20, default 5.
    parallel : {"none", "serial", "dask"}
        How the LISA permutations run. ``none`` (default): one esda call per test.
        ``serial`` or ``dask``: in chunks of 1,000 permutations, each seeded from the
        config seed by position (:mod:`pli.parallel`), in this process or on
        ``dask.distributed`` (a LocalCluster of the machine's cores, or ``scheduler``).
        ``serial`` and ``dask`` give identical results for a seed whatever the number of
        workers; ``none`` draws another, equally valid, random stream.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``); implies ``dask``.
    workers : int, optional
        Worker processes of the LocalCluster (default: the machine's cores).
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
    parallel: Literal["none", "serial", "dask"] = "none"
    scheduler: Optional[str] = None
    workers: Optional[int] = None


@dataclass(frozen=True)
class PrioritySpec:
    """How priority neighbourhoods are drawn (``priorities:``; see :mod:`pli.priorities`).

    Contiguous neighbourhoods are grown around the highest-scoring LSOAs and chosen by
    their concentration of priority. Every LSOA in the top ``cover_top_share`` of scores
    is either inside a neighbourhood or listed with the reason in
    ``excluded_high_priority.csv``.

    Parameters
    ----------
    count : int
        How many priority neighbourhoods to draw (1 or more; default 9). Fewer are drawn
        when too few candidates meet the population floor (logged).
    top_lsoas : int
        The highest-scoring LSOAs that are always candidate seeds, whatever
        ``min_score_quantile`` says. Default 20.
    min_lsoas : int
        Fewest LSOAs in a neighbourhood (1 or more). Default 1.
    max_lsoas : int
        Most LSOAs in a neighbourhood (at least ``min_lsoas``). Default 8.
    min_population : int
        Fewest residents in a neighbourhood (default 5,000: about three LSOAs, enough for
        one team's beat and for rates that do not swing on a handful of offences).
    max_population : int
        Most residents in a neighbourhood (more than ``min_population``). Default 15,000.
    min_score_quantile : float
        Candidates: LSOAs scoring at this quantile of the index and above (plus the
        ``top_lsoas`` highest). In [0, 1); default 0.75, the top quarter.
    harm_weight : float
        Share (0-1) of the crime harm rate blended into the priority a neighbourhood is
        chosen by; 0 by default because the index already holds harm.
    cover_top_share : float
        Share of the highest-scoring LSOAs that must each be inside a neighbourhood or
        listed in ``excluded_high_priority.csv`` with the reason. In [0, 1); default 0.05.
    method : {"grow", "ward"}
        ``grow`` (seeded region growing; the default) or ``ward`` (the earlier constrained
        Ward splitting, kept for comparison).
    stability_runs : int
        Monte Carlo runs with indicator weights scaled at random by up to
        +-``stability_spread``, giving each neighbourhood's ``stability`` (the share of
        runs choosing a neighbourhood overlapping it by Jaccard >= 0.5). 0 turns it off; default 200.
    stability_spread : float
        Relative change of the weights in those runs, in [0, 1): 0.2 (the default) draws
        each weight times U(0.8, 1.2).
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
    """Micro-patrol planning inputs and options (``patrols:``; see :func:`pli.patrols.plan_patrols`).

    Leave the section out to plan no patrols. Records are already windowed by their
    source; ``start_month``/``end_month``/``window_months`` narrow it. The dose: one weekly
    visit of ``visit_minutes`` per ``harm_per_weekly_visit`` harm a month, up to
    ``max_visits_per_day`` a day, over a trial of ``trial_weeks`` (see
    :mod:`pli.patrols.dosage`).

    Parameters
    ----------
    source : str, optional
        Name of a point source under ``sources`` (``police_uk`` or ``points``) whose
        records are planned on. Default: no patrol plan.
    cell_size_m : float
        Side of the grid cells in metres (hexagons: the same area). Default 150.
    grid : {"square", "hex"}
        Grid cell shape. Default ``square``.
    categories : tuple of str
        Crime types planned on (wildcards allowed). Empty (the default) means violence,
        robbery and weapons.
    top_places : int
        At most this many places per neighbourhood. Default 10.
    permutations : int
        Permutations of the grid Gi* hot-spot test (0: analytic p-values). Default 999.
    alpha : float
        Significance level of a Gi* hot spot (after FDR when ``fdr``). Default 0.05.
    fdr : bool
        Benjamini-Hochberg false discovery rate control across cells. Default true.
    contiguity : {"queen", "rook"}
        Neighbouring cells of the Gi* test (hexagons always use their six). Default ``queen``.
    hotspot_method : {"auto", "permutation", "analytic"}
        ``auto`` (the default) uses permutations up to ``max_permutation_cells`` cells and
        analytic (normal) p-values above it; the switch is logged.
    max_permutation_cells : int
        Threshold of the ``auto`` switch. Default 20,000 cells.
    start_month, end_month : str, optional
        Explicit ``YYYY-MM`` window of the records planned on, inclusive. Default: the
        source's window.
    window_months : int, optional
        Keep only the latest N months of the source's records. Default: all of them.
    kde : bool
        Also compute a harm-weighted kernel density surface of the records, written as a
        layer of the GeoPackage. Default false.
    kde_bandwidth_m : float, optional
        KDE bandwidth (the Gaussian kernel's standard deviation) in metres. Default:
        Silverman's rule of thumb, never below one cell (logged).
    kde_cell_size_m : float
        KDE raster cell size in metres. Default 50.
    visit_minutes : int
        Length of one visit (the Koper curve: 10-15 minutes). Default 15.
    max_visits_per_day : int
        Most visits a place gets in a day (the weekly cap is seven times this). Default 3.
    plan_place_kind : {"grid", "snap"}
        Which micro-places the plan ranks: grid cells (the default) or police.uk snap
        points (the anonymised map points records are moved to).
    snap : bool, optional
        Build snap places. Default: when the records' ``location`` reads like police.uk's
        ("On or near ...") or the coordinates look snapped; the choice is logged.
    min_events : int
        A place needs at least this many records in the window to be planned. Default 3.
    harm_per_weekly_visit : float
        Harm a month (days of the harm scheme) that earns one weekly visit; positive,
        default 100.
    daily_minutes_budget : float, optional
        Patrol minutes a day per neighbourhood; when the plan asks for more, weekly visits
        are taken from the lowest-ranked places first (logged). Default: no cap.
    trial_weeks : int
        Length of the patrol trial the plan's officer-hours are totalled over, 1-104 weeks.
        Default 12.
    peak_window_hours : int
        Width of the busiest window of the day visits fall in, when records carry times,
        1-24 hours. Default 4.
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
class TileSpec:
    """A basemap of XYZ tiles from a server you name (``maps.tiles`` as a mapping).

    For an internal tile server or a licensed service such as the OS Maps API, e.g.
    ``{url: "https://api.os.uk/maps/raster/v1/zxy/Light_3857/{z}/{x}/{y}.png?key=KEY",
    attribution: "Contains OS data (c) Crown copyright and database rights 2025",
    max_zoom: 20}``. The key in a URL ends up in every page: use a key restricted to
    your site.

    Parameters
    ----------
    url : str
        Tile URL template, ``http://`` or ``https://`` only, containing ``{z}``, ``{x}``
        and ``{y}`` (and ``{s}`` when ``subdomains`` is set; ``{r}`` for retina tiles is
        allowed). Required.
    attribution : str
        Who to credit for the tiles, shown in the corner of every map (text, not HTML).
        Required: every tile service's licence asks for it.
    max_zoom : int
        Deepest zoom the reader may reach, 1 to 22. Default 19.
    max_native_zoom : int, optional
        Deepest zoom the server has tiles for; beyond it Leaflet enlarges the last tiles.
        Default: ``max_zoom``.
    subdomains : str
        Letters substituted for ``{s}`` in the URL (e.g. ``"abc"``). Default ``""``.
    name : str
        Name of the basemap in the page. Default ``"Base map"``.
    """

    url: str = ""
    attribution: str = ""
    max_zoom: int = 19
    max_native_zoom: Optional[int] = None
    subdomains: str = ""
    name: str = "Base map"


@dataclass(frozen=True)
class MapSpec:
    """Interactive map and figure options (the ``maps:`` section).

    Parameters
    ----------
    online : bool
        ``false`` (default): every page carries Leaflet and its plugins inline, so it
        opens with no internet access (many council and police networks block CDNs).
        ``true``: pages link the JavaScript and CSS from public CDNs instead (smaller
        files, but a blank map where the CDN is blocked). Same as ``pli index --online``.
    offline : bool, optional
        Deprecated: offline is now the default. ``true`` is accepted and changes nothing;
        ``false`` means ``online: true``. Giving it with ``online: true`` is an error.
    simplify_m : float
        Tolerance in metres for simplifying web geometry (shared edges stay shared),
        0 to 100; 0 keeps every vertex. Default 5.
    tiles : bool, str or mapping
        Basemap under the data. A preset name: ``esri-grey`` (Esri World Gray Canvas,
        the default; ``true`` means the same) or ``osm`` (OpenStreetMap standard tiles);
        ``none`` (or ``false``) for no basemap: the upper-layer names and a scale bar
        still give the reader their bearings; or a mapping for your own tile server
        (see :class:`TileSpec`: ``url``, ``attribution``, ``max_zoom``,
        ``max_native_zoom``, ``subdomains``, ``name``). Tiles come from the network even
        in offline pages; where they cannot be fetched the map says so and the data
        layers still show.
    split_above : int
        Largest study area, in LSOAs, drawn as one detailed page (default 3,000; a whole
        number of 1 or more). Above it (a police force, a region, England and Wales) the
        area maps are split: one page per local authority where the LSOAs' authorities are
        known (``area.lookup.lad_column``, else the ONS LSOA names, "Leeds 001A"), named
        by the LAD code (``priority_localities_E08000035.html``, or a slug of the name
        when only names are known), an authority of fewer than 30 LSOAs sharing its
        nearest neighbour's page; otherwise (no authorities known, or one authority)
        parts of whole upper-layer areas, at most about this many LSOAs each
        (``priority_localities-part-NN.html``). Each has every layer, legend and credit;
        its ``hotspots_...`` page opens the same page on the cluster layers (so does
        ``#hotspots`` after its address). ``priority_localities.html`` and
        ``hotspots.html`` become overviews: the authorities (or upper-layer areas)
        coloured by their LSOAs' mean class (or most frequent cluster), each linking to
        its page, and ``index.html`` lists the authorities in a table. Measured on
        England and Wales (34,753 LSOAs): one page was 192 MB; split by authority, 343
        pages of up to 2.5 MB (about 2 s to first render in headless Chromium) and
        overviews of 1.7 MB (2.4 s). London (4,344 LSOAs): 30 pages of 0.9-1.5 MB and
        overviews of 0.5 MB (2 s).
    """

    online: bool = False
    offline: Optional[bool] = None
    simplify_m: float = 5.0
    tiles: Union[bool, str, TileSpec] = "esri-grey"
    split_above: int = 3000

    @property
    def inline_assets(self) -> bool:
        """Whether pages carry Leaflet and plugins inline (offline, the default)."""
        return not self.online and self.offline is not False


@dataclass(frozen=True)
class OutputSpec:
    """What the tables hold and what may be published (``output:``; see :mod:`pli.disclosure`).

    Parameters
    ----------
    public : bool
        Public mode (``--public`` sets it for one run): counts below ``suppress_below``
        and the values derived from them are suppressed, and no point-level or patrol
        outputs are written. Default false.
    suppress_below : int
        Smallest count shown in public mode (1 or more). Default 5.
    classes : {"quintile", "decile"}
        Priority classes of the index, the same everywhere: the class column of
        ``rankings.csv`` (named ``quintile`` or ``decile``), the map colours and legend,
        and the GeoPackage style (see :mod:`pli.classes`). Default ``quintile``: five
        classes of one sequential colour scale stay distinguishable on a map and in
        print, where ten do not, and a fifth of the LSOAs is a useful "highest" group
        on a borough of a couple of hundred LSOAs. ``decile`` matches the IMD's
        convention (and ``pli.index``'s ``decile``) for readers who compare the two.
    """

    public: bool = False
    suppress_below: int = 5
    classes: Literal["quintile", "decile"] = "quintile"


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
    autocorrelation : {"auto", "hamed_rao", "hirsch_slack", "none"}
        Correction of the trend test's p for serial correlation (neighbouring months are
        alike, which makes uncorrected p values too small; see :mod:`pli.track.trend`).
        ``hamed_rao``: Hamed and Rao (1998), for ``trend_test: mann_kendall``;
        ``hirsch_slack``: covariance between seasons (Hirsch and Slack 1984), for
        ``trend_test: seasonal``; ``none``: uncorrected. Default ``auto``: the one that fits
        the test for monthly series, ``none`` for quarterly ones. ``trends.csv`` also
        carries the uncorrected ``q_uncorrected`` for comparison.
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
    autocorrelation: Literal["auto", "hamed_rao", "hirsch_slack", "none"] = "auto"

    def autocorrelation_method(self) -> str:
        """The correction applied: ``auto`` resolved for this series' period and test."""
        if self.autocorrelation != "auto":
            return self.autocorrelation
        if self.period != "month":
            return "none"
        return "hirsch_slack" if self.trend_test == "seasonal" else "hamed_rao"


@dataclass(frozen=True)
class TrackRollingSpec:
    """``track.rolling``: the index recomputed on rolling windows (``rolling_index.csv``).

    Parameters
    ----------
    enabled : bool
        Compute it (default true). It is also off, with the reason logged, when no
        indicator reads a crime source with months or the months present hold fewer than
        two windows.
    step_months : int
        Months between the ends of consecutive windows (default 3: every quarter).
    windows : int
        At most this many windows, the latest being the index's own (default 8). Each is
        as long as the index's window.
    """

    enabled: bool = True
    step_months: int = 3
    windows: int = 8


@dataclass(frozen=True)
class TrackSpec:
    """``track:`` section: what ``pli track`` builds (time series, trends, emerging hot spots).

    Parameters
    ----------
    series : list of TrackSeriesSpec
        The time series (trends, emerging hot spots, charts), each with a unique
        ``name``; at least one.
    rolling : TrackRollingSpec
        The index on rolling windows, with rank and neighbourhood per window.
    """

    series: tuple[TrackSeriesSpec, ...] = ()
    rolling: TrackRollingSpec = field(default_factory=TrackRollingSpec)


@dataclass(frozen=True)
class TrialSpec:
    """Options of ``pli trial`` (``trial:``; see :mod:`pli.trial`); command-line flags override them.

    Parameters
    ----------
    design : {"pairs", "blocks", "crossover"}
        Matched pairs (the default), blocks (by neighbourhood), or crossover (pairs plus a
        schedule of treated and control periods separated by washouts).
    places : {"plan", "lsoa", "cells"}
        What is randomised: the run's patrol places (the default), its ``top`` LSOAs or
        the ``top`` grid cells.
    top : int
        Number of LSOAs or cells with ``places: lsoa`` or ``cells`` (2 or more). Default 20.
    months : tuple of int
        Trial lengths in months that power is simulated for. Default [3, 6, 12].
    effect : float
        Target relative reduction in crime (0.2 = 20%) the trial length needed is reported
        for; from 0 up to (not including) 1. Default 0.2.
    target_power : float
        Power at which the detectable relative reduction is reported. Default 0.8.
    alpha : float
        Significance level of the simulated trial's test. Default 0.05.
    simulations : int
        Simulated trials per power point. Default 500.
    permutations : int
        Permutations of the randomisation test inside each simulated trial. Default 199.
    crossover_weeks : int
        ``crossover``: length of the schedule in weeks (2 or more). Default 8.
    period_weeks : int
        ``crossover``: weeks of each treated or control period. Default 1.
    washout_weeks : int
        ``crossover``: weeks between periods that are not analysed (residual deterrence
        fades). Default 1.
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
    """What ``pli evaluate`` measures: treated areas, intervention months, controls (``evaluate:``).

    Controls are never treated areas nor touch one.

    Parameters
    ----------
    start_month : str, optional
        First month of the intervention, ``YYYY-MM`` (``--start`` overrides).
    end_month : str, optional
        Last month of the intervention, ``YYYY-MM``. Default: the last month of the data.
    level : {"lsoa", "ward"}
        Whether areas are LSOAs or wards. Default ``ward`` (the Met ward history is by ward).
    ward_history : str, optional
        The Met's monthly ward table, relative to the data directory. Give this or
        ``source``.
    source : str, optional
        Instead of ``ward_history``: a ``police_uk`` source under ``sources`` (its records
        carry ``month``).
    categories : tuple of str
        Keep only these crime categories; empty (the default) keeps all.
    harm : bool
        Measure crime harm (harm-weighted, from the index's harm weights) rather than
        recorded offences. Default true.
    treated : dict
        Treated areas: group name -> list of area codes. Instead, ``--run`` treats the
        priority neighbourhoods of a ``pli index`` run.
    run_neighbourhoods : int, optional
        With ``--run``: only the first N neighbourhoods are treated (buffers around many
        treated wards can leave too few controls). Default: all.
    controls : tuple of str
        A fixed list of control areas. Default: chosen by matching.
    controls_per_treated : int
        Nearest-neighbour controls per treated area, matched on pre-period level and
        trend (and deprivation when given). Default 2.
    pre_months : int
        Months before the intervention used for matching and the pre-trend test (3 or
        more). Default 24.
    bin_months : int
        Months per bin of the event-study estimates. Default 3.
    deprivation_source : str, optional
        A source under ``sources`` whose column is also matched on; give with
        ``deprivation_column``.
    deprivation_column : str, optional
        The column of ``deprivation_source`` matched on.
    permutations : int
        Placebo permutations for the p-value (19 or more). Default 999.
    alpha : float
        Significance level of the intervals. Default 0.05.
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
class UncertaintySpec:
    """``uncertainty:`` section: Monte Carlo and Sobol' analysis of ``pli uncertainty``.

    Each factor is one of the analyst's choices; it varies when it has a range and is
    fixed at the configured value otherwise (``weights: off``, an empty list, ``0``). The
    base run is the configured index.

    Parameters
    ----------
    runs : int
        Monte Carlo runs (default 1000; 0 skips the Monte Carlo).
    sobol_samples : int
        Sobol' base sample size N, a power of 2 (default 256; 0 skips Sobol'). The
        analysis costs N x (factors + 2) runs (2,560 with every factor and the dummy).
    sobol_resamples : int
        Bootstrap resamples behind the Sobol' confidence intervals (default 500).
    conf_level : float
        Confidence level of those intervals, between 0 and 1 (default 0.95).
    sobol_dummy : bool
        Add a factor that changes nothing (default true): its indices show the estimation
        noise, so an index below the dummy's is no evidence of influence.
    top_n : int
        Size of the top list: ``p_top_n`` per LSOA and the Sobol' output
        ``top_n_rank_shift`` (default 20).
    weights : {"dirichlet", "uniform", "off"}
        How indicator weights (within each domain) and domain weights vary:
        ``dirichlet`` (default) draws each set from a Dirichlet centred on the configured
        weights with ``weight_concentration``; ``uniform`` scales every weight by
        ``U(1 - weight_spread, 1 + weight_spread)`` and rescales; ``off`` keeps them.
    weight_concentration : float
        Dirichlet concentration (default 40): larger keeps draws closer to the configured
        weights (a weight of 0.4 draws with standard deviation about 0.08 at 40).
    weight_spread : float
        Relative spread of ``uniform`` weights, in [0, 1) (default 0.25).
    normalisations : list of str
        Normalisation methods drawn from (``zscore``, ``minmax``, ``percentile``,
        ``ratio``, ``exponential``); default ``[zscore, minmax, percentile]``; empty keeps
        the configured one.
    outliers : list of str
        Outlier treatments drawn from (``none``, ``winsorise``, ``skew_kurtosis``);
        default all three; empty keeps the configured one.
    harm_schemes : list of str
        Harm weight tables drawn from (``pli.harm.WEIGHT_SCHEMES``: ``cchi2026``,
        ``counts``, ``sentencing_legacy``); default all three; empty keeps the configured
        table. Only indicators with ``harm: true`` (and the harm column) change.
    window_ends : int
        Time window: 0 or 1 keeps the configured window; k (default 6) draws one of the
        windows of the same length ending at each of the last k months of the configured
        window, for every crime source an indicator uses; windows the data cannot fill
        are dropped with a warning.
    min_score_quantile : list of float
        ``[low, high]`` range of ``priorities.min_score_quantile`` drawn uniformly
        (default ``[0.7, 0.8]``); empty keeps the configured value.
    min_population_spread : float
        ``priorities.min_population`` drawn within +-this share (default 0.2; 0 keeps it).
    neighbourhoods : bool
        Redraw the priority neighbourhoods in every run (default true), for their
        selection frequency and the Sobol' output ``neighbourhood_mismatch``.
    parallel : {"serial", "dask"}
        Run in this process (default) or on ``dask.distributed`` (a LocalCluster of the
        machine's cores, or ``scheduler``). Results are identical for the same seed.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``); implies ``dask``.
    workers : int, optional
        Worker processes of the LocalCluster (default: the machine's cores).
    """

    runs: int = 1000
    sobol_samples: int = 256
    sobol_resamples: int = 500
    conf_level: float = 0.95
    sobol_dummy: bool = True
    top_n: int = 20
    weights: Literal["dirichlet", "uniform", "off"] = "dirichlet"
    weight_concentration: float = 40.0
    weight_spread: float = 0.25
    normalisations: tuple[str, ...] = ("zscore", "minmax", "percentile")
    outliers: tuple[str, ...] = ("none", "winsorise", "skew_kurtosis")
    harm_schemes: tuple[str, ...] = ("cchi2026", "counts", "sentencing_legacy")
    window_ends: int = 6
    min_score_quantile: tuple[float, ...] = (0.7, 0.8)
    min_population_spread: float = 0.2
    neighbourhoods: bool = True
    parallel: Literal["serial", "dask"] = "serial"
    scheduler: Optional[str] = None
    workers: Optional[int] = None


@dataclass(frozen=True)
class StudyConfig:
    """A whole study-area configuration: the top level of the YAML file.

    ``data_dir`` is not read from YAML: it is the directory that relative paths resolve
    against (``--data-dir``; default the project root). Input paths must stay inside it
    (no absolute paths, ``..`` or symlinks leading out) unless the config says
    ``allow_outside_data_dir: true``, so a config from elsewhere cannot make a run read,
    and echo in its errors, files the data directory does not hold.

    Parameters
    ----------
    area : AreaSpec
        The study area: name, labels and local-authority code.
    boundaries : BoundariesSpec
        LSOA polygons and the upper layer (wards) they belong to.
    sources : dict of str to SourceSpec
        Input datasets by a name of your choice; indicators and denominators refer to
        them by that name.
    indicators : tuple of IndicatorSpec
        The indicators of the index, in order (at least one).
    denominators : dict of str to DenominatorSpec
        Denominators for ``rate`` and ``share`` indicators by name; ``population`` is the
        default one. Default none.
    seed : int
        Seed of every random draw (permutations, Monte Carlo, simulation), 0 to
        2**32 - 1; ``--seed`` overrides it. Default 0.
    index : IndexSpec
        How indicators are combined into one score.
    clustering : ClusteringSpec
        Spatial weights and clustering statistics (Moran's I, LISA, Gi*).
    priorities : PrioritySpec
        How priority neighbourhoods are drawn.
    patrols : PatrolSpec, optional
        Micro-patrol planning; leave it out to plan no patrols.
    maps : MapSpec
        Interactive map options.
    output : OutputSpec
        What may be published.
    allow_outside_data_dir : bool
        Allow input paths outside the data directory (see above). Default false.
    track : TrackSpec, optional
        Series for ``pli track``; only that command reads it.
    trial : TrialSpec
        Options of ``pli trial``.
    evaluate : EvaluateSpec, optional
        What ``pli evaluate`` measures; only that command reads it.
    uncertainty : UncertaintySpec
        What ``pli uncertainty`` varies and how many runs it makes; only that command
        reads it. Default: every factor with the ranges listed there.
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
    uncertainty: UncertaintySpec = field(default_factory=UncertaintySpec)

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

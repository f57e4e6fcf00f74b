"""Study-area configuration: one YAML file per study area, parsed into frozen dataclasses.

Every stage's options live here, so data flows one way (config -> boundaries ->
indicators -> index -> clustering -> priorities -> patrols -> maps/outputs) and each
stage imports only the spec it needs.

The YAML is validated against the dataclass annotations: unknown keys and wrong types
are collected and raised together in one :class:`ConfigError`, each naming the key
path and, for misspellings, the closest valid key.

Examples
--------
>>> from pli.config import load_config
>>> cfg = load_config("configs/croydon-demo.yml")          # doctest: +SKIP
>>> cfg.area.name                                          # doctest: +SKIP
'Croydon (demo)'
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

from pli.errors import PliError

__all__ = [
    "AreaSpec",
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
    "SourceSpec",
    "StudyConfig",
    "TreatmentSpec",
    "UpperFromTableSpec",
    "VintageLookupSpec",
    "default_data_dir",
    "load_config",
    "parse_config",
    "read_yaml",
]


#: Largest config file read (bytes); study-area configs are a few kilobytes.
MAX_CONFIG_BYTES = 1 << 20
#: Most alias uses (``*name``) allowed in one config file.
MAX_ALIASES = 100
#: Most YAML nodes a config may expand to once aliases are followed.
MAX_NODES = 100_000
#: Largest magnitude accepted for any number in a config.
MAX_NUMBER = 1e15


class ConfigError(PliError, ValueError):
    """A configuration file is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str], *, source: str | None = None):
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s){where}:\n{lines}")


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class AreaSpec:
    """The study area.

    Parameters
    ----------
    name : str
        Human-readable area name shown on maps and in the manifest.
    simulated : bool
        True when any input is simulated; maps, manifest and README say so.
    upper_layer_label : str
        What the upper layer is called on maps and tables ("Ward", or "MSOA (2011)").
    upper_layer_note : str
        Extra sentence for maps, e.g. why MSOAs stand in for wards.
    lad_code : str, optional
        ONS local-authority code; used to reject LSOAs from another authority.
    """

    name: str
    simulated: bool = False
    upper_layer_label: str = "Ward"
    upper_layer_note: str = ""
    lad_code: Optional[str] = None


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
        ``mps_lsoa_crime`` (Met London Datastore LSOA table), ``iod2019`` (IoD2019 file 7
        layout), ``census2011_population``, ``census2021`` (Nomis bulk CSV),
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
        ``iod2019``, ``sum`` for counts; an ``lsoa_table`` whose codes need reconciling
        must say which.
    x_column, y_column, crs : str
        ``points``: coordinate columns and their CRS (EPSG:4326 lon/lat or EPSG:27700).
    category_column, date_column, date_format, time_column : str
        ``points``: crime type, date and optional time-of-day columns.
    categories : tuple of str
        Keep only these categories (crime types); empty keeps all.
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

    def resolved_aggregation(self) -> str:
        """``mean`` for IoD scores, ``sum`` for counts (crime, points, Census) and tables.

        An ``lsoa_table`` may hold counts or rates, so when its codes actually need
        reconciling the pipeline asks for an explicit ``aggregation`` rather than guess.
        """
        if self.aggregation is not None:
            return self.aggregation
        return "mean" if self.kind == "iod2019" else "sum"

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
    """Spatial weights and clustering statistics."""

    weights: Literal["queen", "rook", "knn", "distance_band"] = "queen"
    k: int = 6
    distance_m: Optional[float] = None
    permutations: int = 999
    alpha: float = 0.05
    fdr: bool = True


@dataclass(frozen=True)
class PrioritySpec:
    """How priority neighbourhoods are drawn (see :mod:`pli.priorities`).

    ``count`` neighbourhoods of ``min_lsoas``..``max_lsoas`` contiguous LSOAs and at most
    ``max_population`` residents are chosen from LSOAs scoring at or above the
    ``min_score_quantile`` quantile plus the ``top_lsoas`` highest (only those may form a
    single-LSOA neighbourhood). ``harm_weight`` (0-1) blends the harm rate into the
    priority that selection maximises; 0 by default because the index already holds harm.
    """

    count: int = 9
    top_lsoas: int = 20
    min_lsoas: int = 1
    max_lsoas: int = 8
    min_population: int = 0
    max_population: int = 15000
    min_score_quantile: float = 0.75
    harm_weight: float = 0.0


@dataclass(frozen=True)
class PatrolSpec:
    """Micro-patrol planning inputs and options (see :func:`pli.patrols.plan_patrols`).

    ``categories`` empty means violence, robbery and weapons. Records are already
    windowed by their source; ``start_month``/``end_month``/``window_months`` narrow it.
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
    events_per_daily_visit: float = 1.0
    daily_minutes_budget: Optional[float] = None


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
        found.extend((f"sources.{name}.path", src.path) for name, src in self.sources.items())
        if self.index.harm_weights:
            found.append(("index.harm_weights", self.index.harm_weights))
        return found

    def is_inside_data_dir(self, path: str | Path) -> bool:
        """True when ``path`` (after following symlinks and ``..``) lies inside ``data_dir``."""
        return self.resolve(path).resolve().is_relative_to(self.data_dir.resolve())


# --------------------------------------------------------------------------- parsing


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
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "pli").is_dir():
        return root
    return Path.cwd()


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is type(None):
        return "null"
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"mapping of {_type_name(typing.get_args(tp)[1])}"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return f"mapping ({tp.__name__})"
    return getattr(tp, "__name__", str(tp))


def _parse_value(tp: Any, value: Any, key: str, problems: list[str]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        candidates = [a for a in args if a is not type(None)]
        for cand in candidates:
            trial: list[str] = []
            parsed = _parse_value(cand, value, key, trial)
            if not trial:
                return parsed
        if len(candidates) == 1:
            return _parse_value(candidates[0], value, key, problems)
        problems.append(f"{key}: expected {_type_name(tp)}, got {value!r}")
        return None
    if origin is Literal:
        if value in args and not (isinstance(value, bool) and not any(isinstance(a, bool) for a in args)):
            return value
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, [str(a) for a in args], n=1)
            if close:
                hint = f"; did you mean {close[0]!r}?"
        problems.append(f"{key}: expected one of {', '.join(repr(a) for a in args)}, got {value!r}{hint}")
        return None
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            problems.append(f"{key}: expected a list, got {value!r}")
            return ()
        return tuple(_parse_value(args[0], v, f"{key}[{i}]", problems) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{key}: expected a mapping, got {value!r}")
            return {}
        return {str(k): _parse_value(args[1], v, f"{key}.{k}", problems) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _parse_dataclass(tp, value, key, problems)
    if tp is bool:
        if isinstance(value, bool):
            return value
        problems.append(f"{key}: expected true or false, got {value!r}")
        return None
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > MAX_NUMBER:
                problems.append(f"{key}: {_shown_number(value)} is too large (limit {MAX_NUMBER:.0e})")
                return None
            return value
        problems.append(f"{key}: expected a whole number, got {value!r}{_bool_hint(value)}")
        return None
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{key}: expected a finite number, got {value!r}")
                return None
            if abs(value) > MAX_NUMBER:
                problems.append(f"{key}: {_shown_number(value)} is too large (limit {MAX_NUMBER:.0e})")
                return None
            return float(value)
        problems.append(f"{key}: expected a number, got {value!r}{_bool_hint(value)}")
        return None
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        problems.append(f"{key}: expected text, got {value!r}{_bool_hint(value)}")
        return None
    return value


def _bool_hint(value: Any) -> str:
    # YAML 1.1 turns unquoted yes/no/on/off into booleans, which surprises people.
    if isinstance(value, bool):
        return " (YAML reads unquoted yes/no/on/off as true/false: quote text, write numbers as digits)"
    return ""


def _shown_number(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) else f"a {len(str(abs(value)))}-digit number"


def _parse_dataclass(cls: type, data: Any, prefix: str, problems: list[str]) -> Any:
    where = prefix or "top level"
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a mapping ({cls.__name__}), got {data!r}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("yaml", True)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(fields)}"
            problems.append(f"{full}: unknown key{hint}")
            continue
        kwargs[key] = _parse_value(hints[key], value, full, problems)
    for name, f in fields.items():
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            full = f"{prefix}.{name}" if prefix else name
            problems.append(f"{full}: required key is missing ({_type_name(hints[name])})")
    if problems:
        # Construction would fail on missing/None fields; the caller raises anyway.
        try:
            return cls(**kwargs)
        except TypeError:
            return None
    return cls(**kwargs)


def _seed_problems(seed: object) -> list[str]:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        return [f"seed: expected a whole number from 0 to {2**32 - 1}, got {seed!r}"]
    return []


def check_seed(seed: object, *, source: str) -> int:
    """A seed for NumPy's generators: a whole number from 0 to 2**32 - 1 (``ConfigError`` otherwise)."""
    problems = _seed_problems(seed)
    if problems:
        raise ConfigError(problems, source=source)
    return seed  # type: ignore[return-value]


def _check_semantics(cfg: StudyConfig) -> list[str]:
    problems: list[str] = []
    b = cfg.boundaries
    if (b.wards is None) == (b.upper_from_table is None):
        problems.append("boundaries: give exactly one of 'wards' (polygons) or 'upper_from_table'")
    for name, src in cfg.sources.items():
        if src.window_months is not None and src.window_months < 1:
            problems.append(f"sources.{name}.window_months: expected 1 or more, got {src.window_months}")
        if src.vintage != b.lsoa_vintage and b.vintage_lookup is None and src.kind != "points":
            problems.append(
                f"sources.{name}: uses {src.vintage} LSOA codes but boundaries are {b.lsoa_vintage}; "
                "add boundaries.vintage_lookup (the ONS LSOA11->LSOA21 lookup)"
            )
    names = [i.name for i in cfg.indicators]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"indicators: duplicate names {', '.join(dupes)}")
    if not cfg.indicators:
        problems.append("indicators: at least one indicator is required")
    for i, ind in enumerate(cfg.indicators):
        key = f"indicators[{i}] ({ind.name})"
        if ind.source not in cfg.sources:
            close = difflib.get_close_matches(ind.source, list(cfg.sources), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; sources are: {', '.join(cfg.sources)}"
            problems.append(f"{key}.source: unknown source {ind.source!r}{hint}")
        if ind.transform in ("rate", "share"):
            den = ind.denominator or "population"
            if den not in cfg.denominators:
                problems.append(
                    f"{key}.denominator: {den!r} is not defined under 'denominators' "
                    f"(defined: {', '.join(cfg.denominators) or 'none'})"
                )
        if ind.weight < 0:
            problems.append(f"{key}.weight: weights must not be negative, got {ind.weight}")
    for name, den_spec in cfg.denominators.items():
        if den_spec.source not in cfg.sources:
            problems.append(f"denominators.{name}.source: unknown source {den_spec.source!r}")
    for dom, w in cfg.index.domain_weights.items():
        if w is not None and w < 0:
            problems.append(f"index.domain_weights.{dom}: weights must not be negative, got {w}")
    problems.extend(_check_harm_scheme(cfg.index))
    if cfg.patrols is not None and cfg.patrols.source is not None and cfg.patrols.source not in cfg.sources:
        problems.append(f"patrols.source: unknown source {cfg.patrols.source!r}")
    problems.extend(_seed_problems(cfg.seed))
    if cfg.output.suppress_below < 1:
        problems.append(f"output.suppress_below: expected 1 or more, got {cfg.output.suppress_below}")
    if cfg.clustering.permutations < 0:
        problems.append("clustering.permutations: expected 0 or more")
    if not 0 < cfg.clustering.alpha < 1:
        problems.append(f"clustering.alpha: expected between 0 and 1, got {cfg.clustering.alpha}")
    return problems


def _check_harm_scheme(index: IndexSpec) -> list[str]:
    from pli.harm import WEIGHT_SCHEMES

    if index.harm_scheme is None:
        return []
    if index.harm_scheme not in WEIGHT_SCHEMES:
        return [(
            f"index.harm_scheme: unknown scheme {index.harm_scheme!r}; choose one of "
            f"{', '.join(WEIGHT_SCHEMES)}, or set index.harm_weights to a CSV with the same columns"
        )]
    if index.harm_weights is not None:
        return [(
            f"index: give harm_scheme ({index.harm_scheme!r}) or harm_weights ({index.harm_weights!r}), "
            "not both; harm_weights is a path to a table, harm_scheme names a shipped one"
        )]
    return []


def parse_config(
    data: dict,
    *,
    data_dir: str | Path | None = None,
    source: str | None = None,
) -> StudyConfig:
    """Validate a mapping (e.g. parsed YAML) into a :class:`StudyConfig`.

    Raises
    ------
    ConfigError
        Listing every unknown key, wrong type and inconsistent reference at once.
    """
    problems: list[str] = []
    cfg = _parse_dataclass(StudyConfig, data, "", problems)
    if not problems and cfg is not None:
        problems.extend(_check_semantics(cfg))
    if problems:
        raise ConfigError(problems, source=source)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    cfg = dataclasses.replace(cfg, data_dir=root.resolve(), raw=data)
    if not cfg.allow_outside_data_dir:
        outside = [
            f"{key}: {path!r} resolves to {cfg.resolve(path).resolve()}, outside the data directory "
            f"{cfg.data_dir} (--data-dir); move the file under it, or set allow_outside_data_dir: true "
            "at the top level of the config if reading it is intended"
            for key, path in cfg.input_paths() if not cfg.is_inside_data_dir(path)
        ]
        if outside:
            raise ConfigError(outside, source=source)
    if cfg.index.harm_scheme is not None:
        from pli.harm import weight_scheme_path

        # Everything downstream (loading, validation, the manifest's input hashes) reads
        # harm_weights, so a named scheme becomes the absolute path of its shipped table
        # (shipped with pli, so the data-folder containment above does not apply to it).
        index = dataclasses.replace(cfg.index, harm_weights=str(weight_scheme_path(cfg.index.harm_scheme)))
        cfg = dataclasses.replace(cfg, index=index)
    return cfg


def load_config(path: str | Path, *, data_dir: str | Path | None = None) -> StudyConfig:
    """Read and validate one study-area YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    data_dir : str or Path, optional
        Directory that relative paths in the config resolve against
        (default: the project root).

    Examples
    --------
    >>> from pli.config import default_data_dir, load_config
    >>> cfg = load_config(default_data_dir() / "configs" / "croydon-demo.yml")
    >>> cfg.area.name, sorted(cfg.sources)
    ('Croydon (demo)', ['crime', 'deprivation', 'population'])
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"config file not found: {path}"], source=str(path))
    data = read_yaml(path)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError([f"expected a mapping (key: value lines) at the top level, got {got}"],
                          source=str(path))
    cfg = parse_config(data, data_dir=data_dir, source=str(path))
    return dataclasses.replace(cfg, config_path=path.resolve())


class _Refused(yaml.YAMLError):
    """A structural limit of :func:`read_yaml` was hit (not a syntax error)."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases and refuses duplicate keys.

    PyYAML shares aliased nodes, so an alias "bomb" loads fast but explodes later when
    the mapping is walked (validation, the manifest): aliases are counted while
    composing and the expanded size is measured before anything is constructed.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _Refused(f"more than {MAX_ALIASES} aliases (*name) by line {mark.line + 1}; "
                               "a study-area config needs few or none: write the values out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            # '<<' merges are intended overrides; only keys written twice are refused.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _Refused(f"key {key!r} appears twice in one mapping (lines {seen[key]} and {line}); "
                               "the second would silently replace the first: keep one")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node) -> int:
    """Nodes the document holds once every alias is followed (shared nodes counted each time)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Refused(f"an alias refers to the node that contains it (line {n.start_mark.line + 1})")
        active.add(key)
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(c) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        active.discard(key)
        sizes[key] = min(total, MAX_NODES + 1)
        return sizes[key]

    return size(node)


def read_yaml(path: str | Path) -> Any:
    """Parse one YAML file safely: size, alias, duplicate-key and syntax limits.

    Parameters
    ----------
    path : str or Path
        The file (at most :data:`MAX_CONFIG_BYTES`).

    Returns
    -------
    object
        The document (``None`` when the file is empty).

    Raises
    ------
    ConfigError
        Naming the file and, for syntax errors, the line and column.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError([f"the file is {size:,} bytes; a config may be at most {MAX_CONFIG_BYTES:,} bytes"],
                          source=str(path))
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the config as UTF-8"],
                          source=str(path)) from None
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise _Refused(f"the document expands to more than {MAX_NODES:,} values once aliases are "
                           "followed (an alias 'bomb'?); write the values out")
        return loader.construct_document(node)
    except _Refused as exc:
        raise ConfigError([f"refused: {exc}"], source=str(path)) from None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_message(exc)], source=str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {exc}"], source=str(path)) from None
    finally:
        loader.dispose()


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = "; ".join(str(p) for p in (exc.context, exc.problem) if p)
    # PyYAML shows a tab as the two characters backslash-t in its problem text.
    hint = " (YAML indents with spaces, never tabs)" if "'\\t'" in str(exc.problem or "") else ""
    return f"not valid YAML{where}: {what}{hint}"

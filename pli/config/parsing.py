"""From YAML mapping to :class:`StudyConfig`: types checked against the annotations, every
problem collected into one :class:`ConfigError`, then the cross-field rules."""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from pli.config.specs import (
    ConfigError,
    IndexSpec,
    MapSpec,
    PatrolSpec,
    PrioritySpec,
    StudyConfig,
    TileSpec,
    TrialSpec,
    UncertaintySpec,
    default_data_dir,
)
from pli.config.yaml_reading import MAX_NUMBER, read_yaml

__all__ = [
    "check_seed",
    "closest_key",
    "direction_warnings",
    "load_config",
    "map_problems",
    "parse_config",
    "priority_problems",
]


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


def closest_key(word: str, choices: list[str], *, n: int = 1, cutoff: float = 0.6) -> list[str]:
    """The valid keys closest to a misspelt one (for "did you mean ...?" hints), best first."""
    return difflib.get_close_matches(word, choices, n=n, cutoff=cutoff)


def _parse_value(tp: Any, value: Any, key: str, problems: list[str]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        candidates = [a for a in args if a is not type(None)]
        mappings = [a for a in candidates if isinstance(a, type) and dataclasses.is_dataclass(a)]
        if isinstance(value, dict) and len(mappings) == 1:
            # A mapping can only mean the one dataclass: report its own problems (unknown keys).
            return _parse_dataclass(mappings[0], value, key, problems)
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


#: Keys that moved, and where to: their old place gets a pointer rather than a guess.
_MOVED_KEYS = {
    "maps.classes": "output.classes (quintile or decile, the same in tables and maps)",
    "maps.scheme": "output.classes (quintile or decile, the same in tables and maps)",
}


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
            close = closest_key(str(key), list(fields))
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(fields)}"
            if full in _MOVED_KEYS:
                hint = f"; it moved to {_MOVED_KEYS[full]}"
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
    if cfg.clustering.workers is not None and cfg.clustering.workers < 1:
        problems.append(f"clustering.workers: expected 1 or more, got {cfg.clustering.workers}")
    b = cfg.boundaries
    if (b.wards is None) == (b.upper_from_table is None):
        problems.append("boundaries: give exactly one of 'wards' (polygons) or 'upper_from_table'")
    for name, src in cfg.sources.items():
        if not src.cache.strip():
            problems.append(f"sources.{name}.cache: expected auto, off or a folder, got an empty value")
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
    problems.extend(priority_problems(cfg.priorities))
    problems.extend(_check_evaluate(cfg))
    if cfg.patrols is not None and cfg.patrols.source is not None and cfg.patrols.source not in cfg.sources:
        problems.append(f"patrols.source: unknown source {cfg.patrols.source!r}")
    if cfg.patrols is not None:
        problems.extend(_patrol_problems(cfg.patrols))
    problems.extend(_seed_problems(cfg.seed))
    problems.extend(_trial_problems(cfg.trial))
    if cfg.output.suppress_below < 1:
        problems.append(f"output.suppress_below: expected 1 or more, got {cfg.output.suppress_below}")
    if cfg.clustering.permutations < 0:
        problems.append("clustering.permutations: expected 0 or more")
    if cfg.clustering.max_permutations < max(cfg.clustering.permutations, 1):
        problems.append(
            f"clustering.max_permutations: expected at least permutations ({cfg.clustering.permutations}) "
            f"and 1, got {cfg.clustering.max_permutations}"
        )
    if not 0 <= cfg.clustering.stability_seeds <= 20:
        problems.append(f"clustering.stability_seeds: expected 0 to 20, got {cfg.clustering.stability_seeds}")
    if not 0 < cfg.clustering.alpha < 1:
        problems.append(f"clustering.alpha: expected between 0 and 1, got {cfg.clustering.alpha}")
    problems.extend(_check_track(cfg))
    problems.extend(map_problems(cfg.maps))
    problems.extend(uncertainty_problems(cfg.uncertainty))
    problems.extend(_area_problems(cfg))
    return problems


_LAD_CODE_RE = re.compile(r"[EWSN]\d{8}")


def _area_problems(cfg: StudyConfig) -> list[str]:
    """``area``: well-formed LAD codes, and a lookup able to place LSOAs in them."""
    area = cfg.area
    problems = [
        f"area.lad_codes: {code!r} is not an ONS local-authority code (a letter E, W, S or N and 8 digits, "
        "e.g. E08000035 for Leeds)"
        for code in area.authority_codes() if not _LAD_CODE_RE.fullmatch(code)
    ]
    if area.is_selected() and area.lookup is None:
        problems.append(
            "area.lookup: required when the area is named by lad_codes or police_force: give the LSOA -> "
            "local authority table that places each LSOA (e.g. the ONS LSOA11 -> LSOA21 -> LAD lookup, IoD "
            "File 7 or the Census 2011 population file), or run 'pli init' to write it"
        )
    lookup = area.lookup
    if lookup is not None:
        if area.authority_codes() and lookup.lad_column is None:
            problems.append("area.lookup.lad_column: required with area.lad_codes (the column holding LAD codes)")
        if area.police_force and lookup.force_column is None:
            problems.append("area.lookup.force_column: required with area.police_force (the column holding "
                            "police force names)")
        vintage = lookup.vintage or cfg.boundaries.lsoa_vintage
        if vintage != cfg.boundaries.lsoa_vintage and cfg.boundaries.vintage_lookup is None:
            problems.append(
                f"area.lookup.vintage: the lookup holds {vintage} LSOA codes but boundaries are "
                f"{cfg.boundaries.lsoa_vintage}; add boundaries.vintage_lookup (the ONS LSOA11->LSOA21 lookup)"
            )
    return problems


#: Named basemaps ``maps.tiles`` accepts (their URLs live with the map pages).
TILE_PRESETS = ("esri-grey", "osm")


def map_problems(spec: MapSpec) -> list[str]:
    """``maps``: known tile preset or a usable tile URL template; online/offline agree."""
    problems: list[str] = []
    if spec.online and spec.offline is True:
        problems.append(
            "maps.offline: true contradicts maps.online: true; offline is the default now, so drop maps.offline"
        )
    tiles = spec.tiles
    if isinstance(tiles, str) and not isinstance(tiles, bool):
        if tiles.lower().startswith(("http://", "https://", "//", "{")):
            problems.append(
                f"maps.tiles: a tile URL needs its attribution: write tiles: {{url: {tiles!r}, attribution: "
                "'who to credit'}"
            )
        elif tiles.lower() not in (*TILE_PRESETS, "none"):
            close = difflib.get_close_matches(tiles.lower(), [*TILE_PRESETS, "none"], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                f"maps.tiles: expected none, a preset ({', '.join(TILE_PRESETS)}) or a mapping with url and "
                f"attribution, got {tiles!r}{hint}"
            )
    elif isinstance(tiles, TileSpec):
        problems.extend(_tile_problems(tiles))
    return problems


def _tile_problems(tiles: TileSpec) -> list[str]:
    problems = []
    url = tiles.url.strip()
    if not url:
        problems.append("maps.tiles.url: required: the tile URL template, e.g. https://tiles.example/{z}/{x}/{y}.png")
    else:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme not in ("http", "https"):
            problems.append(f"maps.tiles.url: expected an http:// or https:// address, got {url!r}")
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
        if missing:
            problems.append(f"maps.tiles.url: the template lacks {', '.join(missing)} (needs {{z}}, {{x}} and {{y}})")
        unknown = sorted(set(re.findall(r"\{([^}]*)\}", url)) - {"z", "x", "y", "s", "r"})
        if unknown:
            problems.append(
                f"maps.tiles.url: unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                "Leaflet fills only {z}, {x}, {y}, {s} and {r}"
            )
        if "{s}" in url and not tiles.subdomains:
            problems.append("maps.tiles.subdomains: the URL has {s}, so give the subdomain letters (e.g. 'abc')")
        if any(c in url for c in "\"'<> \n"):
            problems.append(
                f"maps.tiles.url: quotes, angle brackets and spaces are not allowed (percent-encode them): {url!r}"
            )
    if not tiles.attribution.strip():
        problems.append(
            "maps.tiles.attribution: required with a tile URL: who to credit, as the tile licence asks "
            "(e.g. 'Contains OS data (c) Crown copyright and database rights 2025')"
        )
    if not 1 <= tiles.max_zoom <= 22:
        problems.append(f"maps.tiles.max_zoom: expected 1 to 22, got {tiles.max_zoom}")
    if tiles.max_native_zoom is not None and not 0 <= tiles.max_native_zoom <= tiles.max_zoom:
        problems.append(
            f"maps.tiles.max_native_zoom: expected 0 to max_zoom ({tiles.max_zoom}), got {tiles.max_native_zoom}"
        )
    return problems


def _check_track(cfg: StudyConfig) -> list[str]:
    """``track.series``: unique names, one input each, known point sources for grids."""
    if cfg.track is None:
        return []
    problems: list[str] = []
    names = [s.name for s in cfg.track.series]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"track.series: duplicate name {dup!r}")
    for i, s in enumerate(cfg.track.series):
        key = f"track.series[{i}] ({s.name})"
        if (s.source is None) == (s.path is None):
            problems.append(f"{key}: give exactly one of 'source' (a name under sources) or 'path' "
                            "(a Met monthly table)")
        if s.source is not None and s.source not in cfg.sources:
            problems.append(f"{key}.source: unknown source {s.source!r}; sources are: {', '.join(cfg.sources)}")
        elif s.source is not None and cfg.sources[s.source].kind not in ("police_uk", "points", "mps_lsoa_crime"):
            problems.append(f"{key}.source: {s.source!r} is a {cfg.sources[s.source].kind} source; "
                            "expected crime records with months (police_uk, points or mps_lsoa_crime)")
        if not 0 < s.alpha < 1:
            problems.append(f"{key}.alpha: expected between 0 and 1, got {s.alpha}")
        fits = {"hamed_rao": "mann_kendall", "hirsch_slack": "seasonal"}
        if s.autocorrelation in fits and fits[s.autocorrelation] != s.trend_test:
            problems.append(f"{key}.autocorrelation: {s.autocorrelation!r} corrects the "
                            f"{fits[s.autocorrelation]!r} test, but trend_test is {s.trend_test!r}; use "
                            f"{next(k for k, v in fits.items() if v == s.trend_test)!r}, 'auto' or 'none'")
        if s.cell_size_m <= 0:
            problems.append(f"{key}.cell_size_m: expected a positive length in metres, got {s.cell_size_m}")
        if s.level == "grid" and (s.path is not None or (
                s.source in cfg.sources and cfg.sources[s.source].kind == "mps_lsoa_crime")):
            problems.append(f"{key}.level: 'grid' needs point records (a police_uk or points source); "
                            "a Met table is already counted per LSOA or ward")
    if not cfg.track.series:
        problems.append("track.series: expected at least one series")
    rolling = cfg.track.rolling
    if not 1 <= rolling.step_months <= 60:
        problems.append(f"track.rolling.step_months: expected 1-60 months (e.g. 3), got {rolling.step_months}")
    if not 2 <= rolling.windows <= 120:
        problems.append(f"track.rolling.windows: expected 2-120 windows (e.g. 8), got {rolling.windows}")
    return problems


def _patrol_problems(spec: PatrolSpec) -> list[str]:
    """The patrol dose options: a trial length, a peak window and a harm per weekly visit."""
    problems = []
    if not 1 <= spec.trial_weeks <= 104:
        problems.append(f"patrols.trial_weeks: expected 1-104 weeks (e.g. 12), got {spec.trial_weeks}")
    if not 1 <= spec.peak_window_hours <= 24:
        problems.append(f"patrols.peak_window_hours: expected 1-24 hours (e.g. 4), got {spec.peak_window_hours}")
    if not spec.harm_per_weekly_visit > 0:
        problems.append(
            f"patrols.harm_per_weekly_visit: expected a positive harm a month per weekly visit (e.g. 100 CCHI "
            f"days), got {spec.harm_per_weekly_visit}"
        )
    return problems


def priority_problems(spec: PrioritySpec) -> list[str]:
    """Every inconsistency in a :class:`PrioritySpec`, as ``priorities.<field>: ...`` lines."""
    problems = []
    if spec.count < 1:
        problems.append(f"priorities.count: expected 1 or more, got {spec.count}")
    if spec.min_lsoas < 1:
        problems.append(f"priorities.min_lsoas: expected 1 or more, got {spec.min_lsoas}")
    if spec.max_lsoas < spec.min_lsoas:
        problems.append(f"priorities.max_lsoas: expected at least min_lsoas ({spec.min_lsoas}), got {spec.max_lsoas}")
    if spec.min_population < 0:
        problems.append(f"priorities.min_population: expected 0 or more, got {spec.min_population}")
    if spec.max_population <= spec.min_population:
        problems.append(
            f"priorities.max_population: expected more than min_population ({spec.min_population}), "
            f"got {spec.max_population}"
        )
    if not 0 <= spec.min_score_quantile < 1:
        problems.append(f"priorities.min_score_quantile: expected a quantile in [0, 1), got {spec.min_score_quantile}")
    if spec.top_lsoas < 0:
        problems.append(f"priorities.top_lsoas: expected 0 or more, got {spec.top_lsoas}")
    if not 0 <= spec.harm_weight <= 1:
        problems.append(f"priorities.harm_weight: expected a share in [0, 1], got {spec.harm_weight}")
    if not 0 <= spec.cover_top_share < 1:
        problems.append(f"priorities.cover_top_share: expected a share in [0, 1), got {spec.cover_top_share}")
    if spec.stability_runs < 0:
        problems.append(f"priorities.stability_runs: expected 0 (off) or more, got {spec.stability_runs}")
    if not 0 <= spec.stability_spread < 1:
        problems.append(
            f"priorities.stability_spread: expected a relative change in [0, 1) (0.2 = +-20%), "
            f"got {spec.stability_spread}"
        )
    return problems


def _trial_problems(t: TrialSpec) -> list[str]:
    found = []
    for key, value, low in (("top", t.top, 2), ("simulations", t.simulations, 1), ("permutations", t.permutations, 1),
                            ("crossover_weeks", t.crossover_weeks, 2), ("period_weeks", t.period_weeks, 1),
                            ("washout_weeks", t.washout_weeks, 0)):
        if value < low:
            found.append(f"trial.{key}: expected {low} or more, got {value}")
    if not t.months or any(m < 1 for m in t.months):
        found.append(f"trial.months: expected trial lengths of 1 month or more, got {list(t.months)}")
    if not 0 <= t.effect < 1:
        found.append(f"trial.effect: expected a relative reduction from 0 up to (not including) 1, got {t.effect}")
    for key, share in (("alpha", t.alpha), ("target_power", t.target_power)):
        if not 0 < share < 1:
            found.append(f"trial.{key}: expected between 0 and 1, got {share}")
    return found


_NORMALISATIONS = ("zscore", "minmax", "percentile", "ratio", "exponential")
_OUTLIERS = ("none", "winsorise", "skew_kurtosis")


def uncertainty_problems(u: UncertaintySpec) -> list[str]:
    """``uncertainty``: sample sizes, ranges and the known names of every choice."""
    from pli.harm import WEIGHT_SCHEMES

    found = []
    for key, low in (("runs", 0), ("sobol_samples", 0), ("sobol_resamples", 10), ("top_n", 1), ("window_ends", 0)):
        if getattr(u, key) < low:
            found.append(f"uncertainty.{key}: expected {low} or more, got {getattr(u, key)}")
    if u.sobol_samples and u.sobol_samples & (u.sobol_samples - 1):
        found.append(f"uncertainty.sobol_samples: expected a power of 2 (e.g. 64, 128) or 0, got {u.sobol_samples}")
    if u.runs == 0 and u.sobol_samples == 0:
        found.append("uncertainty: runs and sobol_samples are both 0; nothing to do")
    if not 0 < u.conf_level < 1:
        found.append(f"uncertainty.conf_level: expected between 0 and 1 (e.g. 0.95), got {u.conf_level}")
    if not u.weight_concentration > 0:
        found.append(f"uncertainty.weight_concentration: expected a positive number (e.g. 40), got "
                     f"{u.weight_concentration}")
    for key in ("weight_spread", "min_population_spread"):
        if not 0 <= getattr(u, key) < 1:
            found.append(f"uncertainty.{key}: expected a share from 0 up to (not including) 1, got {getattr(u, key)}")
    for key, known in (("normalisations", _NORMALISATIONS), ("outliers", _OUTLIERS),
                       ("harm_schemes", tuple(WEIGHT_SCHEMES))):
        values = getattr(u, key)
        unknown = [v for v in values if v not in known]
        if unknown:
            found.append(f"uncertainty.{key}: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(known)}")
        if len(set(values)) != len(values):
            found.append(f"uncertainty.{key}: a choice is listed twice ({', '.join(values)})")
    q = u.min_score_quantile
    if q and (len(q) != 2 or not 0 <= q[0] <= q[1] < 1):
        found.append(f"uncertainty.min_score_quantile: expected [low, high] with 0 <= low <= high < 1 "
                     f"(e.g. [0.7, 0.8]) or [] to keep it, got {list(q)}")
    if u.workers is not None and u.workers < 1:
        found.append(f"uncertainty.workers: expected 1 or more, got {u.workers}")
    return found


def _check_evaluate(cfg: StudyConfig) -> list[str]:
    ev = cfg.evaluate
    if ev is None:
        return []
    problems = []
    if (ev.ward_history is None) == (ev.source is None):
        problems.append("evaluate: give exactly one of 'ward_history' (the Met ward table) or 'source'")
    if ev.ward_history is not None and ev.level != "ward":
        problems.append("evaluate.level: the Met ward history is by ward; set level: ward")
    for key in ("source", "deprivation_source"):
        name = getattr(ev, key)
        if name is not None and name not in cfg.sources:
            problems.append(f"evaluate.{key}: unknown source {name!r} (sources are: {', '.join(cfg.sources)})")
    if (ev.deprivation_source is None) != (ev.deprivation_column is None):
        problems.append("evaluate: give deprivation_source and deprivation_column together")
    for key in ("start_month", "end_month"):
        text = getattr(ev, key)
        if text is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
            problems.append(f"evaluate.{key}: expected a month as YYYY-MM, got {text!r}")
    if ev.start_month and ev.end_month and ev.end_month < ev.start_month:
        problems.append(f"evaluate: end_month {ev.end_month} is before start_month {ev.start_month}")
    for key, low in (("controls_per_treated", 1), ("pre_months", 3), ("bin_months", 1), ("permutations", 19)):
        if getattr(ev, key) < low:
            problems.append(f"evaluate.{key}: expected {low} or more, got {getattr(ev, key)}")
    if ev.run_neighbourhoods is not None and ev.run_neighbourhoods < 1:
        problems.append(f"evaluate.run_neighbourhoods: expected 1 or more, got {ev.run_neighbourhoods}")
    if not 0 < ev.alpha < 1:
        problems.append(f"evaluate.alpha: expected between 0 and 1, got {ev.alpha}")
    return problems


# Sources whose measures pli knows the direction of. Crime counts and harm: more is worse;
# Census counts (residents of a group): more is more need.
_KNOWN_WORSE_KINDS = ("police_uk", "mps_lsoa_crime", "points", "census2011_population", "census2021")


def _known_direction(kind: str, columns: tuple[str, ...]) -> tuple[str | None, str]:
    """The direction a known measure runs in (or None) and the reason, in words."""
    if kind in _KNOWN_WORSE_KINDS:
        what = "Census counts" if kind.startswith("census") else "crime counts and harm"
        return "higher_is_worse", f"{what} ({kind})"
    if kind == "iod2019" and columns:
        ends = {c.rsplit("_", 1)[-1] for c in columns}
        if ends == {"score"}:
            return "higher_is_worse", "IoD2019 scores (higher = more deprived)"
        if ends <= {"rank", "decile"}:
            return "higher_is_better", "IoD2019 ranks and deciles (1 = most deprived, so they run inverted)"
    return None, ""


def direction_warnings(cfg: StudyConfig) -> list[str]:
    """Indicators whose ``direction`` pli cannot vouch for, as warnings naming each one.

    An indicator of a known measure (crime, IoD2019 scores, ranks and deciles, Census
    counts) may leave ``direction`` out; any other must say it, since a measure where
    higher is better (public transport access) silently counted the other way round
    would rank the best-served areas as the highest priority. A direction written
    against a known measure (an IoD rank as ``higher_is_worse``) is flagged too. Whether
    ``direction`` was written is read from the YAML as given (``cfg.raw``).
    """
    raw_items = cfg.raw.get("indicators") if isinstance(cfg.raw, dict) else None
    raw_list = raw_items if isinstance(raw_items, list) else []
    found = []
    for i, ind in enumerate(cfg.indicators):
        raw = raw_list[i] if i < len(raw_list) and isinstance(raw_list[i], dict) else {}
        written = "direction" in raw
        source = cfg.sources.get(ind.source)
        if source is None:
            continue
        columns = ind.columns or (ind.name,)
        known, why = _known_direction(source.kind, columns)
        key = f"indicators[{i}] ({ind.name})"
        if known is None and not written:
            found.append(
                f"{key}: source {ind.source!r} is of kind {source.kind}, so pli cannot tell which way it runs; "
                "it is counted as higher_is_worse (higher values raise the priority). Write "
                "'direction: higher_is_better' if higher values are better (e.g. public transport access, "
                "median income), or 'direction: higher_is_worse' to confirm"
            )
        elif known is not None and known != ind.direction:
            found.append(
                f"{key}: direction is {ind.direction}{'' if written else ' (the default)'} but {why} are "
                f"{known}; write 'direction: {known}' unless the column really runs the other way"
            )
    return found


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
    from pli.area.wording import with_data_notes

    # Maps and summaries say what is simulated or absent; they see the area, not the sources.
    return with_data_notes(cfg)


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

"""The index as a function of the analyst's choices, on inputs read once.

:func:`build_model` reads the boundaries and sources once, builds the indicator table for
every time window and harm scheme the analysis may draw (the only choices that reach
back to the data) and keeps them; :class:`IndexModel` then turns one set of
:class:`Choices` into scores, ranks and neighbourhoods, recomputing only what a choice
touches: outlier treatment and normalisation are cached per (window, harm scheme,
treatment, normalisation), weights and aggregation are redone every run, and the
neighbourhoods are redrawn with :func:`pli.priorities.selection.chosen_regions`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.stats import rankdata

from pli.config import IndexSpec, IndicatorSpec, PrioritySpec, StudyConfig
from pli.errors import InputError
from pli.index import aggregate, impute_missing, index_weights, normalise, treat_outliers
from pli.progress import quieted

__all__ = ["Choices", "IndexModel", "ModelInputs", "RunOutcome", "build_model"]

logger = logging.getLogger(__name__)

# The harm key of the configured table when it is not one of the shipped schemes.
CONFIGURED_HARM = "configured"


@dataclass(frozen=True)
class Choices:
    """One set of the analyst's choices (one Monte Carlo or Sobol' run).

    Attributes
    ----------
    indicator_weights : tuple of float
        Weight of each indicator within its domain (config order; each domain sums to 1).
    domain_weights : tuple of float
        Weight of each domain (order of :attr:`IndexModel.domains`; sums to 1).
    normalisation, outliers : str
        ``IndexSpec.normalisation`` and ``TreatmentSpec.outliers``.
    harm_scheme : str
        Name in ``pli.harm.WEIGHT_SCHEMES`` (or ``"configured"``).
    window : int
        0 = the configured window; ``j`` = the window of the same length ending ``j``
        months earlier.
    min_score_quantile : float
    min_population : int
        The neighbourhood rules drawn for this run.
    """

    indicator_weights: tuple[float, ...]
    domain_weights: tuple[float, ...]
    normalisation: str
    outliers: str
    harm_scheme: str
    window: int
    min_score_quantile: float
    min_population: int


@dataclass(frozen=True)
class ModelInputs:
    """The data one (window, harm scheme) gives: imputed indicator values, the study-area
    rates for ``ratio`` normalisation and the harm per LSOA (None without a harm column)."""

    values: pd.DataFrame
    reference: Mapping[str, float]
    harm: Optional[np.ndarray]
    period: str


@dataclass(frozen=True)
class RunOutcome:
    """What one run gives: scores and ranks in LSOA order, neighbourhood row positions."""

    scores: np.ndarray
    ranks: np.ndarray
    neighbourhoods: tuple[np.ndarray, ...]


@dataclass(eq=False)
class IndexModel:
    """The composite index and neighbourhood draw as a function of :class:`Choices`.

    Attributes
    ----------
    codes : Index
        LSOA codes in row order.
    specs : tuple of IndicatorSpec
    index_spec : IndexSpec
        The resolved (preset applied) spec of the configured index.
    priorities : PrioritySpec
    domains : tuple of str
        Domains in first-appearance order.
    base_weights : DataFrame
        :func:`pli.index.index_weights` of the configured index.
    inputs : dict
        ``(window, harm_scheme) -> ModelInputs``.
    window_labels : tuple of str
        Per window offset, the period it covers (``"2025-03 to 2026-02"``).
    population : ndarray
    adjacency : scipy.sparse.csr_matrix
    coords : ndarray
        LSOA centroids (for ``method: ward``).
    base : Choices
        The configured choices.
    neighbourhoods : bool
        Redraw neighbourhoods in each run.
    seed : int
    depends_on : dict
        Indicator -> (changes with the window, changes with the harm scheme); unknown
        indicators are taken to change with both.
    """

    codes: pd.Index
    specs: tuple[IndicatorSpec, ...]
    index_spec: IndexSpec
    priorities: PrioritySpec
    domains: tuple[str, ...]
    base_weights: pd.DataFrame
    inputs: dict[tuple[int, str], ModelInputs]
    window_labels: tuple[str, ...]
    population: np.ndarray
    adjacency: sparse.csr_matrix
    coords: np.ndarray
    base: Choices
    neighbourhoods: bool = True
    seed: int = 0
    depends_on: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    _normalised: dict = field(default_factory=dict, repr=False)

    def prepare(self, *, normalisations: tuple[str, ...], outliers: tuple[str, ...]) -> None:
        """Fill the cache of treated, normalised columns for every combination the runs may draw.

        One treatment per (window, harm scheme, outlier rule) and one normalisation per
        method, all columns at once, so workers receive the cache instead of each building
        it column by column.
        """
        quiet = logging.getLogger("pli.index")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            for (window, harm), data in self.inputs.items():
                for rule in outliers:
                    choices = dataclasses.replace(self.base, window=window, harm_scheme=harm, outliers=rule)
                    keys = {n: [self._key(name, dataclasses.replace(choices, normalisation=n))
                                for name in data.values.columns] for n in normalisations}
                    if all(k in self._normalised for ks in keys.values() for k in ks):
                        continue
                    treatment = dataclasses.replace(self.index_spec.treatment, outliers=rule)  # type: ignore[arg-type]
                    treated, report = treat_outliers(data.values, treatment)
                    reference = {c: float(treated[c].mean()) if report.loc[c, "action"] == "log"
                                 else float(data.reference[c]) for c in treated.columns}
                    better = [c for c in treated.columns if self.directions[c] == "higher_is_better"]
                    for method, method_keys in keys.items():
                        if all(k in self._normalised for k in method_keys):
                            continue
                        normed = normalise(treated, method, higher_is_better=better,
                                           reference_size=self.index_spec.exponential_reference_size,
                                           reference_values=reference)
                        for name, key in zip(normed.columns, method_keys):
                            self._normalised.setdefault(key, normed[name].to_numpy(dtype=float))
        finally:
            quiet.setLevel(level)

    def _key(self, name: str, choices: Choices) -> tuple:
        windowed, harmed = self.depends_on.get(name, (True, True))
        return (name, choices.window if windowed else 0, choices.harm_scheme if harmed else self.base.harm_scheme,
                choices.outliers, choices.normalisation)

    @property
    def directions(self) -> dict[str, str]:
        """Indicator -> ``direction``."""
        return {s.name: s.direction for s in self.specs}

    def weights_frame(self, choices: Choices) -> pd.DataFrame:
        """The weight table :func:`pli.index.aggregate` takes, for these choices."""
        out = self.base_weights.copy()
        dom = dict(zip(self.domains, choices.domain_weights))
        out["indicator_weight"] = np.asarray(choices.indicator_weights, dtype=float)
        out["domain_weight"] = out["domain"].map(dom).astype(float)
        out["weight"] = out["indicator_weight"] * out["domain_weight"]
        return out

    def normalised(self, choices: Choices) -> pd.DataFrame:
        """Treated and normalised indicators for the choices' data, treatment and method.

        Both steps work column by column, so each column is cached under the choices it
        depends on: a deprivation score is treated and normalised once per treatment and
        method, whatever the window and harm scheme.
        """
        data = self.inputs[(choices.window, choices.harm_scheme)]
        columns = []
        for name in data.values.columns:
            key = self._key(name, choices)
            hit = self._normalised.get(key)
            if hit is None:
                hit = self._normalise_column(data, name, choices)
                self._normalised[key] = hit
            columns.append(hit)
        return pd.DataFrame(np.column_stack(columns), index=data.values.index, columns=data.values.columns)

    def _normalise_column(self, data: ModelInputs, name: str, choices: Choices) -> np.ndarray:
        treatment = dataclasses.replace(self.index_spec.treatment, outliers=choices.outliers)  # type: ignore[arg-type]
        quiet = logging.getLogger("pli.index")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # thousands of identical treatment lines say nothing
        try:
            treated, report = treat_outliers(data.values[[name]], treatment)
            # As build_index: a log-transformed indicator is compared with its own mean.
            reference = {name: float(treated[name].mean()) if report.loc[name, "action"] == "log"
                         else float(data.reference[name])}
            better = [name] if self.directions[name] == "higher_is_better" else []
            normed = normalise(treated, choices.normalisation, higher_is_better=better,
                               reference_size=self.index_spec.exponential_reference_size,
                               reference_values=reference)
        finally:
            quiet.setLevel(level)
        return normed[name].to_numpy(dtype=float)

    def __call__(self, choices: Choices) -> RunOutcome:
        """Scores, ranks (1 = highest priority, ties share the best) and neighbourhoods."""
        normed = self.normalised(choices)
        if self.index_spec.aggregation == "arithmetic":
            # aggregate()'s arithmetic score, without building its frames every run.
            position = {d: k for k, d in enumerate(self.domains)}
            domain_weight = np.asarray(choices.domain_weights)[[position[d] for d in self.base_weights["domain"]]]
            weight = np.asarray(choices.indicator_weights) * domain_weight
            score = (normed.to_numpy(dtype=float) * weight).sum(axis=1)
        else:
            score = aggregate(normed, self.weights_frame(choices), self.index_spec.aggregation)[0].to_numpy()
        ranks = rankdata(-np.round(score, 10), method="min").astype(np.int32)
        chosen: tuple[np.ndarray, ...] = ()
        if self.neighbourhoods:
            from pli.priorities.selection import chosen_regions

            spec = dataclasses.replace(
                self.priorities, min_score_quantile=float(choices.min_score_quantile),
                min_population=int(min(choices.min_population, self.priorities.max_population)),
            )
            harm = self.inputs[(choices.window, choices.harm_scheme)].harm
            chosen = tuple(chosen_regions(score, self.population, harm, self.adjacency, spec, ids=self.codes,
                                          coords=self.coords))
        return RunOutcome(scores=score, ranks=ranks, neighbourhoods=chosen)


def _harm_key(cfg: StudyConfig) -> str:
    from pli.harm import DEFAULT_WEIGHT_SCHEME, WEIGHT_SCHEMES

    if cfg.index.harm_weights is None:
        return DEFAULT_WEIGHT_SCHEME
    configured = cfg.resolve(cfg.index.harm_weights).resolve()
    for name, path in WEIGHT_SCHEMES.items():
        if path.resolve() == configured:
            return name
    return CONFIGURED_HARM


# The input stages' messages are held back while the same files are read again.
_INPUT_LOGGERS = ("pli.indicators", "pli.boundaries", "pli.harm")


def _dependence(inputs: dict[tuple[int, str], ModelInputs], base_harm: str) -> dict[str, tuple[bool, bool]]:
    """Which indicators change with the window and which with the harm scheme (values or study-area rate)."""
    ref = inputs[(0, base_harm)]

    def differs(other: ModelInputs, name: str) -> bool:
        return not (np.array_equal(other.values[name].to_numpy(), ref.values[name].to_numpy())
                    and other.reference[name] == ref.reference[name])

    return {name: (any(differs(v, name) for (w, h), v in inputs.items() if h == base_harm and w),
                   any(differs(v, name) for (w, h), v in inputs.items() if w == 0 and h != base_harm))
            for name in ref.values.columns}


def _shift_month(month: str, back: int) -> str:
    return (pd.Period(month, freq="M") - back).strftime("%Y-%m")


def build_model(
    cfg: StudyConfig,
    *,
    harm_schemes: tuple[str, ...] = (),
    window_ends: int = 0,
    neighbourhoods: bool = True,
) -> tuple[IndexModel, dict]:
    """Read the study area's inputs once and build the model of its index.

    Parameters
    ----------
    cfg : StudyConfig
    harm_schemes : tuple of str
        Shipped harm schemes the analysis may draw, besides the configured table.
    window_ends : int
        Number of windows (ending at each of the last ``window_ends`` months of the
        configured window; 0 or 1: the configured window only).
    neighbourhoods : bool
        Redraw the neighbourhoods in every run.

    Returns
    -------
    (IndexModel, dict)
        The model and what was read: ``boundaries``, ``sources``, ``files`` (input paths),
        ``lsoa`` (boundary LSOAs with population and harm of the base inputs).
    """
    from pli import boundaries as bnd_stage
    from pli import clustering, harm, indicators, presets
    from pli.priorities.selection import contiguity_matrix
    from pli.validate import validate_inputs

    validate_inputs(cfg)
    boundaries = bnd_stage.load_boundaries(cfg)
    sources = {name: indicators.load_source(name, spec, resolve=cfg.resolve, lsoa=boundaries.lsoa)
               for name, spec in cfg.sources.items()}
    bnd_stage.check_source_coverage(cfg, boundaries, sources)
    reconcile = bnd_stage.CodeReconciler(boundaries, cfg.sources)
    codes = pd.Index(boundaries.lsoa.index.astype(str), name="lsoa_code")
    population = indicators.population_denominator(cfg, sources, reconcile, boundaries.lsoa.index)

    index_spec = presets.resolve_index_spec(cfg.index, raw=cfg.raw.get("index"))
    base_harm = _harm_key(cfg)
    if not any(s.harm for s in cfg.indicators):
        harm_schemes = ()  # nothing is harm-weighted: every scheme gives the same index
    tables = {base_harm: harm.load_harm_weights(cfg.resolve(cfg.index.harm_weights) if cfg.index.harm_weights
                                                else None)}
    for name in harm_schemes:
        if name not in tables:
            tables[name] = harm.load_harm_weights(harm.weight_scheme_path(name))

    # Windows: only crime sources that indicators use have months to move.
    used = {s.source for s in cfg.indicators}
    windowed = [n for n in sorted(used) if sources[n].months]
    n_windows = max(1, window_ends) if windowed else 1
    source_sets: list[dict] = [sources]
    problem = ""
    with quieted(_INPUT_LOGGERS):  # the base load has said everything worth saying about these files
        for back in range(1, n_windows):
            shifted = dict(sources)
            for name in windowed:
                spec, months = cfg.sources[name], sources[name].months
                moved = dataclasses.replace(spec, start_month=None, end_month=_shift_month(months[-1], back),
                                            window_months=len(months))
                try:
                    shifted[name] = indicators.load_source(name, moved, resolve=cfg.resolve, lsoa=boundaries.lsoa)
                    if len(shifted[name].months) < len(months):  # the data starts inside the window
                        problem = f"found {len(shifted[name].months)} ({shifted[name].period})"
                except InputError as exc:
                    problem = str(exc)
                if problem:
                    problem = (f"source {name!r} holds no {len(months)} months ending {back} month(s) before "
                               f"{months[-1]}: {problem}")
                    break
            if problem:
                break
            source_sets.append(shifted)
    if problem:
        # Announced, not fatal: the default must work on a source with a year of data.
        logger.warning("uncertainty.window_ends: %d window(s) asked, %d fit the data (%s); the time window varies "
                       "over %d", n_windows, len(source_sets), problem, len(source_sets))
    elif n_windows > 1:
        logger.info("time window: %d windows of the crime source(s) %s re-read", n_windows, ", ".join(windowed))

    inputs: dict[tuple[int, str], ModelInputs] = {}
    labels = []
    for window, srcs in enumerate(source_sets):
        for key, weights in tables.items():
            with quieted(_INPUT_LOGGERS, active=window > 0 or key != base_harm):
                table = indicators.build_indicators(cfg, boundaries, srcs, reconcile=reconcile, harm_weights=weights)
            values, _ = impute_missing(table.values[[s.name for s in cfg.indicators]], index_spec.treatment,
                                       wards=boundaries.lsoa["ward_code"])
            values.index = codes
            harm_total = table.harm_total()
            harm_arr = None if harm_total.isna().all() else harm_total.fillna(0.0).to_numpy(dtype=float)
            inputs[(window, key)] = ModelInputs(values=values, reference=table.study_area_rates(), harm=harm_arr,
                                                period=table.period_label())
        labels.append(inputs[(window, base_harm)].period)

    specs = tuple(cfg.indicators)
    base_values = inputs[(0, base_harm)]
    weights_table, _ = index_weights(specs, index_spec, normalised=None if index_spec.weighting != "pca" else
                                     normalise(treat_outliers(base_values.values, index_spec.treatment)[0],
                                               index_spec.normalisation,
                                               higher_is_better=[s.name for s in specs
                                                                 if s.direction == "higher_is_better"],
                                               reference_size=index_spec.exponential_reference_size,
                                               reference_values=base_values.reference),
                                     seed=cfg.seed)
    domains = tuple(dict.fromkeys(weights_table["domain"]))
    lsoa = boundaries.lsoa.assign(population=population.reindex(boundaries.lsoa.index).to_numpy(),
                                  harm=np.nan if base_values.harm is None else base_values.harm)
    contiguity = clustering.build_weights(lsoa, cfg.clustering)
    adjacency = contiguity_matrix(lsoa, contiguity)
    cent = lsoa.geometry.centroid
    base = Choices(
        indicator_weights=tuple(float(w) for w in weights_table["indicator_weight"]),
        domain_weights=tuple(float(weights_table.loc[weights_table["domain"] == d, "domain_weight"].iloc[0])
                             for d in domains),
        normalisation=index_spec.normalisation,
        outliers=index_spec.treatment.outliers,
        harm_scheme=base_harm,
        window=0,
        min_score_quantile=float(cfg.priorities.min_score_quantile),
        min_population=int(cfg.priorities.min_population),
    )
    model = IndexModel(
        codes=codes, specs=specs, index_spec=index_spec, priorities=cfg.priorities, domains=domains,
        base_weights=weights_table, inputs=inputs, window_labels=tuple(labels),
        population=population.reindex(boundaries.lsoa.index).to_numpy(dtype=float), adjacency=adjacency,
        coords=np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()]), base=base, neighbourhoods=neighbourhoods,
        seed=cfg.seed, depends_on=_dependence(inputs, base_harm),
    )
    files = sorted({p for s in sources.values() for p in s.files})
    return model, {"boundaries": boundaries, "sources": sources, "files": files, "lsoa": lsoa,
                   "weights": contiguity}

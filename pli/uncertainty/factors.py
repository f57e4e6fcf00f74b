"""The analyst's choices as factors: each maps a block of uniform numbers in [0, 1) to a choice.

One mapping serves both analyses: the Monte Carlo feeds it independent uniforms (so each
factor gets the distribution it is meant to have), the Sobol' analysis feeds it the rows
of a Saltelli/Sobol' design. A discrete choice among ``k`` options takes
``floor(u * k)``; a range takes ``low + u (high - low)``; a Dirichlet draw of ``m``
weights takes ``m`` uniforms through the inverse Gamma CDF (``Gamma(c w_i)`` variates,
normalised, are ``Dirichlet(c w)``); a uniform weight scaling takes
``1 - s + 2 s u`` per weight, then rescales. The factors (Sobol' groups) are:

``indicator_weights``
    Every indicator's weight within its domain (one uniform per indicator).
``domain_weights``
    The domain weights (one uniform per domain).
``normalisation``, ``outliers``, ``harm_scheme``, ``time_window``
    One uniform each, mapped to one of the listed options.
``neighbourhood_rules``
    ``min_score_quantile`` and ``min_population`` of the neighbourhood draw.
``dummy`` (Sobol' only)
    A uniform nothing reads: its indices measure the estimation noise.

A factor with nothing to vary is left out (the configured value is used).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import gamma

from pli.config.specs import UncertaintySpec
from pli.uncertainty.model import Choices, IndexModel

__all__ = ["DUMMY", "ChoiceSpace", "Factor"]

DUMMY = "dummy"


@dataclass(frozen=True)
class Factor:
    """One choice varied by the analysis: its name (the Sobol' group), the uniforms it
    reads (``start`` .. ``start + width``) and what it ranges over, in words."""

    name: str
    start: int
    width: int
    description: str


def _pick(u: float, options: tuple) -> object:
    return options[min(len(options) - 1, int(np.floor(u * len(options))))]


class ChoiceSpace:
    """The factors of one analysis and the mapping from uniforms to :class:`Choices`.

    Parameters
    ----------
    model : IndexModel
        Gives the configured choices, the indicators' domains and the windows held.
    spec : UncertaintySpec
        Which factors vary and over what.
    dummy : bool
        Append the ``dummy`` factor (for the Sobol' design).

    Attributes
    ----------
    factors : tuple of Factor
    dims : int
        Uniforms per run.

    Examples
    --------
    A space is built from a model (:func:`pli.uncertainty.model.build_model`);
    ``space.decode(rng.random(space.dims))`` is one Monte Carlo draw.
    """

    def __init__(self, model: IndexModel, spec: UncertaintySpec, *, dummy: bool = False):
        self.base = model.base
        self.spec = spec
        self.domain_of = np.asarray([s.domain for s in model.specs], dtype=object)
        self.indicators = tuple(s.name for s in model.specs)
        self.domains = model.domains
        self.windows = len(model.window_labels)
        self.window_labels = model.window_labels
        factors: list[Factor] = []

        def add(name: str, width: int, description: str) -> None:
            start = factors[-1].start + factors[-1].width if factors else 0
            factors.append(Factor(name, start, width, description))

        how = (f"Dirichlet, concentration {spec.weight_concentration:g}" if spec.weights == "dirichlet"
               else f"each x U(1 - {spec.weight_spread:g}, 1 + {spec.weight_spread:g}), rescaled")
        if spec.weights != "off":
            if any((self.domain_of == d).sum() > 1 for d in self.domains):
                add("indicator_weights", len(self.domain_of), f"indicator weights within domains ({how})")
            if len(self.domains) > 1:
                add("domain_weights", len(self.domains), f"domain weights ({how})")
        self.normalisations = tuple(spec.normalisations)
        if len(self.normalisations) > 1:
            add("normalisation", 1, "one of " + ", ".join(self.normalisations))
        self.outliers = tuple(spec.outliers)
        if len(self.outliers) > 1:
            add("outliers", 1, "one of " + ", ".join(self.outliers))
        self.harm_schemes = tuple(h for h in spec.harm_schemes if (0, h) in model.inputs)
        if len(self.harm_schemes) > 1 and any(s.harm for s in model.specs):
            add("harm_scheme", 1, "one of " + ", ".join(self.harm_schemes))
        if self.windows > 1:
            add("time_window", 1, f"windows ending at each of the last {self.windows} months "
                                  f"({self.window_labels[-1]} .. {self.window_labels[0]})")
        self.quantiles = tuple(spec.min_score_quantile)
        self.population_spread = spec.min_population_spread
        vary_q = bool(self.quantiles) and self.quantiles[1] > self.quantiles[0]
        if model.neighbourhoods and (vary_q or self.population_spread > 0):
            parts = ([f"min_score_quantile {self.quantiles[0]:g}-{self.quantiles[1]:g}"] if vary_q else []) + (
                [f"min_population +-{100 * self.population_spread:g}%"] if self.population_spread > 0 else [])
            add("neighbourhood_rules", 2, "; ".join(parts))
        if dummy:
            add(DUMMY, 1, "reads nothing: the noise level of the estimates")
        self.factors = tuple(factors)
        self.dims = factors[-1].start + factors[-1].width if factors else 0
        self._by_name = {f.name: f for f in factors}

    def names(self) -> list[str]:
        """Factor names in order (without the uniforms' own names)."""
        return [f.name for f in self.factors]

    def problem(self) -> dict:
        """The SALib problem: one variable per uniform on [0, 1], grouped by factor."""
        names, groups = [], []
        for f in self.factors:
            for k in range(f.width):
                names.append(f"{f.name}_{k}" if f.width > 1 else f.name)
                groups.append(f.name)
        return {"num_vars": self.dims, "names": names, "bounds": [[0.0, 1.0]] * self.dims, "groups": groups}

    def _block(self, u: np.ndarray, name: str) -> np.ndarray | None:
        f = self._by_name.get(name)
        return None if f is None else np.asarray(u[f.start:f.start + f.width], dtype=float)

    def _weights(self, base: np.ndarray, u: np.ndarray, members: list[np.ndarray]) -> tuple[float, ...]:
        """Base weights redrawn per group of ``members`` (each group sums to 1)."""
        out = np.array(base, dtype=float)
        for idx in members:
            w = out[idx]
            if len(idx) < 2 or (w > 0).sum() < 2:
                continue
            if self.spec.weights == "dirichlet":
                draw = np.where(w > 0, gamma.ppf(np.clip(u[idx], 1e-12, 1 - 1e-12),
                                                 np.maximum(self.spec.weight_concentration * w, 1e-12)), 0.0)
            else:
                s = self.spec.weight_spread
                draw = w * (1 - s + 2 * s * u[idx])
            total = draw.sum()
            if total > 0 and np.isfinite(total):
                out[idx] = draw / total
        return tuple(float(x) for x in out)

    def decode(self, u: np.ndarray) -> Choices:
        """The choices one row of uniforms stands for (factors not varied keep the base)."""
        u = np.asarray(u, dtype=float)
        if u.shape != (self.dims,):
            raise ValueError(f"expected {self.dims} uniforms, got shape {u.shape}")
        b = self.base
        ind, dom = b.indicator_weights, b.domain_weights
        block = self._block(u, "indicator_weights")
        if block is not None:
            members = [np.flatnonzero(self.domain_of == d) for d in self.domains]
            ind = self._weights(np.asarray(ind), block, members)
        block = self._block(u, "domain_weights")
        if block is not None:
            dom = self._weights(np.asarray(dom), block, [np.arange(len(dom))])
        pick = {name: self._block(u, name) for name in ("normalisation", "outliers", "harm_scheme", "time_window")}
        rules = self._block(u, "neighbourhood_rules")
        q, pop = b.min_score_quantile, b.min_population
        if rules is not None:
            if self.quantiles and self.quantiles[1] > self.quantiles[0]:
                q = self.quantiles[0] + float(rules[0]) * (self.quantiles[1] - self.quantiles[0])
            if self.population_spread > 0:
                s = self.population_spread
                pop = int(round(b.min_population * (1 - s + 2 * s * float(rules[1]))))
        return Choices(
            indicator_weights=ind,
            domain_weights=dom,
            normalisation=str(_pick(pick["normalisation"][0], self.normalisations))
            if pick["normalisation"] is not None else b.normalisation,
            outliers=str(_pick(pick["outliers"][0], self.outliers)) if pick["outliers"] is not None else b.outliers,
            harm_scheme=str(_pick(pick["harm_scheme"][0], self.harm_schemes))
            if pick["harm_scheme"] is not None else b.harm_scheme,
            window=int(_pick(pick["time_window"][0], tuple(range(self.windows))))  # type: ignore[call-overload]
            if pick["time_window"] is not None else b.window,
            min_score_quantile=float(q),
            min_population=int(pop),
        )

    def describe(self, choices: Choices) -> dict:
        """One row of ``runs.csv``: the choices in words and numbers."""
        row: dict[str, object] = {
            "normalisation": choices.normalisation,
            "outliers": choices.outliers,
            "harm_scheme": choices.harm_scheme,
            "time_window": self.window_labels[choices.window],
            "min_score_quantile": round(choices.min_score_quantile, 6),
            "min_population": choices.min_population,
        }
        domain = dict(zip(self.domains, choices.domain_weights))
        for d, w in domain.items():
            row[f"domain_weight_{d}"] = round(w, 6)
        for name, d, w in zip(self.indicators, self.domain_of, choices.indicator_weights):
            row[f"weight_{name}"] = round(w * domain[d], 6)
        return row

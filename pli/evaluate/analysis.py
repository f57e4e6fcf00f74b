"""One evaluation: effect, pre-trend check, placebo p-value and displacement per group."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from pli.evaluate.design import Design, EvaluationError
from pli.evaluate.displacement import weighted_displacement
from pli.evaluate.effects import fit_poisson_fe, placebo_test, pretrend_test

__all__ = ["Evaluation", "evaluate_panel"]

ALL_GROUPS = "all treated areas"


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate_panel`.

    Attributes
    ----------
    effects : DataFrame
        One row per group (and one pooling every group when there are several): rate
        ratio with its cluster-robust 95% interval, placebo p-value, pre-trend test,
        observed and expected post-period totals, WDQ and total net effect.
    event_study : DataFrame
        Lead and lag coefficients per group (``bin`` = months from the start / bin size).
    monthly : DataFrame
        Per group and month: mean per treated, control and buffer area.
    design : Design
    start, end : Period
    names : dict
        Area code -> name, for the report (codes are shown where a name is missing).
    """

    effects: pd.DataFrame
    event_study: pd.DataFrame
    monthly: pd.DataFrame
    design: Design
    start: pd.Period
    end: pd.Period
    pre_months: int
    names: dict = field(default_factory=dict)


def _long(series: pd.DataFrame, codes: list[str], months: list[pd.Period]) -> pd.DataFrame:
    block = series.loc[codes, months]
    return pd.DataFrame({
        "area": np.repeat(np.asarray(codes, dtype=object), len(months)),
        "month": np.tile(np.arange(len(months)), len(codes)),
        "y": block.to_numpy(dtype=float).ravel(),
    })


def _one_group(series, treated, controls, buffer, months, start, *, bin_months, permutations, seed, alpha):
    codes = list(treated) + list(controls)
    panel = _long(series, codes, months)
    is_t = panel["area"].isin(set(treated)).to_numpy()
    rel = np.array([(m - start).n for m in months])[panel["month"].to_numpy()]
    post = rel >= 0
    fit = fit_poisson_fe(panel["y"].to_numpy(), panel["area"].to_numpy(), panel["month"].to_numpy(),
                         pd.DataFrame({"did": (is_t & post).astype(float)}))
    b, se = float(fit.params["did"]), float(fit.se["did"])
    zc = stats.norm.ppf(1 - alpha / 2)
    bins = np.floor_divide(rel, bin_months)
    names, cols = [], {}
    for k in sorted(set(bins)):
        if k == -1:
            continue  # the reference: the last bin before the start
        name = f"bin_{k}"
        names.append(name)
        cols[name] = (is_t & (bins == k)).astype(float)
    es = fit_poisson_fe(panel["y"].to_numpy(), panel["area"].to_numpy(), panel["month"].to_numpy(),
                        pd.DataFrame(cols))
    leads = [n for n in names if int(n[4:]) < -1]
    # Shown for reference only: a clustered Wald test of many leads over-rejects with
    # few areas, so the pre-trend verdict comes from the permutation tests below.
    _, _, wald_p = es.wald(leads) if leads else (float("nan"), 0, float("nan"))
    pre_cols = [m for m in months if m < start]
    pre_bins = np.floor_divide(np.array([(m - start).n for m in pre_cols]), bin_months)
    block = series.loc[codes, pre_cols].to_numpy(float)
    binned = np.column_stack([block[:, pre_bins == k].sum(axis=1) for k in sorted(set(pre_bins))])
    if binned.shape[1] >= 2:
        pt = pretrend_test(binned, np.isin(codes, list(treated)), permutations=permutations, seed=seed + 7919)
        pre = (pt.departure_p, pt.slope * 12 / bin_months, pt.slope_p)
    else:
        pre = (float("nan"), float("nan"), float("nan"))
    totals_pre = series.loc[codes, [m for m in months if m < start]].sum(axis=1).to_numpy(float)
    totals_post = series.loc[codes, [m for m in months if m >= start]].sum(axis=1).to_numpy(float)
    placebo = placebo_test(totals_pre, totals_post, np.isin(codes, list(treated)),
                           permutations=permutations, seed=seed)
    pre_m = [m for m in months if m < start]
    post_m = [m for m in months if m >= start]

    def tot(c, ms):
        return float(series.loc[list(c), ms].to_numpy(float).sum()) if len(c) else 0.0

    rb, ra, cb, ca = tot(treated, pre_m), tot(treated, post_m), tot(controls, pre_m), tot(controls, post_m)
    db, da = tot(buffer, pre_m), tot(buffer, post_m)
    disp = weighted_displacement(r_before=rb, r_after=ra, d_before=db, d_after=da, c_before=cb, c_after=ca) \
        if len(buffer) and cb > 0 and ca > 0 else None
    row = {
        "n_treated": len(treated), "n_controls": len(controls), "n_buffer": len(buffer),
        "rate_ratio": np.exp(b), "change_pct": 100 * (np.exp(b) - 1),
        "ci_low": np.exp(b - zc * se), "ci_high": np.exp(b + zc * se), "log_rr": b, "se_log_rr": se,
        "p_cluster": float(2 * stats.norm.sf(abs(b / se))) if se > 0 else float("nan"),
        "p_placebo": placebo.p_value, "placebo_permutations": len(placebo.placebo), "placebo_exact": placebo.exact,
        "placebo_assignments": math.comb(len(codes), len(treated)),
        "pretrend_p": pre[0], "pretrend_slope_per_year": pre[1], "pretrend_slope_p": pre[2],
        "pretrend_wald_p": wald_p,
        "treated_pre": rb, "treated_post": ra, "expected_post": rb * ca / cb if cb > 0 else float("nan"),
        "control_pre": cb, "control_post": ca, "buffer_pre": db, "buffer_post": da,
        # Bowers & Johnson: with no fall in the treated area there is nothing to displace,
        # and the quotient's sign no longer means what the reading says.
        "wdq": disp.wdq if disp and disp.success < 0 else float("nan"),
        "wdq_success": disp.success if disp else float("nan"),
        "wdq_buffer_change": disp.buffer_change if disp else float("nan"),
        "total_net_effect": disp.total_net_effect if disp else float("nan"),
        "wdq_reading": disp.reading if disp else "no buffer areas",
    }
    ev = pd.DataFrame({"bin": [int(n[4:]) for n in names], "months_from": [int(n[4:]) * bin_months for n in names],
                       "log_rr": es.params.to_numpy(), "se": es.se.to_numpy()})
    ev["rate_ratio"] = np.exp(ev["log_rr"])
    ev["ci_low"], ev["ci_high"] = np.exp(ev["log_rr"] - zc * ev["se"]), np.exp(ev["log_rr"] + zc * ev["se"])
    ev["kind"] = np.where(ev["bin"] < 0, "lead", "lag")
    mon = pd.DataFrame({
        "month": [str(m) for m in months],
        "treated_mean": series.loc[list(treated), months].mean().to_numpy(),
        "control_mean": series.loc[list(controls), months].mean().to_numpy(),
        "buffer_mean": series.loc[list(buffer), months].mean().to_numpy() if len(buffer) else np.nan,
    })
    return row, ev, mon


def evaluate_panel(series: pd.DataFrame, design: Design, *, start: pd.Period, end: pd.Period | None = None,
                   pre_months: int = 24, bin_months: int = 3, permutations: int = 999, seed: int = 0,
                   alpha: float = 0.05) -> Evaluation:
    """Estimate the effect for each treated group of ``design`` on ``series`` (areas x months).

    Parameters
    ----------
    series : DataFrame
        Monthly counts or harm, index area codes, columns monthly ``Period``.
    design : Design
        From :func:`pli.evaluate.design.match_controls`.
    start, end : Period
        First and last month of the intervention (end: the last month of the series).
    pre_months : int
        Months before ``start`` used for matching, the pre-trend check and the baseline.
    bin_months : int
        Months per event-study bin (the bin just before the start is the reference).
    """
    last = max(series.columns)
    end = last if end is None else min(end, last)
    if start > end:
        raise EvaluationError(f"start {start} is after the last month {end} of the series")
    months = [m for m in series.columns if start - pre_months <= m <= end]
    if sum(m < start for m in months) < 3:
        raise EvaluationError(f"fewer than 3 months of data before the start {start}")
    rows, evs, mons = [], [], []
    groups = dict(design.groups)
    if len(groups) > 1:
        groups[ALL_GROUPS] = tuple(c for codes in design.groups.values() for c in codes)
    for i, (name, treated) in enumerate(groups.items()):
        if name == ALL_GROUPS:
            controls = tuple(dict.fromkeys(c for g in design.groups for c in design.controls[g]))
            treated_set = set(treated)
            buffer = tuple(sorted({c for g in design.groups for c in design.buffers[g]} - treated_set))
        else:
            controls = design.controls[name]
            others = {c for g, codes in design.groups.items() if g != name for c in codes}
            buffer = tuple(c for c in design.buffers[name] if c not in others)
        row, ev, mon = _one_group(series, treated, controls, buffer, months, start, bin_months=bin_months,
                                  permutations=permutations, seed=seed + i, alpha=alpha)
        rows.append({"group": name, **row})
        evs.append(ev.assign(group=name))
        mons.append(mon.assign(group=name))
    effects = pd.DataFrame(rows)
    event = pd.concat(evs, ignore_index=True)[["group", "kind", "bin", "months_from", "rate_ratio", "ci_low",
                                                "ci_high", "log_rr", "se"]]
    monthly = pd.concat(mons, ignore_index=True)[["group", "month", "treated_mean", "control_mean", "buffer_mean"]]
    return Evaluation(effects, event, monthly, design, start, end, pre_months)

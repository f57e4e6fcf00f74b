"""The evaluation's outputs: effects table, one chart per group, a one-page summary."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pli import outputs  # noqa: E402
from pli._map_assets import escape_text  # noqa: E402
from pli.evaluate.analysis import Evaluation  # noqa: E402
from pli.maps.figures import _literal_text, png_bytes  # noqa: E402

__all__ = ["plot_group", "summary_page", "slug", "LIMITS"]

LIMITS = (
    "Treated areas were chosen because crime was high, so some fall is expected anyway "
    "(regression to the mean); matching on the pre-period level and trend reduces, but does not remove, this.",
    "The comparison assumes treated and control areas would have followed parallel trends; the lead "
    "(pre-trend) test can reveal a departure before the start, not after it.",
    "Anything else that changed in the treated areas at the same time (other schemes, recording "
    "practice, boundary changes) is counted as the intervention's effect.",
    "With few treated areas the cluster-robust interval is too narrow; read the placebo p-value first.",
    "Recorded crime depends on reporting and police activity: more patrols can raise recorded offences "
    "(drugs, weapons) while lowering others.",
    "The buffer is the ring of areas touching the treated ones; displacement further away, or to other "
    "times or offence types, is not measured.",
)


def slug(text: str) -> str:
    """A file-name-safe version of a group name."""
    out = "".join(c.lower() if c.isalnum() else "-" for c in str(text))
    return "-".join(filter(None, out.split("-")))[:60] or "group"


@_literal_text
def plot_group(evaluation: Evaluation, group: str, *, outcome: str) -> plt.Figure:
    """Mean per area by month: treated, matched controls and buffer, start (and end) marked."""
    m = evaluation.monthly[evaluation.monthly["group"] == group]
    x = pd.PeriodIndex(m["month"], freq="M").to_timestamp()
    before = (pd.PeriodIndex(m["month"], freq="M") < evaluation.start)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), dpi=110)
    lines = (("treated_mean", "#b2182b", "-", "treated (mean per area)"),
             ("control_mean", "#2166ac", "-", "matched controls"),
             ("buffer_mean", "#999999", "--", "buffer (touching areas)"))
    for ax, indexed in zip(axes, (False, True)):
        for col, colour, style, label in lines:
            if m[col].notna().any():
                y = m[col] / m.loc[before, col].mean() * 100 if indexed else m[col]
                ax.plot(x, y, color=colour, ls=style, lw=1.8 if col == "treated_mean" else 1.3, label=label)
        ax.axvline(evaluation.start.to_timestamp(), color="black", lw=1)
        if evaluation.end < max(pd.PeriodIndex(m["month"], freq="M")):
            ax.axvline(evaluation.end.to_timestamp(), color="black", lw=1, ls=":")
        ax.set_ylabel("index, baseline mean = 100" if indexed else outcome)
        ax.set_title("relative to each series' baseline" if indexed else "mean per area", fontsize=9)
    axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle(f"{group} (intervention from {evaluation.start})", fontsize=11)
    fig.tight_layout()
    return fig


def figure_png(fig: plt.Figure) -> bytes:
    return png_bytes(fig, dpi=fig.dpi)


def _num(v: float, fmt: str = "{:,.2f}") -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


def _verdict(row: pd.Series, alpha: float) -> str:
    change = f"{abs(row['change_pct']):.0f}% {'lower' if row['change_pct'] < 0 else 'higher'}"
    text = (f"After the start, the treated areas were {change} than the matched controls predict "
            f"(rate ratio {_num(row['rate_ratio'])}, 95% interval {_num(row['ci_low'])} to {_num(row['ci_high'])}). ")
    if row["placebo_assignments"] * alpha < 1:
        text += (f"With {row['n_treated']} treated and {row['n_controls']} control areas there are only "
                 f"{row['placebo_assignments']} ways to assign the treatment, too few for the placebo test to "
                 "ever show a significant change: treat this result as descriptive. ")
    elif row["p_placebo"] <= alpha:
        text += (f"Only {row['p_placebo']:.1%} of random reassignments of the treatment gave a change this "
                 "large, so chance alone is an unlikely explanation. ")
    else:
        text += (f"{row['p_placebo']:.0%} of random reassignments of the treatment gave a change at least this "
                 "large, so the change cannot be told apart from ordinary variation between areas. ")
    flags = []
    if math.isfinite(row["pretrend_p"]) and row["pretrend_p"] <= alpha:
        flags.append(f"the gap between them moved around more than chance allows, p = {row['pretrend_p']:.3f}")
    if math.isfinite(row["pretrend_slope_p"]) and row["pretrend_slope_p"] <= alpha:
        flags.append(f"treated areas drifted {100 * (math.exp(row['pretrend_slope_per_year']) - 1):+.0f}% a year "
                     f"relative to the controls, p = {row['pretrend_slope_p']:.3f}")
    if flags:
        text += ("Warning: treated and control areas already differed before the start ("
                 + "; ".join(flags) + "); the estimate may reflect that, not the intervention. ")
    return text


def summary_page(evaluation: Evaluation, *, title: str, outcome: str, charts: dict[str, str], alpha: float) -> str:
    """One page in plain language: per group what changed, how sure, displacement, and the limits."""
    e = escape_text
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.45}"
             "table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:.2em .5em}"
             "img{max-width:100%}</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f"<p>Outcome: {e(outcome)} per area and month. Intervention from {e(str(evaluation.start))} "
             f"to {e(str(evaluation.end))}; baseline: the {evaluation.pre_months} months before.</p>",
             "<h2>How the comparison was made</h2><p>Each treated area was matched to the control areas "
             "closest to it on the level and trend of the outcome over the baseline (standardised; nearest "
             "neighbours, each control used once). Areas touching a treated area were not used as controls; "
             "they form the buffer where displacement is measured. The effect is a difference-in-differences: a "
             "Poisson model with one effect per area and per month, errors clustered by area; its p-value is checked "
             "by reassigning the treatment at random among treated and control areas.</p>"]
    for _, row in evaluation.effects.iterrows():
        g = str(row["group"])
        parts.append(f"<h2>{e(g)}</h2>")
        parts.append(f"<p>{e(_verdict(row, alpha))}</p>")
        net = _num(row["total_net_effect"], "{:,.0f}")
        parts.append(f"<p>Displacement (weighted displacement quotient {e(_num(row['wdq']))}): "
                     f"{e(row['wdq_reading'])}. Total net effect, treated areas and buffer together: "
                     f"{e(net)} ({e(outcome)}; positive = less than expected).</p>")
        if g in charts:
            parts.append(f"<img src='{e(charts[g])}' alt='{e(g)}: treated and control series'>")
        def named(codes) -> str:
            return ", ".join(f"{evaluation.names[c]} ({c})" if c in evaluation.names else c for c in codes)

        if g in evaluation.design.controls:
            parts.append(f"<p><small>Treated: {e(named(evaluation.design.groups[g]))}. "
                         f"Controls: {e(named(evaluation.design.controls[g]))}. "
                         f"Buffer: {e(named(evaluation.design.buffers[g])) or 'none'}.</small></p>")
    parts.append("<h2>What this design cannot tell you</h2><ul>")
    parts.extend(f"<li>{e(text)}</li>" for text in LIMITS)
    parts.append("</ul><p>Tables: effects.csv, event_study.csv, matches.csv, monthly.csv.</p></body></html>")
    return "\n".join(parts)


def write_report(evaluation: Evaluation, tx: outputs.OutputTransaction, target: str, *, title: str,
                 outcome: str, alpha: float) -> None:
    """Stage every evaluation file into ``target`` of an open transaction."""
    outputs.write_csv(evaluation.effects, tx.path(target, "effects.csv"))
    outputs.write_csv(evaluation.event_study, tx.path(target, "event_study.csv"))
    outputs.write_csv(evaluation.design.matches, tx.path(target, "matches.csv"))
    outputs.write_csv(evaluation.monthly, tx.path(target, "monthly.csv"))
    charts = {}
    for i, group in enumerate(evaluation.effects["group"]):
        name = f"{i + 1:02d}-{slug(group)}.png"
        Path(tx.path(target, name)).write_bytes(figure_png(plot_group(evaluation, group, outcome=outcome)))
        charts[str(group)] = name
    page = summary_page(evaluation, title=title, outcome=outcome, charts=charts, alpha=alpha)
    tx.path(target, "evaluation.html").write_text(page, encoding="utf-8")

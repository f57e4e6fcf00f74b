"""Disclosure control for public outputs (issue 10 item 6).

Secondary suppression of aggregates is not implemented yet.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

COUNT_TRANSFORMS = ("rate", "share", "count")


def suppress(rankings: pd.DataFrame, table, cfg, sources) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Public mode: blank every count below the threshold, and every value derived from one.

    Rates and shares from a count source reveal the count when the denominator is known,
    so an indicator value is blanked wherever its numerator is a count below the
    threshold. Harm totals (days) are dropped: with a known weight they reveal counts.
    """
    from pli.indicators import COUNT_KINDS

    threshold = cfg.output.suppress_below
    ranked = rankings.drop(columns=["harm"], errors="ignore").copy()
    raw = table.raw.copy()
    for spec in cfg.indicators:
        if (cfg.sources[spec.source].kind not in COUNT_KINDS
                and spec.transform not in COUNT_TRANSFORMS):
            continue
        num_col = f"{spec.name}_numerator"
        if num_col not in raw.columns:
            continue
        if spec.harm:
            # Harm mixes counts with weights of hundreds or thousands of days, so its rate
            # times the published population reveals single serious offences: withhold it.
            raw = raw.drop(columns=[num_col])
            ranked[spec.name] = np.nan
            if f"contribution_{spec.name}" in ranked.columns:
                ranked[f"contribution_{spec.name}"] = np.nan
            for k in (1, 2, 3):
                if f"driver_{k}" in ranked.columns:
                    is_harm = ranked[f"driver_{k}"].eq(spec.name).fillna(False)
                    for col in (f"driver_{k}_value", f"driver_{k}_contribution"):
                        if col in ranked.columns:
                            ranked[col] = ranked[col].mask(is_harm)
            continue
        small = raw[num_col] < threshold
        raw[num_col] = raw[num_col].mask(small)
        hidden = small.reindex(ranked.index, fill_value=False)
        ranked[spec.name] = ranked[spec.name].mask(hidden)
        # The same value reappears as a driver value, and its contribution inverts to it
        # through the (published) normalisation of the other LSOAs.
        contribution = f"contribution_{spec.name}"
        if contribution in ranked.columns:
            ranked[contribution] = ranked[contribution].mask(hidden)
        for k in (1, 2, 3):
            label = f"driver_{k}"
            if label not in ranked.columns:
                continue
            driven = hidden & ranked[label].eq(spec.name).fillna(False)
            for col in (f"driver_{k}_value", f"driver_{k}_contribution", label):
                if col in ranked.columns:
                    ranked[col] = ranked[col].mask(driven)
    # Exact scores minus the published contributions would give a withheld one back:
    # publish scores and contributions to 2 decimal places only.
    rounded = [c for c in ranked.columns if c == "score" or str(c).startswith(("domain_", "contribution_"))
               or (str(c).startswith("driver_") and str(c).endswith(("_value", "_contribution")))]
    ranked[rounded] = ranked[rounded].astype(float).round(2)
    return ranked, raw

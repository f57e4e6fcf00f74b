"""Colours, labels and the wording maps share: one palette for pages and figures."""

from __future__ import annotations

__all__ = [
    "FDR_NOTE",
    "GI_COLOURS",
    "GI_LABELS",
    "GI_NOTE",
    "HARM_UNIT",
    "LISA_COLOURS",
    "LISA_LABELS",
    "LISA_NOTE",
    "MAX_SIMPLIFY_M",
    "METRIC_CRS",
    "NEIGHBOURHOOD_COLOUR",
    "PATROL_COLOUR",
    "PATROL_FILL",
    "SCORE_NOTE",
    "score_note",
    "SENSITIVE_BANNER",
    "UPPER_COLOUR",
]


#: Handling marking shown on pages with point-derived layers (not in public mode).
SENSITIVE_BANNER = "OFFICIAL-SENSITIVE: not for publication"


METRIC_CRS = "EPSG:27700"


LISA_COLOURS: dict[str, str] = {
    "High-High": "#d7191c",
    "Low-Low": "#2c7bb6",
    "High-Low": "#f4a6c8",
    "Low-High": "#abd9e9",
    "Not significant": "#e6e6e6",
}


LISA_LABELS: dict[str, str] = {
    "High-High": "High-High: high score, high neighbours",
    "Low-Low": "Low-Low: low score, low neighbours",
    "High-Low": "High-Low: high score, low neighbours",
    "Low-High": "Low-High: low score, high neighbours",
    "Not significant": "Not significant",
}


GI_COLOURS: dict[int, str] = {
    3: "#b2182b",
    2: "#ef8a62",
    1: "#fddbc7",
    0: "#eeeeee",
    -1: "#d1e5f0",
    -2: "#67a9cf",
    -3: "#2166ac",
}


GI_LABELS: dict[int, str] = {
    3: "Hotspot 99% confidence",
    2: "Hotspot 95% confidence",
    1: "Hotspot 90% confidence",
    0: "Not significant",
    -1: "Coldspot 90% confidence",
    -2: "Coldspot 95% confidence",
    -3: "Coldspot 99% confidence",
}


NEIGHBOURHOOD_COLOUR = "#1a1a1a"


# Teal lies outside the YlOrRd scale, so patrol places stay visible on the darkest class.
PATROL_COLOUR = "#00a6c8"


PATROL_FILL = "#d9f6fc"


UPPER_COLOUR = "#3a3a3a"


HARM_UNIT = "days of prison-equivalent harm (CCHI-style)"


SCORE_NOTE = "Score: 0 = study-area average; higher = higher priority."


def score_note(area_type: str) -> str:
    """:data:`SCORE_NOTE` in the area's own word: ``"Score: 0 = district average; ..."``."""
    return SCORE_NOTE.replace("study-area", area_type)


LISA_NOTE = (
    "LISA (local Moran's I) marks areas that score like their neighbours more than "
    "chance would give: High-High is a cluster of high-priority areas."
)


FDR_NOTE = (
    "The same clusters after a stricter test (false discovery rate) that allows for "
    "testing every area at once: what remains is the most reliable."
)


GI_NOTE = (
    "Gi* looks at each area together with its neighbours: a hotspot is a group of "
    "high scores too strong to be chance, a coldspot a group of low scores."
)


#: Beyond this tolerance simplification visibly moves LSOA edges (an LSOA is a few hundred metres across).
MAX_SIMPLIFY_M = 100.0

"""``index.html``: the page that opens the maps folder, linking every map and figure.

A reader who opens the folder sees one page first: what the maps show, the period, the
handling marking, a link to the study-area map, the hot-spot map and each neighbourhood's
page (with its size and main drivers), the printable figures, and a short "how to read
these maps". Plain HTML and CSS, no script: it opens anywhere, offline included.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pli._map_assets import escape_text
from pli.config import AreaSpec
from pli.maps.style import SENSITIVE_BANNER

__all__ = ["index_page"]

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #222;
       max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; }
.meta { color: #555; margin-top: 0; } .sim { color: #a63603; font-weight: 600; }
.marking { display: inline-block; border: 2px solid #b2182b; color: #b2182b; font-weight: 700;
           padding: .15rem .5rem; margin-bottom: .6rem; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35rem .5rem;
  border-bottom: 1px solid #ddd; vertical-align: top; } th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.maps li { margin: .3rem 0; } a { color: #1f5fa8; }
/* On a phone each neighbourhood is a card: rank, name and the numbers, its drivers underneath. */
@media (max-width: 40rem) {
  table, thead, tbody { display: block; } .wide-only, th.drivers { display: none; }
  tr { display: grid; grid-template-columns: 2.8rem 1fr 5.6rem 4rem; font-size: 14px; border-bottom: 1px solid #ddd; }
  th, td { border-bottom: 0; padding: .3rem .25rem; } td.drivers { grid-column: 2 / -1; padding-top: 0; }
  td.drivers::before { content: "Drivers: "; color: #555; } }
@media print { a { color: #222; text-decoration: none; } body { margin: 0; max-width: none; } }
"""


def _authority_table(authorities: Sequence[tuple[str, str, int, tuple[int, ...], str]]) -> str:
    """The "Maps by local authority" section: one row per authority, linking its two maps."""
    with_codes = any(code for _, code, _, _, _ in authorities)
    rows = []
    for name, code, n, ranks, href in authorities:
        listed = f"{len(ranks)} ({', '.join(map(str, ranks))})" if ranks else "0"
        hot = href.replace("priority_localities", "hotspots", 1)
        rows.append(
            f'<tr><td><a href="{escape_text(href)}">{escape_text(name)}</a></td>'
            + (f"<td>{escape_text(code)}</td>" if with_codes else "")
            + f'<td class="num">{n:,}</td><td>{escape_text(listed)}</td>'
            f'<td><a href="{escape_text(hot)}">hot spots</a></td></tr>'
        )
    code_head = "<th>Code</th>" if with_codes else ""
    return ("<h2>Maps by local authority</h2>\n<p>Each authority's map has every LSOA, layer and tooltip; an "
            "authority of few LSOAs shares the map of its nearest neighbour.</p>\n<table>\n<thead><tr>"
            f"<th>Local authority (its map)</th>{code_head}<th>LSOAs</th><th>Priority neighbourhoods (ranks)</th>"
            f"<th>Hot spots</th></tr></thead>\n<tbody>\n{''.join(rows)}\n</tbody>\n</table>\n")


def index_page(
    neighbourhoods: pd.DataFrame,
    *,
    area: AreaSpec,
    period: str,
    upper_label: str,
    sensitive: bool,
    figures: Sequence[str],
    driver_labels: dict[str, str] | None = None,
    credits: Sequence[str] = (),
    report_href: str | None = None,
    parts: Sequence[tuple[str, str, int]] = (),
    authorities: Sequence[tuple[str, str, int, tuple[int, ...], str]] | None = None,
) -> str:
    """The HTML of ``index.html``; every value from data is escaped.

    Parameters
    ----------
    neighbourhoods : DataFrame
        ``rank``, ``name``, ``slug``, ``n_lsoas``, ``population`` and optionally
        ``harm_share`` and ``top_drivers`` (indicator names joined by ``;``).
    area : AreaSpec
        Area name and whether the data are simulated.
    period : str
        Data period of the run.
    upper_label : str
        What the upper layer is (wards, or MSOAs in the demo).
    sensitive : bool
        The folder holds point-derived (patrol) layers: show the handling marking.
    figures : sequence of str
        File names of the PNG figures in the folder.
    driver_labels : dict, optional
        Indicator name -> readable label for the drivers column.
    credits : sequence of str, optional
        One sentence per data source (:func:`pli.maps.credits.long_attribution`).
    report_href : str, optional
        Relative link to the committee report (``pli report``) when one exists beside
        this folder; otherwise the page says how to make it.
    parts : sequence of (str, str, int), optional
        When the area maps are split (``maps.split_above``): label, file of the
        detailed index page and number of LSOAs of each part.
    authorities : sequence of (str, str, int, tuple of int, str), optional
        When the parts are local authorities: name, code (``""`` if unknown), LSOAs,
        ranks of the priority neighbourhoods in it and the file of its detailed index
        page; listed in a table ("Maps by local authority") instead of the parts.

    Examples
    --------
    >>> import pandas as pd
    >>> from pli.config import AreaSpec
    >>> nb = pd.DataFrame({"rank": [1], "name": ["<Broad Green>"], "slug": ["broad-green"],
    ...                    "n_lsoas": [4], "population": [6200]})
    >>> page = index_page(nb, area=AreaSpec(name="Croydon"), period="2025", upper_label="Ward",
    ...                   sensitive=False, figures=[])
    >>> "neighbourhoods/1-broad-green.html" in page, "&lt;Broad Green&gt;" in page
    (True, True)
    """
    labels = driver_labels or {}
    title = f"{area.name}: Priority Localities Index, {period}"
    rows = []
    for _, row in neighbourhoods.sort_values("rank").iterrows():
        rank = int(row["rank"])
        href = escape_text(f"neighbourhoods/{rank}-{row['slug']}.html")
        drivers = str(row.get("top_drivers", "") or "")
        readable = ", ".join(labels.get(d.strip(), d.strip()) for d in drivers.split(";") if d.strip())
        harm = row.get("harm_share")
        harm_text = "" if harm is None or pd.isna(harm) else f"{100 * float(harm):.1f}%"
        rows.append(
            f'<tr><td class="num">{rank}</td><td><a href="{href}">{escape_text(row["name"])}</a></td>'
            f'<td class="num wide-only">{int(row["n_lsoas"])}</td><td class="num">{int(row["population"]):,}</td>'
            f'<td class="num">{escape_text(harm_text)}</td><td class="drivers">{escape_text(readable)}</td></tr>'
        )
    report = (f'<p><a href="{escape_text(report_href)}">Committee report</a>: summary for members, a profile of each '
              "neighbourhood, method and data sources; prints to A4.</p>" if report_href else
              "<p>A committee report (summary, a profile of each neighbourhood, method and sources; prints to A4) is "
              "made by <code>pli report</code>, into the folder <code>report</code> beside this one.</p>")
    figure_items = "".join(f'<li><a href="{escape_text(f)}">{escape_text(f)}</a></li>' for f in figures)
    marking = f'<p class="marking">{escape_text(SENSITIVE_BANNER)}</p>' if sensitive else ""
    sim = "".join(f'<p class="sim">{escape_text(note)}</p>' for note in area.notes())
    part_items = "".join(
        f'<li><a href="{escape_text(href)}">{escape_text(label)}</a> ({n:,} LSOAs; '
        f'<a href="{escape_text(href.replace("priority_localities", "hotspots", 1))}">its hot spots</a>)</li>'
        for label, href, n in parts
    )
    part_list = (f"<li>The area is split into {len(parts)} parts for detailed maps; the two maps above are "
                 f'overviews:<ul class="maps">{part_items}</ul></li>\n' if parts and authorities is None else "")
    by_area = ""
    if authorities is not None:
        by_area = ('<li>The area is split by local authority for detailed maps (table below); the two maps '
                   "above are overviews.</li>\n")
    area_table = _authority_table(authorities) if authorities is not None else ""
    credit_items = "".join(f"<li>{escape_text(c)}</li>" for c in credits)
    sources = f"<h2>Sources and credits</h2>\n<ul>{credit_items}</ul>" if credit_items else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape_text(title)}</title>
<style>{_CSS}</style>
</head>
<body>
{marking}<h1>{escape_text(title)}</h1>
<p class="meta">Small areas: LSOAs. Upper layer: {escape_text(upper_label)}.</p>
{sim}
<h2>Maps</h2>
<ul class="maps">
<li><a href="priority_localities.html">Priority Localities Index</a>: the index for every LSOA, each domain,
the priority neighbourhoods and (when planned) the micro-patrol places.</li>
<li><a href="hotspots.html">Hot spots and clusters</a>: where high scores cluster (Getis-Ord Gi* and Local
Moran's I).</li>
{part_list}{by_area}</ul>
{area_table}<h2>Priority neighbourhoods</h2>
<table>
<thead><tr><th>Rank</th><th>Neighbourhood (its own map)</th><th class="wide-only">LSOAs</th><th>Residents</th>
<th>Share of crime harm</th><th class="drivers">Main drivers</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody>
</table>
<h2>Committee report</h2>
{report}
<h2>Figures for printing</h2>
<ul>{figure_items}</ul>
<h2>How to read these maps</h2>
<ul>
<li>Darker areas score higher on the index: higher priority. The score combines crime harm, deprivation and
demography; each area's tooltip names the indicators that drive it.</li>
<li>Use the layer list (top right of each map) to switch between the index, its domains and the clustering
views.</li>
<li>A hot spot is an area whose neighbourhood of areas scores higher than chance would give; "FDR" results
allow for testing many areas at once and are the ones to quote.</li>
<li>Numbers on the maps are the priority neighbourhoods' ranks; click one for its profile.</li>
<li>Rates are per resident: town centres with many visitors rank high on crime rates.</li>
</ul>
{sources}
</body>
</html>
"""

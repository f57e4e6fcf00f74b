"""The report as one self-contained HTML page, printable to A4.

Images are data URIs, the CSS is inline, there is no script. Every value from data goes
through :func:`pli._map_assets.escape_text`; the strings the print CSS repeats in the
page margins (marking, title) go through :func:`css_string`. The page is built from the
tables of :mod:`pli.report.profiles`; what it leaves out in a public report is decided
there and in :func:`render_report` (no patrol plan, no counts of withheld cells).
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from pli._map_assets import escape_text

__all__ = ["ReportContent", "render_report", "css_string", "data_uri"]

_CSS = """
:root { --ink: #1d1d1d; --muted: #555; --line: #d0d0d0; --mark: #b2182b; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.45 "DejaVu Sans", "Segoe UI", Arial, sans-serif; color: var(--ink);
       max-width: 182mm; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 19pt; margin: .2rem 0 .3rem; line-height: 1.2; }
h2 { font-size: 14pt; margin: 0 0 .5rem; border-bottom: 2px solid var(--ink); padding-bottom: .15rem; }
h3 { font-size: 11.5pt; margin: 1rem 0 .35rem; }
p { margin: .35rem 0; } ul { margin: .3rem 0 .3rem 1.2rem; padding: 0; } li { margin: .15rem 0; }
a { color: #1f5fa8; overflow-wrap: anywhere; }
.marking { display: inline-block; border: 2px solid var(--mark); color: var(--mark); font-weight: 700;
           padding: .1rem .5rem; letter-spacing: .02em; }
.sim { color: var(--mark); font-weight: 700; }
.meta { color: var(--muted); }
section { margin: 2rem 0; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 .6rem; font-size: 9.5pt; }
th, td { text-align: left; padding: .2rem .3rem; border-bottom: 1px solid var(--line); vertical-align: top;
         overflow-wrap: break-word; }
td.barcell { width: 28%; }
td.files { word-break: break-all; }
table.places td:nth-child(2) { width: 30%; }
table.nine td:nth-child(2) { width: 20%; } table.nine td:nth-child(3) { width: 20%; }
table.nine td:nth-child(7) { width: 30%; }
.block { break-inside: avoid; }
th { background: #f1f1f1; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.facts th { width: 40%; background: none; font-weight: 600; }
figure { margin: .5rem 0 .8rem; break-inside: avoid; }
figure img { display: block; width: 100%; height: auto; max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 8.5pt; color: var(--muted); margin-top: .2rem; }
.bar { display: inline-block; height: .7rem; vertical-align: middle; background: #ef6548;
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.bar.neg { background: #6baed6; }
.withheld { color: var(--muted); font-style: italic; }
.note { font-size: 8.8pt; color: var(--muted); }
.box { border: 1px solid var(--line); background: #fafafa; padding: .4rem .7rem; margin: .5rem 0; }
.cols { display: flex; gap: 1rem; } .cols > div { flex: 1 1 0; min-width: 0; }
nav ol { columns: 2; list-style: none; margin-left: 0; }
@page { size: A4; margin: 17mm 14mm 16mm;
  @top-center { content: MARKING; color: #b2182b; font: 700 8.5pt "DejaVu Sans", Arial, sans-serif; }
  @bottom-left { content: FOOTER; color: #555; font: 7.5pt "DejaVu Sans", Arial, sans-serif; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); color: #555;
                  font: 7.5pt "DejaVu Sans", Arial, sans-serif; } }
@page wide { size: A4 landscape; margin: 12mm 14mm 14mm; }
section.landscape { page: wide; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  section.landscape figure img { max-height: 172mm; width: auto; margin: 0 auto; }
  section { margin: 0; }
  section.page { break-before: page; }
  h2, h3 { break-after: avoid; }
  tr, .box { break-inside: avoid; }
  .patrols h3, .patrols p { break-after: avoid; }
  a { color: var(--ink); text-decoration: none; }
  nav { display: none; }
}
"""


def css_string(text: str) -> str:
    """``text`` as a quoted CSS string: every character but letters, digits and spaces hex-escaped.

    Examples
    --------
    >>> print(css_string('a"b</style>'))
    "a\\000022 b\\00003c \\00002f style\\00003e "
    """
    out = []
    for ch in str(text):
        # A hex escape ends at the space after it, which CSS then drops: every escape takes one.
        out.append(ch if ch.isascii() and (ch.isalnum() or ch == " ") else f"\\{ord(ch):06x} ")
    return '"' + "".join(out) + '"'


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI (base64 holds no character that needs escaping in HTML)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _num(value, spec: str = ",.0f", *, missing: str = "n/a") -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return missing
    if math.isnan(v):
        return missing
    return format(v, spec)


def _cell(value, spec: str = ",.0f", *, withheld: bool = False) -> str:
    text = _num(value, spec, missing="")
    if text == "":
        return f'<td class="num withheld">{"withheld" if withheld else "n/a"}</td>'
    return f'<td class="num">{escape_text(text)}</td>'


@dataclass(frozen=True)
class ReportContent:
    """Everything the page shows, already computed (see :func:`pli.report.command.build_report`).

    Attributes are plain frames, strings and PNG bytes; the renderer only formats them.
    """

    title: str
    area: str
    period: str
    marking: str
    public: bool
    simulated: bool
    created: str
    run_id: str
    pli_version: str
    seed: object
    config_path: str
    neighbourhoods: pd.DataFrame
    n_lsoas: int
    catalogue: pd.DataFrame
    domains: pd.DataFrame
    indicators: pd.DataFrame
    crime: pd.DataFrame
    trends: pd.DataFrame
    patrol_totals: pd.DataFrame
    patrol_places: pd.DataFrame
    sources: pd.DataFrame
    figures: dict
    locators: dict
    trend_charts: dict
    map_links: dict
    neighbourhood_links: dict
    uncertainty: dict
    uncertainty_chart: Optional[bytes]
    harm_by_category: pd.DataFrame
    upper_label: str = "Ward"
    area_type: str = "area"
    patrol_period: str = ""
    suppress_below: int = 5
    track_given: bool = False
    has_pdf: bool = False
    notes: tuple = field(default_factory=tuple)


def _link(href: str, text: str) -> str:
    return f'<a href="{escape_text(href)}">{escape_text(text)}</a>'


def _table(head: Sequence[tuple[str, bool]], rows: Iterable[str], *, css: str = "") -> str:
    cells = "".join(f'<th{" class=num" if num else ""}>{escape_text(h)}</th>' for h, num in head)
    return f'<table class="{css}"><thead><tr>{cells}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _labels(content: ReportContent) -> dict:
    return content.catalogue["label"].astype(str).to_dict()


def _drivers_text(content: ReportContent, rank: int, *, k: int = 3) -> str:
    if rank not in content.indicators.index:
        return ""
    row = content.indicators.loc[rank].dropna().sort_values(ascending=False)
    labels = _labels(content)
    return ", ".join(labels.get(i, i) for i in row.index[:k] if row[i] > 0)


def _main_domain(content: ReportContent, rank: int) -> str:
    if rank not in content.domains.index:
        return ""
    row = content.domains.loc[rank].dropna()
    return str(row.idxmax()) if len(row) else ""


def _summary(content: ReportContent) -> str:
    nb = content.neighbourhoods
    n = len(nb)
    weights = content.catalogue.groupby("domain", sort=False)["domain_weight"].first()
    mix = ", ".join(f"{escape_text(d)} {100 * float(w):.0f}%" for d, w in weights.items())
    rows = []
    for _, r in nb.iterrows():
        rank = int(r["rank"])
        wards = str(r.get("wards", "") or "").replace(";", ",")
        share = _num(100 * pd.to_numeric(r["harm_share"], errors="coerce"), ".1f")
        rows.append(f'<tr><td class="num">{rank}</td><td><a href="#n{rank}">{escape_text(r["name"])}</a></td>'
                    f"<td>{escape_text(wards)}</td>{_cell(r['population'])}{_cell(r['n_lsoas'])}"
                    f'<td class="num">{escape_text(share)}%</td>'
                    f"<td>{escape_text(_drivers_text(content, rank, k=2)) or 'n/a'}</td></tr>")
    table = _table([("Rank", True), ("Neighbourhood", False), (content.upper_label, False), ("Residents", True),
                    ("LSOAs", True), ("Harm", True), ("Main drivers", False)], rows, css="nine")
    domain_lead = pd.Series([_main_domain(content, int(r)) for r in nb["rank"]]).value_counts()
    lead_text = "; ".join(f"{escape_text(d)} leads in {c} of the {n}" for d, c in domain_lead.items() if d)
    lead_text = lead_text[:1].upper() + lead_text[1:]
    if content.public:
        patrol = "Patrol plans are operational and restricted: they are not part of this public version."
    elif len(content.patrol_totals) and 0 in content.patrol_totals.index:
        t = content.patrol_totals.loc[0]
        patrol = (f"{_num(t['places'])} micro-places are planned for short visits at unpredictable times: "
                  f"{_num(t['visits_per_week'])} visits and {_num(t['officer_hours_per_week'], ',.1f')} "
                  f"officer-hours a week"
                  + (f", {_num(t.get('officer_hours_trial'))} officer-hours over {_num(t.get('trial_weeks'))} weeks"
                     if 'officer_hours_trial' in t else "") + ". Each neighbourhood's page lists its first places.")
        if content.patrol_period and content.patrol_period != content.period:
            # The run warned; the members reading the report must be told as well.
            patrol += (f" The plan is drawn from records of {content.patrol_period}, not the index's data period "
                       f"({content.period}).")
    else:
        patrol = "No patrol plan was made in this run."
    stability = pd.to_numeric(nb.get("stability"), errors="coerce") if "stability" in nb else pd.Series(dtype=float)
    sure = []
    if stability.notna().any():
        firm = int((stability >= 0.8).sum())
        sure.append(f"{firm} of the {n} are chosen again in at least 80% of runs with every indicator weight moved "
                    f"by up to 20% (the stability column)")
    freq = content.uncertainty.get("neighbourhood_frequency.csv")
    if freq is not None and len(freq):
        sel = pd.to_numeric(freq["selection_frequency"], errors="coerce")
        sure.append(f"in the uncertainty analysis, {int((sel >= 0.8).sum())} of the {len(freq)} are selected in at "
                    f"least 80% of the simulated choices of method (median {100 * float(sel.median()):.0f}%)")
    else:
        sure.append("the full uncertainty analysis (pli uncertainty) was not run for this report")
    sim = ('<p class="sim">Simulated data: the crime and deprivation values of this demo are simulated. '
           'Nothing here is a fact about the area.</p>' if content.simulated else "")
    kind = escape_text(content.area_type)
    return f"""<section id="summary">
<h2>Summary for members</h2>
{sim}
<div class="box"><p><b>What the index is.</b> The Priority Localities Index ranks the {content.n_lsoas} small
areas (LSOAs: neighbourhoods of about 1,500 residents) of {escape_text(content.area)} by one score that combines
recorded crime, weighted by its harm, with deprivation ({mix}). A score of 0 is the {kind} average; higher means
higher priority. Data period: {escape_text(content.period)}.</p></div>
<h3>The {n} priority neighbourhoods</h3>
<p>Groups of neighbouring LSOAs where high scores concentrate, each big enough for one team's beat, ranked by
how concentrated their priority is (1 = highest). Harm: the neighbourhood's share of the {kind}'s crime harm.</p>
{table}
<h3>What drives them</h3>
<p>{lead_text or 'n/a'} (the domain that adds most to the score). The drivers are the indicators that add most to
their LSOAs' scores; each neighbourhood's page shows them all.</p>
<h3>What patrols are planned</h3>
<p>{escape_text(patrol)}</p>
<h3>How sure we are</h3>
<p>{escape_text('; '.join(sure))}. Rates are per resident, so town centres with many visitors rank high; and the
ranking reflects recorded crime, not all crime.</p>
</section>"""


def _figure(png: bytes, alt: str, caption: str) -> str:
    return (f'<figure><img src="{data_uri(png)}" alt="{escape_text(alt)}">'
            f"<figcaption>{escape_text(caption)}</figcaption></figure>")


def _maps_section(content: ReportContent) -> str:
    links = "".join(f"<li>{_link(href, text)}</li>" for text, href in content.map_links.items())
    index_fig = content.figures.get("priority_localities.png")
    nb_fig = content.figures.get("priority_neighbourhoods.png")
    first = (_figure(index_fig, "Map of the index for every LSOA with the numbered neighbourhoods",
                     "The index for every LSOA (darker = higher priority), the priority neighbourhoods outlined and "
                     "numbered by rank.") if index_fig else '<p class="withheld">The run wrote no static figures.</p>')
    # The neighbourhoods figure is drawn A4 landscape: it gets a landscape page of its own.
    second = ('<section id="map-neighbourhoods" class="landscape">'
              + _figure(nb_fig, "Map of the priority neighbourhoods with their ranked list",
                        "The priority neighbourhoods and their ranked list.") + "</section>") if nb_fig else ""
    return f"""<section id="maps" class="page">
<h2>Maps</h2>
{first}
<p>Interactive maps (open in a browser; hover an area for its details, click a number for a neighbourhood):</p>
<ul>{links}</ul>
</section>
{second}"""


def _bar(value: float, scale: float) -> str:
    if not scale or math.isnan(value):
        return ""
    width = min(100.0, abs(value) / scale * 100)
    return f'<span class="bar{" neg" if value < 0 else ""}" style="width:{width:.1f}%"></span>'


def _facts(content: ReportContent, row: pd.Series) -> list[tuple[str, str]]:
    rank = int(row["rank"])
    upper = content.upper_label
    # "Ward" -> "Wards", "MSOA (2011)" -> "MSOAs (2011)"
    plural = upper.replace(" (", "s (", 1) if " (" in upper else upper + "s"
    facts = [("Residents", _num(row["population"])), ("LSOAs", _num(row["n_lsoas"])),
             (plural, str(row.get("wards", "") or "").replace(";", ",")),
             (f"Share of the {content.area_type}'s crime harm",
              _num(100 * pd.to_numeric(row["harm_share"], errors="coerce"), ".1f") + "%"),
             ("Mean index score", _num(row.get("mean_score"), ".2f") + f" (0 = {content.area_type} average)")]
    if "stability" in row and pd.notna(row["stability"]):
        facts.append(("Stability", _num(100 * float(row["stability"]), ".0f")
                      + "% of runs with indicator weights moved by up to 20% choose it again"))
    freq = content.uncertainty.get("neighbourhood_frequency.csv")
    if freq is not None:
        hit = freq[pd.to_numeric(freq["neighbourhood"], errors="coerce") == rank]
        if len(hit):
            facts.append(("Selection frequency", _num(100 * float(hit["selection_frequency"].iloc[0]), ".0f")
                          + "% of the uncertainty analysis' runs select it"))
    return facts


def _drivers(content: ReportContent, rank: int) -> str:
    labels = _labels(content)
    parts = []
    if rank in content.domains.index:
        dom = content.domains.loc[rank]
        scale = float(dom.abs().max()) if dom.notna().any() else 0.0
        rows = [f"<tr><td>{escape_text(d)}</td>{_cell(v, '+.2f', withheld=True)}"
                f'<td class="barcell">{_bar(float(v), scale)}</td></tr>' for d, v in dom.items()]
        parts.append(_table([("Domain", False), ("Points", True), ("", False)], rows))
    if rank in content.indicators.index:
        ind = content.indicators.loc[rank]
        order = ind.fillna(-math.inf).sort_values(ascending=False).index
        scale = float(ind.abs().max()) if ind.notna().any() else 0.0
        rows = [f"<tr><td>{escape_text(labels.get(i, i))}</td>{_cell(ind[i], '+.2f', withheld=True)}"
                f'<td class="barcell">{_bar(float(ind[i]), scale)}</td></tr>' for i in order]
        parts.append(_table([("Indicator", False), ("Points", True), ("", False)], rows))
    if not parts:
        return ""
    return ('<div class="block"><h3>What drives it</h3><p class="note">Each domain\'s and indicator\'s part of the '
            "mean score, in score points (bars to scale within each table).</p>" + "".join(parts) + "</div>")


def _crime_mix(content: ReportContent, rank: int) -> str:
    mix = content.crime[content.crime["rank"] == rank]
    if not len(mix):
        return ""
    rows = [f"<tr><td>{escape_text(r['label'])}</td>{_cell(r['count'], ',.0f', withheld=True)}"
            f"{_cell(r['rate_per_1000'], ',.1f', withheld=True)}{_cell(r['area_rate_per_1000'], ',.1f')}"
            f"{_cell(r['ratio'], '.1f', withheld=True)}</tr>" for _, r in mix.iterrows()]
    note = (f" Withheld where a member LSOA's count is suppressed (below {content.suppress_below})."
            if content.public else "")
    return ('<div class="block"><h3>Crime mix</h3><p class="note">Recorded offences in the data period; rate per '
            f"1,000 residents against the whole area's.{escape_text(note)}</p>"
            + _table([("Crime type", False), ("Offences", True), ("Per 1,000", True), ("Area", True),
                      ("x area", True)], rows, css="mix") + "</div>")


def _trend(content: ReportContent, rank: int, name: str) -> str:
    parts = ['<div class="block"><h3>Trend</h3>']
    trend = content.trends[content.trends["rank"] == rank] if len(content.trends) else content.trends
    if not content.track_given:
        parts.append("<p>Not run: give a pli track folder (--track) for the trend of harm over time.</p>")
    elif not len(trend):
        parts.append("<p>The track folder holds no LSOA or ward series covering this neighbourhood.</p>")
    else:
        rows = []
        for _, t in trend.iterrows():
            change = _num(100 * t["change"], "+.0f", missing="n/a") + "%"
            rows.append(f"<tr><td>{escape_text(t['series'])}</td><td>{escape_text(t['level'])}: "
                        f"{escape_text(t['areas'])}</td><td>{escape_text(t['first'])} to {escape_text(t['last'])}</td>"
                        f"<td>{escape_text(t['direction'])}</td>"
                        + ("" if content.public else f'<td class="num">{escape_text(change)}</td>') + "</tr>")
        head = [("Series", False), ("Areas summed", False), ("Period", False), ("Harm trend", False)]
        if not content.public:
            head.append(("Last year vs year before", True))
        parts.append(_table(head, rows))
        parts.append('<p class="note">Ward series cover the whole wards holding the neighbourhood. '
                     'The trend is "rising" or "falling" when its Mann-Kendall p is at most 0.05; monthly crime is '
                     "autocorrelated, which makes p too small: a signal, not proof.</p>")
        if rank in content.trend_charts:
            parts.append(_figure(content.trend_charts[rank], f"Harm over time in {name}",
                                 "Harm per slice (grey) and its rolling yearly mean (red)."))
    parts.append("</div>")
    return "".join(parts)


def _patrols(content: ReportContent, rank: int) -> str:
    parts = ['<div class="patrols"><h3>Patrols</h3>']
    if content.public:
        parts.append("<p>Not in the public version: patrol plans are operational and restricted.</p>")
    elif rank in content.patrol_totals.index:
        t = content.patrol_totals.loc[rank]
        parts.append(f"<p>{escape_text(_num(t['places']))} places, {escape_text(_num(t['visits_per_week']))} visits "
                     f"and {escape_text(_num(t['officer_hours_per_week'], ',.1f'))} officer-hours a week"
                     + (f", {escape_text(_num(t['officer_hours_trial']))} officer-hours over "
                        f"{escape_text(_num(t['trial_weeks']))} weeks" if "officer_hours_trial" in t else "")
                     + ".</p>")
        places = content.patrol_places
        mine = places[places["neighbourhood_rank"] == rank] if len(places) else places
        if len(mine):
            rows = [f"<tr>{_cell(p['place_number'])}<td>{escape_text(p.get('location', ''))}</td>"
                    f"{_cell(p['visits_per_week'])}<td>{escape_text(p.get('evidence', ''))}</td></tr>"
                    for _, p in mine.iterrows()]
            parts.append(f"<p>Its first {len(mine)} places (all of them: patrol_plan.csv and the maps):</p>"
                         + _table([("Place", True), ("Location", False), ("Visits a week", True),
                                   ("Why this place", False)], rows, css="places"))
    elif len(content.patrol_totals):
        parts.append("<p>None planned: no place here met the plan's evidence tests (harm at least 2 SD above the "
                     "mean place, among the few places holding half the harm, or a Gi* hot spot).</p>")
    else:
        parts.append("<p>No patrol plan was made in this run.</p>")
    parts.append("</div>")
    return "".join(parts)


def _profile(content: ReportContent, row: pd.Series) -> str:
    rank = int(row["rank"])
    name = str(row["name"])
    fact_rows = "".join(f"<tr><th>{escape_text(k)}</th><td>{escape_text(v)}</td></tr>"
                        for k, v in _facts(content, row))
    link = content.neighbourhood_links.get(rank)
    link_html = f'<p class="note">Interactive map: {_link(link, name)}</p>' if link else ""
    locator = (_figure(content.locators[rank], f"Where {name} lies", "Left: the whole area shaded by index score, "
                       "this neighbourhood outlined in blue, the other priority neighbourhoods in grey. "
                       "Right: close up.")
               if rank in content.locators else "")
    return (f'<section class="page profile" id="n{rank}"><h2>{rank}. {escape_text(name)}</h2>'
            f'<div class="cols"><div><table class="facts">{fact_rows}</table>{link_html}</div>'
            f"<div>{locator}</div></div>"
            f'<div class="cols"><div>{_drivers(content, rank)}</div><div>{_crime_mix(content, rank)}'
            f"{_patrols(content, rank) if content.public else ''}</div></div>"
            f"{_trend(content, rank, name)}{'' if content.public else _patrols(content, rank)}</section>")


def _uncertainty_section(content: ReportContent) -> str:
    u = content.uncertainty
    if not u:
        return ('<section id="uncertainty" class="page"><h2>How sure we are: uncertainty and sensitivity</h2>'
                "<p><b>Not run.</b> <code>pli uncertainty</code> varies the analyst's choices (weights, "
                "normalisation, harm scheme, time window, neighbourhood method) and shows how much the ranks move; "
                "give its folder with --uncertainty. Until then, each neighbourhood's stability (on its page) is the "
                "only measure.</p></section>")
    parts = ['<section id="uncertainty" class="page"><h2>How sure we are: uncertainty and sensitivity</h2>']
    freq = u.get("neighbourhood_frequency.csv")
    if freq is not None:
        rows = [f"<tr>{_cell(r['neighbourhood'])}<td>{escape_text(r['name'])}</td>"
                f"{_cell(100 * pd.to_numeric(r['selection_frequency'], errors='coerce'), '.0f')}"
                f"{_cell(r['mean_jaccard'], '.2f')}</tr>" for _, r in freq.iterrows()]
        parts.append("<h3>How often each neighbourhood is selected</h3><p>Share of the simulated runs in which a "
                     "neighbourhood matching it (Jaccard overlap of LSOAs) is selected again.</p>"
                     + _table([("Rank", True), ("Neighbourhood", False), ("Selected (%)", True),
                               ("Mean overlap", True)], rows))
    intervals = u.get("lsoa_rank_intervals.csv")
    if intervals is not None:
        if content.uncertainty_chart is not None:
            parts.append(_figure(content.uncertainty_chart, "Rank intervals of the top 30 LSOAs",
                                 "Top 30 LSOAs of this run: the bar spans the middle 90% of ranks across the "
                                 "simulated runs, the dot is the median rank, the red tick this run's rank."))
        top = intervals.sort_values("base_rank").head(30)
        rows = [f"<tr>{_cell(r['base_rank'])}<td>{escape_text(r['lsoa_name'])} ({escape_text(r['lsoa_code'])})</td>"
                f"{_cell(r['median_rank'], '.0f')}<td class=num>{escape_text(_num(r['rank_p05'], '.0f'))} to "
                f"{escape_text(_num(r['rank_p95'], '.0f'))}</td>{_cell(100 * float(r['p_top_n']), '.0f')}</tr>"
                for _, r in top.iterrows()]
        parts.append(_table([("Rank", True), ("LSOA", False), ("Median rank", True), ("5-95% of runs", True),
                             ("P(in top N) %", True)], rows))
    sobol = u.get("sobol.csv")
    if sobol is not None:
        rows = [f"<tr><td>{escape_text(r['output'])}</td><td>{escape_text(r['factor'])}</td>"
                f"{_cell(r['S1'], '.2f')}{_cell(r['S1_conf'], '.2f')}"
                f"{_cell(r['ST'], '.2f')}{_cell(r['ST_conf'], '.2f')}"
                "</tr>" for _, r in sobol.iterrows()]
        parts.append("<h3>Which choices matter (Sobol indices)</h3><p>First-order (S1): the share of the variation "
                     "in the ranks due to that choice alone; total (ST): including its interactions with the others. "
                     "The ± columns are bootstrap 95% half-widths.</p>"
                     + _table([("Output", False), ("Choice", False), ("S1", True), ("±", True), ("ST", True),
                               ("±", True)], rows))
    missing = [n for n in ("neighbourhood_frequency.csv", "lsoa_rank_intervals.csv", "sobol.csv") if n not in u]
    if missing:
        parts.append(f'<p class="note">Not in the uncertainty folder: {escape_text(", ".join(missing))}.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _method_section(content: ReportContent) -> str:
    cat = content.catalogue
    rows = [f"<tr><td>{escape_text(r['label'])}</td><td>{escape_text(r['domain'])}</td>"
            f"{_cell(100 * float(r['weight']), '.1f')}<td>{escape_text(r['source'])}</td></tr>"
            for _, r in cat.iterrows()]
    src_rows = []
    for _, s in content.sources.iterrows():
        # A file outside the data folder is recorded by its absolute path: its name is enough here.
        files = [f if not os.path.isabs(f) else Path(f).name for f in s["files"]]
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        src_rows.append(f"<tr><td>{escape_text(s['name'])}</td><td class=files>{escape_text(shown or 'n/a')}</td>"
                        f"<td>{escape_text(s['period'])}</td><td>{escape_text(s['licence'])}</td></tr>")
    harm = ""
    if len(content.harm_by_category):
        h = content.harm_by_category.head(8)
        hrows = [f"<tr><td>{escape_text(r['category'])}</td>{_cell(r['count'])}{_cell(r['weight_days'], ',.1f')}"
                 f"{_cell(100 * float(r['share']), '.1f')}</tr>" for _, r in h.iterrows()]
        harm = ("<h3>What crime harm is made of (whole area)</h3><p>Each offence counts the days in prison its "
                "starting-point sentence would give (Cambridge Crime Harm Index), so a few serious offences "
                "outweigh many minor ones.</p>"
                + _table([("Crime type", False), ("Offences", True), ("Days each", True), ("Share of harm %", True)],
                         hrows))
    notes = "".join(f"<li>{escape_text(n)}</li>" for n in content.notes)
    page = "page" if content.uncertainty else ""
    return f"""<section id="method" class="{page}">
<h2>Method and data</h2>
<p>Each indicator is a rate or score per LSOA, normalised (z-scores unless the config says otherwise), weighted
within its domain, and the domains are weighted into one score. Clusters (local Moran's I, Getis-Ord Gi*) are
corrected for testing every area (false discovery rate). Neighbourhoods grow from the most concentrated
high-priority LSOAs over contiguous neighbours to about 5,000 residents.</p>
<h3>Indicators and weights</h3>
{_table([("Indicator", False), ("Domain", False), ("Weight %", True), ("Source", False)], rows)}
{harm}
<h3>Data sources</h3>
{_table([("Source", False), ("Files", False), ("Period or vintage", False), ("Publisher and licence", False)],
        src_rows)}
<h3>This run</h3>
<table class="facts">
<tr><th>Run</th><td>{escape_text(content.run_id)} (pli {escape_text(content.pli_version)}, seed
{escape_text(content.seed)})</td></tr>
<tr><th>Made</th><td>{escape_text(content.created)}</td></tr>
<tr><th>Config</th><td>{escape_text(content.config_path)}</td></tr>
<tr><th>Check</th><td><code>pli verify</code> on the output folder re-hashes every input and output.</td></tr>
</table>
{f"<ul>{notes}</ul>" if notes else ""}
<h3>Handling</h3>
<p class="marking">{escape_text(content.marking)}</p>
<p>{escape_text(_handling_text(content))}</p>
</section>"""


def _handling_text(content: ReportContent) -> str:
    if content.public:
        return (f"Public version: counts below {content.suppress_below} are suppressed in every table it draws on, "
                "with the values that would reveal them; no patrol plan, micro-place or point location is included.")
    if content.marking.startswith("OFFICIAL-SENSITIVE"):
        return ("Holds the patrol plan's places: not for publication. Make the public version with "
                "pli index --public, then pli report --public.")
    return "Holds no point-level data; check local rules before publishing."


def render_report(content: ReportContent) -> str:
    """The report's HTML (one page, no script, every value escaped).

    Parameters
    ----------
    content : ReportContent

    Returns
    -------
    str
    """
    css = _CSS.replace("MARKING", css_string(content.marking)).replace(
        "FOOTER", css_string(f"{content.area}: {content.title}, {content.period}"))
    toc = ["<li><a href=\"#summary\">Summary for members</a></li>", "<li><a href=\"#maps\">Maps</a></li>"]
    toc += [f'<li><a href="#n{int(r["rank"])}">{int(r["rank"])}. {escape_text(r["name"])}</a></li>'
            for _, r in content.neighbourhoods.iterrows()]
    toc += ['<li><a href="#uncertainty">How sure we are</a></li>', '<li><a href="#method">Method and data</a></li>']
    profiles = "\n".join(_profile(content, r) for _, r in content.neighbourhoods.iterrows())
    pdf = '<p class="meta">Print version: <a href="report.pdf">report.pdf</a>.</p>' if content.has_pdf else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape_text(content.area)}: {escape_text(content.title)}, {escape_text(content.period)}</title>
<style>{css}</style>
</head>
<body>
<header>
<p class="marking">{escape_text(content.marking)}</p>
<h1>{escape_text(content.area)}: {escape_text(content.title)}</h1>
<p class="meta">Data period {escape_text(content.period)}. Made {escape_text(content.created)} from run
{escape_text(content.run_id)}.</p>
{pdf}
<nav><ol>{"".join(toc)}</ol></nav>
</header>
{_summary(content)}
{_maps_section(content)}
{profiles}
{_uncertainty_section(content)}
{_method_section(content)}
</body>
</html>
"""


def relative_href(target: Path, start: Path) -> str:
    """``target`` relative to folder ``start``, with forward slashes, for a link."""
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()

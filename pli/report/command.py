"""``pli report``: the committee report of an index run, in a folder of its own.

It reads the output and maps folders of ``pli index`` (and, when given, those of
``pli track`` and ``pli uncertainty``) and writes, all-or-nothing through
:class:`pli.transaction.OutputTransaction`,

* ``report.html``: one self-contained page (images inline, no script) printable to A4;
* ``report.pdf``: the same page printed by headless Chromium (skipped, with a warning,
  when no Chromium is installed);
* ``manifest.json``: the inputs read and the outputs written (``pli verify`` reads it).

The report links to the interactive maps by relative paths, so keep the report folder
beside the maps folder (the default ``report/`` next to ``maps/``). The PDF holds
Chromium's creation date, so unlike the HTML it is not byte-reproducible.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from pli.errors import InputError
from pli.maps.style import SENSITIVE_BANNER
from pli.report import charts, profiles
from pli.report.inputs import ReportInputs, read_report_inputs
from pli.report.page import ReportContent, relative_href, render_report
from pli.report.pdf import find_chromium, print_pdf
from pli.report.sources import source_table

__all__ = ["ReportRun", "build_report", "run_report"]

log = logging.getLogger(__name__)

PUBLIC_MARKING = "OFFICIAL: public version, small numbers suppressed"


@dataclass(frozen=True)
class ReportRun:
    """What ``pli report`` wrote."""

    out_dir: Path
    files: tuple[Path, ...]
    pdf: bool
    public: bool
    neighbourhoods: int
    pdf_asked: bool = True

    def summary(self) -> str:
        kind = "public report" if self.public else "report"
        if self.pdf:
            pdf = f"PDF: {self.out_dir / 'report.pdf'}"
        elif self.pdf_asked:
            pdf = "PDF skipped: no working Chromium (install chromium, or set PLI_CHROMIUM); the HTML prints to A4"
        else:
            pdf = "No PDF (--no-pdf): the HTML prints to A4 from any browser"
        return (f"Wrote the {kind} ({self.neighbourhoods} neighbourhood profiles): "
                f"{self.out_dir / 'report.html'}\n{pdf}")


def _period(manifest: dict) -> str:
    periods = sorted({str(p) for p in (manifest.get("periods") or {}).values() if p})
    return "; ".join(periods) or "n/a"


def _readable_time(stamp) -> str:
    """``2026-12-04T10:08:48+00:00`` as ``4 December 2026, 10:08 UTC`` (as given when unreadable)."""
    try:
        when = _dt.datetime.fromisoformat(str(stamp)).astimezone(_dt.timezone.utc)
    except ValueError:
        return str(stamp or "n/a")
    return f"{when.day} {when:%B %Y, %H:%M} UTC"


def _marking(inputs: ReportInputs) -> str:
    if inputs.public:
        return PUBLIC_MARKING
    return SENSITIVE_BANNER if inputs.patrol_plan is not None and len(inputs.patrol_plan) else "OFFICIAL"


def build_report(inputs: ReportInputs, out_dir: Path, *, has_pdf: bool = False) -> ReportContent:
    """Compute everything the page shows from the folders read.

    Parameters
    ----------
    inputs : ReportInputs
    out_dir : Path
        The final report folder (links to the maps are made relative to it).
    has_pdf : bool
        The page links ``report.pdf``.
    """
    manifest = inputs.manifest
    nb = inputs.neighbourhoods
    catalogue = profiles.indicator_catalogue(manifest)
    rankings = inputs.rankings.astype({"lsoa_code": str})
    domains = profiles.domain_drivers(nb, rankings, catalogue)
    indicators = profiles.indicator_drivers(nb, rankings, catalogue)
    crime = profiles.crime_mix(nb, inputs.indicator_inputs.astype({"lsoa_code": str}), catalogue)
    trends = pd.DataFrame(columns=["rank"])
    trend_charts: dict = {}
    if inputs.track:
        per_nb = profiles.neighbourhood_series(nb, rankings, inputs.track["series"], inputs.track["trends"])
        trends = profiles.trend_summary(per_nb)
        if not inputs.public:
            # One chart per neighbourhood: its first series (LSOA series before ward series).
            for rank, s in per_nb.sort_values("level").groupby("rank"):
                first = s[s["series"] == s["series"].iloc[0]]
                trend_charts[int(rank)] = charts.harm_trend_chart(
                    first, title=f"Harm per {'quarter' if first['period'].str.contains('Q').any() else 'month'}, "
                                 f"series {first['series'].iloc[0]} ({first['level'].iloc[0]} level)")
    totals, places = profiles.patrol_summary(inputs.patrol_totals, inputs.patrol_plan)
    locators: dict = {}
    if inputs.boundaries is not None:
        scores = rankings.set_index("lsoa_code")["score"]
        for rank in nb["rank"].astype(int):
            locators[rank] = charts.locator_map(inputs.boundaries, scores, nb, rank)
    uncertainty_chart = None
    intervals = inputs.uncertainty.get("lsoa_rank_intervals.csv")
    if intervals is not None and len(intervals):
        uncertainty_chart = charts.rank_interval_chart(intervals)
    map_links = {}
    for label, name in (("All maps and how to read them", "index.html"),
                        ("Priority Localities Index (every LSOA, domains, neighbourhoods)", "priority_localities.html"),
                        ("Hot spots and clusters", "hotspots.html")):
        if (inputs.maps_dir / name).is_file():
            map_links[label] = relative_href(inputs.maps_dir / name, out_dir)
    nb_links = {}
    for _, r in nb.iterrows():
        page = inputs.maps_dir / "neighbourhoods" / f"{int(r['rank'])}-{r['slug']}.html"
        if page.is_file():
            nb_links[int(r["rank"])] = relative_href(page, out_dir)
    harm = (manifest.get("harm_by_category") or {})
    harm_frame = pd.DataFrame(next(iter(harm.values()), [])) if harm and not inputs.public else pd.DataFrame()
    config = inputs.config
    notes = []
    if manifest.get("simulated_note"):
        notes.append(str(manifest["simulated_note"]))
    if manifest.get("public_note"):
        notes.append(str(manifest["public_note"]))
    return ReportContent(
        title="Priority Localities Index: report for members", area=inputs.area_name, period=_period(manifest),
        marking=_marking(inputs), public=inputs.public, simulated=inputs.simulated,
        created=_readable_time(manifest.get("created_utc")), run_id=str(manifest.get("run_id", "")),
        pli_version=str(manifest.get("pli_version", "")), seed=manifest.get("seed"),
        config_path=Path(str(manifest.get("config_path") or "")).name or "n/a",
        neighbourhoods=nb, n_lsoas=int((manifest.get("row_counts") or {}).get("lsoa", len(rankings))),
        catalogue=catalogue, domains=domains, indicators=indicators, crime=crime, trends=trends,
        patrol_totals=totals, patrol_places=places, sources=source_table(manifest),
        figures={name: path.read_bytes() for name, path in inputs.figures.items()}, locators=locators,
        trend_charts=trend_charts, map_links=map_links, neighbourhood_links=nb_links,
        uncertainty=inputs.uncertainty, uncertainty_chart=uncertainty_chart, harm_by_category=harm_frame,
        upper_label=str((config.get("area") or {}).get("upper_layer_label") or "Ward"),
        area_type=_area_type(config.get("area") or {}),
        patrol_period=str((manifest.get("patrols") or {}).get("period") or ""),
        suppress_below=int((config.get("output") or {}).get("suppress_below", 5)),
        track_given=bool(inputs.track), has_pdf=has_pdf, notes=tuple(notes),
    )


def _area_type(area: dict) -> str:
    """The study area's word ("borough", "district", ...) as the maps use it, from the run's config."""
    from pli.area import area_type
    from pli.config import AreaSpec

    known: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
             for key, value in area.items() if key in AreaSpec.__dataclass_fields__ and key != "lookup"}
    try:
        return area_type(AreaSpec(**known))
    except (TypeError, ValueError):  # a config written by another pli version: keep the neutral word
        return "area"


def _refuse_other_run(out_dir: Path) -> None:
    from pli.outputs import manifest_role

    role = manifest_role(out_dir)
    if role is not None and role != "report":
        raise InputError(f"{out_dir} holds another command's outputs; `pli report` replaces its whole folder, "
                         "so give it a folder of its own (--out, default report)", path=str(out_dir))


def run_report(index_dir: str | Path, maps_dir: str | Path, out_dir: str | Path, *,
               track_dir: str | Path | None = None, uncertainty_dir: str | Path | None = None,
               public: bool = False, pdf: bool = True, chromium: Optional[str] = None) -> ReportRun:
    """Read the runs, write ``report.html`` (and ``report.pdf``) with a manifest, all-or-nothing.

    Parameters
    ----------
    index_dir, maps_dir : str or Path
        Output and maps folders of one ``pli index`` run.
    out_dir : str or Path
        The report's own folder (replaced whole).
    track_dir, uncertainty_dir : str or Path, optional
        Folders of ``pli track`` and ``pli uncertainty``.
    public : bool
        Make the public report; the index run must be public.
    pdf : bool
        Also print the PDF (needs Chromium).
    chromium : str, optional
        Browser executable; default :func:`pli.report.pdf.find_chromium`.

    Returns
    -------
    ReportRun
    """
    from pli import __version__, outputs, transaction

    out_dir = Path(out_dir)
    inputs = read_report_inputs(index_dir, maps_dir, track_dir=track_dir, uncertainty_dir=uncertainty_dir,
                                public=public)
    folders = [p for p in (inputs.index_dir, inputs.maps_dir, inputs.track_dir, inputs.uncertainty_dir) if p]
    targets = {"output": out_dir}
    transaction.check_output_paths(targets, inputs=folders)
    _refuse_other_run(out_dir)
    browser = (chromium or find_chromium()) if pdf else None
    content = build_report(inputs, out_dir, has_pdf=browser is not None)
    made_pdf = False
    with transaction.TargetLock(targets) as lock, outputs.OutputTransaction(targets, lock=lock) as tx:
        html_path = tx.path("output", "report.html")
        html_path.write_text(render_report(content), encoding="utf-8")
        if browser is not None:
            made_pdf = print_pdf(html_path, tx.path("output", "report.pdf"), chromium=browser)
            if not made_pdf:  # the page must not link a PDF that is not there
                html_path.write_text(render_report(build_report(inputs, out_dir, has_pdf=False)), encoding="utf-8")
        elif pdf:
            log.warning("report: no Chromium found; wrote the HTML only (it prints to A4 from any browser)")
        root = Path(os.path.commonpath([str(p.resolve()) for p in folders]))
        manifest = {
            "pli_version": __version__,
            "role": "report",
            "run_id": tx.run_id,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            "area": inputs.area_name,
            "public_mode": inputs.public,
            "index_run_id": inputs.manifest.get("run_id"),
            "pdf": made_pdf,
            "data_dir": str(root),
            "folders": {name: outputs.input_key(p, root) for name, p in
                        (("index", inputs.index_dir), ("maps", inputs.maps_dir), ("track", inputs.track_dir),
                         ("uncertainty", inputs.uncertainty_dir)) if p is not None},
            "inputs": outputs.hash_inputs(sorted(set(inputs.files)), relative_to=root),
            "outputs": outputs.staged_hashes(tx),
        }
        outputs.write_json(manifest, tx.path("output", outputs.MANIFEST_NAME))
        files = tuple(tx.commit())
    return ReportRun(out_dir=out_dir, files=files, pdf=made_pdf, public=inputs.public,
                     neighbourhoods=len(inputs.neighbourhoods), pdf_asked=pdf)

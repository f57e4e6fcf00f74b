"""Writing every page and figure of a run into the maps folder."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pli._map_assets import (
    stable_element_ids,
)
from pli.config import AreaSpec, MapSpec
from pli.maps.basemap import resolve_tiles
from pli.maps.bundle import MapBundle, _check_spec, _validate
from pli.maps.credits import long_attribution, run_credits
from pli.maps.figures import _save_figure, plot_index_figure, plot_neighbourhoods_figure
from pli.maps.index_page import index_page
from pli.maps.pages import _hotspot_page, _neighbourhood_page, _priority_page, converting_once
from pli.maps.prepare import _prepare
from pli.maps.split import DETAILED, hotspot_link_page, map_parts, overview_page, part_page
from pli.maps.split_by_area import STALE_PART, authority_rows
from pli.outputs import write_atomic
from pli.progress import track

__all__ = [
    "write_maps",
]




log = logging.getLogger(__name__)


@converting_once()  # the context layers every page shares are converted once
def write_maps(
    bundle: MapBundle,
    out_dir: Path,
    *,
    spec: MapSpec,
    area: AreaSpec,
    period: str,
    offline: bool | None = None,
    public: bool = False,
) -> list[Path]:
    """Write the interactive maps and the static figures.

    Parameters
    ----------
    bundle : MapBundle
        Frames from the index, clustering, priorities and patrol stages (EPSG:27700).
    out_dir : Path
        Folder for the files (created if needed).
    spec : MapSpec
        Classes, scheme, simplification tolerance, basemap and online/offline.
    area : AreaSpec
        Area name and whether the data are simulated (both go in every title).
    period : str
        Data period shown in titles, e.g. ``"2024-03 to 2025-02"``.
    offline : bool, optional
        Inline Leaflet so pages work without internet; default: yes, unless ``spec.online``.
    public : bool
        Public output leaves the micro-patrol places off the maps.

    Returns
    -------
    list of Path
        ``priority_localities.html``, ``hotspots.html``, one
        ``neighbourhoods/<rank>-<slug>.html`` per neighbourhood, the two PNGs, then
        ``index.html``, the page linking them all. Above ``spec.split_above`` LSOAs the
        first two are overviews, each followed by its parts: one per local authority
        (``<page>_<LAD code>.html``) where the LSOAs' authorities are known, else
        ``<page>-part-NN.html`` (:mod:`pli.maps.split`, :mod:`pli.maps.split_by_area`).

    Raises
    ------
    InputError
        When a frame lacks a column, has the wrong CRS or unexpected categories.
    ConfigError
        When ``spec.simplify_m`` is out of range.
    """
    _check_spec(spec)
    _validate(bundle)
    if spec.offline is not None:
        log.warning(
            "maps.offline is no longer needed: pages carry Leaflet inline by default; "
            "use maps.online: true (or --online) for pages that link it from CDNs"
        )
    offline = spec.inline_assets if offline is None else bool(offline)
    # Tiles are fetched by the reader's browser even on offline pages: where they cannot
    # be, the page says so and the data layers still show.
    tiles = resolve_tiles(spec.tiles)
    extras = {"credits": bundle.credits}
    prep = _prepare(bundle, spec, public=public)
    out_dir = Path(out_dir)
    nb_dir = out_dir / "neighbourhoods"
    nb_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    page_bytes = 0

    def emit(path: Path, html: str) -> None:
        nonlocal page_bytes
        data = html.encode("utf-8")
        write_atomic(path, data)
        # Named inside the folder: out_dir is usually a staging folder the reader never sees.
        log.debug("maps: wrote %s (%.2f MB)", path.relative_to(out_dir).as_posix(), len(data) / 1e6)
        page_bytes += len(data)
        written.append(path)

    # Each page is built with ids seeded by its file name, so the same data give the same bytes.
    parts = map_parts(bundle, spec.split_above) if len(bundle.lsoa) > spec.split_above else None
    if parts is None:
        with stable_element_ids("priority_localities.html"):
            page = _priority_page(prep, area, period, tiles=tiles, offline=offline, **extras)
            emit(out_dir / "priority_localities.html", page)
        with stable_element_ids("hotspots.html"):
            emit(out_dir / "hotspots.html", _hotspot_page(prep, area, period, tiles=tiles, offline=offline, **extras))
    else:
        log.info("maps: %d LSOAs > maps.split_above %d: %d %s and an overview", len(parts.part), spec.split_above,
                 parts.n, "local authorities" if parts.by_authority else "parts")
        for page in ("priority_localities", "hotspots"):
            with stable_element_ids(f"{page}.html"):
                emit(out_dir / f"{page}.html", overview_page(bundle, prep, parts, page, area, period, tiles=tiles,
                                                             offline=offline, **extras))
        # One page per part is inherently a loop over the (few hundred at most) parts; its
        # hot-spot page opens the same page on the clusters.
        for k in track(range(parts.n), "detailed map parts", total=parts.n):
            target = parts.file("priority_localities", k)
            with stable_element_ids(target):
                emit(out_dir / target, part_page(
                    prep, parts, k, "priority_localities", area, period, tiles=tiles, offline=offline, **extras))
            emit(out_dir / parts.file("hotspots", k),
                 hotspot_link_page(target, f"{area.name}: {DETAILED}: {parts.titles[k]}, {period}"))
    current = set() if parts is None else {parts.file(pg, k) for pg in ("priority_localities", "hotspots")
                                           for k in range(parts.n)}
    stale_parts = [p for p in out_dir.glob("*.html") if STALE_PART.fullmatch(p.name) and p.name not in current]
    for p in stale_parts:
        p.unlink()
    nb = prep.neighbourhoods
    wanted = {f"{r}-{s}.html" for r, s in zip(nb["rank"], nb["slug"])}
    # One page per neighbourhood is inherently a loop over the (few) neighbourhoods.
    for _, row in track(nb.iterrows(), "neighbourhood pages", total=len(nb)):
        name = f"{int(row['rank'])}-{row['slug']}.html"
        with stable_element_ids(f"neighbourhoods/{name}"):
            html = _neighbourhood_page(
                prep, row, area, period, tiles=tiles, offline=offline, pad_m=600.0, credits=bundle.credits,
                patrol_note=bundle.patrol_note if prep.places is None else "", patrol_floor=bundle.patrol_floor,
            )
        emit(nb_dir / name, html)
    stale = [p for p in nb_dir.glob("*.html") if re.fullmatch(r"\d+-[a-z0-9-]+\.html", p.name) and p.name not in wanted]
    for p in stale:
        p.unlink()
    if stale:
        log.info("maps: removed %d neighbourhood page(s) from an earlier run", len(stale))

    fig = plot_index_figure(bundle, spec=spec, area=area, period=period)
    _save_figure(fig, out_dir / "priority_localities.png")
    written.append(out_dir / "priority_localities.png")
    fig = plot_neighbourhoods_figure(bundle, area=area, period=period)
    _save_figure(fig, out_dir / "priority_neighbourhoods.png")
    written.append(out_dir / "priority_neighbourhoods.png")
    # The page names files by the same safe slugs the neighbourhood pages were written under.
    safe_slugs = dict(zip(nb["rank"], nb["slug"]))
    listed = bundle.neighbourhoods.drop(columns="geometry").assign(slug=lambda f: f["rank"].map(safe_slugs))
    emit(out_dir / "index.html", index_page(
        listed, area=area, period=period, upper_label=prep.upper_label,
        sensitive=prep.places is not None, figures=["priority_localities.png", "priority_neighbourhoods.png"],
        driver_labels=bundle.indicator_labels, credits=long_attribution(bundle.credits or run_credits(None)),
        # `pli report` writes report/ beside the maps folder (staged maps sit beside it too).
        parts=[] if parts is None else parts.listing(),
        authorities=None if parts is None or not parts.by_authority else authority_rows(parts),
        report_href="../report/report.html" if (out_dir.parent / "report" / "report.html").is_file() else None,
    ))
    log.info("maps: %d pages (%d of them neighbourhood pages, %.1f MB in all) and 2 figures",
             len(written) - 2, len(nb), page_bytes / 1e6)
    return written

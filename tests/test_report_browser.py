"""The report and the maps in a real browser: the PDF, its pages, links, width at A4, map printing.

Prints with headless Chromium; renders PDF pages to PNG with ``pdftoppm`` (poppler-utils)
into ``screenshots/report/`` for people to look at.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pli.config import load_config
from pli.pipeline import run_index
from pli.report import run_report

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "screenshots" / "report"
A4 = (595.3, 841.9)  # points
PRINTABLE_PX = 688  # A4 width less the report's 14 mm margins, at 96 px per inch
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
          "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"]


def _need(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def _chromium(page: Path, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([str(CHROMIUM), *_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=300)


def _print(page: Path, pdf: Path) -> Path:
    _chromium(page, "--virtual-time-budget=6000", "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert pdf.is_file() and pdf.stat().st_size > 1000, f"Chromium printed no PDF of {page}"
    return pdf


def _page_sizes(pdf: Path) -> list[tuple[float, float]]:
    """(width, height) in points of every page, from the page objects' MediaBox."""
    data = pdf.read_bytes()
    boxes = re.findall(rb"/Type\s*/Page\b(?!s).*?/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]",
                       data, re.S)
    if not boxes:  # MediaBox before /Type
        boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]"
                           rb"[^>]*?/Type\s*/Page\b(?!s)", data, re.S)
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]


def _render(pdf: Path, prefix: str, *, dpi: int = 60) -> list[Path]:
    _need(shutil.which("pdftoppm") is not None, "pdftoppm is missing: apt-get install -y poppler-utils")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob(f"{prefix}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(SCREENSHOTS / prefix)], check=True, timeout=300)
    return sorted(SCREENSHOTS.glob(f"{prefix}-*.png"))


def _ink(png: Path, box: tuple[float, float, float, float]) -> float:
    """Share of non-white pixels inside ``box`` (fractions of width and height)."""
    import numpy as np
    from PIL import Image

    grey = np.asarray(Image.open(png).convert("L"))
    h, w = grey.shape
    crop = grey[int(box[1] * h):int(box[3] * h), int(box[0] * w):int(box[2] * w)]
    return float((crop < 245).mean()) if crop.size else 0.0


def _colour_extent(png: Path) -> tuple[float, float]:
    """How far right and down (fractions of the page) the map's warm colours reach."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    warm = (rgb[..., 0] - rgb[..., 2]) > 60  # the index's yellow-to-red classes
    rows, cols = np.nonzero(warm)
    assert len(rows), f"{png.name}: no map colours at all"
    return cols.max() / rgb.shape[1], rows.max() / rgb.shape[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    _need(CHROMIUM.exists(), f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    base = tmp_path_factory.mktemp("report_browser")
    cfg = load_config(ROOT / "configs" / "croydon-demo.yml")
    # Offline maps: the browser has no network, and the map pages are printed below.
    run_index(cfg, out_dir=base / "output", maps_dir=base / "maps", offline=True)
    run = run_report(base / "output", base / "maps", base / "report")
    assert run.pdf, "Chromium is installed but the report has no PDF"
    run_index(cfg, out_dir=base / "output-public", maps_dir=base / "maps-public", public=True, offline=True)
    assert run_report(base / "output-public", base / "maps-public", base / "report-public", public=True).pdf
    return base


def test_report_pdf_is_a4_with_a_page_per_section_and_renders(runs):
    pdf = runs / "report" / "report.pdf"
    sizes = _page_sizes(pdf)
    n_neighbourhoods = 9
    # cover and summary, maps, a profile per neighbourhood, uncertainty, method
    assert len(sizes) >= 4 + n_neighbourhoods, len(sizes)
    portrait = [abs(w - A4[0]) < 2 and abs(h - A4[1]) < 2 for w, h in sizes]
    landscape = [abs(w - A4[1]) < 2 and abs(h - A4[0]) < 2 for w, h in sizes]
    # Every page is A4 portrait but the one holding the landscape neighbourhoods figure.
    assert all(p or q for p, q in zip(portrait, landscape)), set(sizes)
    assert sum(landscape) == 1, sizes
    pages = _render(pdf, "report-page")
    assert len(pages) == len(sizes)
    for png in pages:
        assert _ink(png, (0.05, 0.05, 0.95, 0.95)) > 0.005, f"{png.name} is blank"
    # The marking is printed in every page's top margin.
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        per_page = text.split("\f")
        assert all("OFFICIAL-SENSITIVE: not for publication" in p for p in per_page if p.strip())
        assert sum("Page " in p for p in per_page) == len(sizes)
    public = runs / "report-public" / "report.pdf"
    assert sum(abs(w - A4[0]) < 2 for w, _ in _page_sizes(public)) == len(_page_sizes(public)) - 1
    _render(public, "public-page", dpi=45)


def test_every_link_of_the_report_resolves(runs):
    folder = runs / "report"
    page = (folder / "report.html").read_text(encoding="utf-8")
    ids = set(re.findall(r'id="([^"]+)"', page))
    hrefs = [html_lib.unescape(h) for h in re.findall(r'href="([^"]*)"', page)]
    assert len(hrefs) > 15 and "report.pdf" in hrefs
    broken = [h for h in hrefs if (h[1:] not in ids if h.startswith("#") else not (folder / h).is_file())]
    assert broken == []


def test_nothing_is_wider_than_the_printable_a4_width(runs, tmp_path):
    page = (runs / "report" / "report.html").read_text(encoding="utf-8")
    probe = """<script>
(function () {
  var w = document.documentElement.clientWidth, bad = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 0.5) {
      bad.push(el.tagName + '.' + el.className + ' right ' + Math.round(r.right));
    }
  });
  var pre = document.createElement('pre'); pre.id = 'pli-width';
  pre.textContent = JSON.stringify({width: w, scroll: document.documentElement.scrollWidth, bad: bad.slice(0, 20)});
  document.body.appendChild(pre);
})();
</script>"""
    harness = tmp_path / "width.html"
    harness.write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    run = _chromium(harness, f"--window-size={PRINTABLE_PX},1123", "--virtual-time-budget=3000", "--dump-dom")
    match = re.search(r'<pre id="pli-width">(.*?)</pre>', run.stdout, re.S)
    assert match, run.stderr[-1000:]
    result = json.loads(html_lib.unescape(match.group(1)))
    assert result["width"] <= PRINTABLE_PX and result["scroll"] <= result["width"], result
    assert result["bad"] == [], result["bad"]


def test_printing_a_map_gives_the_whole_map_with_title_and_legend_on_one_a4_page(runs):
    for name in ("priority_localities.html", "neighbourhoods"):
        page = runs / "maps" / name if name.endswith(".html") else sorted((runs / "maps" / name).glob("1-*.html"))[0]
        pdf = _print(page, runs / f"print-{page.stem}.pdf")
        sizes = _page_sizes(pdf)
        assert len(sizes) == 1, f"{page.name} printed on {len(sizes)} pages"
        w, h = sizes[0]
        assert abs(w - A4[1]) < 2 and abs(h - A4[0]) < 2, "maps print on A4 landscape"
        png = _render(pdf, f"map-{page.stem}", dpi=70)[0]
        # The map is laid out for the page, not left at the browser window's size in its top left
        # corner: the area's colours reach the lower part of the page.
        right, bottom = _colour_extent(png)
        assert bottom > 0.85, f"{page.name}: the map stops at {bottom:.0%} of the page height"
        if "neighbourhoods" in str(page.parent):
            assert right > 0.85, f"{page.name}: the map stops at {right:.0%} of the page width"
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
            assert "Priority Localities Index (quintiles" in text, "the legend is printed"
            assert "Croydon (demo)" in text, "the title is printed"
            assert "Domain: Crime" not in text, "the layer list is hidden in print"

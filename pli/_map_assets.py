"""HTML, CSS and JavaScript helpers for :mod:`pli.maps`.

Everything here that places text into a page takes it through :func:`escape_text`
first, so no value read from data can become markup or script.  Leaflet elements
that show data (labels, legends) are built from JSON in the browser, with labels set
through ``textContent``.

Offline maps carry Leaflet and jQuery inline.  The library files come from the
maintained PyPI package ``folium-offline`` (import name ``offlinefolium``), which
ships the exact CDN files folium links to, keyed by their URL; nothing is copied into
this repository.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import itertools
import json
import re
import threading
from typing import TYPE_CHECKING, Iterator, Sequence

import folium
import pandas as pd
from branca.element import Element, MacroElement
from folium.template import Template

from pli.errors import PliError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "Attribution",
    "KeepInFront",
    "LabelLayer",
    "LegendControl",
    "LoadGuard",
    "MapPanel",
    "FitView",
    "ResponsiveLayers",
    "TileNote",
    "escape_series",
    "escape_text",
    "format_number",
    "inline_assets",
    "legend_html",
    "lean_assets",
    "script_json",
    "stable_element_ids",
]

# Popups and tooltips in folium are placed inside JavaScript template literals
# (backticks) and then parsed as HTML, so besides the five HTML specials the
# characters that act inside a template literal (` $ \) are turned into entities too.
_ESCAPES = {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
    ord("'"): "&#x27;",
    ord("`"): "&#96;",
    ord("$"): "&#36;",
    ord("\\"): "&#92;",
    # Braces and hash would open Jinja2 tags ({{ }}, {% %}, {# #}) when folium/branca
    # render the page: data must never become template source.
    ord("{"): "&#123;",
    ord("}"): "&#125;",
    ord("#"): "&#35;",
}


def escape_text(value: object) -> str:
    """Escape one value so it shows as text wherever folium or Leaflet puts it.

    Parameters
    ----------
    value : object
        Anything; ``None`` and NA become the empty string.

    Returns
    -------
    str
        Text safe inside HTML element content, a quoted attribute and a JavaScript
        template literal.

    Examples
    --------
    >>> escape_text('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value).translate(_ESCAPES)


def escape_series(values: pd.Series) -> pd.Series:
    """Vectorised :func:`escape_text` for a column; NA becomes ``""``."""
    return values.astype("string").fillna("").str.translate(_ESCAPES).astype(object)


# ------------------------------------------------------------------ element ids

# branca names every element (and so every JavaScript variable and DOM id on a page)
# with 16 random bytes, so two renders of one map never match. Inside
# stable_element_ids the names come from a counter instead. The counter lives in a
# context variable: a map built at the same time in another thread, outside the
# block, still gets branca's random names, and the patch is removed when the last
# block ends.
_page_ids: contextvars.ContextVar[Iterator[str] | None] = contextvars.ContextVar("pli_page_ids", default=None)
_patch_lock = threading.Lock()
_patch_users = 0
_random_id = Element.__dict__["_generate_id"]


def _counted_id(cls) -> str:
    ids = _page_ids.get()
    return next(ids) if ids is not None else _random_id.__func__(cls)


@contextlib.contextmanager
def stable_element_ids(page: str) -> Iterator[None]:
    """Give every folium/branca element created inside the block a reproducible id.

    Ids are the first 32 hex digits of SHA-256 of ``page`` and a running count, so
    they have branca's own shape, are unique on the page and differ between pages.
    The same page built in the same order gets the same ids, hence the same bytes.

    Parameters
    ----------
    page : str
        Names the page (e.g. its file name); seeds the ids.

    Examples
    --------
    >>> import folium
    >>> with stable_element_ids("demo.html"):
    ...     a = folium.Map(tiles=None).get_name()
    >>> with stable_element_ids("demo.html"):
    ...     b = folium.Map(tiles=None).get_name()
    >>> a == b
    True
    """
    global _patch_users
    ids = (hashlib.sha256(f"{page}\0{n}".encode()).hexdigest()[:32] for n in itertools.count())
    token = _page_ids.set(ids)
    with _patch_lock:
        if _patch_users == 0:
            Element._generate_id = classmethod(_counted_id)  # type: ignore[method-assign, assignment]
        _patch_users += 1
    try:
        yield
    finally:
        with _patch_lock:
            _patch_users -= 1
            if _patch_users == 0:
                Element._generate_id = _random_id  # type: ignore[method-assign]
        _page_ids.reset(token)


# ------------------------------------------------------------------ library assets

LEAFLET_JS = ("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js")
JQUERY_JS = ("jquery", "https://code.jquery.com/jquery-3.7.1.min.js")
LEAFLET_CSS = ("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css")


def lean_assets() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The JS and CSS links a pli map needs.

    Folium links Bootstrap, Font Awesome and Awesome Markers by default; pli maps use
    none of them, and dropping them keeps the page light online and offline.  jQuery
    stays because folium's ``keep_in_front`` runs through ``$(document).ready``.
    """
    return [LEAFLET_JS, JQUERY_JS], [LEAFLET_CSS]


_SCRIPT_SRC = re.compile(r'<script\s+src="(https?://[^"]+)"\s*>\s*</script>', re.I)
_LINK_HREF = re.compile(r'<link\s+rel="stylesheet"\s+href="(https?://[^"]+)"\s*/?>', re.I)


def _offline_resources() -> dict[str, str]:
    try:
        from offlinefolium import elements as offline_elements
    except ImportError:
        raise PliError(
            "offline maps need the 'folium-offline' package (it ships Leaflet and jQuery "
            "for inlining); install it with 'pip install folium-offline' or run without "
            "--offline / maps.offline: false"
        ) from None
    resources = getattr(offline_elements, "_res", None)
    if not isinstance(resources, dict):
        raise PliError(
            "the installed 'folium-offline' no longer exposes its bundled files where pli "
            "expects them (offlinefolium.elements._res); install folium-offline 0.20.x"
        )
    return resources


def inline_assets(html: str) -> str:
    """Replace every CDN ``<script src>`` and stylesheet ``<link>`` with inline copies.

    Parameters
    ----------
    html : str
        A rendered folium page.

    Returns
    -------
    str
        The same page needing no network for its JavaScript and CSS.

    Raises
    ------
    PliError
        When ``folium-offline`` is missing or lacks a file the page links to.
    """
    resources = _offline_resources()
    missing = sorted(
        {u for u in _SCRIPT_SRC.findall(html) + _LINK_HREF.findall(html) if u not in resources}
    )
    if missing:
        raise PliError(
            "cannot make the map offline: folium-offline has no bundled copy of "
            + ", ".join(missing)
            + "; install the folium-offline release matching folium "
            "(pip install 'folium-offline==<folium version>.*')"
        )

    def _script(match: re.Match) -> str:
        # A literal "</script" inside the library would end the element early.
        body = resources[match.group(1)].replace("</script", "<\\/script")
        return f"<script>{body}</script>"

    def _style(match: re.Match) -> str:
        body = resources[match.group(1)].replace("</style", "<\\/style")
        return f"<style>{body}</style>"

    html = _SCRIPT_SRC.sub(_script, html)
    return _LINK_HREF.sub(_style, html)


# ------------------------------------------------------------------ load guard

# In <head>, before any library script: a script that fails to load or throws shows the
# page's warning box (below) with what went wrong, instead of a blank page.
_GUARD_HEAD = """<script>
(function () {
  window.pliMapFailed = function (detail) {
    var box = document.getElementById('pli-load-error');
    if (!box) {
      document.addEventListener('DOMContentLoaded', function () { window.pliMapFailed(detail); });
      return;
    }
    box.hidden = false;
    if (document.querySelector('script[src^="http"], link[href^="http"]')) {
      box.querySelector('.pli-online-hint').hidden = false;
    }
    var code = box.querySelector('code');
    if (detail && code && code.textContent.indexOf(detail) < 0) {
      code.textContent += (code.textContent ? '\\n' : '') + detail;
    }
  };
  // A panel or legend whose body collapses behind a button on narrow screens (CSS decides when).
  window.pliCollapsible = function (div, html, label) {
    if (!label) { div.innerHTML = html; return; }
    div.classList.add('pli-collapsible');
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'pli-toggle';
    button.textContent = label;
    button.setAttribute('aria-expanded', 'false');
    var body = document.createElement('div');
    body.className = 'pli-body';
    body.innerHTML = html;
    div.appendChild(button);
    div.appendChild(body);
    button.addEventListener('click', function () {
      var open = div.classList.toggle('pli-open');
      button.setAttribute('aria-expanded', open ? 'true' : 'false');
    });
  };
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {
      if (t.tagName === 'SCRIPT' || t.tagName === 'LINK') { window.pliMapFailed('could not load ' + (t.src || t.href)); }
      return;  // images (base map tiles) have their own note
    }
    var where = e.filename ? ' (' + String(e.filename).split('/').pop() + ', line ' + e.lineno + ')' : '';
    window.pliMapFailed(String(e.message || 'script error') + where);
  }, true);
})();
</script>"""

# In <body>: visible until the map's own script has drawn the map, so a page whose
# scripts never run (blocked, failed, JavaScript off) says so instead of staying blank.
_GUARD_BODY = """<div id="pli-load-error" class="pli-load-error" role="alert">
<h2>The map could not be drawn</h2>
<p>This page draws its map with JavaScript, and a script did not load, stopped with an
error, or JavaScript is switched off in this browser.</p>
<p>Open the file in a current Edge, Chrome or Firefox, and keep the whole maps folder
together.</p>
<p class="pli-online-hint" hidden>This page was made with online maps (--online or maps.online:
true): it loads Leaflet from public CDNs on the internet, which many networks
block. Make the maps again without that option for pages that work with no internet access.</p>
<p>Details: <code></code></p>
</div>"""

class LoadGuard(MacroElement):
    """A visible message when the page's map fails, hidden once the map is drawn.

    Adds a script to the page head (before Leaflet) that shows the message with the
    failing file or error, a static message box to the body, and, in the map script
    right after the map is created, the line that hides the box. Add it to the map
    first, before any layer.

    A page that links its libraries from CDNs (``--online``) also says how to make one
    that needs no internet.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var box = document.getElementById('pli-load-error');
            if (box) { box.hidden = true; }
        })();
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        self._name = "LoadGuard"

    def render(self, **kwargs) -> str:
        """Place the head script and the body box, then the hiding script (branca's MacroElement contract)."""
        figure = self.get_root()
        figure.header.add_child(Element(_GUARD_HEAD), name="pli_load_guard", index=0)  # type: ignore[attr-defined]
        figure.html.add_child(Element(_GUARD_BODY), name="pli_load_error")  # type: ignore[attr-defined]
        return super().render(**kwargs)


class TileNote(MacroElement):
    """Say so on the map when its base map tiles cannot be fetched (no internet, blocked)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var tiles = {{ this.layer }};
            var noted = false;
            tiles.on('tileerror', function () {
                if (noted) { return; }
                noted = true;
                var div = L.DomUtil.create('div', 'pli-tile-note');
                div.setAttribute('data-panel', 'tile-note');
                div.textContent = {{ this.text|tojson }};
                var ctl = L.control({position: 'bottomleft'});
                ctl.onAdd = function () { return div; };
                ctl.addTo(map);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layer):
        super().__init__()
        self._name = "TileNote"
        self.layer = layer.get_name()
        self.text = "Base map unavailable (no connection to the tile server): the data layers are complete."


# ------------------------------------------------------------------ page furniture

PAGE_CSS = """
<style>
.pli-panel{background:rgba(255,255,255,.94);padding:8px 12px;border-radius:4px;
  box-shadow:0 1px 5px rgba(0,0,0,.4);font:13px/1.35 "Helvetica Neue",Arial,sans-serif;
  color:#222;max-width:min(520px,60vw)}
.pli-title h1{font-size:17px;margin:0 0 3px 0;font-weight:bold}
.pli-title p{margin:2px 0;font-size:12px;color:#333}
.pli-title .pli-sim{color:#b00020;font-weight:bold}
.pli-title .pli-sensitive{margin:0 0 4px 0;padding:2px 6px;background:#b00020;color:#fff;
  font-weight:bold;letter-spacing:.03em;display:inline-block}
.pli-legend{background:rgba(255,255,255,.94);padding:6px 9px;border-radius:4px;
  box-shadow:0 1px 5px rgba(0,0,0,.4);font:12px/1.3 "Helvetica Neue",Arial,sans-serif;
  color:#222;max-width:280px}
.pli-legend h4{margin:0 0 4px 0;font-size:12px;font-weight:bold}
.pli-legend .pli-row{display:flex;align-items:center;margin:1px 0}
.pli-legend .pli-sw{width:16px;height:12px;margin-right:6px;border:1px solid #777;flex:none}
.pli-legend .pli-line{width:18px;height:0;margin-right:6px;flex:none}
.pli-legend .pli-dot{width:10px;height:10px;border-radius:50%;margin:0 9px 0 3px;flex:none}
.pli-legend p{margin:3px 0 0 0;font-size:11px;color:#444}
.pli-legend .pli-strong{font-weight:bold}
.pli-label{font:11px/1.1 "Helvetica Neue",Arial,sans-serif;color:#333;white-space:normal;
  width:max-content;max-width:96px;text-align:center;
  text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 2px #fff;pointer-events:none;
  transform:translate(-50%,-50%);display:block}
.pli-label-icon{font-size:0;line-height:0}
.pli-number{font:bold 13px/22px "Helvetica Neue",Arial,sans-serif;color:#fff;
  background:#1a1a1a;border:2px solid #fff;border-radius:50%;width:22px;height:22px;
  text-align:center;box-shadow:0 0 3px rgba(0,0,0,.6);transform:translate(-50%,-50%);
  cursor:pointer}
.pli-tip{font:12px/1.35 "Helvetica Neue",Arial,sans-serif}
.pli-profile{font:12px/1.4 "Helvetica Neue",Arial,sans-serif;max-width:340px}
.pli-profile h3{font-size:14px;margin:0 0 4px 0}
.pli-profile table{border-collapse:collapse}
.pli-profile th{text-align:left;padding:1px 8px 1px 0;vertical-align:top;font-weight:600}
.pli-profile td{padding:1px 0;vertical-align:top}
.pli-profile .pli-lsoas{max-height:140px;overflow-y:auto}
.pli-profile-panel{max-height:calc(100vh - 440px);min-height:90px;overflow:auto}
.leaflet-control-layers-expanded{max-height:70vh;overflow-y:auto}
.pli-load-error{position:fixed;top:12px;left:50%;transform:translateX(-50%);z-index:10000;
  max-width:min(640px,92vw);background:#fff4f4;border:2px solid #b00020;border-radius:4px;
  padding:10px 14px;font:14px/1.4 "Helvetica Neue",Arial,sans-serif;color:#222;
  box-shadow:0 2px 8px rgba(0,0,0,.35)}
.pli-load-error[hidden],.pli-load-error [hidden]{display:none}
.pli-load-error h2{font-size:16px;margin:0 0 4px 0;color:#b00020}
.pli-load-error p{margin:4px 0}
.pli-load-error code{font-size:12px;white-space:pre-wrap;word-break:break-word}
.leaflet-control-attribution{max-width:min(720px,calc(100vw - 220px));white-space:normal;font-size:11px}
.pli-tile-note{background:rgba(255,255,255,.9);padding:2px 6px;border-radius:3px;max-width:calc(100vw - 90px);
  font:11px/1.3 "Helvetica Neue",Arial,sans-serif;color:#7a4a00}
.pli-toggle{display:none;font:bold 12px/1.2 "Helvetica Neue",Arial,sans-serif;background:#fff;
  border:1px solid #888;border-radius:3px;padding:3px 8px;margin:0;cursor:pointer;color:#222}
.leaflet-pane.leaflet-pli-labels-pane{pointer-events:none}
@media print{
  @page{size:A4 landscape;margin:7mm}
  html,body{width:100%;height:100%;margin:0;padding:0;overflow:hidden}
  .folium-map{position:absolute!important;top:0;left:0;width:100%!important;height:100%!important}
  .leaflet-control-layers,.leaflet-control-zoom{display:none!important}
  .pli-panel,.pli-legend{box-shadow:none;border:1px solid #888}
  .pli-profile-panel{max-height:none}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
@media (max-width:600px){
  .pli-toggle{display:inline-block}
  .pli-collapsible:not(.pli-open) .pli-body{display:none}
  .pli-collapsible.pli-open .pli-toggle{margin-bottom:4px}
  .pli-legend.pli-collapsible:not(.pli-open),.pli-panel.pli-collapsible:not(.pli-open){padding:0;background:none;
    box-shadow:none;min-height:0}
  .pli-panel{max-width:calc(100vw - 70px);padding:5px 8px}
  .pli-title h1{font-size:13px}
  .pli-title p{display:none}
  .pli-title p.pli-sensitive,.pli-title p.pli-sim{display:inline-block;font-size:11px}
  .pli-legend{max-width:170px;padding:4px 6px;font-size:10px;line-height:1.15}
  .pli-legend h4{font-size:10px;margin-bottom:2px}
  .pli-legend p{display:none}
  .pli-legend .pli-sw{width:11px;height:9px}
  .pli-profile-panel{max-height:30vh}
  .pli-profile-panel .pli-lsoas{display:none}
  .leaflet-control-layers-expanded{max-height:60vh;font-size:11px}
  .pli-legend[data-legend="neighbourhoods"]{display:none}
  .pli-load-error{font-size:13px}
  .leaflet-control-attribution{font-size:9px;line-height:1.2;max-width:calc(100vw - 60px)}
  .leaflet-control-scale-line{font-size:9px;padding:0 3px}
  .leaflet-bottom.leaflet-left{bottom:26px}
}
</style>
"""


_DASHES = {"dashed": "dashed", "dotted": "dotted", "solid": "solid"}


def legend_html(
    title: str,
    items: Sequence[tuple],
    *,
    kind: str = "swatch",
    note: str | None = None,
    opacity: float = 1.0,
) -> str:
    """HTML for one legend box; every text argument is escaped here.

    Parameters
    ----------
    title : str
        Legend heading.
    items : sequence of (colour, label) or (colour, label, options)
        Colours are hex strings produced by pli; labels are any text.  ``options``
        (a dict) styles one row: ``width`` (line width in px), ``dash``
        (``"solid"``, ``"dashed"`` or ``"dotted"``), ``border`` (outline colour of a
        swatch or dot), ``bold`` (label in bold).
    kind : {"swatch", "line", "dot"}
        Filled box for areas, a line for outlines, a dot for points.
    note : str, optional
        Small print under the entries.
    opacity : float
        Fill opacity of swatches and dots; pass the map's own so the key matches it.
    """
    css = {"swatch": "pli-sw", "line": "pli-line", "dot": "pli-dot"}[kind]
    alpha = min(max(float(opacity), 0.0), 1.0)
    rows = []
    for item in items:
        colour, label = item[0], item[1]
        options = item[2] if len(item) > 2 else {}
        colour = _safe_colour(colour)
        if kind == "line":
            width = min(max(float(options.get("width", 3)), 0.5), 8)
            dash = _DASHES.get(options.get("dash", "solid"), "solid")
            style = f"border-top:{width:g}px {dash} {colour}"
        else:
            style = f"background:{colour};opacity:{alpha:g}" if alpha < 1 else f"background:{colour}"
            if "border" in options:
                style += f";border:2px solid {_safe_colour(options['border'])}"
        text_css = ' class="pli-strong"' if options.get("bold") else ""
        rows.append(
            f'<div class="pli-row"><span class="{css}" style="{style}"></span>'
            f"<span{text_css}>{escape_text(label)}</span></div>"
        )
    foot = f"<p>{escape_text(note)}</p>" if note else ""
    return f"<h4>{escape_text(title)}</h4>{''.join(rows)}{foot}"


def _safe_colour(colour: object) -> str:
    return colour if isinstance(colour, str) and re.fullmatch(r"#[0-9a-fA-F]{3,8}", colour) else "#999999"


class LegendControl(MacroElement):
    """A legend box shown only while its layer is on the map.

    Parameters
    ----------
    html : str
        Legend body from :func:`legend_html` (already escaped).
    layer : folium layer, optional
        The layer the legend explains; ``None`` keeps the legend always visible.
    key : str
        Stable identifier written to ``data-legend`` (tests and styling use it).
    position : str
        Leaflet control corner.
    toggle : str, optional
        Label of the button that shows and hides the legend on narrow screens (under
        600 px, where it starts collapsed); ``None`` keeps it always open.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var div = L.DomUtil.create('div', 'pli-legend');
            div.setAttribute('data-legend', {{ this.key|tojson }});
            (window.pliCollapsible || function (d, h) { d.innerHTML = h; })(div, {{ this.html|tojson }}, {{ this.toggle|tojson }});
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            var ctl = L.control({position: {{ this.position|tojson }}});
            ctl.onAdd = function () { return div; };
            ctl.addTo(map);
            {%- if this.layer_name %}
            var layer = {{ this.layer_name }};
            var sync = function () { div.style.display = map.hasLayer(layer) ? '' : 'none'; };
            map.on('layeradd layerremove', sync);
            sync();
            {%- endif %}
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html: str, *, layer=None, key: str, position: str = "bottomleft", toggle: str | None = "Key"):
        super().__init__()
        self._name = "LegendControl"
        self.html = html
        self.toggle = toggle
        self.layer_name = layer.get_name() if layer is not None else None
        self.key = key
        self.position = position


class MapPanel(MacroElement):
    """A fixed panel (title, neighbourhood profile) as a Leaflet control.

    ``html`` must already be escaped; it is handed to the browser as a JSON string.
    ``toggle`` labels the button that collapses the panel on narrow screens (under
    600 px, where it starts collapsed); ``None`` keeps it always open.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var div = L.DomUtil.create('div', {{ this.css_class|tojson }});
            div.setAttribute('data-panel', {{ this.key|tojson }});
            (window.pliCollapsible || function (d, h) { d.innerHTML = h; })(div, {{ this.html|tojson }}, {{ this.toggle|tojson }});
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            var ctl = L.control({position: {{ this.position|tojson }}});
            ctl.onAdd = function () { return div; };
            ctl.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, html: str, *, key: str, position: str = "topleft", css_class: str = "pli-panel",
        toggle: str | None = None,
    ):
        super().__init__()
        self._name = "MapPanel"
        self.html = html
        self.toggle = toggle
        self.key = key
        self.position = position
        self.css_class = css_class


class Attribution(MacroElement):
    """Add a line to Leaflet's attribution control (``text`` must be escaped)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, text: str):
        super().__init__()
        self._name = "Attribution"
        self.text = text


class ThemeFromHash(MacroElement):
    """Open the page on the theme its address names after ``#`` (``page.html#hotspots``).

    A big area's detailed page holds every theme once; the overview's "hot spots"
    links open the same page on the cluster layer instead of a second copy of it.

    Parameters
    ----------
    themes : dict
        Hash word -> theme layer (mutually exclusive base layers of the page).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var names = {{ this.names_js }};
            var layers = [{% for layer in this.layers %}{{ layer.get_name() }}{% if not loop.last %}, {% endif %}{% endfor %}];
            var pick = function () {
                var i = names.indexOf((window.location.hash || '').replace(/^#/, ''));
                if (i < 0 || map.hasLayer(layers[i])) { return; }
                layers.forEach(function (layer) { if (map.hasLayer(layer)) { map.removeLayer(layer); } });
                map.addLayer(layers[i]);
            };
            pick();
            window.addEventListener('hashchange', pick);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, themes: dict[str, object]) -> None:
        super().__init__()
        self._name = "ThemeFromHash"
        self.layers = list(themes.values())
        self.names_js = script_json(list(themes))


class FitView(MacroElement):
    """Fit the map to bounds in the part of the window the panels leave free.

    Add it after every panel and the layer control: it measures the title panel
    (``.pli-title``) and the layer control, then chooses between fitting beside the
    title and fitting below it, whichever shows the area larger.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var bounds = L.latLngBounds({{ this.bounds|tojson }});
            var fitting = false, touched = false;
            var fit = function () {
            var box = map.getContainer().getBoundingClientRect();
            var size = map.getSize();
            var extent = function (sel) {
                var el = map.getContainer().querySelector(sel);
                if (!el || el.offsetWidth === 0) { return null; }
                var r = el.getBoundingClientRect();
                return {left: r.left - box.left, right: r.right - box.left, bottom: r.bottom - box.top, width: r.width};
            };
            var title = extent('.pli-title');
            var layers = extent('.leaflet-control-layers-expanded');
            var right = layers && layers.width < size.x / 2 ? size.x - layers.left + 10 : 10;
            map.getContainer().querySelectorAll('.leaflet-bottom.leaflet-right .pli-legend').forEach(function (el) {
                var r = el.getBoundingClientRect();
                var body = el.querySelector('.pli-body');
                if (body && body.offsetWidth === 0) { return; }  // folded behind its button (phones)
                if (el.style.display !== 'none' && r.width && r.width < size.x / 3) { right = Math.max(right, box.right - r.left + 10); }
            });
            var legend = 0;
            map.getContainer().querySelectorAll('.leaflet-bottom.leaflet-left .pli-legend').forEach(function (el) {
                if (el.style.display !== 'none') { legend = Math.max(legend, el.getBoundingClientRect().right - box.left); }
            });
            var wide = size.x > 900;
            // A credit line across most of the width (phones) is kept clear of the area.
            var credit = map.getContainer().querySelector('.leaflet-control-attribution');
            var bottom = credit && credit.offsetWidth > size.x / 2 ? credit.offsetHeight + 10 : 10;
            var options = [];
            if (title) {
                options.push({tl: [title.right + 10, 10], br: [right, bottom]});
                options.push({tl: [wide ? legend + 10 : 10, title.bottom + 10], br: [right, bottom]});
            } else {
                options.push({tl: [wide ? legend + 10 : 10, 10], br: [right, bottom]});
            }
            var best = null, bestZoom = -Infinity;
            options.forEach(function (o) {
                var free = size.x - o.tl[0] - o.br[0];
                if (free < 120) { return; }
                var z = map.getBoundsZoom(bounds, false, L.point(o.tl).add(o.br));
                if (z > bestZoom) { bestZoom = z; best = o; }
            });
            best = best || {tl: [10, 10], br: [10, 10]};
            fitting = true;
            map.fitBounds(bounds, {paddingTopLeft: best.tl, paddingBottomRight: best.br, animate: false});
            fitting = false;
            };
            fit();
            // Until the reader moves the map, a resized window (or a page laid out
            // late) is fitted again rather than left showing the first fit.
            map.on('dragstart popupopen autopanstart', function () { touched = true; });
            map.on('zoomstart', function () { if (!fitting) { touched = true; } });
            map.on('resize', function () { if (!touched) { fit(); } });
            // Printing lays the page out at the paper's size; Leaflet only learns of it
            // here, so the map (and its canvas) fills the printed page and is fitted again.
            var print = window.matchMedia ? window.matchMedia('print') : null;
            var relayout = function () {
                map.invalidateSize({animate: false, pan: false});
                map.eachLayer(function (l) { if (l instanceof L.Renderer && l._update && l._redraw) { l._update(); l._redraw(); } });
            };
            if (print && print.addEventListener) { print.addEventListener('change', relayout); }
            else if (print && print.addListener) { print.addListener(relayout); }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, bounds: list[list[float]]):
        super().__init__()
        self._name = "FitView"
        self.bounds = [[float(v) for v in corner] for corner in bounds]


class KeepInFront(MacroElement):
    """Restack outline layers above the themes whenever the theme or an overlay changes.

    folium's ``keep_in_front`` only reacts to ``overlayadd``; switching the base theme
    (a radio button) would otherwise draw the new choropleth over the boundaries.
    ``layers`` are brought to front in the order given (last ends on top).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var layers = [{% for name in this.names %}{{ name }}{{ "," if not loop.last }}{% endfor %}];
            var restack = function () {
                layers.forEach(function (layer) {
                    if (map.hasLayer(layer) && layer.bringToFront) { layer.bringToFront(); }
                });
            };
            map.on('baselayerchange overlayadd', restack);
            restack();
        })();
        {% endmacro %}
        """
    )

    def __init__(self, *layers):
        super().__init__()
        self._name = "KeepInFront"
        self.names = [layer.get_name() for layer in layers if layer is not None]


class ResponsiveLayers(MacroElement):
    """Collapse the layer control to its icon on narrow screens (phones)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var ctl = {{ this.control }};
            if (map.getSize().x >= {{ this.min_width }}) { return; }
            ctl.collapse();
            var box = ctl.getContainer();
            L.DomEvent.on(box, 'mouseenter', ctl.expand, ctl);
            L.DomEvent.on(box, 'mouseleave', ctl.collapse, ctl);
            map.on('click', ctl.collapse, ctl);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, control, *, min_width: int = 700):
        super().__init__()
        self._name = "ResponsiveLayers"
        self.control = control.get_name()
        self.min_width = int(min_width)


def label_data(points: gpd.GeoDataFrame, *, fit: bool = False) -> dict:
    """The GeoJSON a :class:`LabelLayer` carries for ``points`` (``label``, optional
    ``popup``, and with ``fit`` the ``west``/``south``/``east``/``north`` extent)."""
    keep = [c for c in ("label", "popup") if c in points.columns]
    frame = points[keep + ["geometry"]].copy()
    frame["label"] = frame["label"].astype("string").fillna("").astype(object)
    bounds = ["west", "south", "east", "north"]
    if fit and set(bounds) <= set(points.columns):
        frame["extent"] = [[round(float(v), 5) for v in row] for row in points[bounds].to_numpy()]
    # Plain dict via to_json keeps numpy and pandas scalar types out of the JSON.
    return json.loads(frame.to_json(drop_id=True))


class LabelLayer(MacroElement):
    """Text labels at points, added to a parent layer (FeatureGroup).

    Labels are set with ``textContent`` so they can never become markup.  An optional
    ``popup`` property (escaped HTML built by pli) is bound to each label.

    Parameters
    ----------
    points : GeoDataFrame
        EPSG:4326 points with a ``label`` column and optionally ``popup``.
    css_class : str
        Class of the label element (``pli-label`` or ``pli-number``).
    interactive : bool
        Whether the label takes clicks (needed for popups).
    z_offset : int
        Added to the markers' z-index (labels that must stay on top).
    pane : str, optional
        A Leaflet pane of its own (created at z-index 550: above every area and outline,
        below the numbered markers); default the marker pane.
    fit : bool
        Thin the names with scale: with ``west, south, east, north`` columns (the
        bounds of each name's area, degrees), a name shows only while its box fits
        inside its area's bounds on screen, so a national page zoomed out names a
        few dozen big areas and more appear as the reader zooms in.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var data = {{ this.data_js }};
            var parent = {{ this._parent.get_name() }};
            var map = {{ this.map_name() }};
            var pad = [10, 10];
            var title = map.getContainer().querySelector('.pli-title');
            if (title) {
                var tb = title.getBoundingClientRect(), mb = map.getContainer().getBoundingClientRect();
                pad = [Math.round(tb.right - mb.left + 10), Math.round(tb.bottom - mb.top + 10)];
            }
            if (!map._pliDeclutter) {
                // Hide a name that would sit on a number or on a name shown before it.
                // Boxes come from the markers' map positions, not the DOM, so they are
                // right even while a zoom animation is still moving the elements.
                map._pliMarks = [];
                map._pliDeclutter = function () {
                    var boxes = [];
                    var box = function (mark) {
                        var p = map.latLngToContainerPoint(mark.marker.getLatLng());
                        // Fractional sizes and a pixel of air: rounded widths let labels touch.
                        var size = mark.el.getBoundingClientRect();
                        var w = (size.width || mark.el.offsetWidth) / 2 + 1, h = (size.height || mark.el.offsetHeight) / 2 + 1;
                        return {left: p.x - w, right: p.x + w, top: p.y - h, bottom: p.y + h};
                    };
                    var overlaps = function (a, b) {
                        return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
                    };
                    var shown = map._pliMarks.filter(function (mark) { return map.hasLayer(mark.marker); });
                    shown.forEach(function (mark) { if (mark.number) { boxes.push(box(mark)); } });
                    // A name that clashes is tried below, above, right, left and diagonally
                    // off its spot before it is hidden: names of priority areas stay beside the numbers.
                    shown.forEach(function (mark) {
                        if (mark.number) { return; }
                        var r0 = box(mark);
                        var w = r0.right - r0.left, h = r0.bottom - r0.top;
                        if (mark.extent) {
                            // Thinned with scale: a name shows only when it fits its area's
                            // box on screen, so zoomed out only the big areas are named.
                            var nw = map.latLngToContainerPoint([mark.extent[3], mark.extent[0]]);
                            var se = map.latLngToContainerPoint([mark.extent[1], mark.extent[2]]);
                            if (w > se.x - nw.x || h > se.y - nw.y) {
                                mark.el.style.visibility = 'hidden';
                                mark.el.style.transform = '';
                                return;
                            }
                        }
                        var side = w / 2 + 15;
                        var tries = [[0, 0], [0, h + 2], [0, -h - 2], [side, 0], [-side, 0], [side, h], [-side, h],
                                     [side, -h], [-side, -h], [0, 2 * h + 4], [0, -2 * h - 4]];
                        var placed = null;
                        for (var k = 0; k < tries.length && !placed; k++) {
                            var dx = tries[k][0], dy = tries[k][1];
                            var r = {left: r0.left + dx, right: r0.right + dx, top: r0.top + dy, bottom: r0.bottom + dy};
                            if (!boxes.some(function (o) { return overlaps(r, o); })) { placed = tries[k]; boxes.push(r); }
                        }
                        mark.el.style.visibility = placed ? '' : 'hidden';
                        // A transform moves the label by exactly the offset (margins would not).
                        mark.el.style.transform = placed && (placed[0] || placed[1])
                            ? 'translate(calc(-50% + ' + placed[0] + 'px), calc(-50% + ' + placed[1] + 'px))' : '';
                    });
                };
                map.on('zoomend overlayadd overlayremove', map._pliDeclutter);
                map.whenReady(function () { setTimeout(map._pliDeclutter, 0); });
            }
            var pane = {{ this.pane|tojson }};
            if (pane && !map.getPane(pane)) {
                // Above the canvas of areas and outlines (400), below numbers and tooltips (600+).
                map.createPane(pane).style.zIndex = 550;
            }
            L.geoJSON(data, {
                pointToLayer: function (feature, latlng) {
                    var el = document.createElement('div');
                    el.className = {{ this.css_class|tojson }};
                    el.textContent = feature.properties.label;
                    var m = L.marker(latlng, {
                        icon: L.divIcon({html: el, className: 'pli-label-icon', iconSize: null}),
                        interactive: {{ this.interactive|tojson }},
                        zIndexOffset: {{ this.z_offset|tojson }},
                        keyboard: false,
                        pane: pane || 'markerPane'
                    });
                    map._pliMarks.push({marker: m, el: el, number: el.className === 'pli-number',
                                        extent: feature.properties.extent || null});
                    if (feature.properties.popup) {
                        m.bindPopup(feature.properties.popup, {maxWidth: 380, autoPanPaddingTopLeft: pad});
                    }
                    return m;
                }
            }).addTo(parent);
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, points, *, css_class: str = "pli-label", interactive: bool = False, z_offset: int = 0,
        pane: str | None = None, fit: bool = False, data: dict | None = None,
    ):
        super().__init__()
        self._name = "LabelLayer"
        self.pane = pane
        # ``data``: what label_data(points, fit=fit) gives, converted once for many pages.
        self.data = label_data(points, fit=fit) if data is None else data
        # Labels are raw text (shown through textContent), so they cannot be entity-escaped;
        # script_json keeps their braces out of the page source all the same.
        self.data_js = script_json(self.data)
        self.css_class = css_class
        self.interactive = bool(interactive)
        # Leaflet stacks markers by latitude; an offset keeps numbers above names.
        self.z_offset = int(z_offset)

    def map_name(self) -> str:
        """JavaScript name of the map this layer ends up on (its parent may be a group)."""
        node = self._parent
        while node is not None and not isinstance(node, folium.Map):
            node = getattr(node, "_parent", None)
        if node is None:
            raise PliError("LabelLayer must be added to a folium Map or to a layer on one")
        return node.get_name()


# A JSON string token, written as an unrolled loop: the same tokens as "(?:[^"\\]|\\.)*", faster.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_SCRIPT_STRING_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    ord("'"): "\\u0027",
    ord("{"): "\\u007b",
    ord("}"): "\\u007d",
}


def script_json(obj: object) -> str:
    """JSON to place inside a ``<script>`` element, holding raw text safely.

    Like Jinja's ``tojson`` (``<``, ``>``, ``&`` and ``'`` as ``\\u`` escapes, so no
    string can close the script), and braces inside strings are ``\\u007b`` /
    ``\\u007d`` too, so no ``{{``, ``{%`` or ``{#`` from data appears in the page
    source. JavaScript reads the same strings back.

    Examples
    --------
    >>> script_json({"label": "</script>{{7*7}}"})
    '{"label": "\\\\u003c/script\\\\u003e\\\\u007b\\\\u007b7*7\\\\u007d\\\\u007d"}'
    """
    text = json.dumps(obj, sort_keys=True, allow_nan=False)
    outside_strings = _JSON_STRING.sub("", text)
    if text.count("{") == outside_strings.count("{") and text.count("}") == outside_strings.count("}"):
        # No string holds a brace, and '<', '>', '&' and "'" occur in JSON text only
        # inside strings: replacing them everywhere gives the same bytes as the
        # string-by-string pass below without a Python call per string (a map page's
        # features hold hundreds of thousands of strings).
        for char, escaped in _HTML_ESCAPES:
            text = text.replace(char, escaped)
        return text
    # Every '"' outside a string token starts one, so a left-to-right scan finds exactly the strings.
    return _JSON_STRING.sub(lambda m: m.group(0).translate(_SCRIPT_STRING_ESCAPES), text)


_HTML_ESCAPES = tuple((chr(code), escaped) for code, escaped in _SCRIPT_STRING_ESCAPES.items() if chr(code) not in "{}")


def format_number(values: pd.Series, fmt: str, *, missing: str = "n/a") -> pd.Series:
    """Format a numeric column with a ``str.format`` spec; NA becomes ``missing``."""
    numeric = pd.to_numeric(values, errors="coerce").astype("float64")
    out = pd.Series(missing, index=values.index, dtype=object)
    ok = numeric.notna().to_numpy()
    if ok.any():
        out.loc[ok] = numeric[ok].map(("{:" + fmt + "}").format)
    return out

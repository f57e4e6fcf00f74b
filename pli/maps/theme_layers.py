"""Theme layers that share one copy of the LSOA geometry on a page.

A map page shows the same LSOAs under several mutually exclusive themes (the index,
each domain, LISA and Gi*). As one ``folium.GeoJson`` each, every theme embedded the
whole feature collection with its geometry, and folium ran a Python style function
over every feature of every theme: seven or more copies of the geometry per page, and
most of the time of a big area's map pages. Here the page holds the collection once
(:class:`SharedFeatures`: geometry plus each theme's colour and tooltip properties)
and each :class:`ThemeLayer` is a Leaflet ``L.geoJSON`` built in the browser from it,
styled, highlighted and with the tooltip exactly as the folium layer had them.
"""

from __future__ import annotations

from typing import Iterable

import folium
from branca.element import Element, MacroElement
from jinja2 import Template

from pli._map_assets import script_json

__all__ = ["SharedFeatures", "ThemeLayer"]


# folium's GeoJsonTooltip adds this to the page head once per layer; the themes add it once.
_TIP_TABLE_CSS = (
    "<style>.pli-tip table{margin:auto}.pli-tip tr{text-align:left}"
    ".pli-tip th{padding:2px;padding-right:8px}</style>"
)


# Builds one theme in the browser. Each theme gets its own small feature objects holding
# only its two properties (as the folium layers had), sharing the geometry arrays.
# The tooltip is folium's GeoJsonTooltip with labels=False: the property (escaped HTML
# built by pli) in a one-cell table.
_BUILDER = """
function pliThemeLayer(shared, colour, tip, style, highlight) {
    var features = shared.features.map(function (f) {
        var p = {};
        p[colour] = f.properties[colour];
        p[tip] = f.properties[tip];
        return {type: 'Feature', id: f.id, properties: p, geometry: f.geometry};
    });
    var layer = L.geoJson(null, {
        style: function (feature) { return L.extend({}, style, {fillColor: feature.properties[colour]}); },
        onEachFeature: function (feature, child) {
            child.on({
                mouseout: function (e) {
                    if (typeof e.target.setStyle === 'function') { layer.resetStyle(e.target); }
                },
                mouseover: function (e) {
                    if (typeof e.target.setStyle === 'function') { e.target.setStyle(highlight); }
                }
            });
        }
    });
    layer.addData({type: 'FeatureCollection', features: features});
    layer.bindTooltip(function (child) {
        var div = L.DomUtil.create('div');
        var value = child.feature.properties[tip];
        var text = value === null || value === undefined ? ''
            : (typeof value === 'object' ? JSON.stringify(value) : value);
        div.innerHTML = '<table><tr><td>' + text + '</td></tr></table>';
        return div;
    }, {sticky: true, className: 'pli-tip'});
    return layer;
}
"""


class SharedFeatures(MacroElement):
    """A page's LSOA FeatureCollection, embedded once as a JavaScript variable.

    Add it to the map before the :class:`ThemeLayer` elements that draw from it.

    Parameters
    ----------
    features : list of dict
        GeoJSON features (``id``, ``properties``, ``geometry``); their properties may
        hold more keys than the themes use.
    keys : iterable of str
        The properties the themes read (colour and tooltip of each); only these are
        embedded. Tooltip values are escaped HTML built by pli; every string is written
        with :func:`pli._map_assets.script_json`, so none can end the script.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.builder }}
        var {{ this.get_name() }} = {{ this.data_js }};
        {% endmacro %}
        """
    )

    def __init__(self, features: list[dict], keys: Iterable[str]):
        super().__init__()
        self._name = "SharedFeatures"
        wanted = tuple(dict.fromkeys(keys))
        collection = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": f["id"],
                    "properties": {k: f["properties"][k] for k in wanted},
                    "geometry": f["geometry"],
                }
                for f in features
            ],
        }
        self.data_js = script_json(collection)
        self.builder = _BUILDER


class ThemeLayer(folium.map.Layer):
    """One theme of the shared LSOAs: a base layer of the page's layer control.

    Parameters
    ----------
    features : SharedFeatures
        The page's shared collection (already added to the map).
    name : str
        Name in the layer control; must already be escaped.
    colour, tip : str
        Properties holding each LSOA's fill colour and tooltip HTML for this theme.
    style : dict
        Leaflet path style of every LSOA (stroke, weight, fill opacity); the fill
        colour comes from ``colour``.
    highlight : dict
        Style set while the mouse is over an LSOA.
    show : bool
        Whether the theme is on when the page opens (one per page).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = pliThemeLayer({{ this.features_name }}, {{ this.colour|tojson }},
            {{ this.tip|tojson }}, {{ this.style|tojson }}, {{ this.highlight|tojson }});
        {% endmacro %}
        """
    )

    def __init__(
        self, features: SharedFeatures, *, name: str, colour: str, tip: str, style: dict, highlight: dict,
        show: bool,
    ):
        super().__init__(name=name, overlay=False, control=True, show=show)
        self._name = "ThemeLayer"
        self.features_name = features.get_name()
        self.colour = colour
        self.tip = tip
        self.style = dict(style)
        self.highlight = dict(highlight)

    def render(self, **kwargs: object) -> str:
        """Render the layer and, once per page, the tooltip's table style."""
        self.get_root().header.add_child(Element(_TIP_TABLE_CSS), name="pli_tip_table_css")  # type: ignore[attr-defined]
        return super().render(**kwargs)

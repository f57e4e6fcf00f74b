"""QGIS styles inside the GeoPackage, so ``pli.gpkg`` opens looking like the web maps.

QGIS reads a layer's default style from the GeoPackage table ``layer_styles`` (columns
``f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName,
styleQML, styleSLD, useAsDefault, description, owner, ui, update_time``) whenever the
layer is added. :func:`style_geopackage` writes one default style per layer:

* ``lsoa``: graduated on ``score`` with the run's priority classes
  (:mod:`pli.classes`, ``output.classes``) and the web maps' colours, so an LSOA has the
  same colour in QGIS, on the web maps and the same class in ``rankings.csv`` (on
  ``rank`` when public mode's rounded scores tie across a class break);
* ``wards`` (the upper layer) and ``priority_neighbourhoods``: outlines with labels
  (neighbourhoods as ``"rank. name"``), in the web maps' colours;
* ``micro_places`` (and ``micro_places_snap``): graduated markers, bigger and darker for
  more harm (quintiles of harm by rank, the same rule as the index classes);
* ``kde_surface`` when present: graduated on density.

Each layer also gets a one-line ``gpkg_contents.description``. Every timestamp written
is the GeoPackage's fixed one (:func:`pli.outputs.gpkg_timestamp`), so the file stays
byte-reproducible. SLD is written alongside the QML for other tools (GeoServer, ArcGIS
Pro import); QGIS uses the QML.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Optional
from xml.sax.saxutils import escape, quoteattr

import matplotlib.colors
import pandas as pd

from pli.classes import class_colours, priority_classes
from pli.maps.style import NEIGHBOURHOOD_COLOUR, PATROL_COLOUR, UPPER_COLOUR

__all__ = ["LAYER_STYLES_COLUMNS", "STYLE_NAME", "layer_description", "style_geopackage", "style_qml"]

STYLE_NAME = "pli"
LAYER_STYLES_COLUMNS = ("f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName",
                        "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time")
# The table as QGIS itself creates it (QgsOgrProviderUtils / GDAL's GPKG driver).
_CREATE = (
    "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), "
    "f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT, "
    "useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), "
    "update_time DATETIME DEFAULT CURRENT_TIMESTAMP)"
)
_WEB_OPACITY = 0.8  # the index layer's fill opacity on the main web map (priority_localities.html)
# Small enough that a borough's few thousand places do not cover the map at full extent.
_MARKER_SIZES_MM = (0.8, 1.2, 1.8, 2.6, 3.6)


def _rgba(colour: str, alpha: float = 1.0) -> str:
    r, g, b = (round(255 * c) for c in matplotlib.colors.to_rgb(colour))
    return f"{r},{g},{b},{round(255 * alpha)}"


def _number(value: float) -> str:
    # repr keeps every digit, so a range bound equals the stored double exactly.
    return repr(float(value))


def _options(options: dict[str, str]) -> str:
    """A symbol layer's properties, as an ``Option`` map and as ``prop`` elements.

    QGIS writes and reads the ``Option`` map; releases before 3.26 read ``prop``.
    """
    inner = "".join(f'<Option name={quoteattr(k)} type="QString" value={quoteattr(v)}/>' for k, v in options.items())
    props = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in options.items())
    return f'<Option type="Map">{inner}</Option>{props}'


def _fill_symbol(name: str, fill: Optional[str], outline: str, width_mm: float, *, alpha: float = 1.0) -> str:
    layer = _options({
        "color": _rgba(fill) if fill else "0,0,0,0", "style": "solid" if fill else "no",
        "outline_color": _rgba(outline), "outline_style": "solid", "outline_width": f"{width_mm:g}",
        "outline_width_unit": "MM", "joinstyle": "round",
    })
    return (f'<symbol type="fill" name={quoteattr(name)} alpha="{alpha:g}" clip_to_extent="1" force_rhr="0">'
            f'<layer class="SimpleFill" enabled="1" locked="0" pass="0">{layer}</layer></symbol>')


def _marker_layer(fill: str, size_mm: float) -> str:
    return ('<layer class="SimpleMarker" enabled="1" locked="0" pass="0">' + _options({
        "name": "circle", "color": _rgba(fill), "outline_color": "34,34,34,255", "outline_width": "0.2",
        "outline_width_unit": "MM", "size": f"{size_mm:g}", "size_unit": "MM", "outline_style": "solid",
    }) + "</layer>")


def _marker_symbol(name: str, fill: str, size_mm: float, *, polygon: bool) -> str:
    head = 'alpha="1" clip_to_extent="1" force_rhr="0"'
    if not polygon:
        return f'<symbol type="marker" name={quoteattr(name)} {head}>{_marker_layer(fill, size_mm)}</symbol>'
    # A polygon layer (grid cells): a circle at each cell's centroid over a faint cell outline.
    marker = f'<symbol type="marker" name="@{name}@1" {head}>{_marker_layer(fill, size_mm)}</symbol>'
    outline = _options({"color": "0,0,0,0", "style": "no", "outline_color": _rgba(fill, 0.6),
                        "outline_style": "solid", "outline_width": "0.15", "outline_width_unit": "MM"})
    centroid = _options({"point_on_surface": "0", "point_on_all_parts": "1", "clip_points": "0"})
    return (f'<symbol type="fill" name={quoteattr(name)} {head}>'
            f'<layer class="SimpleFill" enabled="1" locked="0" pass="0">{outline}</layer>'
            f'<layer class="CentroidFill" enabled="1" locked="0" pass="0">{centroid}{marker}</layer></symbol>')


def _graduated(attribute: str, ranges: Sequence[tuple[float, float, str]], symbols: Sequence[str]) -> str:
    rows = "".join(
        f'<range lower={quoteattr(_number(lo))} upper={quoteattr(_number(hi))} symbol="{i}" '
        f"label={quoteattr(label)} render=\"true\"/>"
        for i, (lo, hi, label) in enumerate(ranges)
    )
    return (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attribute)} graduatedMethod="GraduatedColor" '
            f'symbollevels="0" enableorderby="0" forceraster="0"><ranges>{rows}</ranges>'
            f'<symbols>{"".join(symbols)}</symbols><mode name="quantile"/></renderer-v2>')


def _single(symbol: str) -> str:
    return (f'<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
            f"<symbols>{symbol}</symbols></renderer-v2>")


def _labels(field: str, *, expression: bool, colour: str, size: float, bold: bool, always: bool) -> str:
    """Simple labels at the polygon's centroid; ``always`` shows every one (and first) despite collisions."""
    return (
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName={quoteattr(field)} isExpression="{int(expression)}" fontSize="{size:g}" '
        f'fontSizeUnit="Point" fontWeight="{75 if bold else 50}" textColor="{_rgba(colour)}" textOpacity="1" '
        'fontFamily="Sans Serif" namedStyle="" multilineHeight="1">'
        '<text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" bufferColor="255,255,255,255" '
        'bufferOpacity="0.85" bufferJoinStyle="128"/></text-style>'
        f'<placement placement="1" centroidInside="1" centroidWhole="0" fitInPolygonOnly="0" overrunDistance="0" '
        f'priority="{10 if always else 5}"/>'
        f'<rendering obstacle="1" displayAll="{int(always)}" upsidedownLabels="0" scaleVisibility="0" '
        f'fontLimitPixelSize="0" zIndex="{1 if always else 0}"/>'
        "</settings></labeling>"
    )


def _qml(renderer: str, labeling: str = "", *, opacity: float = 1.0) -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="3.28.0" styleCategories="Symbology|Labeling" labelsEnabled="{int(bool(labeling))}">'
            f"{renderer}{labeling}<layerOpacity>{opacity:g}</layerOpacity></qgis>\n")


def _sld(layer: str, rules: Sequence[str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" '
            'version="1.1.0" xmlns:se="http://www.opengis.net/se">'
            f"<NamedLayer><se:Name>{escape(layer)}</se:Name><UserStyle><se:Name>{STYLE_NAME}</se:Name>"
            f"<se:FeatureTypeStyle>{''.join(rules)}</se:FeatureTypeStyle></UserStyle></NamedLayer>"
            "</StyledLayerDescriptor>\n")


def _sld_range_rule(attribute: str, lo: float, hi: float, label: str, symbolizer: str, *, first: bool) -> str:
    low_op = "PropertyIsGreaterThanOrEqualTo" if first else "PropertyIsGreaterThan"
    prop = f"<ogc:PropertyName>{escape(attribute)}</ogc:PropertyName>"
    return (f"<se:Rule><se:Name>{escape(label)}</se:Name><ogc:Filter><ogc:And>"
            f"<ogc:{low_op}>{prop}<ogc:Literal>{_number(lo)}</ogc:Literal></ogc:{low_op}>"
            f"<ogc:PropertyIsLessThanOrEqualTo>{prop}<ogc:Literal>{_number(hi)}</ogc:Literal>"
            f"</ogc:PropertyIsLessThanOrEqualTo></ogc:And></ogc:Filter>{symbolizer}</se:Rule>")


def _sld_polygon(fill: Optional[str], outline: str, width_px: float, *, opacity: float = 1.0) -> str:
    fill_part = (f'<se:Fill><se:SvgParameter name="fill">{fill}</se:SvgParameter>'
                 f'<se:SvgParameter name="fill-opacity">{opacity:g}</se:SvgParameter></se:Fill>') if fill else ""
    return (f"<se:PolygonSymbolizer>{fill_part}<se:Stroke><se:SvgParameter name=\"stroke\">{outline}"
            f'</se:SvgParameter><se:SvgParameter name="stroke-width">{width_px:g}</se:SvgParameter>'
            "</se:Stroke></se:PolygonSymbolizer>")


def _sld_point(fill: str, size_px: float) -> str:
    return (f"<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle</se:WellKnownName>"
            f'<se:Fill><se:SvgParameter name="fill">{fill}</se:SvgParameter></se:Fill></se:Mark>'
            f"<se:Size>{size_px:g}</se:Size></se:Graphic></se:PointSymbolizer>")


def _sld_text(field: str) -> str:
    return (f"<se:TextSymbolizer><se:Label><ogc:PropertyName>{escape(field)}</ogc:PropertyName></se:Label>"
            '<se:Halo><se:Radius>1</se:Radius><se:Fill><se:SvgParameter name="fill">#ffffff</se:SvgParameter>'
            "</se:Fill></se:Halo></se:TextSymbolizer>")


def _in_range(values: pd.Series, ranges: Sequence[tuple[float, float, int]]) -> pd.Series:
    """The class QGIS draws each value in: ``lower < value <= upper`` (the first range closed)."""
    drawn = pd.Series(pd.NA, index=values.index, dtype="Int64")
    for i, (lo, hi, cls) in enumerate(ranges):
        inside = ((values > lo) | ((values == lo) if i == 0 else False)) & (values <= hi)
        drawn = drawn.mask(inside & drawn.isna(), cls)
    return drawn


def _score_style(rankings: pd.DataFrame, classes: str) -> tuple[str, str]:
    """Graduated on ``score``; on ``rank`` when the published scores cannot separate the classes.

    Public runs round scores to 2 decimals, so two LSOAs with different ranks can show the
    same score on either side of a class break; ranges of the score would then draw one
    of them in the wrong class, while ranges of the (exact) rank cannot. The legend shows
    the score spans either way.
    """
    found = priority_classes(rankings["score"], classes, rank=rankings["rank"])
    colours, labels = found.colours(), found.labels()
    attribute, ranges = "score", found.graduated_ranges()
    if not _in_range(rankings["score"], ranges).equals(found.classes.astype("Int64")):
        spans = rankings["rank"].groupby(found.classes).agg(["min", "max"])
        attribute = "rank"
        ranges = [(float(row["min"]) - 0.5, float(row["max"]) + 0.5, int(cls)) for cls, row in spans.iterrows()]
    symbols = [_fill_symbol(str(i), colours[cls - 1], "#ffffff", 0.15) for i, (_, _, cls) in enumerate(ranges)]
    qml = _qml(_graduated(attribute, [(lo, hi, labels[cls - 1]) for lo, hi, cls in ranges], symbols),
               opacity=_WEB_OPACITY)
    rules = [_sld_range_rule(attribute, lo, hi, labels[cls - 1], _sld_polygon(colours[cls - 1], "#ffffff", 0.5,
                                                                            opacity=_WEB_OPACITY), first=i == 0)
             for i, (lo, hi, cls) in enumerate(ranges)]
    return qml, _sld("lsoa", rules)


def _outline_style(layer: str, label_field: str, *, expression: bool, colour: str, width_mm: float,
                   size: float, bold: bool, sld_label: str, always: bool = False) -> tuple[str, str]:
    qml = _qml(_single(_fill_symbol("0", None, colour, width_mm)),
               _labels(label_field, expression=expression, colour=colour, size=size, bold=bold, always=always))
    rule = f"<se:Rule>{_sld_polygon(None, colour, width_mm * 3.78)}{_sld_text(sld_label)}</se:Rule>"
    return qml, _sld(layer, [rule])


def _harm_style(layer: str, values: pd.Series, attribute: str, *, polygon: bool, markers: bool) -> tuple[str, str]:
    found = priority_classes(values, "quintile")
    ranges = found.graduated_ranges()
    colours = class_colours(found.k) if not markers else [PATROL_COLOUR] * found.k
    symbols, rules = [], []
    for i, (lo, hi, cls) in enumerate(ranges):
        size = _MARKER_SIZES_MM[found.k - cls]
        colour = colours[found.k - cls]
        label = f"{hi:,.0f} or less" if i == 0 else f"{lo:,.0f} to {hi:,.0f}"
        if markers:
            symbols.append(_marker_symbol(str(i), colour, size, polygon=polygon))
            rules.append(_sld_range_rule(attribute, lo, hi, label, _sld_point(colour, size * 3.78), first=i == 0))
        else:
            symbols.append(_fill_symbol(str(i), colour, colour, 0.0))
            rules.append(_sld_range_rule(attribute, lo, hi, label, _sld_polygon(colour, colour, 0), first=i == 0))
    labelled = [(lo, hi, f"{lo:,.4g} to {hi:,.4g}") for lo, hi, _ in ranges]
    return _qml(_graduated(attribute, labelled, symbols), opacity=1.0 if markers else 0.7), _sld(layer, rules)


def layer_description(layer: str, *, upper_label: str = "Ward", classes: str = "quintile") -> str:
    """The ``gpkg_contents.description`` of a layer pli writes ("" for an unknown layer)."""
    return {
        "lsoa": f"One polygon per LSOA with every column of rankings.csv; coloured by score {classes}s "
                "(1 = highest priority), as on the web maps.",
        "wards": f"{upper_label} outlines with the summary of wards.csv (population-weighted score and rank).",
        "priority_neighbourhoods": "The priority neighbourhoods (outlines, numbered by rank) with the columns "
                                   "of priority_neighbourhoods.csv.",
        "micro_places": "Grid cells holding the patrol records, with counts and crime harm (OFFICIAL-SENSITIVE).",
        "micro_places_snap": "police.uk snap points holding the patrol records, with counts and crime harm "
                             "(OFFICIAL-SENSITIVE).",
        "kde_surface": "Kernel density of crime harm (harm days per km2), clipped to the study area "
                       "(OFFICIAL-SENSITIVE).",
    }.get(layer, "")


def style_qml(layer: str, frame: pd.DataFrame, *, classes: str = "quintile",
              geometry_type: str = "POLYGON") -> Optional[tuple[str, str]]:
    """``(QML, SLD)`` of one layer pli writes, or None for a layer it does not style.

    Parameters
    ----------
    layer : str
        Layer name in ``pli.gpkg``.
    frame : DataFrame
        The layer's attributes (``score`` and ``rank`` for ``lsoa``; ``harm`` for the
        micro-places; ``density`` for ``kde_surface``).
    classes : {"quintile", "decile"}
        ``output.classes``.
    geometry_type : str
        The layer's geometry type (``POINT`` draws plain markers).
    """
    if layer == "lsoa":
        return _score_style(frame, classes)
    if layer == "wards":
        return _outline_style(layer, "ward_name", expression=False, colour=UPPER_COLOUR, width_mm=0.4, size=8,
                              bold=False, sld_label="ward_name")
    if layer == "priority_neighbourhoods":
        return _outline_style(layer, "\"rank\" || '. ' || \"name\"", expression=True, colour=NEIGHBOURHOOD_COLOUR,
                              width_mm=0.8, size=10, bold=True, sld_label="name", always=True)
    if layer in ("micro_places", "micro_places_snap") and "harm" in frame.columns:
        return _harm_style(layer, frame["harm"], "harm", polygon=geometry_type != "POINT", markers=True)
    if layer == "kde_surface" and "density" in frame.columns:
        return _harm_style(layer, frame["density"], "density", polygon=True, markers=False)
    return None


def style_geopackage(path: Path, layers: Sequence[str], rankings: pd.DataFrame, *, classes: str = "quintile",
                     upper_label: str = "Ward") -> Path:
    """Add a default QGIS style and a description for each layer of a GeoPackage pli wrote.

    Parameters
    ----------
    path : Path
        The ``.gpkg`` written by :func:`pli.outputs.write_geopackage`.
    layers : sequence of str
        Its layers, in the order written (styles are inserted in this order).
    rankings : DataFrame
        The published rankings (``score`` and ``rank``), which give the ``lsoa`` classes.
    classes : {"quintile", "decile"}
        ``output.classes``.
    upper_label : str
        What the upper layer is (``area.upper_layer_label``), for its description.

    Returns
    -------
    Path
        ``path``, changed in place.
    """
    from pli.outputs import gpkg_timestamp

    stamp = gpkg_timestamp()
    con = sqlite3.connect(path)
    try:
        with con:
            geometry = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
            types = dict(con.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns"))
            con.execute(_CREATE)
            rows = 0
            for layer in layers:
                con.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?",
                            (layer_description(layer, upper_label=upper_label, classes=classes), layer))
                frame = rankings if layer == "lsoa" else _attributes(con, layer)
                styled = style_qml(layer, frame, classes=classes, geometry_type=types.get(layer, "POLYGON"))
                if styled is None:
                    continue
                qml, sld = styled
                con.execute(
                    f"INSERT INTO layer_styles ({', '.join(LAYER_STYLES_COLUMNS)}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ("", "", layer, geometry.get(layer, "geom"), STYLE_NAME, qml, sld, 1,
                     f"pli default style of {layer}", "", "", stamp),
                )
                rows += 1
            # Register the table as GDAL and QGIS do, so validators and ogrinfo list it.
            con.execute("INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, "
                        "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                        "'QGIS layer styles (QML and SLD) of the layers', ?)", (stamp,))
            if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
                con.execute("INSERT OR REPLACE INTO gpkg_ogr_contents (table_name, feature_count) "
                            "VALUES ('layer_styles', ?)", (rows,))
    finally:
        con.close()
    return path


def _attributes(con: sqlite3.Connection, layer: str) -> pd.DataFrame:
    columns = {row[1] for row in con.execute(f'PRAGMA table_info("{layer}")')}
    wanted = [c for c in ("harm", "density") if c in columns]
    if not wanted:
        return pd.DataFrame()
    return pd.read_sql_query(f'SELECT {", ".join(wanted)} FROM "{layer}"', con)

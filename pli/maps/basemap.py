"""The basemap under the data: none, a named preset, or your own tile server (``maps.tiles``)."""

from __future__ import annotations

from typing import Optional, Union

import folium
import xyzservices

from pli._map_assets import TileNote, escape_text
from pli.config.parsing import map_problems
from pli.config.specs import ConfigError, MapSpec, TileSpec

__all__ = [
    "PRESETS",
    "add_basemap",
    "resolve_tiles",
]


def _preset(provider: xyzservices.TileProvider, *, max_native_zoom: int) -> TileSpec:
    return TileSpec(
        url=provider.build_url(), attribution=str(provider.attribution), max_zoom=19,
        max_native_zoom=max_native_zoom, name="Base map",
    )  # fmt: skip


#: ``maps.tiles`` names. A light grey base keeps the choropleth readable (CARTO's light
#: tiles now need a key); OpenStreetMap shows streets for finding one's way on foot.
PRESETS: dict[str, TileSpec] = {
    "esri-grey": _preset(xyzservices.providers.Esri.WorldGrayCanvas, max_native_zoom=16),
    "osm": _preset(xyzservices.providers.OpenStreetMap.Mapnik, max_native_zoom=19),
}


def resolve_tiles(tiles: Union[bool, str, TileSpec, None]) -> Optional[TileSpec]:
    """The tile layer ``maps.tiles`` asks for, or ``None`` for no basemap.

    ``True`` is the default preset (``esri-grey``), ``False``/``None``/``"none"`` no basemap.

    Raises
    ------
    ConfigError
        An unknown preset or an unusable URL template (the same checks as the config parser).

    Examples
    --------
    >>> resolve_tiles("none") is None, resolve_tiles(True).name
    (True, 'Base map')
    """
    if tiles is None or tiles is False:
        return None
    if tiles is True:
        return PRESETS["esri-grey"]
    problems = map_problems(MapSpec(tiles=tiles))
    if problems:
        raise ConfigError(problems, source="the maps settings")
    if isinstance(tiles, TileSpec):
        return tiles
    name = str(tiles).lower()
    return None if name == "none" else PRESETS[name]


def add_basemap(m: folium.Map, tiles: TileSpec) -> folium.TileLayer:
    """Add ``tiles`` under every layer, with its attribution and a note if tiles fail to load."""
    layer = folium.TileLayer(
        tiles.url,
        attr=escape_text(tiles.attribution),  # Leaflet shows attributions as HTML: text only
        name=escape_text(tiles.name),
        control=False,
        max_zoom=tiles.max_zoom,
        max_native_zoom=tiles.max_native_zoom if tiles.max_native_zoom is not None else tiles.max_zoom,
        subdomains=tiles.subdomains or "abc",  # folium's default; used only by URLs with {s}
    )
    layer.add_to(m)
    TileNote(layer).add_to(m)
    return layer

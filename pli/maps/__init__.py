"""Maps people open: interactive Folium pages and static PNG figures.

:func:`write_maps` turns one :class:`MapBundle` (the index, clustering, priorities and
patrol frames) into

* ``priority_localities.html``: the index choropleth with a theme switcher (index,
  each domain, LISA clusters, Gi* hotspots), upper-layer boundaries and names, the
  priority neighbourhoods numbered by rank with profile popups, and micro-patrol
  places when present;
* ``hotspots.html``: the same page opened on the clustering view;
* ``neighbourhoods/<rank>-<slug>.html``: one page per priority neighbourhood, zoomed
  to it, so an officer can open only theirs;
* ``priority_localities.png`` and ``priority_neighbourhoods.png`` for committee papers.

Every value from data is escaped before it reaches a page (:mod:`pli._map_assets`);
pages carry Leaflet inline (unless ``maps.online``), so they open with no internet.

Modules: ``style`` (colours and wording), ``bundle`` (the input, checked), ``credits``
(who to credit), ``placement`` (numbers kept apart), ``basemap`` (``maps.tiles``), ``prepare``
(map-ready frames), ``pages`` (Folium), ``figures`` (matplotlib) and ``writing``
(:func:`write_maps`).
"""

from pli.maps.bundle import MapBundle, bundle_for_run
from pli.maps.figures import plot_index_figure, plot_neighbourhoods_figure
from pli.maps.style import GI_COLOURS, LISA_COLOURS, SENSITIVE_BANNER
from pli.maps.writing import write_maps

__all__ = [
    "GI_COLOURS",
    "LISA_COLOURS",
    "SENSITIVE_BANNER",
    "MapBundle",
    "bundle_for_run",
    "plot_index_figure",
    "plot_neighbourhoods_figure",
    "write_maps",
]

"""Rendering folium maps to HTML without compiling their data as Jinja templates.

branca's ``MacroElement.render`` wraps each element's rendered script (a GeoJSON layer's
whole feature collection, say) in a new ``Element``, whose constructor compiles that text
as a Jinja template before it is rendered back to the same text. On a page with tens of
thousands of polygons the lexer then reads megabytes of JSON once more per layer: a
third of the time of a big area's map pages. :func:`render_page` renders the same page
with text that holds no Jinja syntax taken as it is, so the HTML is byte for byte what
``get_root().render()`` gives.
"""

from __future__ import annotations

import threading

import branca.element
import folium
from jinja2 import Template

__all__ = ["render_page"]

_JINJA_MARKS = ("{{", "{%", "{#")
_PATCH_LOCK = threading.Lock()


class _LiteralTemplate:
    """What ``jinja2.Template(text).render()`` returns for ``text`` without Jinja syntax.

    Jinja drops one trailing newline (``keep_trailing_newline=False``) and normalises
    line endings; text with a carriage return is left to Jinja itself.
    """

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text[:-1] if text.endswith("\n") else text

    def render(self, *args: object, **kwargs: object) -> str:
        return self._text


def _template(source: object, *args: object, **kwargs: object) -> object:
    if isinstance(source, str) and not args and not kwargs and "\r" not in source:
        if not any(mark in source for mark in _JINJA_MARKS):
            return _LiteralTemplate(source)
    return Template(source, *args, **kwargs)  # type: ignore[arg-type]


def render_page(m: folium.Map | branca.element.Element) -> str:
    """The HTML of the page holding ``m``, as ``m.get_root().render()`` writes it.

    Examples
    --------
    >>> import folium
    >>> m = folium.Map(location=[51.37, -0.1], tiles=None)
    >>> html = render_page(m)
    >>> html == m.get_root().render()
    True
    """
    root = m.get_root()
    # The name is swapped only while this page renders; the lock keeps two renders in
    # threads from restoring each other's swap in the wrong order.
    with _PATCH_LOCK:
        previous = branca.element.Template
        branca.element.Template = _template  # type: ignore[assignment, misc]
        try:
            return root.render()
        finally:
            branca.element.Template = previous  # type: ignore[misc]

"""The config reference, generated from the spec dataclasses and their docstrings.

Every key a study-area YAML may hold is a field of a frozen dataclass in
:mod:`pli.config.specs`, documented in that dataclass's numpydoc ``Parameters`` section.
This module walks the dataclasses from :class:`~pli.config.specs.StudyConfig` down
(nested specs, ``name -> spec`` mappings such as ``sources:``, lists of specs such as
``indicators:``), reads each field's type, default and allowed values from its
annotation and its description from the docstring, and renders ``docs/CONFIG.md`` and
``pli config --explain KEY``. A field added without documentation shows up in
:func:`undocumented_keys` (and fails the test suite), so the reference cannot fall behind.

Key paths read like the YAML: ``priorities.count``, ``sources.<name>.kind`` (one entry
per source you name), ``indicators[].direction`` (one entry per list item).

Regenerate the reference after changing a spec::

    python -m pli config --reference > docs/CONFIG.md
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Iterator, Literal, Union

import yaml

from pli.config.specs import StudyConfig

__all__ = [
    "ConfigKey",
    "config_keys",
    "explain_key",
    "parameter_descriptions",
    "render_reference",
    "undocumented_keys",
]

_NO_DEFAULT = object()


@dataclass(frozen=True)
class ConfigKey:
    """One documented config key.

    Parameters
    ----------
    path : str
        Key path as written in YAML, e.g. ``priorities.count`` or ``sources.<name>.kind``.
    type_text : str
        The expected type in words (``whole number``, ``list of text``, ...).
    default : object
        The default value, or ``None`` with ``required`` True when the key must be given.
    required : bool
        True when the YAML must give the key (no default).
    allowed : tuple
        Allowed values for a key with a fixed set (``Literal``), else empty.
    description : str
        The text of the field's entry in its dataclass docstring ("" when undocumented).
    owner : type
        The dataclass holding the field.
    section : bool
        True when the key holds a nested mapping (or list) of further keys.
    """

    path: str
    type_text: str
    default: Any
    required: bool
    allowed: tuple
    description: str
    owner: type
    section: bool = False

    @property
    def field_name(self) -> str:
        """The dataclass field behind the key (the last part of the path)."""
        return self.path.rsplit(".", 1)[-1].removesuffix("[]")

    def default_text(self) -> str:
        """The default as YAML would spell it, or ``required``."""
        if self.required:
            return "required"
        return _yaml_scalar(self.default)

    def explain(self) -> str:
        """Plain-text entry for ``pli config --explain``."""
        lines = [self.path, f"  type:     {self.type_text}", f"  default:  {self.default_text()}"]
        if self.allowed:
            lines.append(f"  allowed:  {', '.join(_yaml_scalar(a) for a in self.allowed)}")
        lines.append(f"  defined:  {self.owner.__module__}.{self.owner.__name__}")
        lines.append("")
        lines.extend("  " + line for line in _wrap(_plain(self.description) or "(undocumented)", 86))
        lines.append("")
        lines.append("  example:")
        lines.extend("    " + line for line in _yaml_example([self]))
        return "\n".join(lines)


def parameter_descriptions(cls: type) -> dict[str, str]:
    """Field name -> description from the numpydoc ``Parameters`` section of ``cls``.

    An entry naming several fields (``x_column, y_column, crs : str``) documents each of
    them with the shared text. An entry with a type line but no text maps to ``""``.

    Examples
    --------
    >>> from pli.config.specs import PrioritySpec
    >>> parameter_descriptions(PrioritySpec)["count"][:40]
    'How many priority neighbourhoods to draw'
    """
    doc = typing.cast(str, cls.__doc__ or "")
    lines = _dedent(doc).splitlines()
    found: dict[str, str] = {}
    inside = False
    names: list[str] = []
    text: list[str] = []

    def flush() -> None:
        for name in names:
            found[name] = " ".join(t.strip() for t in text if t.strip())

    for i, line in enumerate(lines):
        underline = i + 1 < len(lines) and re.fullmatch(r"\s*-{3,}\s*", lines[i + 1])
        if underline:
            if inside:
                break
            inside = line.strip() == "Parameters"
            continue
        if not inside or re.fullmatch(r"\s*-{3,}\s*", line):
            continue
        if line and not line[0].isspace():
            flush()
            head = line.split(" : ", 1)[0] if " : " in line else line.rstrip(":")
            names = [n.strip() for n in head.split(",") if n.strip()]
            text = []
        elif names:
            text.append(line)
    if inside:
        flush()
    return found


def config_keys(root: type = StudyConfig) -> list[ConfigKey]:
    """Every key under ``root`` in document order: sections first, then their keys.

    Fields marked ``metadata={"yaml": False}`` (filled in by the program) are left out.
    """
    return list(_walk(root, ""))


def undocumented_keys(root: type = StudyConfig) -> list[str]:
    """Key paths whose field has no description in its dataclass's ``Parameters`` section."""
    return [k.path for k in config_keys(root) if not k.description.strip()]


def explain_key(query: str, root: type = StudyConfig) -> str:
    """The reference entry for one key, with its sub-keys listed for a section.

    ``sources.crime.kind`` finds ``sources.<name>.kind``; ``indicators[0].direction`` and
    ``indicators.direction`` find ``indicators[].direction``.

    Raises
    ------
    KeyError
        When no key matches; the message suggests the closest keys.
    """
    keys = config_keys(root)
    by_path = {k.path: k for k in keys}
    wanted = _normalise_query(query, by_path)
    if wanted not in by_path:
        from pli.config.parsing import closest_key

        plain = {re.sub(r"(\.<name>|\[\])", "", p): p for p in by_path}
        close = closest_key(re.sub(r"(\.<name>|\[\])", "", wanted), list(plain), n=3)
        hint = f"did you mean {', '.join(repr(plain[c]) for c in close)}?" if close else (
            "top-level keys: " + ", ".join(k.path for k in keys if "." not in k.path and "[" not in k.path))
        raise KeyError(f"unknown config key {query!r}; {hint}")
    key = by_path[wanted]
    out = key.explain()
    children = [k for k in keys if _parent(k.path) == key.path]
    if children:
        out += "\n\n  keys: " + ", ".join(k.path.rsplit(".", 1)[-1] for k in children)
    return out


def render_reference(root: type = StudyConfig) -> str:
    """``docs/CONFIG.md``: one section per mapping, a table of its keys, a YAML example."""
    keys = config_keys(root)
    out = [
        "# Config reference",
        "",
        "<!-- Generated from the docstrings of pli/config/specs.py by `python -m pli config --reference`;",
        "     do not edit by hand (tests/test_config_reference.py checks it is current). -->",
        "",
        "Every key a study-area YAML file may hold, generated from the config schema",
        "(`pli/config/specs.py`). `pli config --explain KEY` prints one entry, e.g.",
        "`python -m pli config --explain priorities.count`. `<name>` stands for a name you",
        "choose (a source, a denominator); `[]` for each item of a list. Unknown keys and wrong",
        "types stop the run with every problem listed at once.",
        "",
    ]
    sections = [("", root)] + [(k.path, _section_class(k)) for k in keys if k.section]
    out.append("## Sections")
    out.append("")
    for path, cls in sections:
        title = path or "top level"
        out.append(f"- [`{title}`](#{_anchor(title)}): {_first_sentence(cls)}")
    out.append("")
    for path, cls in sections:
        own = [k for k in keys if _parent(k.path) == path]
        title = path or "top level"
        out.append(f"## `{title}`")
        out.append("")
        summary = _markdown(_summary(cls))
        if summary:
            out.append(summary)
            out.append("")
        out.append("| key | type | default | description |")
        out.append("|---|---|---|---|")
        for k in own:
            desc = _markdown(k.description) or "**undocumented**"
            if k.allowed:
                desc += " Allowed: " + ", ".join(f"`{_yaml_scalar(a)}`" for a in k.allowed) + "."
            out.append(f"| `{k.path}` | {_cell(k.type_text)} | `{_cell(k.default_text())}` | {_cell(desc)} |")
        out.append("")
        out.append("```yaml")
        out.extend(_yaml_example(own))
        out.append("```")
        out.append("")
    return "\n".join(out)


# -- walking the dataclasses ------------------------------------------------------------


def _walk(cls: type, prefix: str) -> Iterator[ConfigKey]:
    hints = typing.get_type_hints(cls)
    docs = parameter_descriptions(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get("yaml", True):
            continue
        tp = hints[f.name]
        path = f"{prefix}.{f.name}" if prefix else f.name
        if f.default is not dataclasses.MISSING:
            default, required = f.default, False
        elif f.default_factory is not dataclasses.MISSING:
            default, required = f.default_factory(), False
        else:
            default, required = None, True
        inner, optional = _strip_optional(tp)
        child, child_path = _child_spec(inner, path)
        yield ConfigKey(
            path=path,
            type_text=_type_text(inner) + (", optional" if optional else ""),
            default=_plain_default(default),
            required=required,
            allowed=_allowed(inner) + ((None,) if optional and _allowed(inner) else ()),
            description=docs.get(f.name, ""),
            owner=cls,
            section=child is not None,
        )
        if child is not None:
            yield from _walk(child, child_path)


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _child_spec(tp: Any, path: str) -> tuple[type | None, str]:
    """The dataclass a key holds (directly, per name, or per list item) and its children's prefix."""
    if _is_spec(tp):
        return tp, path
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is dict and _is_spec(args[1]):
        return args[1], f"{path}.<name>"
    if origin is tuple and args and _is_spec(args[0]):
        return args[0], f"{path}[]"
    return None, path


def _is_spec(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _section_class(key: ConfigKey) -> type:
    tp, _ = _strip_optional(typing.get_type_hints(key.owner)[key.field_name])
    cls, _ = _child_spec(tp, key.path)
    assert cls is not None
    return cls


def _parent(path: str) -> str:
    """``sources.<name>.kind`` -> ``sources``; ``indicators[].name`` -> ``indicators``."""
    if "." not in path:
        return ""
    head = path.rsplit(".", 1)[0]
    return head.removesuffix(".<name>").removesuffix("[]")


def _type_text(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        kinds = {type(a) for a in args}
        return "whole number" if kinds == {int} else "text" if kinds == {str} else "value"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_text(a) for a in args if a is not type(None))
    if origin is tuple:
        item = _type_text(args[0])
        return f"list of {'mappings' if _is_spec(args[0]) else item}"
    if origin is dict:
        return f"mapping of name to {'mapping' if _is_spec(args[1]) else _type_text(args[1])}"
    if _is_spec(tp):
        return "mapping"
    names = {bool: "true/false", int: "whole number", float: "number", str: "text"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _allowed(tp: Any) -> tuple:
    return tuple(typing.get_args(tp)) if typing.get_origin(tp) is Literal else ()


def _plain_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {}
    if isinstance(value, tuple):
        return list(value)
    return value


# -- text -------------------------------------------------------------------------------


def _dedent(doc: str) -> str:
    first, _, rest = doc.partition("\n")
    import textwrap

    return first.strip() + "\n" + textwrap.dedent(rest)


def _summary(cls: type) -> str:
    """The docstring before its first numpydoc section, as one paragraph per blank line."""
    lines = _dedent(cls.__doc__ or "").splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and re.fullmatch(r"\s*-{3,}\s*", lines[i + 1]):
            break
        kept.append(line.strip())
    return "\n\n".join(" ".join(p.split("\n")) for p in "\n".join(kept).strip().split("\n\n"))


def _first_sentence(cls: type) -> str:
    return _markdown(_summary(cls).split("\n\n")[0])


def _markdown(text: str) -> str:
    text = re.sub(r":(?:func|meth|class|mod|data|attr):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _plain(text: str) -> str:
    return _markdown(text).replace("`", "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    return dumped.strip().removesuffix("...").strip()


def _yaml_example(own: list[ConfigKey]) -> list[str]:
    """A YAML skeleton of one section: defaults as they are, required keys as placeholders."""
    prefix = own[0].path.rsplit(".", 1)[0] if own and "." in own[0].path else ""
    lines: list[str] = []
    indent = ""
    previous = ""
    for part in prefix.split(".") if prefix else []:
        if part.endswith("[]"):
            lines.append(f"{indent}{part[:-2]}:")
            indent = indent.replace("-", " ") + "  - "
        else:
            # A name the user chooses: my_source under sources, my_denominator under denominators.
            name = f"my_{previous.removesuffix('s')}" if part == "<name>" else part
            lines.append(f"{indent}{name}:")
            indent = indent.replace("-", " ") + "  "
        previous = part
    first = True
    for k in own:
        key = k.path.rsplit(".", 1)[-1].removesuffix("[]")
        if k.section:
            value, note = "{...}" if not k.type_text.startswith("list") else "[...]", f"see {k.path}"
        elif k.required:
            value = _yaml_scalar(k.allowed[0]) if k.allowed else f"<{k.type_text}>"
            note = "required"
        else:
            value, note = _yaml_scalar(k.default), ""
        lead = indent if first else indent.replace("-", " ")
        first = False
        lines.append(f"{lead}{key}: {value}" + (f"  # {note}" if note else ""))
    return lines


def _normalise_query(query: str, by_path: dict[str, ConfigKey]) -> str:
    """Map a key as a user writes it onto a reference path (names and list indices)."""
    text = re.sub(r"\[\d*\]", "[]", query.strip())
    if text in by_path:
        return text
    parts = text.split(".")
    built = ""
    for i, part in enumerate(parts):
        candidate = f"{built}.{part}" if built else part
        if candidate in by_path or f"{candidate}[]" in by_path:
            built = candidate if candidate in by_path else f"{candidate}[]"
            continue
        if f"{built}[].{part}" in by_path:
            built = f"{built}[].{part}"
            continue
        if built and any(p.startswith(f"{built}.<name>.") for p in by_path) and not built.endswith("<name>"):
            built = f"{built}.<name>"
            continue
        # Not a key: keep what matched (names replaced) so the suggestions compare like with like.
        return ".".join([built, *parts[i:]]) if built else text
    return built

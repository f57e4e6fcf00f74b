"""Reading a config's YAML safely: size and alias limits, duplicate keys refused, clear syntax errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pli.config.specs import ConfigError

__all__ = [
    "MAX_ALIASES",
    "MAX_CONFIG_BYTES",
    "MAX_NODES",
    "MAX_NUMBER",
    "read_yaml",
]


#: Largest config file read (bytes); study-area configs are a few kilobytes.
MAX_CONFIG_BYTES = 1 << 20


#: Most alias uses (``*name``) allowed in one config file.
MAX_ALIASES = 100


#: Most YAML nodes a config may expand to once aliases are followed.
MAX_NODES = 100_000


#: Largest magnitude accepted for any number in a config.
MAX_NUMBER = 1e15


class _Refused(yaml.YAMLError):
    """A structural limit of :func:`read_yaml` was hit (not a syntax error)."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases and refuses duplicate keys.

    PyYAML shares aliased nodes, so an alias "bomb" loads fast but explodes later when
    the mapping is walked (validation, the manifest): aliases are counted while
    composing and the expanded size is measured before anything is constructed.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _Refused(f"more than {MAX_ALIASES} aliases (*name) by line {mark.line + 1}; "
                               "a study-area config needs few or none: write the values out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            # '<<' merges are intended overrides; only keys written twice are refused.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _Refused(f"key {key!r} appears twice in one mapping (lines {seen[key]} and {line}); "
                               "the second would silently replace the first: keep one")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node) -> int:
    """Nodes the document holds once every alias is followed (shared nodes counted each time)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Refused(f"an alias refers to the node that contains it (line {n.start_mark.line + 1})")
        active.add(key)
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(c) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        active.discard(key)
        sizes[key] = min(total, MAX_NODES + 1)
        return sizes[key]

    return size(node)


def read_yaml(path: str | Path) -> Any:
    """Parse one YAML file safely: size, alias, duplicate-key and syntax limits.

    Parameters
    ----------
    path : str or Path
        The file (at most :data:`MAX_CONFIG_BYTES`).

    Returns
    -------
    object
        The document (``None`` when the file is empty).

    Raises
    ------
    ConfigError
        Naming the file and, for syntax errors, the line and column.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError([f"the file is {size:,} bytes; a config may be at most {MAX_CONFIG_BYTES:,} bytes"],
                          source=str(path))
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the config as UTF-8"],
                          source=str(path)) from None
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise _Refused(f"the document expands to more than {MAX_NODES:,} values once aliases are "
                           "followed (an alias 'bomb'?); write the values out")
        return loader.construct_document(node)
    except _Refused as exc:
        raise ConfigError([f"refused: {exc}"], source=str(path)) from None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_message(exc)], source=str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {exc}"], source=str(path)) from None
    finally:
        loader.dispose()


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = "; ".join(str(p) for p in (exc.context, exc.problem) if p)
    # PyYAML shows a tab as the two characters backslash-t in its problem text.
    hint = " (YAML indents with spaces, never tabs)" if "'\\t'" in str(exc.problem or "") else ""
    return f"not valid YAML{where}: {what}{hint}"

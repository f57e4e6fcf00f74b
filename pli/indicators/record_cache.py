"""A GeoParquet cache of the police.uk records a source yields, so the files are parsed once.

Reading a force-wide download or the all-forces bulk archive takes tens of seconds, and
the same records are read again by ``pli track`` (rolling windows), ``pli uncertainty``
(the time-window factor) and every re-run of ``pli index`` after a change of weights. The
police.uk loader therefore writes the records it keeps (the study area's, in the window,
after duplicates, blank LSOA codes and unwanted categories are dropped) to one GeoParquet
file, points in EPSG:27700, and reads that file instead of the CSVs while nothing that
decides those records has changed.

The key
-------
The file is named by a SHA-256 over everything that decides the records:

* the bytes of every file read (of the zip archive for a zip source), with their names
  and the source folder's absolute path; the hashes come from
  :func:`pli.outputs.input_sha256`, which the run manifest uses too, so each file is
  hashed once per run;
* the study area's LSOA codes, when the reader uses them (DuckDB keeps only the area's
  records; the pandas reader keeps every LSOA, so the codes would only split the cache);
* every reading setting of the source (window, categories, encoding, engine, ...) and
  its name (the messages name it);
* :data:`FORMAT_VERSION`, the versions of pli and of the libraries that parse and store
  the records, and the source code of pli's reading modules, so a fix to the reader
  is never hidden by records it read before.

Any change gives another key, so the files are read again. The file's name also ends
with the start of the SHA-256 of its own bytes, checked on every read: a file cut short or
with one byte changed is named in a warning, removed, and the files are read again (never a
crash, never records silently wrong). Files are written to a temporary name and renamed
into place, so a reader never sees half a file.

What the loader said while reading (window chosen, duplicates or blank LSOA codes
dropped, short months) is stored with the records and said again on a cache hit, so a
warm run warns as a cold one did.

Where
-----
``sources.<name>.cache``: ``auto`` (the default) uses the folder a command sets with
:func:`using_cache` (``pli index``, ``pli track`` and ``pli uncertainty`` use
``.pli-cache`` beside their output folder); called from Python without one, ``auto``
caches nothing. ``off`` never caches; any other value names the folder (relative to
the data folder). ``pli index --no-cache`` turns every cache off for the run, and
``pli cache clear`` removes the cache files (:func:`clear_cache`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import io
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import geopandas as gpd

from pli.config import SourceSpec
from pli.indicators.street_files import StreetFile

__all__ = [
    "FOLDER_NAME",
    "FORMAT_VERSION",
    "CachedRecords",
    "RecordCacheUse",
    "cache_folder",
    "clear_cache",
    "folder_beside",
    "read_records",
    "records_key",
    "recording_messages",
    "replay_messages",
    "using_cache",
    "write_records",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Increased whenever the cached frame changes (columns, types, metadata): old files then miss."""

FOLDER_NAME = ".pli-cache"
"""The cache folder a command puts beside its output folder (``.pli``: never part of a run)."""


def folder_beside(out_dir: str | Path) -> Path:
    """The ``cache: auto`` folder of a command writing ``out_dir``: beside it, never inside it."""
    return Path(out_dir).resolve().parent / FOLDER_NAME

_META = "pli_record_cache"

# The loggers of the reading stage; their messages are stored with the records.
_READING_LOGGERS = ("pli.indicators.police_uk", "pli.indicators.window", "pli.indicators.categories",
                    "pli.indicators.reading", "pli.indicators.street_stream")


@dataclass(frozen=True)
class _Setting:
    enabled: bool = True
    auto_folder: Path | None = None


# None: no command set one (pli called from Python): named folders only.
_SETTING: ContextVar[_Setting | None] = ContextVar("pli_record_cache", default=None)


@contextlib.contextmanager
def using_cache(auto_folder: Path | None, *, enabled: bool = True) -> Iterator[None]:
    """Set, for the block, where ``cache: auto`` sources keep their records, or turn caching off.

    Parameters
    ----------
    auto_folder : pathlib.Path or None
        The folder for sources with ``cache: auto``; None leaves them uncached.
    enabled : bool, default True
        False turns every source's cache off, a named folder too (``--no-cache``).
    """
    token = _SETTING.set(_Setting(enabled=enabled, auto_folder=None if auto_folder is None else Path(auto_folder)))
    try:
        yield
    finally:
        _SETTING.reset(token)


def cache_folder(spec: SourceSpec, resolve: Callable[[str], Path]) -> Path | None:
    """The folder caching ``spec``'s records now, or None when it is not cached.

    Parameters
    ----------
    spec : SourceSpec
        The source; its ``cache`` is ``auto``, ``off`` or a folder.
    resolve : callable
        Turns a configured path into a real one (``StudyConfig.resolve``).
    """
    setting = _SETTING.get() or _Setting()
    value = spec.cache.strip()
    if not setting.enabled or value.lower() == "off":
        return None
    if value.lower() == "auto":
        return setting.auto_folder
    return Path(resolve(value))


@dataclass(frozen=True)
class RecordCacheUse:
    """How a source's records were obtained, for the run manifest.

    Attributes
    ----------
    from_cache : bool
        True when the records were read from the cache file, False when the files were
        read (and the cache file written).
    file : pathlib.Path
        The cache file.
    sha256 : str
        SHA-256 of the cache file's bytes, as read or written.
    """

    from_cache: bool
    file: Path
    sha256: str

    def to_manifest(self) -> dict:
        return {"from_cache": self.from_cache, "file": str(self.file), "sha256": self.sha256}


@dataclass(frozen=True)
class CachedRecords:
    """Records read back from a cache file.

    Attributes
    ----------
    records : geopandas.GeoDataFrame
        The frame as written.
    details : dict
        What the loader stored with it (file names read, window, rows read, ...).
    messages : list of tuple
        ``(logger name, level, text)`` said while the files were read.
    use : RecordCacheUse
    """

    records: gpd.GeoDataFrame
    details: dict
    messages: list[tuple[str, int, str]]
    use: RecordCacheUse


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


# The modules whose code decides the records and the messages kept with them.
_READER_MODULES = ("pli.indicators.police_uk", "pli.indicators.street_stream", "pli.indicators.street_files",
                   "pli.indicators.reading", "pli.indicators.categories", "pli.indicators.window",
                   "pli.indicators.sources", "pli.indicators.record_cache", "pli._codes")


@functools.cache
def _reader_code() -> str:
    """SHA-256 of the reading modules' source files (read once per process)."""
    digest = hashlib.sha256()
    for name in _READER_MODULES:
        file = getattr(importlib.import_module(name), "__file__", None)
        digest.update(name.encode("utf-8") + b"\0" + (Path(file).read_bytes() if file else b"") + b"\0")
    return digest.hexdigest()


def records_key(
    name: str,
    spec: SourceSpec,
    path: Path,
    files: Sequence[StreetFile],
    area_codes: Collection[str] | None,
) -> str:
    """SHA-256 (hex) over everything that decides a police.uk source's records.

    Parameters
    ----------
    name : str
        The source's name (it is in the messages stored with the records).
    spec : SourceSpec
        Every setting but ``cache`` is part of the key.
    path : pathlib.Path
        The folder, file or archive configured.
    files : sequence of StreetFile
        The files the loader will read (the window's months, chosen by name).
    area_codes : collection of str or None
        The study area's codes when the reader keeps only those; None otherwise.
    """
    from pli import __version__
    from pli.outputs import input_sha256

    archives = sorted({str(f.archive) for f in files if f.archive is not None})
    parts = {
        "format": FORMAT_VERSION,
        "versions": {"pli": __version__, **{p: _version(p) for p in ("pandas", "numpy", "pyarrow", "geopandas",
                                                                      "shapely", "pyproj", "duckdb")}},
        "reader_code": _reader_code(),
        "source": name,
        "path": str(Path(path).resolve()),
        "settings": {k: v for k, v in dataclasses.asdict(spec).items() if k != "cache"},
        "archives": {a: input_sha256(a) for a in archives},
        "files": [[f.name, f.size, input_sha256(f.path) if f.path is not None else None] for f in files],
        "area": None if area_codes is None else sorted({str(c).strip().upper() for c in area_codes}),
    }
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_CONTENT_DIGITS = 24


def _stem(name: str, key: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:40] or "source"
    return f"{readable}-{key[:40]}-"


def _candidates(folder: Path, name: str, key: str) -> list[Path]:
    """Files cached under ``key``, newest first (two runs may each have written one)."""
    stem = _stem(name, key)
    try:
        found = [p for p in folder.iterdir() if p.name.startswith(stem) and p.name.endswith(".parquet")]
    except OSError:
        return []
    return sorted(found, key=lambda p: (-_mtime(p), p.name))


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:  # removed meanwhile by another run replacing it
        return 0


def _level_recorded() -> int:
    """The lowest level every reading logger passes now (INFO at the lowest)."""
    return max(logging.INFO, *(logging.getLogger(n).getEffectiveLevel() for n in _READING_LOGGERS))


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.name, record.levelno, record.getMessage()))


@contextlib.contextmanager
def recording_messages() -> Iterator[list[tuple[str, int, str]]]:
    """Collect what the reading loggers say in the block, ``(logger, level, text)``, INFO and up."""
    parent = logging.getLogger("pli.indicators")
    recorder = _Recorder()
    parent.addHandler(recorder)
    try:
        yield recorder.messages
    finally:
        parent.removeHandler(recorder)


def replay_messages(messages: Sequence[tuple[str, int, str]]) -> None:
    """Say again, through the same loggers, what was said while the files were read."""
    for name, level, text in messages:
        logging.getLogger(name).log(level, "%s", text)


def read_records(folder: Path, key: str, *, source: str) -> CachedRecords | None:
    """The records cached under ``key``, or None (not cached, or unusable: a warning says why).

    A file whose bytes do not match the digest in its name, or that does not parse as the
    records of ``key``, is removed. A file written while the reading loggers were held back
    (``pli track`` re-reading windows, ``-q``) lacks messages a louder run would show; it
    is not used then, so the files are read and say everything.
    """
    for path in _candidates(folder, source, key):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # removed meanwhile by another run replacing it
            continue
        except OSError as exc:
            logger.warning("%s: cannot read the record cache %s (%s); reading the files again", source, path, exc)
            return None
        digest = hashlib.sha256(data).hexdigest()
        if not path.stem.endswith("-" + digest[:_CONTENT_DIGITS]):
            problem = f"its {len(data):,} bytes do not match the SHA-256 in its name: cut short or changed"
        else:
            try:
                frame = gpd.read_parquet(io.BytesIO(data), page_checksum_verification=True)
                details = dict(frame.attrs.get(_META) or {})
                problem = _problem(frame, details, key)
            except Exception as exc:  # noqa: BLE001 - any failure to parse means: read the files instead
                problem = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        if problem:
            logger.warning("%s: the record cache file %s is unusable (%s); removing it and reading the files again",
                           source, path, problem)
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        if int(details["message_level"]) > _level_recorded():
            logger.debug("%s: %s was written with fewer messages than this run shows; reading the files", source, path)
            return None
        frame.attrs = {}
        messages = [(str(n), int(level), str(text)) for n, level, text in details.pop("messages")]
        use = RecordCacheUse(from_cache=True, file=path, sha256=digest)
        return CachedRecords(records=frame, details=details, messages=messages, use=use)
    return None


def _problem(frame: gpd.GeoDataFrame, details: dict, key: str) -> str:
    if not details:
        return "no pli metadata: not a record cache file"
    if details.get("format") != FORMAT_VERSION:
        return f"format {details.get('format')!r}, expected {FORMAT_VERSION}"
    if details.get("key") != key:
        return "its key does not match its name"
    if details.get("rows") != len(frame):
        return f"{len(frame):,} rows, expected {details.get('rows')!r}"
    if frame.crs is None or frame.crs.to_epsg() != 27700:
        return f"points in {frame.crs}, expected EPSG:27700"
    missing = [c for c in details.get("columns", ()) if c not in frame.columns]
    if missing or "messages" not in details or "message_level" not in details:
        return f"missing {', '.join(missing) or 'messages'}"
    return ""


def write_records(
    folder: Path,
    key: str,
    records: gpd.GeoDataFrame,
    details: dict,
    messages: Sequence[tuple[str, int, str]],
    *,
    source: str,
) -> RecordCacheUse | None:
    """Write ``records`` under ``key`` atomically; None (and a warning) when it cannot be written.

    A folder that cannot be written never stops a run: the records were read anyway.
    """
    meta = {**details, "format": FORMAT_VERSION, "key": key, "rows": len(records),
            "columns": [str(c) for c in records.columns], "messages": [list(m) for m in messages],
            "message_level": _level_recorded()}
    out = gpd.GeoDataFrame(records.copy(deep=False), crs=records.crs)
    out.attrs = {_META: meta}
    buffer = io.BytesIO()
    try:
        out.to_parquet(buffer, index=False, compression="zstd", write_page_checksum=True)
    except Exception as exc:  # noqa: BLE001 - a frame Parquet cannot hold is read from the files next time
        logger.warning("%s: cannot store the records in the record cache (%s: %s); they are not cached",
                       source, type(exc).__name__, exc)
        return None
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    path = folder / f"{_stem(source, key)}{digest[:_CONTENT_DIGITS]}.parquet"
    temp = folder / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    from pli.outputs import write_atomic

    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, temp=temp)
    except OSError as exc:
        logger.warning("%s: cannot write the record cache %s (%s); the records are not cached", source, path, exc)
        return None
    for older in _candidates(folder, source, key):
        if older != path:  # an unusable or superseded file of the same key
            with contextlib.suppress(OSError):
                older.unlink()
    return RecordCacheUse(from_cache=False, file=path, sha256=digest)



_CACHE_NAME = rf"[A-Za-z0-9_-]+-[0-9a-f]{{40}}-[0-9a-f]{{{_CONTENT_DIGITS}}}\.parquet"
_CACHE_FILE_RE = re.compile(_CACHE_NAME)
_TEMP_FILE_RE = re.compile(rf"\.{_CACHE_NAME}\.\d+-[0-9a-f]{{8}}\.tmp")


def clear_cache(folder: Path) -> tuple[int, int]:
    """Remove the record cache files in ``folder``, and the folder when that leaves it empty.

    Only files named as this module names them are removed, so a folder named by mistake
    (the data folder) loses nothing else.

    Parameters
    ----------
    folder : pathlib.Path
        A cache folder (``.pli-cache`` beside an output folder, or a source's ``cache``).

    Returns
    -------
    tuple of int
        Files removed and their bytes; ``(0, 0)`` when there is no such folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0, 0
    removed = size = 0
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and (_CACHE_FILE_RE.fullmatch(entry.name) or _TEMP_FILE_RE.fullmatch(entry.name)):
            size += entry.stat().st_size
            entry.unlink()
            removed += 1
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
    return removed, size

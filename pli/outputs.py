"""Writing outputs without ever losing the previous run, and checking them later.

Every file of a run is first written into a staging folder beside its final location;
:class:`~pli.transaction.OutputTransaction` swaps the staged folders in all-or-nothing
when the whole run has succeeded (see :mod:`pli.transaction`). A run that fails or is
killed at any point leaves earlier outputs byte-identical, and a folder always holds
exactly one run.

The run manifest (``manifest.json``) records the config, SHA-256 of every input file
(relative to the data folder), row counts, package versions, the seed, a run id and the
SHA-256 of every output (relative to its folder), so :func:`verify_outputs` can later say
whether a folder, or a copy of it, is still current. The maps folder carries a small
``manifest.json`` of its own with the same run id, so a mix of two runs is detected.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import platform
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import pandas as pd

__all__ = [
    "OutputError",
    "OutputTransaction",
    "VerifyResult",
    "file_sha256",
    "staged_hashes",
    "folder_manifest",
    "hash_inputs",
    "input_key",
    "input_sha256",
    "write_atomic",
    "manifest_role",
    "package_versions",
    "verify_outputs",
    "write_csv",
    "write_geojson",
    "write_json",
]

from pli.transaction import (
    OutputError,
    OutputTransaction,
    is_control_name,
    recover_interrupted,
)

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
_PACKAGES = ("pli", "geopandas", "shapely", "pandas", "numpy", "libpysal", "esda",
             "folium", "scikit-learn", "pyogrio", "pyproj", "matplotlib")


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes, *, temp: Path | None = None) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file beside it, synced,
    then renamed over ``path``; the temporary file is removed when anything fails.

    ``temp`` names the temporary file (a caller that sweeps up its own leftovers by
    name); by default it is a fresh ``.<name>.*.tmp`` readable as ``0o644``.
    """
    if temp is None:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        tmp, fh = Path(name), os.fdopen(fd, "wb")
    else:
        tmp, fh = temp, open(temp, "wb")
    try:
        with fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if temp is None:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_INPUT_HASHES: dict[tuple, str] = {}
_INPUT_HASHES_LOCK = threading.Lock()


def input_sha256(path: str | Path) -> str:
    """SHA-256 of an input file, hashed once per process while the file is unchanged.

    The record cache keys on the files a source reads and the run manifest lists the same
    files: a bulk archive of gigabytes is read for its hash once, not twice. The file's
    device, inode, size and modification and change times (nanoseconds) must all match
    for a remembered hash to be used; any write to the file changes its change time.
    """
    p = Path(path)
    st = p.stat()
    stamp = (str(p.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    with _INPUT_HASHES_LOCK:
        known = _INPUT_HASHES.get(stamp)
    if known is None:
        known = file_sha256(p)
        with _INPUT_HASHES_LOCK:
            _INPUT_HASHES[stamp] = known
    return known


def hash_inputs(paths: Iterable[str | Path], *, relative_to: Path | None = None) -> dict[str, str]:
    """SHA-256 of each input file (folders are expanded to the files inside)."""
    files: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            files.update(q for q in p.rglob("*") if q.is_file())
        elif p.is_file():
            files.add(p)
    out = {}
    for f in sorted(files):
        key = str(f)
        if relative_to is not None:
            try:
                key = os.path.relpath(f.resolve(), relative_to.resolve())
            except ValueError:
                key = str(f.resolve())
        out[key] = input_sha256(f)
    return out


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape results."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_csv(frame: pd.DataFrame, path: Path, *, index: bool = False) -> Path:
    """Deterministic CSV: fixed float format, LF line endings, UTF-8, header on the first line.

    Nothing precedes the header, so ``pandas.read_csv`` and spreadsheets open it as is; a
    handling marking goes in a ``classification`` column (:func:`pli.handling.marked`).
    """
    frame = _defuse_formulas(frame)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=index, lineterminator="\n", float_format="%.6g")
    return path


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value):
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _defuse_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with ``'`` (OWASP rule).

    Only text (object/string dtype) columns and the index are touched; numbers such as
    ``-1.5`` stay numbers.
    """
    def is_text(dtype) -> bool:
        return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)

    fixed = {col: frame[col].map(_defuse, na_action="ignore") for col in frame.columns if is_text(frame[col].dtype)}
    fixed = {col: s for col, s in fixed.items() if not s.equals(frame[col])}
    index = frame.index.map(_defuse) if is_text(frame.index.dtype) else frame.index
    columns = [_defuse(c) for c in frame.columns]
    if not fixed and index.equals(frame.index) and columns == list(frame.columns):
        return frame
    out = frame.copy()
    for col, s in fixed.items():
        out[col] = s
    out.index = index
    out.columns = columns
    return out


def write_json(obj: object, path: Path) -> Path:
    """Pretty, key-sorted JSON so identical content gives identical bytes."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path


def write_geojson(frame: gpd.GeoDataFrame, path: Path, *, precision: int = 6,
                  members: dict | None = None) -> Path:
    """GeoJSON in EPSG:4326 (RFC 7946) with rounded coordinates, byte-reproducible.

    ``members`` are added as top-level foreign members (e.g. a handling marking).
    """
    g = frame.to_crs(4326) if frame.crs is not None else frame
    text = g.to_json(drop_id=True, to_wgs84=False, na="null")
    data = json.loads(text)
    _round_coordinates(data, precision)
    if members:
        data = {**members, **data}
    path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8")
    return path


def _round_coordinates(obj, precision: int) -> None:
    if isinstance(obj, dict):
        if "coordinates" in obj:
            obj["coordinates"] = _round_nested(obj["coordinates"], precision)
        for v in obj.values():
            if isinstance(v, (dict, list)):
                _round_coordinates(v, precision)
    elif isinstance(obj, list):
        for v in obj:
            _round_coordinates(v, precision)


def _round_nested(coords, precision: int):
    if isinstance(coords, (int, float)):
        return round(float(coords), precision)
    return [_round_nested(c, precision) for c in coords]


def input_key(path: str | Path, data_dir: str | Path) -> str:
    """How the manifest names an input: relative to the data folder when inside it."""
    p, root = Path(path).resolve(), Path(data_dir).resolve()
    return p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)


def staged_hashes(tx: OutputTransaction) -> dict[str, str]:
    """SHA-256 of every staged file, keyed ``"<target>:<relative path>"``, for a manifest."""
    return {f"{name}:{rel.as_posix()}": file_sha256(tx.staging_dir(name) / rel)
            for name, rels in tx.staged_files().items() for rel in rels}


def manifest_role(folder: str | Path) -> str | None:
    """The ``role`` of the manifest in ``folder``: ``None`` with no manifest, ``""`` when unreadable or unset.

    A command that replaces its whole output folder checks this first, so that it never
    wipes the folder of another command (``pli index`` writes no role).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> manifest_role(folder) is None
    True
    >>> _ = (folder / "manifest.json").write_text('{"role": "track"}', encoding="utf-8")
    >>> manifest_role(folder)
    'track'
    """
    manifest = Path(folder) / MANIFEST_NAME
    if not manifest.is_file():
        return None
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8")).get("role") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def folder_manifest(tx: OutputTransaction, target: str) -> dict:
    """The small manifest of a secondary folder (maps): run id and its files' hashes."""
    stage = tx.staging_dir(target)
    return {
        "pli_version": _pli_version(),
        "run_id": tx.run_id,
        "role": target,
        "note": "written with the output folder of the same run_id; its manifest.json lists every input",
        "outputs": {rel.as_posix(): file_sha256(stage / rel) for rel in tx.staged_files()[target]
                    if rel.as_posix() != MANIFEST_NAME},
    }


def _pli_version() -> str:
    from pli import __version__

    return __version__


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_outputs`."""

    current: bool
    changed_inputs: tuple[str, ...] = ()
    missing_inputs: tuple[str, ...] = ()
    changed_outputs: tuple[str, ...] = ()
    missing_outputs: tuple[str, ...] = ()
    extra_outputs: tuple[str, ...] = ()
    messages: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        if self.current:
            return "outputs are current: every input and output matches the manifest"
        parts = list(self.messages)
        for label, items in (("changed inputs", self.changed_inputs), ("missing inputs", self.missing_inputs),
                             ("changed outputs", self.changed_outputs), ("missing outputs", self.missing_outputs),
                             ("files not in the manifest", self.extra_outputs)):
            if items:
                shown = ", ".join(items[:8]) + (f" and {len(items) - 8} more" if len(items) > 8 else "")
                parts.append(f"{label}: {shown}")
        return "outputs are NOT current; " + "; ".join(parts) + ". Re-run `pli index` to refresh them."


def _read_manifest(path: Path) -> dict:
    from pli.errors import InputError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable manifest ({exc})", path=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("manifest is not a JSON object", path=str(path))
    return data


def _manifest_roots(manifest: dict, out_dir: Path, maps_dir: Path | None) -> dict[str, Path]:
    roots: dict[str, Path] = {}
    for name, recorded in manifest.get("output_roots", {"output": "."}).items():
        if name == "output":
            roots[name] = out_dir  # the folder given, wherever it was written
        elif name == "maps" and maps_dir is not None:
            roots[name] = maps_dir
        else:
            p = Path(recorded)
            roots[name] = p if p.is_absolute() else out_dir / p
    roots.setdefault("output", out_dir)
    return roots


def _run_files(root: Path) -> set[str]:
    """Every file of a run folder, relative, skipping lock/journal/staging entries.

    A subfolder with its own manifest (``pli evaluate`` writes ``OUT/evaluation/``) is a
    separate output, checked on its own, not an unexpected part of this run.
    """
    found = set()
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not is_control_name(d) and not (Path(dirpath) / d / MANIFEST_NAME).is_file()]
        for name in files:
            if not is_control_name(name):
                found.add((Path(dirpath) / name).relative_to(root).as_posix())
    return found


def verify_outputs(out_dir: str | Path, *, maps_dir: str | Path | None = None,
                   data_dir: str | Path | None = None) -> VerifyResult:
    """Re-hash the inputs and outputs listed in ``out_dir/manifest.json``.

    Parameters
    ----------
    out_dir : str or Path
        The output folder to check (or a copy of it).
    maps_dir : str or Path, optional
        Its maps folder; default the one recorded relative to ``out_dir`` (``../maps``
        when written beside it).
    data_dir : str or Path, optional
        Where the inputs are now; default the data folder recorded in the manifest.

    A commit interrupted in these folders is finished first. Files in a folder that the
    manifest does not list, and a maps folder from another run, make the outputs not
    current.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from pli.config import default_data_dir, load_config
    >>> from pli.outputs import verify_outputs
    >>> from pli.pipeline import run_index
    >>> out = Path(tempfile.mkdtemp()) / "output"
    >>> _ = run_index(load_config(default_data_dir() / "configs" / "croydon-demo.yml"), out_dir=out, maps_dir=None)
    >>> verify_outputs(out).current
    True
    >>> (out / "rankings.csv").write_text("edited by hand")
    14
    >>> verify_outputs(out).changed_outputs
    ('output:rankings.csv',)
    """
    from pli.errors import InputError

    out_dir = Path(out_dir)
    manifest_path = out_dir / MANIFEST_NAME
    recover_interrupted([out_dir] + ([Path(maps_dir)] if maps_dir is not None else []))
    if not manifest_path.is_file():
        raise InputError(f"no {MANIFEST_NAME} here; expected the output folder of `pli index`", path=str(out_dir))
    manifest = _read_manifest(manifest_path)
    roots = _manifest_roots(manifest, out_dir, Path(maps_dir) if maps_dir is not None else None)
    if recover_interrupted(roots.values()):
        manifest = _read_manifest(manifest_path)
    base = Path(data_dir) if data_dir is not None else Path(manifest.get("data_dir", "."))
    changed_in: list[str] = []
    missing_in: list[str] = []
    changed_out: list[str] = []
    missing_out: list[str] = []
    extra: list[str] = []
    messages: list[str] = []
    for rel, digest in manifest.get("inputs", {}).items():
        p = Path(rel) if Path(rel).is_absolute() else base / rel
        if not p.is_file():
            missing_in.append(rel)
        elif file_sha256(p) != digest:
            changed_in.append(rel)
    listed: dict[str, set[str]] = {name: set() for name in roots}
    listed["output"].add(MANIFEST_NAME)  # the manifest cannot list its own hash
    for key, digest in manifest.get("outputs", {}).items():
        root_name, _, rel = key.partition(":")
        root = roots.get(root_name, out_dir)
        listed.setdefault(root_name, set()).add(rel)
        p = root / rel
        if not p.is_file():
            missing_out.append(key)
        elif file_sha256(p) != digest:
            changed_out.append(key)
    run_id = manifest.get("run_id")
    for name, root in roots.items():
        if not root.is_dir():
            flag = " (pass --maps FOLDER to say where it is)" if name == "maps" else ""
            messages.append(f"{name} folder {root} not found{flag}")
            continue
        extra.extend(f"{name}:{rel}" for rel in sorted(_run_files(root) - listed.get(name, set())))
        if name != "output" and run_id is not None:
            other = root / MANIFEST_NAME
            other_id = _read_manifest(other).get("run_id") if other.is_file() else None
            if other_id != run_id:
                messages.append(f"{name} folder {root} holds run {other_id or 'unknown'} but {out_dir} holds "
                                f"run {run_id}: the folders come from different runs")
    current = not (changed_in or missing_in or changed_out or missing_out or extra or messages)
    return VerifyResult(current, tuple(changed_in), tuple(missing_in), tuple(changed_out), tuple(missing_out),
                        tuple(extra), tuple(messages))



# GDAL stamps each layer's gpkg_contents.last_change with the wall clock; OGR_CURRENT_DATE
# replaces that clock. It is a process-wide GDAL setting, so writers take turns.
_GPKG_LOCK = threading.Lock()
_EPOCH_STAMP = "1970-01-01T00:00:00.000Z"


def gpkg_timestamp() -> str:
    """``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) when set, else the epoch.

    The real time of a run is in ``manifest.json``; a clock time here would make two
    runs of the same inputs differ in bytes.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return _EPOCH_STAMP
    try:
        when = _dt.datetime.fromtimestamp(int(raw), tz=_dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        log.warning("SOURCE_DATE_EPOCH=%r is not whole seconds since 1970; GeoPackage dated %s",
                    raw, _EPOCH_STAMP)
        return _EPOCH_STAMP
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def write_geopackage(layers: Iterable[tuple[str, gpd.GeoDataFrame]], path: Path) -> Path:
    """Write layers, in the order given, to one byte-reproducible GeoPackage.

    Every layer's ``last_change`` is :func:`gpkg_timestamp` instead of the clock; the
    rest of the file (SQLite pages, R-tree) already depends only on the data and the
    order of writing. The GDAL setting is restored afterwards.

    Parameters
    ----------
    layers : iterable of (name, GeoDataFrame)
        Layer name and frame; each frame is written as ``frame.to_file`` would.
    path : Path
        The ``.gpkg`` file (a fresh path: layers are added to an existing file).
    """
    import pyogrio

    stamp = gpkg_timestamp()
    with _GPKG_LOCK:
        previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp})
        try:
            for name, frame in layers:
                frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        finally:
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path

"""Where police.uk street files are: a folder, one CSV, or the bulk archive zip as published.

data.police.uk hands out street-level crime three ways: a custom download (a zip of
``YYYY-MM/YYYY-MM-<force>-street.csv`` folders, usually unzipped into a folder), one
month's CSV, and the monthly bulk archive (``YYYY-MM.zip``, every force and every month
of the last three years in one zip). A :class:`StreetFile` is one CSV in any of them,
with the name shown in messages, its size and a way to read its bytes, so the readers
and the duplicate checks treat a zip member exactly like a file on disk.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from pli.errors import InputError

__all__ = ["StreetFile", "is_archive", "street_files"]


STREET_NAME_RE = re.compile(r"(\d{4}-(?:0[1-9]|1[0-2]))-(.+?)-street(.*)\.csv", re.IGNORECASE)
"""``YYYY-MM-<force>-street.csv``, with what a file manager appends to copies (`` (1)``)."""


@dataclass(frozen=True)
class StreetFile:
    """One police.uk street CSV, on disk or inside a zip archive.

    Attributes
    ----------
    name : str
        The path shown in messages, relative to the folder or archive given.
    size : int
        Uncompressed size in bytes.
    path : pathlib.Path, optional
        The file on disk; None for a zip member.
    archive : pathlib.Path, optional
        The zip holding the file; None for a file on disk.
    """

    name: str
    size: int
    path: Path | None = None
    archive: Path | None = None

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.name).name

    @property
    def folder_name(self) -> str:
        parent = PurePosixPath(self.name).parent.name
        if parent or self.path is None:
            return parent
        return self.path.parent.name

    @property
    def depth(self) -> int:
        return len(PurePosixPath(self.name).parts)

    def open(self) -> IO[bytes]:
        """The file's bytes (decompressed for a zip member)."""
        if self.path is not None:
            return open(self.path, "rb")
        assert self.archive is not None
        zf = zipfile.ZipFile(self.archive)
        try:
            return _ClosingMember(zf.open(self.name), zf)
        except Exception:
            zf.close()
            raise

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.open() as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def where(self) -> str:
        """The file for an error message: the archive and member, or the path."""
        return f"{self.archive}!{self.name}" if self.archive is not None else str(self.path)


class _ClosingMember(io.BufferedReader):
    """A zip member stream that closes its archive with it."""

    def __init__(self, member: IO[bytes], archive: zipfile.ZipFile):
        super().__init__(member)  # type: ignore[arg-type]
        self._archive = archive

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._archive.close()


def is_archive(path: Path) -> bool:
    """True for a zip file (the bulk archive or a custom download left zipped)."""
    return path.is_file() and zipfile.is_zipfile(path)


_STREET_GLOB = "*-street*.csv"


def street_files(path: Path) -> list[StreetFile]:
    """Every police.uk street CSV in a folder (and below), one CSV, or a zip archive.

    Parameters
    ----------
    path : pathlib.Path
        A folder, a ``*-street.csv`` file or a zip archive of them.

    Returns
    -------
    list of StreetFile
        In name order.

    Raises
    ------
    InputError
        Nothing found, naming the path and what was looked for.

    Examples
    --------
    >>> from pli.config import default_data_dir
    >>> files = street_files(default_data_dir() / "indicators" / "demo" / "police_uk")
    >>> len(files), files[0].name
    (12, '2025-01/2025-01-simulated-street.csv')
    """
    if path.is_dir():
        found = sorted(p for p in path.rglob(_STREET_GLOB) if p.is_file())
        if not found:
            raise InputError(
                "no police.uk street files (*-street.csv) found in this folder or below; "
                "unzip the data.police.uk download here (YYYY-MM/ folders are fine) or name the zip",
                path=str(path),
            )
        return [StreetFile(name=p.relative_to(path).as_posix(), size=p.stat().st_size, path=p) for p in found]
    if is_archive(path):
        return _archive_members(path)
    if path.is_file():
        return [StreetFile(name=path.name, size=path.stat().st_size, path=path)]
    raise InputError("file or folder not found; check the source's 'path' and --data-dir", path=str(path))


def _archive_members(path: Path) -> list[StreetFile]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"cannot read the zip archive ({exc}); download it again", path=str(path)) from None
    found = sorted(
        (StreetFile(name=i.filename, size=i.file_size, archive=path) for i in infos
         if STREET_NAME_RE.fullmatch(PurePosixPath(i.filename).name)),
        key=lambda f: f.name,
    )
    if not found:
        others = sorted({PurePosixPath(i.filename).name.split("-", 2)[-1] for i in infos})[:5]
        hint = f" (it holds e.g. {', '.join(others)})" if others else " (it is empty)"
        raise InputError(
            f"the zip archive holds no police.uk street files (YYYY-MM-<force>-street.csv){hint}; "
            "the outcomes and stop-and-search files are not crime records",
            path=str(path),
        )
    return found

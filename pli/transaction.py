"""Replace a run's output folders all-or-nothing, even if the process is killed.

A run writes every target folder (``--out``, ``--maps``) into a staging folder beside
it. :meth:`OutputTransaction.commit` then

1. fsyncs every staged file and folder,
2. writes a journal (beside each target) naming the staging and backup folders,
3. swaps each target: ``renameat2(RENAME_EXCHANGE)`` where the filesystem offers it (the
   folder is never missing), else ``final -> backup`` then ``staging -> final``,
4. deletes the backups, then the journals (so whoever finishes a killed commit, from
   either folder's side, also deletes every backup).

A run killed before step 2 leaves only staging folders, which the next run deletes: both
folders keep the old run. A run killed after step 2 leaves journals; the next run, or
``pli verify``, rolls the swap forward so both folders hold the new run. Each swap is
recognised by the inode of the staging folder, recorded in the journal, so finishing is
idempotent.

A target that cannot be renamed (a mount point, or a folder whose parent is not writable)
is swapped by its contents instead: staging and backup live inside the folder, old
entries move to the backup, then staged entries move in; the journal and a marker file in
the backup let a killed swap finish the same way.

A lock file per target (``.pli-<name>.lock`` beside it, holding the pid) stops two runs
writing to one folder at once. Control files all start with ``.pli`` and are never part
of a run.

Test hook: when the environment variable ``PLI_TEST_KILL_AT`` names one of
:data:`KILL_POINTS`, the process SIGKILLs itself at that point of the commit (one
``os.environ`` lookup per point; tests/test_transaction.py uses it).
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import errno
import json
import logging
import os
import secrets
import shutil
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from pli.errors import InputError, PliError

__all__ = [
    "KILL_POINTS",
    "OutputError",
    "OutputTransaction",
    "TargetLock",
    "check_output_paths",
    "is_control_name",
    "recover_interrupted",
]

log = logging.getLogger(__name__)

#: Where ``PLI_TEST_KILL_AT`` can stop a commit, in the order they are reached.
KILL_POINTS = ("staged", "synced", "journaled", "first-rename", "mid-swap", "swapped", "cleaned")

CONTROL_PREFIX = ".pli"
_COMPLETE_MARKER = ".pli-complete"
_FLAGS = {"output": "--out", "maps": "--maps"}


class OutputError(PliError):
    """Outputs could not be written or replaced; the message says what still holds."""


def is_control_name(name: str) -> bool:
    """True for lock, journal, staging and backup entries (never part of a run)."""
    return name.startswith(CONTROL_PREFIX)


def _checkpoint(point: str) -> None:
    if os.environ.get("PLI_TEST_KILL_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------- file system


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename order still holds
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


_RENAME_EXCHANGE = 2
_renameat2 = None
try:  # glibc >= 2.28
    _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
except (OSError, AttributeError):  # pragma: no cover - other libc
    _renameat2 = None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths; False where the system cannot (then rename twice)."""
    if _renameat2 is None or os.environ.get("PLI_NO_RENAME_EXCHANGE"):
        return False
    at_cwd = -100
    if _renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _mount_points() -> set[str]:
    try:
        text = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    # Field 5 is the mount point, with spaces etc. escaped as octal.
    return {line.split()[4].encode().decode("unicode_escape") for line in text.splitlines() if len(line.split()) > 4}


def _needs_contents_swap(final: Path) -> bool:
    """True when ``final`` exists but cannot be renamed (mount point, read-only parent)."""
    if not final.is_dir():
        return False
    if os.path.ismount(final) or str(final) in _mount_points():
        return True
    if final.stat().st_dev != final.parent.stat().st_dev:
        return True
    return not os.access(final.parent, os.W_OK | os.X_OK)


def _absolute(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


# --------------------------------------------------------------------------- slots


@dataclass(frozen=True)
class _Slot:
    """Where one target's control files live."""

    name: str
    final: Path
    contents: bool  # swap the folder's contents instead of the folder

    @classmethod
    def for_target(cls, name: str, path: str | Path) -> _Slot:
        final = _absolute(path)
        return cls(name, final, _needs_contents_swap(final))

    @property
    def anchor(self) -> Path:
        return self.final if self.contents else self.final.parent

    @property
    def prefix(self) -> str:
        return CONTROL_PREFIX if self.contents else f"{CONTROL_PREFIX}-{self.final.name}"

    @property
    def lock_path(self) -> Path:
        return self.anchor / f"{self.prefix}.lock"

    @property
    def journal_path(self) -> Path:
        return self.anchor / f"{self.prefix}.journal"

    def staging(self, run_id: str) -> Path:
        return self.anchor / f"{self.prefix}.staging-{run_id}"

    def backup(self, run_id: str) -> Path:
        return self.anchor / f"{self.prefix}.backup-{run_id}"

    def journal_candidates(self) -> list[Path]:
        """Journals that may concern this folder, whichever way it was last swapped."""
        return [self.final.parent / f"{CONTROL_PREFIX}-{self.final.name}.journal",
                self.final / f"{CONTROL_PREFIX}.journal"]

    def leftovers(self) -> list[Path]:
        """Staging and backup folders of earlier runs (and the old ``.name.staging-`` form)."""
        found: list[Path] = []
        patterns = [(self.final.parent, f"{CONTROL_PREFIX}-{self.final.name}.staging-"),
                    (self.final.parent, f"{CONTROL_PREFIX}-{self.final.name}.backup-"),
                    (self.final.parent, f"{CONTROL_PREFIX}-{self.final.name}.journal.tmp"),
                    (self.final.parent, f".{self.final.name}.staging-"),
                    (self.final, f"{CONTROL_PREFIX}.staging-"), (self.final, f"{CONTROL_PREFIX}.backup-"),
                    (self.final, f"{CONTROL_PREFIX}.journal.tmp")]
        for folder, start in patterns:
            if folder.is_dir():
                found.extend(p for p in folder.iterdir() if p.name.startswith(start))
        return sorted(set(found))


# --------------------------------------------------------------------------- locks


class _FileLock:
    """An exclusive ``flock`` on a file holding the owner's pid; removed on release."""

    def __init__(self, path: Path, folder: Path):
        self.path, self.folder = path, folder
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(
                    f"another pli run (pid {other}) is writing to {self.folder} (lock file {self.path}); "
                    "wait for it to finish, or choose other --out/--maps folders"
                ) from None
            # The holder unlinks the file before unlocking: a lock on an unlinked file is void.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            old = os.read(fd, 32).decode("ascii", "replace").strip()
            if old and old != str(os.getpid()):
                log.warning("taking over the lock on %s left by pid %s, which is no longer running",
                            self.folder, old)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            self.fd = fd
            return

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self.fd)  # closing drops the flock
        self.fd = None


class TargetLock:
    """Lock every target folder, finish any interrupted commit and delete leftovers.

    Parameters
    ----------
    targets : dict of str to Path
        Named target folders.
    """

    def __init__(self, targets: dict[str, Path]):
        self.slots = {name: _Slot.for_target(name, path) for name, path in targets.items()}
        self._locks: dict[Path, _FileLock] = {}

    def __enter__(self) -> TargetLock:
        try:
            for slot in sorted(self.slots.values(), key=lambda s: str(s.lock_path)):
                self._lock(slot.lock_path, slot.final)
            for slot in self.slots.values():
                for journal in slot.journal_candidates():
                    if journal.is_file():
                        _finish_journal(journal, self)
            for slot in self.slots.values():
                for left in slot.leftovers():
                    log.info("removing %s left by an interrupted run", left)
                    _remove(left)
        except BaseException:
            self.release()
            raise
        return self

    def _lock(self, lock_path: Path, folder: Path) -> None:
        if lock_path in self._locks:
            return
        lock = _FileLock(lock_path, folder)
        lock.acquire()
        self._locks[lock_path] = lock

    def release(self) -> None:
        for lock in self._locks.values():
            lock.release()
        self._locks.clear()

    def __exit__(self, *exc) -> None:
        self.release()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=_make_writable_and_retry)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _make_writable_and_retry(func, path, _exc_info):
    try:
        os.chmod(os.path.dirname(path), 0o755)
        func(path)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc.strerror)


# --------------------------------------------------------------------------- journal


def _write_journal(path: Path, record: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _finish_journal(journal: Path, holder: TargetLock) -> None:
    """Roll an interrupted commit forward (its staging was complete and fsynced)."""
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
        entries = record["targets"]
    except (OSError, ValueError, KeyError) as exc:
        raise OutputError(f"{journal}: unreadable commit journal ({exc}); an earlier run was interrupted "
                          "while replacing its outputs. Inspect the folders beside it, then delete the "
                          "journal") from None
    for entry in entries:  # the other folders of that commit must not be in use either
        holder._lock(Path(entry["lock"]), Path(entry["final"]))
    log.warning("finishing the commit of run %s, interrupted while replacing %s",
                record.get("run_id"), ", ".join(e["final"] for e in entries))
    for entry in entries:
        _roll_forward(entry)
    for entry in entries:
        _remove(Path(entry["backup"]))
    _remove_journals(entries)


def _remove_journals(entries: list[dict]) -> None:
    for entry in entries:
        path = Path(entry["journal"])
        if path.exists():
            path.unlink()
            _fsync_dir(path.parent)


def _roll_forward(entry: dict) -> None:
    final, staging, backup = Path(entry["final"]), Path(entry["staging"]), Path(entry["backup"])
    if entry["contents"]:
        _roll_forward_contents(final, staging, backup)
        return
    ino = entry["staging_ino"]
    if not staging.exists():
        return  # swapped already
    if final.exists() and final.stat().st_ino == ino:
        os.rename(staging, backup)  # exchanged already; staging holds the old run
    elif final.exists():
        if _exchange(staging, final):
            _checkpoint("first-rename")
            os.rename(staging, backup)
        else:
            os.rename(final, backup)
            _checkpoint("first-rename")
            os.rename(staging, final)
    else:
        os.rename(staging, final)
    _fsync_dir(final.parent)


def _roll_forward_contents(final: Path, staging: Path, backup: Path) -> None:
    if not staging.exists():
        return
    marker = backup / _COMPLETE_MARKER
    if not marker.exists():
        backup.mkdir(exist_ok=True)
        for entry in final.iterdir():
            if not is_control_name(entry.name):
                os.rename(entry, backup / entry.name)
        _fsync_dir(backup)
        _fsync_dir(final)
        marker.touch()
        _fsync_dir(backup)
    _checkpoint("first-rename")
    for entry in staging.iterdir():
        os.rename(entry, final / entry.name)
    _fsync_dir(final)
    staging.rmdir()
    _fsync_dir(final)


def recover_interrupted(folders: Iterable[str | Path]) -> bool:
    """Finish any commit interrupted in ``folders``; True if one was found.

    Takes the folders' locks only when a journal is present, so a read-only copy of
    outputs can still be checked.
    """
    folders = [Path(f) for f in folders]
    slots = [_Slot.for_target(str(i), f) for i, f in enumerate(folders)]
    if not any(j.is_file() for s in slots for j in s.journal_candidates()):
        return False
    with TargetLock({str(i): Path(f) for i, f in enumerate(folders)}):
        pass
    return True


# --------------------------------------------------------------------------- transaction


class OutputTransaction:
    """Stage files for several target folders and swap them in together.

    Parameters
    ----------
    targets : dict of str to Path
        Named final folders, e.g. ``{"output": Path("output"), "maps": Path("maps")}``.
        After commit each holds exactly the files staged for it.
    lock : TargetLock, optional
        Locks already held for these targets (taken before a long run); otherwise the
        transaction takes them itself.

    Examples
    --------
    >>> with OutputTransaction({"output": out}) as tx:          # doctest: +SKIP
    ...     write_csv(frame, tx.path("output", "rankings.csv"))
    ...     tx.commit()
    """

    def __init__(self, targets: dict[str, Path], *, lock: TargetLock | None = None):
        self.targets = {k: Path(v) for k, v in targets.items()}
        now = _dt.datetime.now(_dt.timezone.utc)
        self.run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
        self._lock = lock
        self._own_lock = lock is None
        self._slots: dict[str, _Slot] = {}
        self._staging: dict[str, Path] = {}
        self._journaled = False
        self.committed: list[Path] = []

    def __enter__(self) -> OutputTransaction:
        if self._own_lock:
            self._lock = TargetLock(self.targets).__enter__()
        try:
            for name, final in self.targets.items():
                slot = self._lock.slots.get(name) if self._lock else None
                slot = slot or _Slot.for_target(name, final)
                self._slots[name] = slot
                slot.anchor.mkdir(parents=True, exist_ok=True)
                stage = slot.staging(self.run_id)
                stage.mkdir()
                self._staging[name] = stage
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            raise
        return self

    def staging_dir(self, target: str) -> Path:
        """The staging folder standing in for ``target``."""
        return self._staging[target]

    def path(self, target: str, relative: str | Path) -> Path:
        """Where to write ``relative`` (inside ``target``) during the run."""
        p = self._staging[target] / relative
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def staged_files(self) -> dict[str, list[Path]]:
        """Relative paths of every staged file, per target."""
        return {
            name: sorted(p.relative_to(stage) for p in stage.rglob("*") if p.is_file())
            for name, stage in self._staging.items()
        }

    def commit(self) -> list[Path]:
        """Swap every staged folder into place; returns the final paths of the files."""
        staged = self.staged_files()
        _checkpoint("staged")
        entries: list[dict[str, Any]] = []
        try:
            for stage in self._staging.values():
                _fsync_tree(stage)
            _checkpoint("synced")
            for name, slot in self._slots.items():
                entries.append({
                    "name": name, "final": str(slot.final), "contents": slot.contents,
                    "staging": str(self._staging[name]), "backup": str(slot.backup(self.run_id)),
                    "staging_ino": self._staging[name].stat().st_ino,
                    "journal": str(slot.journal_path), "lock": str(slot.lock_path),
                })
            record = {"run_id": self.run_id, "pid": os.getpid(), "targets": entries}
            for entry in entries:
                _write_journal(Path(entry["journal"]), record)
        except OSError as exc:
            _remove_journals(entries)
            raise OutputError(f"could not prepare the outputs for commit ({_reason(exc)}); "
                              f"{self._unchanged()}") from exc
        self._journaled = True
        _checkpoint("journaled")
        try:
            for i, entry in enumerate(entries):
                if i:
                    _checkpoint("mid-swap")
                _roll_forward(entry)
        except OSError as exc:
            raise OutputError(
                f"replacing the outputs stopped part-way ({_reason(exc)}); the journal "
                f"{entries[0]['journal']} lets the next `pli index` or `pli verify` finish it") from exc
        _checkpoint("swapped")
        self._staging = {}
        for entry in entries:
            _remove(Path(entry["backup"]))
        _checkpoint("cleaned")
        _remove_journals(entries)
        self.committed = [self._slots[name].final / rel for name, rels in staged.items() for rel in rels]
        return self.committed

    def _unchanged(self) -> str:
        folders = ", ".join(str(s.final) for s in self._slots.values()) or ", ".join(map(str, self.targets.values()))
        return f"nothing was replaced: {folders} still hold the previous run"

    def __exit__(self, exc_type, exc, tb) -> None:
        # Checked before cleanup frees space.
        full = exc is not None and _is_gdal_error(exc) and _disk_full(self._slots.values())
        try:
            if not self._journaled:  # a journaled commit is finished by the next run, not undone
                for stage in self._staging.values():
                    _remove(stage)
            self._staging = {}
        finally:
            if self._own_lock and self._lock is not None:
                self._lock.release()
        if exc is not None and not isinstance(exc, PliError) and _is_write_failure(exc):
            raise OutputError(f"could not write the outputs ({_reason(exc)}); {self._unchanged()}") from exc
        if full:
            raise OutputError(
                f"could not write the outputs (No space left on device: the disk holding "
                f"{', '.join(str(s.anchor) for s in self._slots.values())} is full; GDAL said: "
                f"{_reason(exc)}); {self._unchanged()}"
            ) from exc


_WRITE_FAILURE_TEXT = (
    "no space left",
    "disk full",
    "file too large",
    "read-only file system",
    "permission denied",
    "disk i/o error",
    "quota exceeded",
)


def _is_write_failure(exc: BaseException) -> bool:
    """An exception caused by the disk, not by a bug: OSError, or a GDAL error quoting one."""
    if isinstance(exc, OSError):
        return True
    text = str(exc).lower()
    return type(exc).__module__.split(".")[0] in ("pyogrio", "fiona") and any(t in text for t in _WRITE_FAILURE_TEXT)


def _is_gdal_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in ("pyogrio", "fiona")


def _disk_full(slots: Iterable[_Slot], *, margin: int = 1 << 20) -> bool:
    """GDAL hides ENOSPC behind messages like "Failed to commit transaction": ask the disk."""
    for slot in slots:
        try:
            st = os.statvfs(slot.anchor)
        except OSError:
            continue
        if st.f_bavail * st.f_frsize < margin:
            return True
    return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --------------------------------------------------------------------------- preflight


def _inside(child: Path, parent: Path) -> bool:
    return child != parent and parent in child.parents


def _looks_like_pli_folder(folder: Path) -> bool:
    entries = [p for p in folder.iterdir() if not is_control_name(p.name)]
    if not entries:
        return True
    manifest = folder / "manifest.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and ("pli_version" in data or "run_id" in data)
    # Maps written before maps folders had a manifest.
    return (folder / "priority_localities.html").is_file()


def check_output_paths(
    targets: Mapping[str, str | Path],
    *,
    data_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    inputs: Iterable[str | Path] = (),
) -> None:
    """Refuse output folders that would overwrite inputs, each other, or something else.

    Each target replaces its whole folder, so it must not be, contain or sit inside an
    input file or folder; it must not be or contain the data folder or the config's
    folder; it must be a writable folder (or creatable) and, if it exists, hold a pli run
    (or nothing). A folder inside the data folder is fine when it touches no input (the
    default ``output/`` sits in the project root).

    Raises
    ------
    InputError
        Listing every problem, before anything is written.
    """
    problems: list[str] = []
    resolved = {name: _absolute(p) for name, p in targets.items()}
    protected: list[tuple[str, Path]] = []
    if data_dir is not None:
        protected.append(("the data folder", _absolute(data_dir)))
    if config_path is not None:
        protected.append(("the config file's folder", _absolute(config_path).parent))
    named_inputs = [(_absolute(p)) for p in inputs]
    if config_path is not None:
        named_inputs.append(_absolute(config_path))

    for name, p in resolved.items():
        label = f"{name} folder {p}" + (f" ({_FLAGS[name]})" if name in _FLAGS else "")
        clash = False
        for what, q in protected:
            if p == q:
                problems.append(
                    f"{label} is {what}; a run replaces the whole folder, so choose a separate output folder"
                )
                clash = True
            elif _inside(q, p):
                problems.append(
                    f"{label} contains {what} ({q}); a run replaces the whole folder, so choose "
                    "a folder that holds no inputs"
                )
                clash = True
        for q in named_inputs:
            if clash:
                break
            if p == q or _inside(q, p):
                problems.append(
                    f"{label} holds the input {q}; a run replaces the whole folder and would "
                    "delete it, so choose a folder that holds no inputs"
                )
                clash = True
            elif _inside(p, q):
                problems.append(
                    f"{label} is inside the input folder {q}; the next run would read the "
                    "outputs as input, so choose a folder outside it"
                )
                clash = True
        if clash:
            continue
        if p.exists() and not p.is_dir():
            problems.append(f"{label} is an existing file, not a folder; remove it or choose another path")
        elif p.is_dir():
            if not os.access(p, os.W_OK | os.X_OK):
                problems.append(f"{label} is not writable; fix its permissions or choose another folder")
            elif not _looks_like_pli_folder(p):
                shown = ", ".join(sorted(e.name for e in p.iterdir() if not is_control_name(e.name))[:5])
                problems.append(
                    f"{label} already holds files that no pli run wrote ({shown}); a run replaces "
                    "the whole folder, so choose an empty or new folder"
                )
        else:
            ancestor = p.parent
            while not ancestor.exists():
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                problems.append(f"{label} cannot be created: {ancestor} is a file, not a folder")
            elif not os.access(ancestor, os.W_OK | os.X_OK):
                problems.append(f"{label} cannot be created: {ancestor} is not writable")

    names = list(resolved)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pa, pb = resolved[a], resolved[b]
            fa = _FLAGS.get(a, a)
            fb = _FLAGS.get(b, b)
            if pa == pb:
                problems.append(f"{fa} and {fb} are the same folder ({pa}); give each its own folder")
            elif _inside(pa, pb) or _inside(pb, pa):
                outer, inner = (fb, fa) if _inside(pa, pb) else (fa, fb)
                problems.append(
                    f"{inner} ({resolved[a] if inner == fa else resolved[b]}) is inside {outer}; "
                    "each run replaces its whole folder, so give them separate folders"
                )
    if problems:
        raise InputError(problems)

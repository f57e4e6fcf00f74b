"""The output commit is all-or-nothing across ``--out`` and ``--maps``, even under SIGKILL.

The kill tests run ``pli index`` in a subprocess with ``PLI_TEST_KILL_AT=<point>`` (see
:mod:`pli.transaction`), which makes the process SIGKILL itself at that point of the
commit. Afterwards each folder must hold one whole run (its files exactly those its
manifest lists, with those hashes), the old run byte-identical if it is the old one, and
after recovery (``pli verify`` or the next run) both folders must hold the same run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pli import transaction
from pli.config import load_config
from pli.outputs import MANIFEST_NAME, file_sha256, verify_outputs
from pli.pipeline import run_index
from pli.transaction import KILL_POINTS, OutputError, OutputTransaction, TargetLock

ROOT = Path(__file__).resolve().parents[1]


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _control_entries(folder: Path) -> list[str]:
    """Journal, backup, staging and lock entries (the record cache is none of them)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".pli") and p.name != ".pli-cache")


def _whole_run(folder: Path, role: str) -> str:
    """The run id a folder holds, asserting it holds exactly that run's files."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    actual = _hashes(folder)
    actual.pop(MANIFEST_NAME)
    if role == "output":
        listed = {k.split(":", 1)[1]: v for k, v in manifest["outputs"].items() if k.startswith("output:")}
    else:
        listed = manifest["outputs"]
    assert actual == listed, f"{folder} is not one whole run"
    return manifest["run_id"]


# --------------------------------------------------------------------------- fast, synthetic


class _Interrupt(BaseException):
    """Stands in for a kill: nothing catches it and no cleanup beyond __exit__ runs."""


def _interrupt_at(monkeypatch, point: str) -> None:
    def checkpoint(name):
        if name == point:
            raise _Interrupt(name)

    monkeypatch.setattr(transaction, "_checkpoint", checkpoint)


def _old_run(base: Path) -> tuple[Path, Path]:
    out, maps = base / "output", base / "maps"
    with OutputTransaction({"output": out, "maps": maps}) as tx:
        tx.path("output", "rankings.csv").write_text("old rankings\n")
        tx.path("output", "stale_patrol_plan.csv").write_text("old plan\n")
        tx.path("maps", "neighbourhoods/9-x.html").write_text("<p>old 9</p>")
        tx.commit()
    return out, maps


def _stage_new(tx) -> None:
    tx.path("output", "rankings.csv").write_text("new rankings\n")
    tx.path("maps", "neighbourhoods/1-y.html").write_text("<p>new 1</p>")


def test_commit_leaves_exactly_the_new_run_and_no_control_files(tmp_path):
    out, maps = _old_run(tmp_path)
    with OutputTransaction({"output": out, "maps": maps}) as tx:
        _stage_new(tx)
        tx.commit()
    assert _hashes(out) == {"rankings.csv": file_sha256(out / "rankings.csv")}
    assert (out / "rankings.csv").read_text() == "new rankings\n"
    assert sorted(_hashes(maps)) == ["neighbourhoods/1-y.html"]  # the 9-area page is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps", "output"]


@pytest.mark.parametrize("exchange", [True, False], ids=["rename-exchange", "two-renames"])
@pytest.mark.parametrize("point", ["journaled", "first-rename", "mid-swap", "swapped", "cleaned"])
def test_interrupted_commit_is_finished_by_the_next_lock(tmp_path, monkeypatch, point, exchange):
    if not exchange:
        monkeypatch.setenv("PLI_NO_RENAME_EXCHANGE", "1")
    out, maps = _old_run(tmp_path)
    _interrupt_at(monkeypatch, point)
    with pytest.raises(_Interrupt):
        with OutputTransaction({"output": out, "maps": maps}) as tx:
            _stage_new(tx)
            tx.commit()
    monkeypatch.setattr(transaction, "_checkpoint", lambda name: None)
    with TargetLock({"output": out}):  # the next run only names one of the two folders
        pass
    assert (out / "rankings.csv").read_text() == "new rankings\n"
    assert sorted(_hashes(out)) == ["rankings.csv"]
    assert sorted(_hashes(maps)) == ["neighbourhoods/1-y.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps", "output"]


@pytest.mark.parametrize("point", ["staged", "synced"])
def test_commit_interrupted_before_the_journal_keeps_the_old_run(tmp_path, monkeypatch, point):
    out, maps = _old_run(tmp_path)
    before = _hashes(out), _hashes(maps)
    _interrupt_at(monkeypatch, point)
    with pytest.raises(_Interrupt):
        with OutputTransaction({"output": out, "maps": maps}) as tx:
            _stage_new(tx)
            tx.commit()
    assert (_hashes(out), _hashes(maps)) == before


def test_staging_left_by_a_killed_run_is_removed_by_the_next_run(tmp_path, caplog):
    out, maps = _old_run(tmp_path)
    (tmp_path / ".pli-output.staging-20260101T000000Z-dead").mkdir()
    (tmp_path / ".pli-output.staging-20260101T000000Z-dead" / "rankings.csv").write_text("half")
    (tmp_path / ".output.staging-abc").mkdir()  # the form older versions used
    with caplog.at_level(logging.INFO, logger="pli.transaction"):
        with OutputTransaction({"output": out, "maps": maps}) as tx:
            _stage_new(tx)
            tx.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps", "output"]
    assert "left by an interrupted run" in caplog.text


def test_contents_swap_when_the_folder_cannot_be_renamed(tmp_path, monkeypatch):
    out, maps = _old_run(tmp_path)
    monkeypatch.setattr(transaction, "_needs_contents_swap", lambda final: final.name == "output")
    _interrupt_at(monkeypatch, "first-rename")
    with pytest.raises(_Interrupt):
        with OutputTransaction({"output": out, "maps": maps}) as tx:
            assert tx.staging_dir("output").parent == out.resolve()  # staged inside the folder
            _stage_new(tx)
            tx.commit()
    assert not (out / "rankings.csv").exists()  # half-way: old moved out, new not yet in
    monkeypatch.setattr(transaction, "_checkpoint", lambda name: None)
    with TargetLock({"maps": maps}):
        pass
    assert sorted(p.name for p in out.iterdir()) == ["rankings.csv"]
    assert (out / "rankings.csv").read_text() == "new rankings\n"
    assert sorted(_hashes(maps)) == ["neighbourhoods/1-y.html"]


def _hold_lock(folder: Path) -> subprocess.Popen:
    code = ("import sys; from pathlib import Path; from pli.transaction import TargetLock\n"
            f"with TargetLock({{'output': Path({str(folder)!r})}}):\n"
            "    print('ready', flush=True); sys.stdin.readline()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_second_run_is_refused_while_the_first_holds_the_folder(tmp_path):
    out, maps = _old_run(tmp_path)
    holder = _hold_lock(out)
    try:
        with pytest.raises(OutputError) as info:
            with OutputTransaction({"output": out, "maps": maps}):
                pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert f"another pli run (pid {holder.pid}) is writing to {out.resolve()}" in str(info.value)
    assert (out / "rankings.csv").read_text() == "old rankings\n"
    with OutputTransaction({"output": out}) as tx:  # free again once the holder exits
        tx.path("output", "a.csv").write_text("a")
        tx.commit()


def test_lock_of_a_dead_pid_is_taken_over_with_a_log_line(tmp_path, caplog):
    out, _ = _old_run(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".pli-output.lock").write_text(f"{dead.pid}\n")
    with caplog.at_level(logging.WARNING, logger="pli.transaction"):
        with OutputTransaction({"output": out}) as tx:
            assert (tmp_path / ".pli-output.lock").read_text() == f"{os.getpid()}\n"
            tx.path("output", "a.csv").write_text("a")
            tx.commit()
    assert f"left by pid {dead.pid}, which is no longer running" in caplog.text
    assert not (tmp_path / ".pli-output.lock").exists()


def test_disk_full_while_staging_names_the_cause_and_keeps_the_old_run(tmp_path, monkeypatch):
    out, maps = _old_run(tmp_path)
    before = _hashes(out), _hashes(maps)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "x"))

    with pytest.raises(OutputError) as info:
        with OutputTransaction({"output": out, "maps": maps}) as tx:
            full()
    assert "could not write the outputs (No space left on device" in str(info.value)
    assert f"{out.resolve()}, {maps.resolve()} still hold the previous run" in str(info.value)
    assert (_hashes(out), _hashes(maps)) == before
    monkeypatch.setattr(transaction, "_write_journal", full)
    with pytest.raises(OutputError, match="could not prepare the outputs for commit"):
        with OutputTransaction({"output": out, "maps": maps}) as tx:
            _stage_new(tx)
            tx.commit()
    assert (_hashes(out), _hashes(maps)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps", "output"]


# --------------------------------------------------------------------------- the real pipeline


@pytest.fixture(scope="module")
def quick_config(tmp_path_factory) -> Path:
    """The demo config with fewer permutations (the commit, not the statistics, is under test)."""
    raw = yaml.safe_load((ROOT / "configs" / "croydon-demo.yml").read_text())
    # A cap keeps the automatic raise (pli.clustering.effective_permutations) out of these runs.
    raw.setdefault("clustering", {}).update(permutations=99, max_permutations=99, stability_seeds=0)
    path = tmp_path_factory.mktemp("cfg") / "quick.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def old_run(tmp_path_factory, quick_config) -> Path:
    base = tmp_path_factory.mktemp("old")
    run_index(load_config(quick_config, data_dir=ROOT), out_dir=base / "output", maps_dir=base / "maps")
    return base


def _pli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pli", "-q", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=900)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_during_commit_leaves_whole_runs_and_the_next_run_recovers(tmp_path, old_run, quick_config,
                                                                           point):
    out, maps = tmp_path / "output", tmp_path / "maps"
    shutil.copytree(old_run / "output", out)
    shutil.copytree(old_run / "maps", maps)
    old_hashes = _hashes(out), _hashes(maps)
    old_id = _whole_run(out, "output")
    assert _whole_run(maps, "maps") == old_id

    killed = _pli("index", "--config", str(quick_config), "--data-dir", str(ROOT), "--out", str(out),
                  "--maps", str(maps), "--seed", "1", env={"PLI_TEST_KILL_AT": point})
    assert killed.returncode == -9, killed.stderr

    ids = {}
    for folder, role in ((out, "output"), (maps, "maps")):
        ids[role] = _whole_run(folder, role)  # RENAME_EXCHANGE: never missing, never mixed
        if ids[role] == old_id:
            assert _hashes(folder) == old_hashes[0 if role == "output" else 1]
    if point in ("staged", "synced"):
        assert ids == {"output": old_id, "maps": old_id}
    if point in ("swapped", "cleaned"):
        assert ids["output"] == ids["maps"] != old_id

    # `pli verify` finishes (or discards) the interrupted commit before checking.
    result = verify_outputs(out)
    assert result.current, result.summary()
    final_id = _whole_run(out, "output")
    assert _whole_run(maps, "maps") == final_id
    if point in ("staged", "synced"):
        assert final_id == old_id
    else:  # journaled: the swap is rolled forward to the one new run
        assert final_id != old_id and {i for i in ids.values() if i != old_id} <= {final_id}
    with TargetLock({"output": out, "maps": maps}):  # what the next run does first
        pass
    assert _control_entries(tmp_path) == [], "journal, backup, staging or lock left behind"

    if point == "mid-swap":  # the next run after a crash commits normally
        again = _pli("index", "--config", str(quick_config), "--data-dir", str(ROOT), "--out", str(out),
                     "--maps", str(maps), "--seed", "2", "--public")
        assert again.returncode == 0, again.stderr
        assert _whole_run(out, "output") == _whole_run(maps, "maps") != final_id
        assert not (out / "patrol_plan.csv").exists()  # a public run leaves no patrol files behind
        assert verify_outputs(out).current


def test_verify_checks_a_copied_pair_of_folders_and_detects_a_mix(tmp_path, old_run, quick_config):
    copy = tmp_path / "received"
    shutil.copytree(old_run / "output", copy / "output")
    shutil.copytree(old_run / "maps", copy / "maps")
    assert verify_outputs(copy / "output").current
    # Edits to the copy are found in the copy, not in the folder it came from.
    (copy / "maps" / "hotspots.html").write_text("edited")
    (copy / "output" / "notes.txt").write_text("stray")
    result = verify_outputs(copy / "output")
    assert result.changed_outputs == ("maps:hotspots.html",)
    assert result.extra_outputs == ("output:notes.txt",)
    assert "files not in the manifest: output:notes.txt" in result.summary()
    assert verify_outputs(old_run / "output").current
    # Maps elsewhere, named on the command line.
    shutil.move(copy / "maps", tmp_path / "maps-elsewhere")
    (copy / "output" / "notes.txt").unlink()
    assert "maps folder" in verify_outputs(copy / "output").summary()
    shutil.copy(old_run / "maps" / "hotspots.html", tmp_path / "maps-elsewhere" / "hotspots.html")
    assert verify_outputs(copy / "output", maps_dir=tmp_path / "maps-elsewhere").current
    # A maps folder of another run is a mix, even when each folder is whole.
    other = tmp_path / "other"
    run_index(load_config(quick_config, data_dir=ROOT), out_dir=other / "output", maps_dir=other / "maps", seed=3)
    mixed = verify_outputs(copy / "output", maps_dir=other / "maps")
    assert not mixed.current
    assert "the folders come from different runs" in mixed.summary()
    cli = _pli("verify", str(copy / "output"), "--maps", str(tmp_path / "maps-elsewhere"))
    assert cli.returncode == 0 and "outputs are current" in cli.stdout, cli.stdout + cli.stderr


def _unshare_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt || exit 1"],
                           capture_output=True)
    return probe.returncode == 0


_MOUNT_SCRIPT = r"""
import json, sys
from pathlib import Path
from pli.config import load_config
from pli.errors import PliError
from pli.outputs import verify_outputs
from pli.pipeline import run_index

base, config, root = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
out = base / "output"
cfg = load_config(config, data_dir=root)
report = {}
run_index(cfg, out_dir=out, maps_dir=None, seed=1)
(out / "stale.csv").write_text("from an earlier run")
def snapshot():
    return sorted((p.relative_to(out).as_posix(), p.stat().st_size) for p in out.rglob("*") if p.is_file())
first = snapshot()
try:
    run_index(cfg, out_dir=out, maps_dir=None, seed=2)
    report["second"] = "ok"
except PliError as exc:
    report["second"] = str(exc)
report["after"] = snapshot()
report["first"] = first
report["current"] = verify_outputs(out).current
report["entries"] = sorted(p.name for p in out.iterdir())
print(json.dumps(report))
"""


@pytest.mark.skipif(not _unshare_available(), reason="needs unshare -rm and tmpfs (user namespaces)")
@pytest.mark.parametrize("size,fits", [("64m", True), ("4m", False)], ids=["mount-point", "disk-full"])
def test_out_that_is_a_mount_point(tmp_path, quick_config, size, fits):
    """``--out`` a tmpfs mount (rename gives EBUSY): contents are swapped; a full disk keeps the old run."""
    (tmp_path / "output").mkdir()
    script = tmp_path / "drive.py"
    script.write_text(_MOUNT_SCRIPT)
    cmd = (f"mount -t tmpfs -o size={size} tmpfs {tmp_path / 'output'} && "
           f"exec {sys.executable} {script} {tmp_path} {quick_config} {ROOT}")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", cmd], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(not name.startswith(".pli") for name in report["entries"]), report["entries"]
    if fits:
        assert report["second"] == "ok"
        assert "stale.csv" not in report["entries"]
        assert report["current"]
    else:
        assert "could not write the outputs" in report["second"], report["second"]
        assert "still hold the previous run" in report["second"]
        assert report["after"] == report["first"]  # stale.csv included: nothing was touched

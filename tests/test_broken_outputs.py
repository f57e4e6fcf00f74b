"""Broken output locations: each must stop with one clear error and touch nothing.

Every case copies the demo data and the shared good outputs into a temporary folder,
writes the config to its own folder, lets a breaker point ``--out``/``--maps``/``--seed``
somewhere bad (or make the disk fail), runs the pipeline and checks

* the error type and a fragment of its message (naming the folder and what to do), and
* that every file under the temporary folder (inputs, config, earlier outputs) is
  byte-identical afterwards: the checks run before anything is written, and a failure
  while writing removes its staging.
"""

from __future__ import annotations

import copy
import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from pli.config import ConfigError, load_config
from pli.errors import InputError
from pli.pipeline import run_index
from pli.transaction import OutputError

from broken_harness import DEMO, LSOA, POLICE, ROOT, hashes
from conftest import copy_demo_data


@dataclass
class Setup:
    """What a breaker may change: where the run writes, its seed, and test-only patches."""

    base: Path
    data: Path
    config: Path
    out: Path
    maps: Path | None
    seed: object = None
    patches: list[tuple[object, str, object]] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)


# --------------------------------------------------------------------------- breakers


def out_is_data_dir(s):
    s.out = s.data


def out_contains_data_dir(s):
    s.out = s.base


def out_holds_an_input_file(s):
    s.out = s.data / Path(LSOA).parent  # the folder of the LSOA boundaries


def out_inside_an_input_folder(s):
    s.out = s.data / POLICE / "output"


def maps_is_config_folder(s):
    s.maps = s.config.parent


def out_equals_maps(s):
    s.maps = s.out


def maps_inside_out(s):
    s.maps = s.out / "maps"


def out_inside_maps(s):
    s.out = s.maps / "output"


def out_is_a_file(s):
    s.out = s.base / "runs" / "report.txt"
    s.out.write_text("not a folder\n")


def maps_parent_is_a_file(s):
    (s.base / "runs" / "notes.txt").write_text("a file\n")
    s.maps = s.base / "runs" / "notes.txt" / "maps"


def out_is_not_a_pli_folder(s):
    s.out = s.base / "runs" / "documents"
    s.out.mkdir()
    (s.out / "thesis.docx").write_text("years of work\n")


def out_is_read_only(s):
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(s.out)], capture_output=True)
        if made.returncode != 0:
            pytest.skip("running as root without chattr: cannot make a folder read-only")
        s.cleanups.append(lambda: subprocess.run(["chattr", "-i", str(s.out)], check=True))
    else:
        s.out.chmod(0o555)
        s.cleanups.append(lambda: s.out.chmod(0o755))


def out_locked_by_another_run(s):
    code = ("import sys; from pathlib import Path; from pli.transaction import TargetLock\n"
            f"with TargetLock({{'output': Path({str(s.out)!r})}}):\n"
            "    print('ready', flush=True); sys.stdin.readline()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert holder.stdout.readline().strip() == "ready"

    def stop():
        holder.stdin.close()
        holder.wait(timeout=60)

    s.cleanups.append(stop)


def disk_full_while_writing_tables(s):
    from pli import outputs

    def full(frame, path, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    s.patches.append((outputs, "write_csv", full))


def seed_negative(s):
    s.seed = -1


def seed_too_large(s):
    s.seed = 2**32


def seed_not_a_number(s):
    s.seed = True


CASES = [
    ("outputs-out-is-data-dir", out_is_data_dir, "output folder {data} (--out) is the data folder"),
    ("outputs-out-contains-data-dir", out_contains_data_dir, "(--out) contains the data folder ({data})"),
    ("outputs-out-holds-input-file", out_holds_an_input_file,
     "(--out) holds the input {data}/boundaries/croydon_lsoa11_bsc.geojson"),
    ("outputs-out-inside-input-folder", out_inside_an_input_folder,
     "is inside the input folder {data}/indicators/demo/police_uk"),
    ("outputs-maps-is-config-folder", maps_is_config_folder, "(--maps) is the config file's folder"),
    ("outputs-out-equals-maps", out_equals_maps, "--out and --maps are the same folder"),
    ("outputs-maps-inside-out", maps_inside_out, "is inside --out; each run replaces its whole folder"),
    ("outputs-out-inside-maps", out_inside_maps, "is inside --maps; each run replaces its whole folder"),
    ("outputs-out-is-a-file", out_is_a_file, "report.txt (--out) is an existing file, not a folder"),
    ("outputs-maps-parent-is-a-file", maps_parent_is_a_file, "cannot be created: {base}/runs/notes.txt is a file"),
    ("outputs-out-not-a-pli-folder", out_is_not_a_pli_folder,
     "already holds files that no pli run wrote (thesis.docx)"),
    ("outputs-out-read-only", out_is_read_only, "output folder {base}/runs/output (--out) is not writable"),
    ("outputs-out-locked", out_locked_by_another_run, "another pli run (pid "),
    ("outputs-disk-full", disk_full_while_writing_tables,
     "could not write the outputs (No space left on device"),
    ("outputs-seed-negative", seed_negative, "seed: expected a whole number from 0 to 4294967295, got -1"),
    ("outputs-seed-too-large", seed_too_large,
     "seed: expected a whole number from 0 to 4294967295, got 4294967296"),
    ("outputs-seed-bool", seed_not_a_number, "seed: expected a whole number from 0 to 4294967295, got True"),
]


@pytest.mark.parametrize("case_id,breaker,fragment", CASES, ids=[c[0] for c in CASES])
def test_broken_output_location_fails_clearly(tmp_path, good_outputs, monkeypatch, case_id, breaker, fragment):
    data = copy_demo_data(tmp_path / "data")
    config = tmp_path / "cfg" / "study.yml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(copy.deepcopy(DEMO), sort_keys=False))
    out = tmp_path / "runs" / "output"
    shutil.copytree(good_outputs, out)
    s = Setup(tmp_path, data, config, out, tmp_path / "runs" / "maps")
    breaker(s)
    try:
        before = hashes(tmp_path)
        for obj, name, value in s.patches:
            monkeypatch.setattr(obj, name, value)
        with pytest.raises((InputError, ConfigError, OutputError)) as info:
            run_index(load_config(config, data_dir=data), out_dir=s.out, maps_dir=s.maps, seed=s.seed)
        message = str(info.value)
        assert fragment.format(data=data.resolve(), base=tmp_path.resolve()) in message, message
        assert "Traceback" not in message
        assert hashes(tmp_path) == before
        # No staging, journal or backup left (the record cache beside the outputs is none of them).
        assert not any(p.name.startswith(".pli-") and "lock" not in p.name for p in tmp_path.rglob("*")
                       if ".pli-cache" not in p.relative_to(tmp_path).parts)
    finally:
        for undo in s.cleanups:
            undo()


def test_cli_refuses_the_data_folder_as_out_with_a_message(tmp_path):
    data = copy_demo_data(tmp_path / "data")
    before = hashes(data)
    proc = subprocess.run([sys.executable, "-m", "pli", "index", "--data-dir", str(data), "--out", str(data),
                           "--maps", str(tmp_path / "maps")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert f"pli: error: output folder {data.resolve()} (--out) is the data folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert hashes(data) == before


@pytest.mark.parametrize("seed", ["abc", "-5", "1e3"])
def test_cli_seed_is_checked_like_the_config_seed(seed):
    proc = subprocess.run([sys.executable, "-m", "pli", "index", "--seed", seed, "--out", "/nonexistent/x"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    shown = repr(int(seed)) if seed.lstrip("-").isdigit() else repr(seed)
    assert f"seed: expected a whole number from 0 to 4294967295, got {shown}" in proc.stderr
    assert "Traceback" not in proc.stderr

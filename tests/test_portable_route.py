"""The route without make (``python -m pli``, as on Windows) and the folders git must ignore."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pli.cli import _build_parser

from conftest import ROOT

STAGE = re.compile(r"^\[\s*(\d+\.\d) s\] (.+) \.\.\.$", re.M)


def test_python_m_pli_runs_the_demo_without_make(tmp_path):
    """The README's portable route, as PowerShell would run it: no make, no .venv/bin path."""
    out, maps = tmp_path / "out", tmp_path / "maps"
    proc = subprocess.run(
        [sys.executable, "-m", "pli", "index", "--config", "configs/croydon-demo.yml", "--out", str(out),
         "--maps", str(maps)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for path in (out / "rankings.csv", out / "patrol_plan.csv", out / "manifest.json", out / "pli.gpkg",
                 maps / "index.html", maps / "priority_localities.html"):
        assert path.is_file() and path.stat().st_size > 0, path
    # Not a terminal: stage lines with the elapsed time, in pipeline order, and no bar redraws.
    stages = STAGE.findall(proc.stderr)
    labels = [label.split(":")[0] for _, label in stages]
    expected = ["starting", "validating config and inputs", "boundaries", "loading 3 source(s)", "indicators",
                "composite index", "clustering", "priority neighbourhoods", "micro-patrol plan",
                "writing tables and GeoPackage", "maps"]
    assert labels == expected, proc.stderr[-3000:]
    times = [float(t) for t, _ in stages]
    assert times == sorted(times) and times[-1] > times[0]
    assert "LISA" in dict((label.split(":")[0], label) for _, label in stages)["clustering"]
    assert "neighbourhood pages: 9/9 (100%)" in proc.stderr
    assert "\r" not in proc.stderr
    assert "direction" not in proc.stderr  # the demo says which way its table's columns run
    # The summary names the files to open first.
    opened = proc.stdout.split("Open first:")[1]
    assert [line.split()[0] for line in opened.strip().splitlines()] == [
        str(maps / "index.html"), str(out / "patrol_plan.csv"), str(out / "rankings.csv")]


def _output_folders() -> set[str]:
    """Every output folder a shipped config, the Makefile, the README or a CLI default names."""
    folders: set[str] = set()
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "configs").glob("*.yml"))]
    texts += [(ROOT / "Makefile").read_text(encoding="utf-8"), (ROOT / "README.md").read_text(encoding="utf-8")]
    for text in texts:
        folders.update(re.findall(r"--(?:out|maps)[ =]+([\w./-]+)", text))
        folders.update(re.findall(r"^(?:OUT|MAPS)\s*\?=\s*(\S+)", text, re.M))
    for action in _subparser_actions():
        if action.dest in ("out", "maps") and isinstance(action.default, str):
            folders.add(action.default)
    # Placeholders in the README (OUT, TMP, $env:...) are not folders anyone writes to, and
    # `pli config --reference --out docs/CONFIG.md` writes a file meant to be committed.
    return {f.strip("/") for f in folders
            if not re.fullmatch(r"[A-Z_$]+|.*\$.*", f) and not f.startswith("/") and not Path(f).suffix}


def _subparser_actions() -> list[argparse.Action]:
    parser = _build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [action for p in sub.choices.values() for action in p._actions]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a checkout")
def test_default_output_folders_are_git_ignored():
    folders = sorted(_output_folders())
    assert {"output", "maps", "output-open-data", "maps-open-data", "output-track", "trial", "comparison"} <= set(
        folders), folders
    # A file inside each folder, as a run writes it (patrol plans are sensitive: never commit them).
    probes = [f"{folder}/patrol_plan.csv" for folder in folders]
    proc = subprocess.run(["git", "check-ignore", "--no-index", *probes], capture_output=True, text=True, cwd=ROOT)
    ignored = set(proc.stdout.split())
    assert sorted(set(probes) - ignored) == [], "add these folders to .gitignore"

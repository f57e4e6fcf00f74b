"""Check that a change of code leaves every output byte-identical.

Used around refactors (issue 11): snapshot the outputs of both shipped configs before
the change, make the change, then compare.

    python scripts/check_identical_outputs.py snapshot /tmp/before
    # ... refactor ...
    python scripts/check_identical_outputs.py snapshot /tmp/after
    python scripts/check_identical_outputs.py compare /tmp/before /tmp/after

``snapshot`` runs ``pli index`` on ``configs/croydon-demo.yml`` and, when the real
snapshot is beside the project (``../shared/data``), ``configs/croydon-open-data.yml``,
each with maps, into ``<dest>/<config>/{output,maps}``. ``compare`` compares every file
byte for byte; ``manifest.json`` is compared after dropping what names the run rather
than its results (creation time, absolute folders, run id). Exit status 1 lists the
files that differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CONFIGS = {
    "croydon-demo": (ROOT / "configs" / "croydon-demo.yml", None),
    "croydon-open-data": (ROOT / "configs" / "croydon-open-data.yml", SHARED),
}
# Keys of manifest.json that describe the run, not its results.
VOLATILE_MANIFEST_KEYS = ("created_utc", "output_roots", "data_dir", "config_path", "run_id", "packages")


def snapshot(dest: Path) -> None:
    for name, (config, data_dir) in CONFIGS.items():
        if data_dir is not None and not data_dir.is_dir():
            print(f"skipping {name}: {data_dir} not found", file=sys.stderr)
            continue
        target = dest / name
        cmd = [sys.executable, "-m", "pli", "-q", "index", "--config", str(config),
               "--out", str(target / "output"), "--maps", str(target / "maps")]
        if data_dir is not None:
            cmd += ["--data-dir", str(data_dir)]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        print(f"{name}: {sum(1 for p in target.rglob('*') if p.is_file())} files in {target}")


def _digest(path: Path) -> str:
    if path.name == "manifest.json":
        manifest = json.loads(path.read_text(encoding="utf-8"))
        for key in VOLATILE_MANIFEST_KEYS:
            manifest.pop(key, None)
        # Input paths are keyed relative to the data folder or absolute; keep only names and hashes.
        manifest["inputs"] = sorted((Path(k).name, v) for k, v in manifest.get("inputs", {}).items())
        # Another folder's manifest holds its run id, so its hash names the run too.
        manifest["outputs"] = {k: v for k, v in manifest.get("outputs", {}).items()
                               if not k.endswith("manifest.json")}
        return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _listing(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): _digest(p) for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def compare(before: Path, after: Path) -> int:
    a, b = _listing(before), _listing(after)
    only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
    differ = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
    same = len(a.keys() & b.keys()) - len(differ)
    print(f"{same} files identical, {len(differ)} differ, {len(only_a)} only before, {len(only_b)} only after")
    for label, items in (("differ", differ), ("only before", only_a), ("only after", only_b)):
        for item in items:
            print(f"  {label}: {item}")
    return 1 if (differ or only_a or only_b) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_snap = sub.add_parser("snapshot", help="run both configs into a folder")
    p_snap.add_argument("dest", type=Path)
    p_cmp = sub.add_parser("compare", help="compare two snapshots file by file")
    p_cmp.add_argument("before", type=Path)
    p_cmp.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "snapshot":
        snapshot(args.dest)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    raise SystemExit(main())

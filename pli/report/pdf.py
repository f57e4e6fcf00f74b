"""Print the report to PDF with headless Chromium (the browser's own print, A4 from the page CSS)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

__all__ = ["find_chromium", "print_pdf"]

log = logging.getLogger(__name__)

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> Optional[str]:
    """The Chromium executable: ``PLI_CHROMIUM`` if set, else the first of the usual names on PATH."""
    named = os.environ.get("PLI_CHROMIUM", "").strip()
    if named:
        return named if Path(named).is_file() else None
    return next((found for name in _NAMES if (found := shutil.which(name))), None)


def print_pdf(html: Path, pdf: Path, *, chromium: Optional[str] = None, timeout: float = 180) -> bool:
    """Print ``html`` to ``pdf``; False (and a log line saying why) when it could not.

    Parameters
    ----------
    html : Path
        The page (a file; its links need not resolve).
    pdf : Path
        Where to write the PDF.
    chromium : str, optional
        The browser; default :func:`find_chromium`.
    timeout : float
        Seconds before giving up.
    """
    browser = chromium or find_chromium()
    if browser is None:
        log.warning("report: no Chromium found (install chromium or set PLI_CHROMIUM); the PDF was skipped")
        return False
    with tempfile.TemporaryDirectory(prefix="pli-chromium-") as profile:
        args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
                "--no-pdf-header-footer", f"--print-to-pdf={pdf}", Path(html).resolve().as_uri()]
        try:
            run = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("report: Chromium failed (%s); the PDF was skipped", exc)
            return False
    if not pdf.is_file() or pdf.stat().st_size == 0:
        log.warning("report: Chromium wrote no PDF (exit %s: %s); the PDF was skipped", run.returncode,
                    run.stderr.strip().splitlines()[-1:] or "")
        pdf.unlink(missing_ok=True)
        return False
    return True

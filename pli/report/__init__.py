"""``pli report``: a committee report (HTML printable to A4, and PDF) from an index run.

Modules, one concept each: :mod:`~pli.report.inputs` (read and check the folders),
:mod:`~pli.report.profiles` (per-neighbourhood facts), :mod:`~pli.report.sources` (data
sources and licences), :mod:`~pli.report.charts` (the report's figures),
:mod:`~pli.report.page` (the HTML), :mod:`~pli.report.pdf` (Chromium print) and
:mod:`~pli.report.command` (the command, its transaction and manifest).
"""

from pli.report.command import ReportRun, build_report, run_report
from pli.report.inputs import ReportInputs, read_report_inputs

__all__ = ["ReportInputs", "ReportRun", "build_report", "read_report_inputs", "run_report"]

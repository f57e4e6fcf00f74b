"""Stage lines with elapsed time, progress bars on a terminal, plain lines elsewhere, -q silence."""

from __future__ import annotations

import io
import itertools
import logging
import re

from pli import progress
from pli.cli import main

from conftest import ROOT

STAGE = re.compile(r"^\[\s*(\d+\.\d) s\] (.+)$")


def _fake_clock(step: float = 0.5):
    return itertools.count(0.0, step).__next__


def test_stage_lines_carry_the_elapsed_time_and_plain_progress_lines():
    out = io.StringIO()
    with progress.reporting(progress.Reporter(out, tty=False, verbose=True, clock=_fake_clock())):
        with progress.stage("loading sources"):
            assert list(progress.track(range(8), "files")) == list(range(8))
        with progress.stage("maps"):
            pass
    lines = out.getvalue().splitlines()
    stamped = [STAGE.match(line) for line in lines if line.startswith("[")]
    assert [m.group(2) for m in stamped if m] == [
        "loading sources ...", "loading sources: done in 5.0 s", "maps ...", "maps: done in 0.5 s"]
    times = [float(m.group(1)) for m in stamped if m]
    assert times == sorted(times) and times[0] == 0.5
    # Plain lines at a quarter, half, three quarters and the end; no carriage returns.
    assert [line.strip() for line in lines if not line.startswith("[")] == [
        "files: 2/8 (25%)", "files: 4/8 (50%)", "files: 6/8 (75%)", "files: 8/8 (100%)"]
    assert "\r" not in out.getvalue()


def test_a_terminal_gets_a_bar_redrawn_in_place_and_cleared():
    out = io.StringIO()
    with progress.reporting(progress.Reporter(out, tty=True, clock=_fake_clock())):
        for _ in progress.track(range(3), "pages"):
            pass
    text = out.getvalue()
    assert text.startswith("\r") and "pages [" in text
    assert "3/3" in text and "#" * progress.BAR_WIDTH in text
    # The bar gives way to one closing line, padded over the bar, so the next line starts clean.
    last = text.split("\r")[-1]
    assert re.fullmatch(r" {11}pages: 3/3 in \d+\.\d s *\n", last), repr(last)
    assert text.count("\n") == 1


def test_a_log_line_during_a_bar_gets_its_own_line():
    out = io.StringIO()
    handler = progress.ProgressLogHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("pli.test_progress")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with progress.reporting(progress.Reporter(out, tty=True, clock=_fake_clock())):
            with progress.progress_bar("cells", 10) as advance:
                advance(5)
                logger.warning("something to say")
                advance(5)
    finally:
        logger.removeHandler(handler)
    before, after = out.getvalue().split("something to say\n")
    assert before.endswith("\r") and "cells [" in before  # the bar was lifted before the message
    assert after.startswith("           cells [")  # and drawn again after it
    assert re.search(r"\r {11}cells: 10/10 in \d+\.\d s *\n$", after), repr(after)


def test_without_a_reporter_progress_is_silent(capsys):
    assert list(progress.track(iter("abc"), "letters", total=3)) == ["a", "b", "c"]
    with progress.stage("nothing"), progress.progress_bar("none", 5) as advance:  # no reporter
        advance(5)
    progress.note("not shown")
    assert capsys.readouterr() == ("", "")


def _failing_config(tmp_path):
    """The demo config with one source file missing: the run stops at input validation."""
    text = (ROOT / "configs" / "croydon-demo.yml").read_text(encoding="utf-8")
    path = tmp_path / "missing.yml"
    path.write_text(text.replace("indicators/demo/simulated_deprivation.csv", "indicators/demo/not_there.csv"),
                    encoding="utf-8")
    return path


def test_the_cli_announces_stages_and_q_silences_them(tmp_path, capsys):
    args = ["index", "--config", str(_failing_config(tmp_path)), "--data-dir", str(ROOT),
            "--out", str(tmp_path / "out"), "--no-maps"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.search(r"^\[\s*\d+\.\d s\] validating config and inputs \.\.\.$", err, re.M), err
    assert "not_there.csv" in err
    assert main([*args, "-q"]) == 2
    quiet = capsys.readouterr().err
    assert "not_there.csv" in quiet
    assert not re.search(r"^\[\s*\d+\.\d s\]", quiet, re.M), quiet

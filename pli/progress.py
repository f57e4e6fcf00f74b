"""Progress of a long run: each stage announced with the time since the start, and a bar
for the long loops (file ingestion, permutation reruns, map pages).

The command line installs a :class:`Reporter` for the length of a command
(:func:`reporting`); library code reports through :func:`track` and :func:`progress_bar`,
which do nothing when no reporter is active, so calling pli from Python stays silent.
On a terminal a bar redraws in place; elsewhere (a log file, CI) the same progress comes
as a few plain lines, so logs stay readable. Everything goes to stderr, leaving stdout to
the run's summary.

A small bar of our own rather than ``tqdm``: one bar at a time, to stderr, with plain lines
when not on a terminal, is about forty lines, and tqdm's own non-terminal output (carriage
returns in log files) would need switching off anyway; it would be a dependency for little.

Examples
--------
>>> import io, itertools
>>> from pli.progress import Reporter, reporting, stage, track
>>> out = io.StringIO()
>>> clock = itertools.count(0.0, 0.5).__next__  # a fake clock: half a second a reading
>>> with reporting(Reporter(out, tty=False, clock=clock)):
...     with stage("loading sources"):
...         names = [name.upper() for name in track(["a.csv", "b.csv", "c.csv", "d.csv"], "reading files")]
>>> print(out.getvalue())
[   0.5 s] loading sources ...
           reading files: 1/4 (25%)
           reading files: 2/4 (50%)
           reading files: 3/4 (75%)
           reading files: 4/4 (100%)
<BLANKLINE>
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from contextvars import ContextVar
from typing import Callable, ContextManager, Iterable, Iterator, Optional, TextIO, TypeVar

__all__ = [
    "ProgressLogHandler",
    "Reporter",
    "note",
    "progress_bar",
    "quieted",
    "reporting",
    "stage",
    "track",
]

T = TypeVar("T")

_ACTIVE: ContextVar[Optional["Reporter"]] = ContextVar("pli_progress_reporter", default=None)

BAR_WIDTH = 24
#: Plain (non-terminal) progress lines at these fractions of the total.
PLAIN_STEPS = (0.25, 0.5, 0.75, 1.0)
#: Smallest interval between two redraws of a terminal bar, in seconds.
REDRAW_S = 0.1


class Reporter:
    """Stage lines and progress bars for one command, written to ``stream``.

    Parameters
    ----------
    stream : file-like, optional
        Where to write (default ``sys.stderr``).
    tty : bool, optional
        Draw bars in place; default: whether ``stream`` is a terminal.
    verbose : bool
        Also say how long each stage took when it ends.
    clock : callable
        Seconds as a float (``time.perf_counter``); the run's time starts at construction.
    """

    def __init__(
        self,
        stream: Optional[TextIO] = None,
        *,
        tty: Optional[bool] = None,
        verbose: bool = False,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.verbose = verbose
        self.clock = clock
        self.started = clock()
        self._bar = ""  # the bar on screen now (terminal only), redrawn after a log line

    def elapsed(self) -> float:
        """Seconds since the command started."""
        return self.clock() - self.started

    def line(self, text: str) -> None:
        """One line stamped with the elapsed time: ``[   3.2 s] text``."""
        self._write(f"[{self.elapsed():6.1f} s] {text}\n")

    @contextlib.contextmanager
    def stage(self, label: str) -> Iterator[None]:
        """Announce a stage (``[  3.2 s] clustering ...``); with ``verbose`` its duration too."""
        self.line(f"{label} ...")
        t0 = self.clock()
        yield
        if self.verbose:
            self.line(f"{label}: done in {self.clock() - t0:.1f} s")

    @contextlib.contextmanager
    def bar(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        """A progress bar over ``total`` steps; yields ``advance(n=1)``."""
        done = 0
        t0 = last = self.clock()
        steps = iter(PLAIN_STEPS)
        next_step = next(steps)

        def advance(n: int = 1) -> None:
            nonlocal done, last, next_step
            done += n
            now = self.clock()
            if self.tty:
                if now - last >= REDRAW_S or done >= total:
                    last = now
                    self._draw(label, done, total, now - t0)
                return
            while total and done / total >= next_step:
                self._write(f"{'':11}{label}: {done:,}/{total:,} ({100 * done / total:.0f}%)\n")
                next_step = next(steps, 2.0)

        if self.tty:
            self._draw(label, 0, total, 0.0)
        try:
            yield advance
        finally:
            if self.tty and self._bar:
                # The bar gives way to one line that stays, as in a log: what was done, how fast.
                text = f"{'':11}{label}: {done:,}/{total:,} in {self.clock() - t0:.1f} s"
                self.stream.write("\r" + text + " " * max(len(self._bar) - len(text), 0) + "\n")
                self._bar = ""
                self.stream.flush()

    def _draw(self, label: str, done: int, total: int, seconds: float) -> None:
        share = done / total if total else 1.0
        filled = int(round(BAR_WIDTH * min(share, 1.0)))
        text = f"{'':11}{label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:,}/{total:,} {seconds:.1f} s"
        pad = " " * max(len(self._bar) - len(text), 0)
        self._bar = text
        self.stream.write("\r" + text + pad)
        self.stream.flush()

    def _write(self, text: str) -> None:
        self.clear_bar()
        self.stream.write(text)
        self.stream.flush()
        self.redraw_bar()

    def clear_bar(self) -> None:
        """Take the bar off the screen (before another line is written)."""
        if self._bar:
            self.stream.write("\r" + " " * len(self._bar) + "\r")

    def redraw_bar(self) -> None:
        """Put the bar back after another line was written."""
        if self._bar:
            self.stream.write(self._bar)
            self.stream.flush()


class ProgressLogHandler(logging.StreamHandler):
    """A stderr log handler that lifts the progress bar off the line while it writes."""

    def emit(self, record: logging.LogRecord) -> None:
        reporter = _ACTIVE.get()
        if reporter is not None and reporter.stream is self.stream:
            reporter.clear_bar()
            super().emit(record)
            reporter.redraw_bar()
        else:
            super().emit(record)


@contextlib.contextmanager
def reporting(reporter: Optional[Reporter]) -> Iterator[Optional[Reporter]]:
    """Make ``reporter`` the active one for the block (None: silence, as with ``-q``)."""
    token = _ACTIVE.set(reporter)
    try:
        yield reporter
    finally:
        _ACTIVE.reset(token)


def stage(label: str) -> ContextManager[None]:
    """Announce a stage through the active reporter (nothing when there is none)."""
    reporter = _ACTIVE.get()
    return reporter.stage(label) if reporter is not None else contextlib.nullcontext()


def note(text: str) -> None:
    """One time-stamped line through the active reporter (nothing when there is none)."""
    reporter = _ACTIVE.get()
    if reporter is not None:
        reporter.line(text)


@contextlib.contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """Report ``total`` steps of a long loop; yields ``advance(n=1)`` (a no-op when silent)."""
    reporter = _ACTIVE.get()
    if reporter is None or total <= 1:
        yield _ignore
        return
    with reporter.bar(label, total) as advance:
        yield advance


def track(items: Iterable[T], label: str, *, total: Optional[int] = None) -> Iterator[T]:
    """Yield from ``items`` while reporting progress (``total`` defaults to ``len(items)``)."""
    if total is None:
        total = len(items) if hasattr(items, "__len__") else 0  # type: ignore[arg-type]
    with progress_bar(label, total) as advance:
        for item in items:
            yield item
            advance(1)


def _ignore(n: int = 1) -> None:
    return None


@contextlib.contextmanager
def quieted(names: Iterable[str], *, active: bool = True) -> Iterator[None]:
    """Hold back all but errors from the loggers ``names`` (e.g. while files already read
    and reported on are read again); their levels are restored afterwards.

    >>> log = logging.getLogger("pli.example")
    >>> with quieted(["pli.example"]):
    ...     log.getEffectiveLevel() == logging.ERROR
    True
    """
    loggers = [logging.getLogger(n) for n in names] if active else []
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)

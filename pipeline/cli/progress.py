"""Live progress of an import or an export: rich bars on a terminal, plain timed lines otherwise.

One display for both commands. A command turns its progress object into a :class:`Snapshot` (what is
done out of what total, per kind) with :func:`import_snapshot` or :func:`export_snapshot`, and wraps the
run in :func:`progress_display`.

Piped to a file (CI logs, cron mail), a line is written at least every :data:`PLAIN_INTERVAL_S` seconds by a
timer, not only when a batch completes, so a run held back by the rate limit still shows life::

    2025-06-01T09:30:10+02:00 230/2000 records (organizations 30/30, contacts 200/1970), 23.0 records/s, \
ETA 1m17s, errors 0, waiting for rate limit (41 s)

The waiting part comes from the clients the run builds (see :class:`~pipeline.genesys.ratelimit.WaitWatch`):
it shows while requests are held back by the client's budget or by a 429's Retry-After.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

from pipeline.exporting.job import ExportProgress
from pipeline.genesys.ratelimit import Clock, WaitWatch
from pipeline.importing.job import Progress

# How often the plain (non-terminal) display writes a line: often enough to show life in CI logs and
# cron mails, rarely enough not to drown them.
PLAIN_INTERVAL_S = 10.0
# How often the timer looks whether a line is due; well below the interval so lines are never late.
TICK_S = 1.0
# Waits shorter than this are the even pacing between requests, not worth a word.
WAIT_SHOWN_FROM_S = 1.0

Ticker = Callable[[Callable[[], None]], AbstractContextManager[object]]
# The progress objects a display can follow; both call their listeners with themselves after a change.
P = TypeVar("P", Progress, ExportProgress)


@dataclass(frozen=True)
class Tally:
    """Records of one kind: done out of ``total`` (None while the total is unknown, as in an export)."""

    label: str
    done: int
    total: int | None


@dataclass(frozen=True)
class Snapshot:
    """What a display shows at one moment: one tally per kind, and a short note (errors, phase)."""

    tallies: tuple[Tally, ...]
    note: str = ""
    unit: str = "records"

    @property
    def done(self) -> int:
        return sum(t.done for t in self.tallies)

    @property
    def total(self) -> int | None:
        totals = [t.total for t in self.tallies]
        return None if any(t is None for t in totals) else sum(t for t in totals if t is not None)


def import_snapshot(p: Progress) -> Snapshot:
    return Snapshot(
        (
            Tally("organizations", p.organizations_done, p.organizations_total),
            Tally("contacts", p.contacts_done, p.contacts_total),
        ),
        f"errors {p.errors}",
    )


def export_snapshot(p: ExportProgress) -> Snapshot:
    return Snapshot(
        (Tally("rows", p.rows_written, None),),
        f"{p.phase}, {p.organizations_scanned} organizations scanned",
        unit="rows",
    )


def waiting_text(waiting_s: float) -> str:
    """The words for a wait on the rate limit, or nothing for the pacing between requests."""
    return f"waiting for rate limit ({waiting_s:.0f} s)" if waiting_s >= WAIT_SHOWN_FROM_S else ""


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class PlainLines:
    """Timed plain lines for a stream that is not a terminal; :meth:`tick` writes one when it is due."""

    def __init__(
        self,
        stream: TextIO,
        *,
        waiting_s: Callable[[], float],
        clock: Clock = time.monotonic,
        started_at: datetime | None = None,
        interval: float = PLAIN_INTERVAL_S,
    ) -> None:
        self.stream = stream
        self.interval = interval
        self._waiting_s = waiting_s
        self._clock = clock
        self._started = clock()
        self._started_at = started_at or datetime.now().astimezone()
        self._last = self._started
        self._lock = threading.Lock()
        self.snapshot = Snapshot(())

    def line(self) -> str:
        now = self._clock()
        elapsed = now - self._started
        stamp = (self._started_at + timedelta(seconds=elapsed)).isoformat(timespec="seconds")
        s = self.snapshot
        done, total = s.done, s.total
        rate = done / elapsed if elapsed > 0 else 0.0
        if total is None:
            eta = "ETA unknown"
        elif done >= total:
            eta = "ETA 0s"
        else:
            eta = f"ETA {_duration((total - done) / rate)}" if rate > 0 else "ETA unknown"
        kinds = ", ".join(f"{t.label} {t.done}/{'?' if t.total is None else t.total}" for t in s.tallies)
        parts = [
            f"{stamp} {done}/{'?' if total is None else total} {s.unit} ({kinds})",
            f"{rate:.1f} {s.unit}/s",
            eta,
        ]
        parts += [text for text in (s.note, waiting_text(self._waiting_s())) if text]
        return ", ".join(parts)

    def write(self, text: str) -> None:
        with self._lock:  # the timer thread and the run's thread both write
            click.echo(text, file=self.stream)

    def tick(self) -> None:
        """Write a line if ``interval`` seconds passed since the last one."""
        if self._clock() - self._last >= self.interval:
            self._last = self._clock()
            self.write(self.line())


def not_yet_shown(warnings: list[str], shown: list[str]) -> list[str]:
    """``warnings`` less those already shown (each shown one cancels one equal warning)."""
    left = Counter(shown)
    rest = []
    for warning in warnings:
        if left[warning] > 0:
            left[warning] -= 1
        else:
            rest.append(warning)
    return rest


@contextmanager
def thread_ticker(tick: Callable[[], None], period_s: float = TICK_S) -> Iterator[threading.Thread]:
    """Call ``tick`` every ``period_s`` seconds from a daemon thread for the duration of the block."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(period_s):
            tick()

    thread = threading.Thread(target=run, name="progress-ticker", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join()


class Display:
    """What a command may do with a running display besides updating it: print a warning."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self.warn = warn


class _RateColumn(ProgressColumn):
    """Records per second, which rich only offers for bytes."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text(f"{speed:6.1f}/s" if speed else "     -/s")


class _WaitColumn(ProgressColumn):
    """The rate-limit wait, read at each refresh so it shows while no batch completes."""

    def __init__(self, waiting_s: Callable[[], float]) -> None:
        super().__init__()
        self._waiting_s = waiting_s

    def render(self, task: Task) -> Text:
        return Text(waiting_text(self._waiting_s()), style="yellow")


@contextmanager
def progress_display(
    progress: P,
    snapshot: Callable[[P], Snapshot],
    *,
    stream: TextIO | None = None,
    clock: Clock = time.monotonic,
    ticker: Ticker = thread_ticker,
    watch: WaitWatch | None = None,
) -> Iterator[Display]:
    """Show ``progress`` for the duration of the block (rich on a terminal, plain timed lines otherwise).

    Clients built inside the block report their rate-limit waits to the display.
    """
    stream = stream or sys.stderr
    watch = watch or WaitWatch()
    with watch.active():
        if stream.isatty():
            with _rich(progress, snapshot, stream, watch) as display:
                yield display
            return
        plain = PlainLines(stream, waiting_s=watch.waiting_s, clock=clock)

        def update(p: P) -> None:
            # Taken on the run's thread, read by the timer's: the progress object is never read mid-change.
            plain.snapshot = snapshot(p)

        update(progress)
        progress.listeners.append(update)
        failed = False
        try:
            with ticker(plain.tick):
                yield Display(lambda message: plain.write(f"Warning: {message}"))
        except BaseException:
            failed = True
            raise
        finally:
            progress.listeners.remove(update)
            update(progress)
            # A run that stopped before it sent anything (a bad journal, a refused login) has no
            # progress to report: a "0/0" line would only bury the error that follows.
            if not (failed and not plain.snapshot.done):
                plain.write(plain.line())


@contextmanager
def _rich(
    progress: P, snapshot: Callable[[P], Snapshot], stream: TextIO, watch: WaitWatch
) -> Iterator[Display]:
    bars = RichProgress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        _WaitColumn(watch.waiting_s),
        console=Console(file=stream),
        transient=False,
    )
    first = snapshot(progress)
    tasks = [bars.add_task(t.label, total=t.total or None, note=first.note) for t in first.tallies]

    def update(p: P) -> None:
        s = snapshot(p)
        for task, tally in zip(tasks, s.tallies, strict=True):
            bars.update(task, completed=tally.done, total=tally.total or None, note=s.note)

    progress.listeners.append(update)
    with bars:
        try:
            yield Display(
                lambda message: bars.console.print(f"Warning: {message}", markup=False, highlight=False)
            )
        finally:
            progress.listeners.remove(update)
            update(progress)

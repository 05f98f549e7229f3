"""Progress for long runs: rich bars on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

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

from pipeline.importing.job import Progress

# How often the plain (non-terminal) display writes a line: often enough to show life in CI logs and
# cron mails, rarely enough not to drown them.
PLAIN_INTERVAL_S = 10.0


class _RateColumn(ProgressColumn):
    """Records per second, which rich only offers for bytes."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text(f"{speed:6.1f}/s" if speed else "     -/s")


class _PlainLines:
    def __init__(self, stream: TextIO, interval: float) -> None:
        self.stream = stream
        self.interval = interval
        self.started = time.monotonic()
        self.last = 0.0

    def line(self, p: Progress) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        done = p.organizations_done + p.contacts_done
        return (
            f"organizations {p.organizations_done}/{p.organizations_total}, "
            f"contacts {p.contacts_done}/{p.contacts_total}, errors {p.errors}, "
            f"{done / elapsed:.1f} records/s"
        )

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            click.echo(self.line(p), file=self.stream)


@contextmanager
def progress_display(
    progress: Progress, *, stream: TextIO | None = None, interval: float = PLAIN_INTERVAL_S
) -> Iterator[None]:
    """Attach a display to ``progress`` for the duration of the block."""
    stream = stream or sys.stderr
    if not stream.isatty():
        plain = _PlainLines(stream, interval)
        progress.listeners.append(plain)
        try:
            yield
        finally:
            progress.listeners.remove(plain)
            click.echo(plain.line(progress), file=stream)
        return

    bars = RichProgress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        TextColumn("errors {task.fields[errors]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream),
        transient=False,
    )
    orgs = bars.add_task("organizations", total=None, errors=0)
    contacts = bars.add_task("contacts", total=None, errors=0)

    def update(p: Progress) -> None:
        bars.update(
            orgs, completed=p.organizations_done, total=p.organizations_total or None, errors=p.errors
        )
        bars.update(contacts, completed=p.contacts_done, total=p.contacts_total or None, errors=p.errors)

    progress.listeners.append(update)
    with bars:
        try:
            yield
        finally:
            update(progress)
            progress.listeners.remove(update)

"""Progress of an export: a rich counter and rate on a terminal, a plain line every few seconds otherwise.

The same approach as :mod:`pipeline.cli.progress` for import; an export has no total (the scan endpoints do
not say how many records there are), so it shows counts and rates rather than bars.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import click
from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from pipeline.cli.progress import PLAIN_INTERVAL_S
from pipeline.exporting.job import ExportProgress


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text(f"{speed:8.1f} rows/s" if speed else "       - rows/s")


def plain_line(p: ExportProgress, elapsed_s: float) -> str:
    rate = p.rows_written / max(elapsed_s, 1e-9)
    return (
        f"{p.phase}: {p.rows_written} rows written, {p.organizations_scanned} organizations scanned, "
        f"{rate:.1f} rows/s"
    )


@contextmanager
def export_progress_display(
    progress: ExportProgress, *, stream: TextIO | None = None, interval: float = PLAIN_INTERVAL_S
) -> Iterator[None]:
    """Attach a display to ``progress`` for the duration of the block."""
    stream = stream or sys.stderr
    started = time.monotonic()
    if not stream.isatty():
        last = [0.0]

        def plain(p: ExportProgress) -> None:
            now = time.monotonic()
            if now - last[0] >= interval:
                last[0] = now
                click.echo(plain_line(p, now - started), file=stream)

        progress.listeners.append(plain)
        try:
            yield
        finally:
            progress.listeners.remove(plain)
            click.echo(plain_line(progress, time.monotonic() - started), file=stream)
        return

    display = RichProgress(
        SpinnerColumn(),
        TextColumn("{task.description:<32}"),
        TextColumn("{task.completed:>10,.0f} rows"),
        _Rate(),
        TextColumn("organizations scanned {task.fields[orgs]:,}"),
        TimeElapsedColumn(),
        console=Console(file=stream),
    )
    task = display.add_task("starting", total=None, orgs=0)

    def update(p: ExportProgress) -> None:
        display.update(task, description=p.phase, completed=p.rows_written, orgs=p.organizations_scanned)

    progress.listeners.append(update)
    with display:
        try:
            yield
        finally:
            update(progress)
            progress.listeners.remove(update)

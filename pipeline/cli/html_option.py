"""``--html PATH``, shared by import, validate, export and ``runs show``: the HTML run report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from pipeline.report.html import RunReport, write_html

F = TypeVar("F", bound=Callable[..., object])


def html_option(command: F) -> F:
    return click.option(
        "--html",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write a self-contained HTML report (counts chart, error codes, batches) here.",
    )(command)


def write_page(report: RunReport, path: Path) -> None:
    written = write_html(report, path)
    click.echo(f"HTML report written to {written}")

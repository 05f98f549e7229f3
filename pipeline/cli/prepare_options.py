"""The options that say how an input file is read and turned into records, shared by validate and import.

:func:`prepare_options` adds ``--mapping``, ``--default-region``, ``--account-conflicts``, ``--encoding``
and ``--sheet``, and hands the command one :class:`PrepareOptions` (keyword ``prepare``) built from them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeline.prepare.group import ACCOUNT_CONFLICT_MODES
from pipeline.prepare.stage import PrepareOptions

F = TypeVar("F", bound=Callable[..., Any])

_DEFAULTS = PrepareOptions()


def prepare_options(command: F) -> F:
    """Add the prepare options to ``command`` and pass them on as ``prepare=PrepareOptions(...)``."""

    @functools.wraps(command)
    def with_prepare(
        *args: Any,
        mapping: Path | None,
        default_region: str,
        account_conflicts: Any,
        encoding: str | None,
        sheet: str | None,
        **kwargs: Any,
    ) -> Any:
        prepare = PrepareOptions(
            mapping=mapping,
            default_region=default_region,
            account_conflicts=account_conflicts,
            encoding=encoding,
            sheet=sheet,
        )
        return command(*args, prepare=prepare, **kwargs)

    options = [
        click.option(
            "--mapping",
            type=click.Path(dir_okay=False, path_type=Path),
            help="TOML file mapping your own headers to fields, and setting constants.",
        ),
        click.option(
            "--default-region",
            default=_DEFAULTS.default_region,
            show_default=True,
            metavar="CC",
            help="ISO country code for phone numbers written without a country code.",
        ),
        click.option(
            "--account-conflicts",
            type=click.Choice(ACCOUNT_CONFLICT_MODES),
            default=_DEFAULTS.account_conflicts,
            show_default=True,
            help="Rows of one Account ID that disagree: mark them all as conflict, or keep the first row's "
            "values.",
        ),
        click.option(
            "--encoding",
            metavar="NAME",
            help="Read the file in this encoding instead of detecting it; e.g. cp1252, latin-1, utf-16.",
        ),
        click.option(
            "--sheet",
            metavar="NAME|INDEX",
            help="For an Excel workbook (.xlsx): the sheet to read, by name or 1-based position "
            "(default: the first).",
        ),
    ]
    # Applied bottom-up, as stacked decorators would be, so --help lists them in the order above.
    wrapped: Callable[..., Any] = with_prepare
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped  # type: ignore[return-value]

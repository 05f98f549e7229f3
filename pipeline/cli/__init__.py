"""The ``contacts-pipeline`` command: a thin click layer over the library.

Each command lives in its own module and is registered here. Library errors derive from
:class:`pipeline.errors.PipelineError`; they are shown as one line and mapped to their exit code.
"""

from __future__ import annotations

import sys

INTERRUPTED_EXIT = 130  # what shells report for a process ended by SIGINT
INTERRUPTED = "Interrupted."


def _interrupted_while_loading() -> SystemExit:
    """Ctrl-C while the (heavy) modules load: one line and exit 130 instead of an import traceback."""
    print(INTERRUPTED, file=sys.stderr)
    return SystemExit(INTERRUPTED_EXIT)


try:
    import logging
    from pathlib import Path
    from typing import Any

    import click

    from pipeline import __version__
    from pipeline.errors import PipelineError, RunError
    from pipeline.logs import LOG_FORMATS, LOG_LEVELS, configure_logging, scrub
    from pipeline.profiles import CONFIG_NAME, find_config, load_profile
except KeyboardInterrupt:
    raise _interrupted_while_loading() from None


class PipelineGroup(click.Group):
    """A click group that turns user-facing errors into one line and an exit code."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        # Ctrl-C while the command line is parsed: click would say "Aborted!" and exit 1.
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt:
            click.echo(INTERRUPTED, err=True)
            raise click.exceptions.Exit(INTERRUPTED_EXIT) from None

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PipelineError as err:
            click.echo(f"Error: {err}", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo(INTERRUPTED, err=True)
            ctx.exit(INTERRUPTED_EXIT)
        except OSError as err:
            # A file the run needed could not be used (a path that is a file, a full disk): one line, exit 3.
            what = f"cannot use {err.filename}: " if err.filename else ""
            click.echo(f"Error: {what}{err.strerror or err}", err=True)
            ctx.exit(RunError.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as err:
            # A bug, not a user error: still one line (scrubbed: it may quote data), the details in the
            # debug log, and the exit code of a run that could not complete.
            logging.getLogger("pipeline").debug("unexpected error", exc_info=True)
            click.echo(
                f"Error: unexpected {type(err).__name__}: {scrub(str(err))} "
                "(run with --log-level debug for details, and please report it)",
                err=True,
            )
            ctx.exit(RunError.exit_code)


@click.group(cls=PipelineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="contacts-pipeline")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="warning",
    show_default=True,
    help="Log detail on stderr (names, emails and phones are masked; secrets never logged).",
)
@click.option(
    "--log-format", type=click.Choice(LOG_FORMATS), default="text", show_default=True, help="Log line format."
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Config file with [profile.NAME] tables (default: ./{CONFIG_NAME} if there is one).",
)
@click.option(
    "--profile", help="Profile of the config file to use; flags and GENESYS_* variables win over it."
)
@click.pass_context
def cli(
    ctx: click.Context, log_level: str, log_format: str, config: Path | None, profile: str | None
) -> None:
    """Move customer records between spreadsheets and Genesys Cloud External Contacts."""
    configure_logging(log_level, log_format)
    if ctx.invoked_subcommand == "init":
        return  # init writes the config file: a broken one must not stop it
    from pipeline.cli.connection import PROFILE_META

    chosen = load_profile(find_config(config), profile)
    if chosen is not None:
        # Click uses default_map only for options the command line does not give: flags win.
        ctx.default_map = chosen.command_defaults()
        ctx.meta[PROFILE_META] = chosen


def _register() -> None:
    # Commands are imported here, not at module top, so each stays a small module of its own.
    from pipeline.cli import validate_cmd

    cli.add_command(validate_cmd.validate)
    from pipeline.cli import sandbox_cmd

    cli.add_command(sandbox_cmd.sandbox)
    from pipeline.cli import import_cmd

    cli.add_command(import_cmd.import_)
    from pipeline.cli import plan_cmd

    cli.add_command(plan_cmd.plan)
    from pipeline.cli import adopt_cmd

    cli.add_command(adopt_cmd.adopt)
    from pipeline.cli import export_cmd

    cli.add_command(export_cmd.export_)
    from pipeline.cli import runs_cmd

    cli.add_command(runs_cmd.runs)
    from pipeline.cli import init_cmd

    cli.add_command(init_cmd.init)
    from pipeline.cli import duplicates_cmd, merge_cmd

    cli.add_command(duplicates_cmd.duplicates)
    cli.add_command(merge_cmd.merge)


try:
    _register()
except KeyboardInterrupt:
    raise _interrupted_while_loading() from None


def main() -> None:
    cli(prog_name="contacts-pipeline")


if __name__ == "__main__":  # pragma: no cover
    main()  # click exits with the command's code itself

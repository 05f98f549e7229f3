"""README.md stays in step with the commands it documents."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from pipeline.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, prefix + name + " "))
    return found


def test_readme_starts_with_the_two_commands() -> None:
    """The README opens with exactly `make demo` and `make test`."""
    assert README.startswith("```\nmake demo\nmake test\n```\n")


@pytest.mark.parametrize(("name", "command"), _commands(cli), ids=lambda v: v if isinstance(v, str) else "")
def test_every_option_of_every_command_is_in_the_readme(name: str, command: click.Command) -> None:
    """Each command and each of its long options appears in README.md."""
    assert re.search(rf"contacts-pipeline {re.escape(name)}\b", README), f"command {name!r} not in README"
    options = [o for p in command.params if isinstance(p, click.Option) for o in p.opts if o.startswith("--")]
    missing = [o for o in options if o not in README]
    assert not missing, f"{name}: {missing} not in README"


def test_global_options_are_in_the_readme() -> None:
    """The group's own options are documented too."""
    options = [o for p in cli.params if isinstance(p, click.Option) for o in p.opts if o.startswith("--")]
    assert [o for o in options if o not in README and o not in ("--version", "--help")] == []

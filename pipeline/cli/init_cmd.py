"""``contacts-pipeline init``: a starter config file, and a starter mapping for a CSV."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.errors import ConfigError
from pipeline.fields import load_specs
from pipeline.files import write_text_atomic
from pipeline.prepare.read import read_table
from pipeline.profiles import CONFIG_NAME
from pipeline.starter import guess_columns, starter_config, starter_mapping

# Rows whose values the content sniffing looks at: enough to tell e-mails from names, quick on any file.
SAMPLE_ROWS = 200


def _write_new(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    click.echo(f"Wrote {path}")


def mapping_path_for(csv: Path) -> Path:
    return csv.with_name(csv.stem + ".mapping.toml")


@click.command("init")
@click.argument("csv", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--mapping-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the starter mapping goes (default: CSV's name with .mapping.toml, next to it).",
)
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(csv: Path | None, mapping_out: Path | None, force: bool) -> None:
    """Write a commented starter contacts-pipeline.toml here and, given CSV, a starter mapping for it.

    The mapping names, for each header of CSV, the field it matches (exact headers and aliases), the
    field it probably is (marked `# guess`) or nothing (a commented-out line to fill in).

    \b
    Example:
      contacts-pipeline init exports/crm.csv
      contacts-pipeline validate exports/crm.csv --mapping exports/crm.mapping.toml
    """
    mapping = mapping_out or (mapping_path_for(csv) if csv is not None else None)
    if csv is not None and mapping is not None:
        table = read_table(csv)
        headers = list(table.headers)
        head = table.frame.head(SAMPLE_ROWS)
        samples = {h: [v or "" for v in head.get_column(h).to_list()] for h in headers if h in head.columns}
        text = starter_mapping(csv.name, guess_columns(headers, samples, load_specs()))
        _write_new(mapping, text, force)
    _write_new(Path(CONFIG_NAME), starter_config(), force)

"""``adopt``: records made by hand or by another integration become this source's, checked in the sandbox."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from sandbox_support import sandbox_settings

from pipeline.cli import cli
from pipeline.importing.job import ImportOptions, import_file
from pipeline.sandbox import DEMO_EXTERNAL_SOURCE_ID, Sandbox, SandboxConfig, run_sandbox

HEADER = [
    "Contact ID",
    "Contact First Name",
    "Contact Last Name",
    "Contact Cell Phone",
    "Contact Work Email",
    "Account ID",
    "Account Name",
]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


def _write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _adopt(sb: Sandbox, path: Path, tmp_path: Path, *extra: str) -> tuple[int, str, pl.DataFrame]:
    report = tmp_path / f"{path.stem}-adopt.csv"
    args = [
        "adopt",
        str(path),
        "--base-url",
        sb.base_url,
        "--client-id",
        sb.client_id,
        "--report",
        str(report),
    ]
    result = CliRunner().invoke(
        cli, [*args, "--rate-limit", "0", *extra], env={"GENESYS_CLIENT_SECRET": sb.client_secret}
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.output, pl.read_csv(report, infer_schema=False)


def _placeholder(sb: Sandbox, tmp_path: Path) -> dict:
    """A phone-only contact another integration created, keyed PHONE:<hash> in its own source."""
    bot = _write(tmp_path / "bot.csv", [["PHONE:9f2c", "", "Lee", "+14155550100", "", "", ""]])
    options = ImportOptions(external_source="phone-bot", create_source=True)
    import_file(bot, sandbox_settings(sb), options, report_path=tmp_path / "bot.r.csv")
    (stored,) = sb.store.all("contacts")
    return stored


def _ours(record: dict) -> list[str]:
    return [e["value"] for e in record["externalIds"] if e["externalSource"]["id"] == DEMO_EXTERNAL_SOURCE_ID]


def test_a_placeholder_is_adopted_its_placeholder_released_and_the_next_import_updates_it(
    sb: Sandbox, tmp_path: Path
) -> None:
    """Dry by default; with --yes the placeholder (phone and last name agree) gets our Contact ID claimed
    and in its externalIds, PHONE:... released and gone; the next import updates it, no duplicate."""
    placeholder = _placeholder(sb, tmp_path)
    ours = _write(tmp_path / "crm.csv", [["C-7", "Ann", "Lee", "+14155550100", "ann@x.example", "", ""]])
    code, output, dry = _adopt(sb, ours, tmp_path, "--release-prefix", "PHONE:")
    assert code == 0, output
    assert dry["adopt_status"].to_list() == ["would_adopt"]
    assert dry["genesys_contact_id"].to_list() == [placeholder["id"]]
    assert "PHONE:9f2c" in dry["released"][0]
    assert json.dumps(sb.store.all("contacts")) == json.dumps([placeholder])

    code, output, done = _adopt(sb, ours, tmp_path, "--release-prefix", "PHONE:", "--yes")
    assert code == 0, output
    assert done["adopt_status"].to_list() == ["adopted"]
    (adopted,) = sb.store.all("contacts")
    assert _ours(adopted) == ["C-7"]
    assert [e["value"] for e in adopted["externalIds"]] == ["C-7"]
    assert "PHONE:9f2c" not in {i["value"] for i in adopted["identifiers"]}
    assert {"ExternalId", "Phone"} <= {i["type"] for i in adopted["identifiers"]}

    code, _, again = _adopt(sb, ours, tmp_path, "--release-prefix", "PHONE:", "--yes")
    assert (code, again["adopt_status"].to_list()) == (0, ["already_ours"])

    result = import_file(ours, sandbox_settings(sb), ImportOptions(), report_path=tmp_path / "r.csv")
    row = result.report.row(0, named=True)
    assert (row["contact_status"], row["genesys_contact_id"]) == ("updated", placeholder["id"])
    (updated,) = sb.store.all("contacts")
    assert (updated["firstName"], updated["workEmail"]) == ("Ann", "ann@x.example")
    assert sb.store.count("contacts") == 1


def test_a_family_member_sharing_the_phone_is_not_adopted(sb: Sandbox, tmp_path: Path) -> None:
    """Only the phone agrees (another last name): ambiguous_match naming the record, exit 1, nothing
    changed even with --yes."""
    placeholder = _placeholder(sb, tmp_path)
    ours = _write(tmp_path / "crm.csv", [["C-8", "Bob", "Park", "+14155550100", "", "", ""]])
    code, _, report = _adopt(sb, ours, tmp_path, "--yes")
    assert code == 1
    assert report["adopt_status"].to_list() == ["ambiguous_match"]
    assert placeholder["id"] in report["adopt_message"][0]
    assert sb.store.all("contacts") == [placeholder]


def test_the_genesys_id_column_wins_and_organizations_are_adopted_by_exact_name(
    sb: Sandbox, tmp_path: Path
) -> None:
    """A genesys_contact_id names the record even when no factor agrees; an organization made in the UI
    is found by its name (ignoring case) and gets the Account ID; a row finding nothing is no_match."""
    bot = _write(
        tmp_path / "ui.csv",
        [
            ["X-1", "Zed", "Q", "", "", "UI-1", "Harbor Logistics"],
            ["X-2", "", "W", "", "", "UI-1", "Harbor Logistics"],
        ],
    )
    import_file(bot, sandbox_settings(sb), ImportOptions(external_source="ui", create_source=True))
    contact = next(c for c in sb.store.all("contacts") if c.get("firstName") == "Zed")
    header = [*HEADER, "genesys_contact_id"]
    rows = [
        ["C-1", "Ann", "Lee", "", "", "ACC-1", "HARBOR logistics", contact["id"]],
        ["C-2", "Cy", "Nobody", "", "cy@nowhere.example", "", "", ""],
    ]
    code, output, report = _adopt(sb, _write(tmp_path / "crm.csv", rows, header), tmp_path, "--yes")
    assert code == 0, output
    assert report["contact_adopt_status"].to_list() == ["adopted", "no_match"]
    assert report["organization_adopt_status"].to_list() == ["adopted", None]
    (org,) = sb.store.all("organizations")
    assert sorted(e["value"] for e in org["externalIds"]) == ["ACC-1", "UI-1"]
    assert "C-1" in _ours(sb.store.get("contacts", contact["id"]))

"""Atomic writes and the rule that outputs never clobber inputs (pipeline/files.py)."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from pipeline import csvsafe
from pipeline.errors import ConfigError
from pipeline.files import atomic_path, check_outputs, same_file, write_text_atomic


def _symlink(link: Path, target: Path) -> None:
    try:
        link.symlink_to(target)
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links cannot be made here")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_relative_alias_of_an_input_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An output written as another relative path to the input file is refused, naming both paths."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.csv").write_text("a\n1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        check_outputs({"--report": Path("data/../data/./in.csv")}, {"the input file": Path("data/in.csv")})
    message = str(caught.value)
    alias, source = Path("data/../data/./in.csv"), Path("data/in.csv")
    assert f"--report {alias}" in message
    assert f"the input file {source}" in message
    assert "\n" not in message


def test_symlink_to_an_input_is_refused(tmp_path: Path) -> None:
    """An output that is a symbolic link to the input is the input."""
    source = tmp_path / "in.csv"
    source.write_text("a\n1\n")
    _symlink(tmp_path / "link.csv", source)
    with pytest.raises(ConfigError):
        check_outputs({"--report": tmp_path / "link.csv"}, {"the input file": source})


def test_hard_link_to_an_input_is_refused(tmp_path: Path) -> None:
    """An output that is a hard link of the input would overwrite the input's bytes: refused."""
    source = tmp_path / "in.csv"
    source.write_text("a\n1\n")
    try:
        os.link(source, tmp_path / "hard.csv")
    except OSError:
        pytest.skip("hard links cannot be made here")
    assert same_file(tmp_path / "hard.csv", source)
    with pytest.raises(ConfigError):
        check_outputs({"--report": tmp_path / "hard.csv"}, {"the input file": source})


def test_two_outputs_naming_one_file_are_refused(tmp_path: Path) -> None:
    """Two outputs of one run that resolve to one file are refused, naming the one written second."""
    report = tmp_path / "rec.summary.json"
    with pytest.raises(ConfigError, match="the summary"):
        check_outputs({"--report": report, "the summary": tmp_path / "sub" / ".." / "rec.summary.json"})


def test_outputs_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    """Names differing only in letter case are one file on many filesystems, so they are refused."""
    with pytest.raises(ConfigError):
        check_outputs({"--report": tmp_path / "r.summary.json", "the summary": tmp_path / "R.SUMMARY.json"})


def test_distinct_files_and_missing_entries_pass(tmp_path: Path) -> None:
    """Different files, and options that were not given (None), raise nothing."""
    (tmp_path / "in.csv").write_text("a\n1\n")
    check_outputs(
        {"--report": tmp_path / "out" / "r.csv", "the summary": tmp_path / "out" / "r.summary.json"},
        {"the input file": tmp_path / "in.csv", "--mapping": None},
    )


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    """A write that fails midway leaves the previous final file intact and removes its temporary file."""
    target = tmp_path / "report.csv"
    target.write_text("previous\n")

    def write_half() -> None:
        with atomic_path(target) as temp:
            temp.write_text("half a fi")
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_half()
    assert target.read_text() == "previous\n"
    assert _leftovers(tmp_path) == []


def test_a_completed_write_replaces_the_file(tmp_path: Path) -> None:
    """Once the write completes, the final path holds the new bytes and no temporary file is left."""
    target = tmp_path / "deep" / "report.summary.json"
    write_text_atomic(target, "{}\n")
    write_text_atomic(target, '{"rows": 1}\n')
    assert target.read_text() == '{"rows": 1}\n'
    assert _leftovers(target.parent) == []


def test_csv_writer_failing_midway_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report whose CSV writer raises after writing part of the file never replaces the last report."""
    target = tmp_path / "report.csv"
    csvsafe.write_csv(pl.DataFrame({"a": ["old"]}), target)
    before = target.read_bytes()

    def broken(self: pl.DataFrame, file: Path, **_: object) -> None:
        Path(file).write_text("a\nne")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_csv", broken)
    with pytest.raises(OSError, match="No space left"):
        csvsafe.write_csv(pl.DataFrame({"a": ["new", "rows"]}), target)
    assert target.read_bytes() == before
    assert _leftovers(tmp_path) == []

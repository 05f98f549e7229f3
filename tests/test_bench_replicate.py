"""bench/replicate.py: a large bench file made of replicas of a generated one is the same workload as a real
file of that size (keys, emails and phone numbers distinct; phones possible exactly where the base's are)."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("faker")  # the generator's dependency (the bench extra)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import generate
import replicate

BASE_ROWS = 400


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate.generate(tmp_path_factory.mktemp("base") / "base.csv", BASE_ROWS, seed=3)


def test_replicas_keep_every_key_email_and_phone_distinct(base: Path, tmp_path: Path) -> None:
    """Three replicas (the last one partial) have no Contact ID, email or phone number in common."""
    out = replicate.replicate(base, tmp_path / "big.csv", BASE_ROWS * 2 + 150)
    found = replicate.check(out, BASE_ROWS, sample=100)
    assert found["rows"] == found["distinct_contact_ids"] == BASE_ROWS * 2 + 150
    for kind in ("emails", "phones"):
        counts = found[kind]
        assert isinstance(counts, dict)
        per_replica = counts["per_replica"]
        assert per_replica[0] == per_replica[1] > per_replica[2] > 0
        assert counts["overall"] == sum(per_replica)


def test_rewritten_phones_are_possible_exactly_where_the_base_phones_are(base: Path, tmp_path: Path) -> None:
    """Every sampled replica phone is possible iff its base phone is, and reads as the number it was given."""
    found = replicate.check(
        replicate.replicate(base, tmp_path / "big.csv", BASE_ROWS * 3), BASE_ROWS, sample=400
    )
    assert found["sampled_rows"] == BASE_ROWS * 2
    assert found["possible_mismatches"] == 0
    assert found["reads_as_other_number"] == 0


def test_the_first_replica_is_the_base_file_byte_for_byte(base: Path, tmp_path: Path) -> None:
    """A replicated file begins with the base file itself, so the sizes share their first million rows."""
    out = replicate.replicate(base, tmp_path / "big.csv", BASE_ROWS * 2)
    assert out.read_bytes().startswith(base.read_bytes())
    assert out.read_bytes() != base.read_bytes() * 2


def test_a_shifted_account_keeps_its_contacts_together(base: Path, tmp_path: Path) -> None:
    """Rows of one base account land in one new account per replica, never in another replica's."""
    out = replicate.replicate(base, tmp_path / "big.csv", BASE_ROWS * 2)
    frame = pl.read_csv(out, infer_schema=False).with_row_index("row")
    replica = (pl.col("row") // BASE_ROWS).alias("replica")
    per_account = frame.group_by("Account ID").agg(replica.n_unique().alias("replicas"), pl.len())
    assert per_account.get_column("replicas").max() == 1
    assert frame.head(BASE_ROWS).get_column("Account ID").n_unique() * 2 == per_account.height

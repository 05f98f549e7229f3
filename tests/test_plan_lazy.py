"""Plan: keys and fingerprints up front, each request body built from its row only when first read."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any
from unittest.mock import patch

import polars as pl
import pytest
from plan_eager_reference import eager_operations

from pipeline.fields import load_specs
from pipeline.importing import bodies
from pipeline.importing.plan import (
    Operation,
    PlanOptions,
    contact_operations,
    link_organization,
    organization_operations,
)
from pipeline.prepare.group import Grouped
from pipeline.prepare.stage import PrepareOptions, prepare_file

SPECS = load_specs()
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SAMPLE_FILES = (
    ("contacts.csv", None),
    ("contacts-with-problems.csv", None),
    ("dynamics-export.csv", "dynamics.mapping.toml"),
)
BASE = PlanOptions(external_source_id="src-1")
OPTION_SETS = {
    "defaults": BASE,
    "blanks clear": dataclasses.replace(BASE, blanks="clear"),
    "schemas and division": dataclasses.replace(
        BASE,
        division_id="div-9",
        contact_schema={"id": "cs", "version": 2},
        organization_schema={"id": "os", "version": 1},
    ),
    "match any": dataclasses.replace(BASE, match=("email", "phone"), match_policy="any"),
    "match strict, clear, schema": dataclasses.replace(
        BASE, match=("phone",), blanks="clear", contact_schema={"id": "cs", "version": 2}
    ),
    "delete action": dataclasses.replace(BASE, action="Delete"),
}


def _contacts(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "contact.externalId": [f"C-{i}" for i in range(n)],
            "contact.firstName": [f"Ann {i}" if i % 3 else None for i in range(n)],
            "contact.workPhone": ["+14155550123;ext=42"] * n,
            "organization.externalId": [f"A-{i % 4}" for i in range(n)],
            "source_rows": [[i + 2] for i in range(n)],
        }
    )


class _Counting:
    """Counts the records built, by wrapping the per-row record builder bodies use."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = bodies._record

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        return self.real(*args)


def test_planning_builds_no_body_until_one_is_read() -> None:
    """Planning 25 contacts builds no body; reading one body builds that one once; linking builds none."""
    counting = _Counting()
    with patch("pipeline.importing.bodies._record", counting):
        ops = list(contact_operations(_contacts(25), SPECS, BASE, chunk_size=10))
        assert len({op.fingerprint for op in ops}) == 25
        assert [op.key for op in ops] == [f"C-{i}" for i in range(25)]
        assert ops[13].source_rows == (15,)
        assert ops[13].organization_key == "A-1"
        assert counting.calls == 0
        assert not any(op.built for op in ops)
        first = ops[13].body
        assert ops[13].body is first
        assert counting.calls == 1
        linked = link_organization(ops[20], "org-guid")
        assert counting.calls == 1
        assert not linked.built
        assert linked.body["contact"]["externalOrganization"] == {"id": "org-guid"}
        assert counting.calls == 2
        assert not ops[20].built


def test_linking_a_built_operation_gives_the_body_linking_an_unbuilt_one_gives() -> None:
    """Linking before or after the body is built sends the same body, key order included."""
    built, unbuilt = (next(contact_operations(_contacts(1), SPECS, BASE)) for _ in range(2))
    assert built.body
    early, late = link_organization(unbuilt, "org-guid"), link_organization(built, "org-guid")
    assert list(early.body["contact"].items()) == list(late.body["contact"].items())
    assert early == late
    assert early.fingerprint == built.fingerprint


def test_with_body_makes_a_new_operation_sending_that_body() -> None:
    """with_body keeps key, rows and fingerprint, changes the body, and leaves the original alone."""
    op = next(organization_operations(_contacts(1).drop("contact.externalId"), SPECS, BASE))
    other = op.with_body({"id": "A-0"})
    assert (other.key, other.source_rows, other.fingerprint) == (op.key, op.source_rows, op.fingerprint)
    assert other.body == {"id": "A-0"}
    assert op.body["externalOrganization"] == {
        "externalIds": [{"externalSource": {"id": "src-1"}, "value": "A-0"}]
    }


def test_an_operation_needs_a_body_or_rows() -> None:
    """Neither a body nor rows to build one from is a programming error, caught at once."""
    with pytest.raises(ValueError, match="needs a body or the rows"):
        Operation("contact", "C-1", None, (2,))


@pytest.fixture(scope="module")
def grouped_samples() -> list[tuple[str, Grouped]]:
    found = []
    for name, mapping in SAMPLE_FILES:
        prepare = PrepareOptions(mapping=SAMPLES / mapping if mapping else None)
        found.append((name, prepare_file(SAMPLES / name, prepare).grouped))
    return found


def _lazy(ops: Any) -> list[tuple[Any, ...]]:
    return [(op.key, op.source_rows, op.organization_key, op.fingerprint, op.body) for op in ops]


@pytest.mark.parametrize("label", list(OPTION_SETS))
def test_every_lazy_body_and_fingerprint_equals_the_eagerly_built_one(
    label: str, grouped_samples: list[tuple[str, Grouped]]
) -> None:
    """On every sample, each operation (body with its key order, key, rows, fingerprint) equals what the
    eager plan built before bodies became lazy."""
    options, count = OPTION_SETS[label], 0
    for name, grouped in grouped_samples:
        for kind, frame, plan in (
            ("organization", grouped.organizations, organization_operations),
            ("contact", grouped.contacts, contact_operations),
        ):
            eager = list(eager_operations(frame, SPECS, options, kind))  # type: ignore[arg-type]
            lazy = _lazy(plan(frame, SPECS, options, chunk_size=7))
            assert lazy == eager, f"{name} {kind}"
            # Equal dicts can still differ in key order, which is what goes on the wire.
            assert [repr(e[4]) for e in eager] == [repr(op[4]) for op in lazy], f"{name} {kind}"
            count += len(lazy)
    assert count > 250

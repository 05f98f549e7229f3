"""The ``merge`` job: the groups a person kept -> Genesys merges, and one outcome per row of the file.

Per group, in file order:

1. every kept contact is read again (``GET``): one that is gone fails the group (``not_found``); one that
   answers with another id was already merged (``GET`` follows merges), and the group is skipped
   (``already_merged``), so running the same file twice merges nothing twice;
2. dry run (the default): ``would_merge``, nothing is written;
3. ``POST /contacts/merge`` with the kept ids and a ``valueOverride`` made of the survivor's names, title,
   address, organization, ExternalIds, URL and survey opt-out (see :func:`value_override`); emails and
   phones are left to the merge, which keeps every distinct one in a free field;
4. the merged contact is read again and must carry every ExternalId of the survivor; if not, the row says
   ``merged`` with ``error_code`` ``external_ids_lost``.

Genesys refusing a merge (a 4xx such as curated contacts it will not merge, or contacts of different
divisions) makes the group ``refused``: it is reported, never forced another way. A merge whose answer was
lost (a dropped connection, a 5xx) is not sent again, because a replay would name contacts that no longer
exist; the survivor's id is read instead: an answer with a new id means the merge happened (``merged``),
the same id means it did not (``failed``), and no answer at all leaves ``failed`` with ``outcome_unknown``
(run the same file again: groups already merged are skipped).

No journal is kept: the file itself, re-read against Genesys, is what makes a second run safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipeline.duplicates.plan import RESULT_COLUMNS, MergePlan, PlannedGroup
from pipeline.errors import ApiError, PipelineError, TerminalApiError, TransientApiError
from pipeline.genesys.client import GenesysClient

STATUSES = ("merged", "would_merge", "skipped", "failed", "refused")
# Survivor fields the merged contact must take whatever the other contacts held.
OVERRIDE_FIELDS = (
    "firstName", "middleName", "lastName", "salutation", "title", "address", "externalIds",
    "externalSystemUrl", "surveyOptOut",
)  # fmt: skip


@dataclass(frozen=True)
class GroupOutcome:
    status: str
    merged_id: str = ""
    error_code: str = ""
    error_message: str = ""

    @property
    def problem(self) -> bool:
        return self.status in ("failed", "refused") or bool(self.status == "merged" and self.error_code)


@dataclass(frozen=True)
class MergeOutcomes:
    by_group: dict[str, GroupOutcome]
    stopped: PipelineError | None = None  # what ended the run early (the groups after it: not_attempted)


def value_override(survivor: Mapping[str, Any]) -> dict[str, Any]:
    """The survivor's fields that the merged contact must keep (see the module doc)."""
    override = {f: survivor[f] for f in OVERRIDE_FIELDS if survivor.get(f) not in (None, "", [], {})}
    organization = survivor.get("externalOrganization") or {}
    if organization.get("id"):
        override["externalOrganization"] = {"id": organization["id"]}
    if "externalIds" in override:
        override["externalIds"] = [
            {"externalSource": {"id": e["externalSource"]["id"]}, "value": e["value"]}
            for e in override["externalIds"]
        ]
    return override


async def merge_planned(client: GenesysClient, plan: MergePlan, *, dry_run: bool) -> MergeOutcomes:
    """Settle every group of ``plan``; a run-level error stops the loop and is returned, not raised."""
    outcomes: dict[str, GroupOutcome] = {}
    for group in plan.groups:
        if group.skip_reason is not None:
            outcomes[group.group] = GroupOutcome(
                "skipped", error_code="too_few_kept", error_message=group.skip_reason
            )
            continue
        try:
            outcomes[group.group] = await merge_group(client, group, dry_run=dry_run)
        except PipelineError as err:
            for rest in plan.groups:
                outcomes.setdefault(
                    rest.group,
                    GroupOutcome(
                        "failed", error_code="not_attempted", error_message=f"the run stopped: {err}"
                    ),
                )
            return MergeOutcomes(outcomes, err)
    return MergeOutcomes(outcomes)


async def merge_group(client: GenesysClient, group: PlannedGroup, *, dry_run: bool) -> GroupOutcome:
    contacts: dict[str, dict[str, Any]] = {}
    for contact_id in group.contact_ids:
        try:
            record = await client.get("contacts", contact_id)
        except TerminalApiError as exc:
            if exc.status == 404:
                return GroupOutcome("failed", "", "not_found", f"contact {contact_id} no longer exists")
            return GroupOutcome("failed", "", exc.code or f"http_{exc.status}", str(exc))
        if record.get("id") != contact_id:
            message = f"contact {contact_id} was already merged into {record.get('id')}"
            return GroupOutcome("skipped", str(record.get("id") or ""), "already_merged", message)
        contacts[contact_id] = record
    survivor = contacts[group.survivor_id]
    if dry_run:
        return GroupOutcome("would_merge")
    try:
        merged = await client.merge_contacts(group.contact_ids, value_override(survivor))
    except TerminalApiError as exc:
        if exc.status == 404:
            return GroupOutcome("failed", "", "not_found", str(exc))
        return GroupOutcome("refused", "", exc.code or f"http_{exc.status}", str(exc))
    except TransientApiError as exc:
        return await _settle(client, survivor, exc)
    return await _verify(client, survivor, str(merged.get("id") or ""))


async def _settle(client: GenesysClient, survivor: Mapping[str, Any], exc: ApiError) -> GroupOutcome:
    """After a merge whose answer never came: read the survivor's id to learn whether it happened."""
    try:
        now = await client.get("contacts", str(survivor["id"]))
    except ApiError as again:
        message = f"{exc}; reading the survivor again failed too ({again}): run merge with this file again"
        return GroupOutcome("failed", "", "outcome_unknown", message)
    if now.get("id") != survivor["id"]:
        return await _verify(client, survivor, str(now.get("id") or ""))
    return GroupOutcome("failed", "", exc.code or "api_unavailable", f"not merged: {exc}")


async def _verify(client: GenesysClient, survivor: Mapping[str, Any], merged_id: str) -> GroupOutcome:
    """The merged contact, read again, must hold every ExternalId the survivor had."""
    try:
        merged = await client.get("contacts", merged_id)
    except ApiError as exc:
        return GroupOutcome("merged", merged_id, "not_verified", f"reading the merged contact failed: {exc}")
    have = {_ext_key(e) for e in merged.get("externalIds") or ()}
    missing = [e for e in survivor.get("externalIds") or () if _ext_key(e) not in have]
    if missing:
        message = f"the merged contact lacks {len(missing)} of the survivor's ExternalIds; add them back"
        return GroupOutcome("merged", merged_id, "external_ids_lost", message)
    return GroupOutcome("merged", merged_id)


def reconciliation(plan: MergePlan, outcomes: MergeOutcomes) -> pl.DataFrame:
    """The file's rows, in order, with ``merge_status``, ``merged_contact_id``, ``error_code`` and
    ``error_message``; a row with keep=no in a merged group is ``skipped`` (``not_kept``)."""
    columns: dict[str, list[str]] = {k: [] for k in RESULT_COLUMNS}
    for group, contact_id in plan.row_keys:
        outcome = outcomes.by_group[group]
        if contact_id not in plan.kept and outcome.status != "skipped":
            outcome = GroupOutcome("skipped", "", "not_kept", "keep=no: left out of the merge")
        for key, value in zip(columns, _fields(outcome), strict=True):
            columns[key].append(value)
    extra = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
    return pl.concat([plan.rows.cast(pl.String), extra], how="horizontal")


def _fields(outcome: GroupOutcome) -> tuple[str, str, str, str]:
    return outcome.status, outcome.merged_id, outcome.error_code, outcome.error_message


def _ext_key(ext: Mapping[str, Any]) -> tuple[str, str]:
    return str((ext.get("externalSource") or {}).get("id") or ""), str(ext.get("value") or "")

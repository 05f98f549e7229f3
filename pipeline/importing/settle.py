"""Deciding, before a push, which operations need sending: the pure half of resume and change-only imports.

Two questions, each answered from what the journal remembers (plain data in, plain data out):

* resume: did this run already get an answer for the record? Then that answer is reused, not re-sent.
* change-only: is the record identical to its last *successful* push for the same external source? Then
  it is ``unchanged`` and carries the Genesys id of that push (so unchanged organizations still link
  contacts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipeline.importing.plan import Operation
from pipeline.journal.records import Known, Recorded
from pipeline.outcomes import Outcome, Status


def _outcome(
    op: Operation,
    status: Status,
    genesys_id: str | None,
    *,
    error_code: str | None = None,
    error_message: str | None = None,
) -> Outcome:
    return Outcome(
        op.kind,
        op.key,
        status,
        op.source_rows,
        genesys_id=genesys_id,
        error_code=error_code,
        error_message=error_message,
        organization_key=op.organization_key,
    )


def reuse_recorded(
    operations: Iterable[Operation], recorded: Mapping[str, Recorded]
) -> tuple[list[Operation], list[Outcome]]:
    """Split into operations still to do and the outcomes a resumed run already has (by key)."""
    todo: list[Operation] = []
    reused: list[Outcome] = []
    for op in operations:
        previous = recorded.get(op.key)
        if previous is None:
            todo.append(op)
        else:
            reused.append(
                _outcome(
                    op,
                    previous.status,
                    previous.genesys_id,
                    error_code=previous.error_code,
                    error_message=previous.error_message,
                )
            )
    return todo, reused


def skip_unchanged(
    operations: Iterable[Operation], known: Mapping[str, Known], fingerprints: Mapping[str, str]
) -> tuple[list[Operation], list[Outcome]]:
    """Split into operations to send and ``unchanged`` outcomes for records equal to their last push.

    A record counts as unchanged only when its last push succeeded and returned an id: without the id
    an unchanged organization could not link its contacts.
    """
    todo: list[Operation] = []
    unchanged: list[Outcome] = []
    for op in operations:
        last = known.get(op.key)
        if (
            last is not None
            and last.fingerprint is not None
            and last.genesys_id is not None
            and last.fingerprint == fingerprints[op.key]
        ):
            unchanged.append(_outcome(op, Status.UNCHANGED, last.genesys_id))
        else:
            todo.append(op)
    return todo, unchanged

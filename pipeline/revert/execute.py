"""Carrying out a revert plan against the API: the thin, impure half of ``runs revert``.

Deletes go one record a request (``DELETE`` is idempotent: a record already gone is fine); restores go
as bulk enrich ``Update`` operations, ten a request, paired with their step by ``id``. Contacts are
deleted, then contacts restored, then organizations restored, then organizations deleted, so that an
organization goes only once the contacts of the run no longer link to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pipeline.errors import ApiError, TerminalApiError
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.endpoints import MAX_BULK_ENTITIES
from pipeline.genesys.models import Kind as ApiKind
from pipeline.revert.plan import DONE, FAILED, SKIPPED, Step


def _api(kind: str) -> ApiKind:
    return "contacts" if kind == "contact" else "organizations"


async def _delete(client: GenesysClient, step: Step, gate: asyncio.Semaphore) -> Step:
    assert step.genesys_id is not None  # planned deletes always have one
    try:
        async with gate:
            deleted = await client.delete(_api(step.kind), step.genesys_id)
    except TerminalApiError as err:
        if err.status == 409 and step.kind == "organization":
            # Contacts outside the run still link to it: the API refuses (docs/sandbox.md assumption 20).
            return step.settled(SKIPPED, f"still linked by contacts this revert does not delete ({err})")
        return step.settled(FAILED, str(err))
    except ApiError as err:
        return step.settled(FAILED, str(err))
    return step.settled(DONE, "deleted" if deleted else "already deleted")


async def _restore_batch(client: GenesysClient, kind: str, batch: list[Step]) -> list[Step]:
    by_key = {s.key: s for s in batch}
    try:
        answer = await client.bulk_enrich(_api(kind), [s.operation or {} for s in batch])
    except ApiError as err:
        return [s.settled(FAILED, str(err)) for s in batch]
    done: list[Step] = []
    for result in answer.results:
        step = by_key.pop(result.id, None)
        if step is None:
            continue
        if result.success:
            done.append(step.settled(DONE, "restored " + step.message.removeprefix("fields: ")))
        else:
            message = result.error.message if result.error else "the API refused the update"
            done.append(step.settled(FAILED, message))
    done += [s.settled(FAILED, "the bulk response had no result for it") for s in by_key.values()]
    return done


async def _deletes(client: GenesysClient, steps: Sequence[Step], concurrency: int) -> list[Step]:
    gate = asyncio.Semaphore(max(1, concurrency))
    return list(await asyncio.gather(*(_delete(client, s, gate) for s in steps)))


async def _restores(client: GenesysClient, kind: str, steps: Sequence[Step]) -> list[Step]:
    out: list[Step] = []
    for start in range(0, len(steps), MAX_BULK_ENTITIES):
        out += await _restore_batch(client, kind, list(steps[start : start + MAX_BULK_ENTITIES]))
    return out


async def carry_out(client: GenesysClient, steps: Sequence[Step], *, concurrency: int = 4) -> list[Step]:
    """Every step with its outcome; steps with nothing to do come back as they were."""

    def todo(kind: str, action: str) -> list[Step]:
        return [s for s in steps if s.kind == kind and s.action == action and s.status != SKIPPED]

    acted = await _deletes(client, todo("contact", "delete"), concurrency)
    acted += await _restores(client, "contact", todo("contact", "restore"))
    acted += await _restores(client, "organization", todo("organization", "restore"))
    acted += await _deletes(client, todo("organization", "delete"), concurrency)
    settled = {(s.kind, s.key): s for s in acted}
    return [settled.get((s.kind, s.key), s) for s in steps]

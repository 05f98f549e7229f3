"""Running an import's push with one API client: the records (the file's, or its partitions'), and with
``--delete-missing`` the missing records planned before them and deleted after them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.fields import load_specs
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.settings import ClientSettings
from pipeline.importing.delete_missing import DeleteReport, carry_out, plan_missing
from pipeline.importing.deletions import PresentKeys
from pipeline.importing.options import ImportOptions, PushReport
from pipeline.importing.push import default_concurrency
from pipeline.journal.ledger import RunLedger
from pipeline.report.merge import row_succeeded


@dataclass(frozen=True)
class Pushed:
    pushed: PushReport
    client_stats: dict[str, int]
    deleted: DeleteReport | None = None


async def push_with_client(
    settings: ClientSettings,
    push_records: Callable[[GenesysClient], Awaitable[PushReport]],
    options: ImportOptions,
    *,
    present: Callable[[], PresentKeys],
    rows: int,
    ledger: RunLedger | None = None,
    deleted_path: Path | None = None,
) -> Pushed:
    """``push_records`` run with a client of the run's settings; with --delete-missing, the missing
    records planned (from the file's ``present`` keys) before it and deleted after it."""
    concurrency = options.concurrency or default_concurrency(settings.rate_limit_per_minute)
    # One connection per request in flight: fewer would queue requests for a socket, more would only
    # open sockets that nothing uses.
    async with GenesysClient(replace(settings, max_connections=concurrency)) as client:
        plan = None
        if options.delete_missing:
            # Planned before anything is sent, so a run over the guard stops with the target untouched.
            plan = await plan_missing(
                client, present(), options.external_source, options.division_id, options.max_delete
            )
        pushed = await push_records(client)
        deleted = None
        if plan is not None and deleted_path is not None:
            deleted = await carry_out(
                client,
                plan,
                deleted_path,
                rows_not_succeeded=rows - pushed.outcomes.filter(row_succeeded()).height,
                dry_run=options.dry_run,
                concurrency=concurrency,
                specs=load_specs(),
                ledger=ledger,
            )
        stats = client.stats
        counted = {
            "requests_sent": stats.requests_sent,
            "throttled": stats.throttled,
            "retries": stats.retries,
        }
        return Pushed(pushed, counted, deleted)

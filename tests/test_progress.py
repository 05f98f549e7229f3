"""The one progress display of import and export: timed plain lines off a terminal, rate-limit waits, and
warnings found before the push shown before it. All timing runs on a fake clock and an injected ticker."""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.cli.progress import (
    PlainLines,
    Snapshot,
    Tally,
    export_snapshot,
    not_yet_shown,
    progress_display,
)
from pipeline.exporting.job import ExportProgress
from pipeline.genesys.ratelimit import RateLimiter, WaitWatch

START = datetime.fromisoformat("2025-06-01T09:30:00+00:00")


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class FakeTicker:
    """Stands in for the timer thread: the test calls :meth:`tick` as fake time passes."""

    def __init__(self) -> None:
        self.ticks: list[Callable[[], None]] = []

    @contextmanager
    def __call__(self, tick: Callable[[], None]) -> Iterator[None]:
        self.ticks.append(tick)
        yield

    def tick(self) -> None:
        for tick in self.ticks:
            tick()


def stamps(text: str) -> list[datetime]:
    return [datetime.fromisoformat(line.split(" ", 1)[0]) for line in text.splitlines()]


def test_plain_display_writes_a_line_at_least_every_10_s_of_a_3_minute_run() -> None:
    """Off a terminal, a 3-minute run whose pages come rarely still gets a timestamped line every 10 s."""
    clock, ticker, out = FakeClock(), FakeTicker(), io.StringIO()
    progress = ExportProgress()
    with progress_display(progress, export_snapshot, stream=out, clock=clock, ticker=ticker):
        for second in range(1, 181):
            clock.now += 1.0
            if second % 45 == 0:  # a page only now and then: lines must not wait for it
                progress.rows_written += 100
                progress.notify()
            ticker.tick()
    times = stamps(out.getvalue())
    assert len(times) >= 18
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert max(gaps) <= 10.0
    assert (times[-1] - times[0]).total_seconds() >= 170.0
    assert out.getvalue().splitlines()[-1].split(" ", 1)[1].startswith("400/? rows (rows 400/?)")


def test_plain_line_carries_timestamp_counts_rate_and_eta() -> None:
    """A line reads: ISO time, done/total per kind, records per second and the time left at that rate."""
    clock = FakeClock()
    lines = PlainLines(io.StringIO(), waiting_s=lambda: 0.0, clock=clock, started_at=START)
    clock.now += 20.0
    lines.snapshot = Snapshot((Tally("organizations", 40, 40), Tally("contacts", 160, 1000)), "errors 2")
    assert lines.line() == (
        "2025-06-01T09:30:20+00:00 200/1040 records (organizations 40/40, contacts 160/1000), "
        "10.0 records/s, ETA 1m24s, errors 2"
    )


def test_lines_say_the_run_waits_for_the_rate_limit_while_a_429_pause_holds_it() -> None:
    """While a limiter sleeps out a 45 s Retry-After, the timed lines keep coming and name the wait."""
    clock, ticker, out, watch = FakeClock(), FakeTicker(), io.StringIO(), WaitWatch()

    async def sleep_while_ticking(seconds: float) -> None:
        end = clock.now + seconds
        while clock.now < end:
            clock.now = min(end, clock.now + 1.0)
            ticker.tick()

    progress = ExportProgress()
    with progress_display(progress, export_snapshot, stream=out, clock=clock, ticker=ticker, watch=watch):
        limiter = RateLimiter(300, clock=clock, sleep=sleep_while_ticking)
        watch.add(limiter)
        limiter.pause_for(45.0)
        asyncio.run(limiter.acquire())
    text = out.getvalue().splitlines()
    assert [line.rsplit(", ", 1)[1] for line in text[:4]] == [
        f"waiting for rate limit ({left} s)" for left in (35, 25, 15, 5)
    ]
    assert "waiting" not in text[-1], "the wait is over by the closing line"


def test_short_pacing_waits_are_not_reported_as_waiting() -> None:
    """Sub-second gaps of even pacing are normal running, not a wait worth a word."""
    clock = FakeClock()
    lines = PlainLines(io.StringIO(), waiting_s=lambda: 0.4, clock=clock)
    assert "waiting" not in lines.line()


def test_warnings_shown_during_the_run_are_not_repeated_after_it() -> None:
    """Each warning shown before the push cancels one equal warning of the final list."""
    assert not_yet_shown(["a", "b", "a", "c"], ["a", "b"]) == ["a", "c"]


def test_import_prints_shared_email_warnings_before_the_push(tmp_path: Path) -> None:
    """Warnings from validating the file appear once, before the progress line the push ends with."""
    path = tmp_path / "in.csv"
    path.write_text(
        "Contact ID,Contact First Name,Contact Last Name,Contact Work Email\n"
        "C-1,Ann,Lee,shared@example.com\n"
        "C-2,Bob,Kay,shared@example.com\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["import", str(path), "--sandbox", "--rate-limit", "0", "--report", str(tmp_path / "r.csv")]
    )
    lines = result.output.splitlines()
    warnings = [i for i, line in enumerate(lines) if line.startswith("Warning:") and "2 contacts" in line]
    closing = [i for i, line in enumerate(lines) if "records (organizations" in line]
    assert len(warnings) == 1, result.output
    assert closing, result.output
    assert warnings[0] < closing[-1], result.output


def test_live_tallies_count_records_as_the_summary_counts_them() -> None:
    """Batch after batch, the live per-kind status tallies equal the summary's count of all the outcomes."""
    from pipeline.importing.options import Progress
    from pipeline.outcomes import Outcome, Status
    from pipeline.report.reconcile import record_counts

    cycle = [Status.CREATED, Status.UPDATED, Status.FAILED, Status.CREATED, Status.SKIPPED]
    statuses = itertools.cycle(cycle)
    outcomes = [
        Outcome("contact" if i % 3 else "organization", f"K-{i}", next(statuses), (i + 2,)) for i in range(47)
    ]
    progress = Progress()
    for start in range(0, len(outcomes), 10):
        progress.record(outcomes[start : start + 10])
    progress.record([])
    assert progress.counts == record_counts(outcomes)
    assert progress.organizations_done + progress.contacts_done == 47
    assert progress.errors == sum(o.status in (Status.FAILED, Status.SKIPPED) for o in outcomes)

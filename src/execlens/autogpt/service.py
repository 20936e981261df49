"""Sync finished AutoGPT runs into execlens: incremental, idempotent, in keyset batches."""

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from execlens.autogpt import mapping, reader, repository
from execlens.autogpt.reader import NodeRow, RunRow
from execlens.autogpt.schema_check import check_source_schema
from execlens.autogpt.source import SourceError, source_connection, source_engine
from execlens.db.base import AnyRow, as_utc
from execlens.db.engine import Database
from execlens.executions.schemas import GraphIn
from execlens.executions.service import IngestRows, encode_values, execution_service
from execlens.source_url import SourceDatabase

SOURCE = "autogpt"
_RUN_ID = itemgetter("run_id")
_GraphRows = tuple[Sequence[AnyRow], Sequence[AnyRow], Sequence[AnyRow]]
DEFAULT_BATCH = 500


@dataclass
class SyncReport:
    """What one pass read and wrote."""

    runs: int = 0
    unchanged: int = 0
    node_executions: int = 0
    graphs: int = 0
    removed: int = 0
    skipped: int = 0
    trimmed: int = 0
    read: int = 0
    total: int | None = None
    cursor: datetime | None = None
    trimmed_ids: list[str] = field(default_factory=list)
    # Runs execlens cannot store (an id over 200 characters, a status it does not know):
    # (run id, why). The sync goes on without them.
    invalid: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Fetched:
    """A batch of runs as read: the ones to write, with their node and graph rows."""

    runs: Sequence[RunRow]
    kept: list[RunRow]
    gone: list[str]
    unchanged: int
    # Ids of the runs execlens stored when they were read (synced or not).
    stored: frozenset[str] = frozenset()
    nodes: Sequence[NodeRow] = ()
    graphs: _GraphRows | None = None


@dataclass
class _Batch:
    rows: IngestRows
    # Runs execlens did not store when they were read: inserted rather than upserted.
    new: IngestRows
    written: list[str]
    graphs: list[GraphIn]
    gone: list[str]
    trimmed: list[str]
    invalid: list[tuple[str, str]]
    # (run id, change time) of the runs written: [0] stored when read, [1] the others.
    changes: tuple[list[tuple[str, datetime]], list[tuple[str, datetime]]]
    unchanged: int = 0


def _naive_utc(value: datetime) -> datetime:
    # AutoGPT's columns are timestamp(3) without time zone, holding UTC.
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


class LeaseLost(Exception):
    """Another process took over the sync; this one's batch was not written."""


class AutoGPTSync:
    """One AutoGPT database synced into one execlens database.

    With ``lease_owner`` set, a batch commits only while that owner holds the sync's
    lease, so several processes never sync at the same time.
    """

    def __init__(
        self,
        source: SourceDatabase,
        database: Database,
        *,
        lookback: timedelta,
        batch_size: int = DEFAULT_BATCH,
        lease_owner: str | None = None,
        lease: timedelta = timedelta(minutes=2),
    ) -> None:
        self.source = source
        self.database = database
        self.lookback = lookback
        self.batch_size = batch_size
        self.lease_owner = lease_owner
        self.lease = lease
        self._engine: AsyncEngine | None = None
        self._graphs_seen: set[tuple[str, int]] = set()
        # Graphs a batch of this pass will write, not committed yet: no later batch writes
        # them again, so no write ever waits for a row a later one holds.
        self._graphs_claimed: set[tuple[str, int]] = set()

    @property
    def engine(self) -> AsyncEngine:
        """Return the engine on AutoGPT's database, created on first use."""
        if self._engine is None:
            self._engine = source_engine(self.source)
        return self._engine

    async def check(self) -> None:
        """Raise SourceError when AutoGPT's database is unreachable or lacks a needed column."""
        async with source_connection(self.engine, self.source) as connection:
            await check_source_schema(connection, self.source)

    async def claim(self) -> bool:
        """Take or renew this process's lease on the sync; tell whether it holds it."""
        assert self.lease_owner is not None
        async with self.database.write() as session:
            return await self._renew(session, self.lease_owner)

    async def release(self) -> None:
        """Give up the lease, so another process can sync at once."""
        if self.lease_owner is not None:
            async with self.database.write() as session:
                await repository.release_lease(session, SOURCE, self.lease_owner)

    async def _renew(self, session: AsyncSession, owner: str) -> bool:
        until = datetime.now(UTC) + self.lease
        dialect = self.database.dialect
        return await repository.claim_lease(session, dialect, SOURCE, owner, until)

    async def close(self) -> None:
        """Close the connections to AutoGPT's database."""
        if self._engine is not None:
            await self._engine.dispose()

    async def sync_once(
        self,
        *,
        count: bool = False,
        on_batch: Callable[[SyncReport], None] | None = None,
    ) -> SyncReport:
        """Read every finished run changed since the cursor minus the lookback, and store it."""
        report = SyncReport()
        async with self.database.read() as session:
            cursor = await repository.get_cursor(session, SOURCE)
        since = _naive_utc(cursor - self.lookback) if cursor else None
        if count:
            async with source_connection(self.engine, self.source) as connection:
                report.total = await reader.count_finished_runs(connection, since=since)
            if on_batch:
                on_batch(report)
        # Batches flow through three stages that overlap: PostgreSQL reads batch n+2's
        # node executions while Python maps batch n+1 and the database writes the batches
        # before. On PostgreSQL two writes run at once, each on its own connection; each
        # commits only after the one before it, so the cursor never passes a run that is
        # not stored.
        self._graphs_claimed = set()
        fetching: asyncio.Task[_Fetched] | None = None
        writing: list[asyncio.Task[None]] = []
        try:
            async with aclosing(self._finished_runs(since)) as batches:
                async for runs in batches:
                    fetched, fetching = fetching, asyncio.create_task(self._fetch(runs))
                    if fetched is not None:
                        await self._pass_on(await fetched, writing, report, on_batch)
                if fetching is not None:
                    fetched, fetching = fetching, None
                    await self._pass_on(await fetched, writing, report, on_batch)
            while writing:
                await writing.pop(0)
                if on_batch:
                    on_batch(report)
            return report
        finally:
            if fetching is not None:
                fetching.cancel()
                with suppress(BaseException):
                    await fetching
            # A failed read still lets the batches in flight commit (or roll back) whole.
            for task in writing:
                with suppress(Exception):
                    await task

    async def _pass_on(
        self,
        fetched: _Fetched,
        writing: list[asyncio.Task[None]],
        report: SyncReport,
        on_batch: Callable[[SyncReport], None] | None,
    ) -> None:
        """Map a fetched batch, wait for room among the writes, and start writing this one."""
        batch = self._map(fetched)
        while len(writing) >= self._writes_at_once:
            await writing.pop(0)
            if on_batch:
                on_batch(report)
        after = writing[-1] if writing else None
        writing.append(asyncio.create_task(self._write(batch, fetched.runs, report, after)))

    @property
    def _writes_at_once(self) -> int:
        # SQLite has one writer: a second write would only wait for the first.
        return 2 if self.database.dialect == "postgresql" else 1

    async def _finished_runs(self, since: datetime | None) -> AsyncGenerator[list[RunRow]]:
        # Only reading AutoGPT's runs happens in this connection's context: an error
        # writing to execlens must not be reported as AutoGPT's.
        async with source_connection(self.engine, self.source) as connection:
            async for runs in reader.finished_runs(connection, since=since, batch=self.batch_size):
                yield runs

    async def _fetch(self, runs: Sequence[RunRow]) -> _Fetched:
        """Read what these runs need from both databases: stored changes, nodes, graphs."""
        async with self.database.read() as session:
            ids = [r.id for r in runs]
            stored = await repository.stored_changes(session, self.database.dialect, ids)
        gone = [run.id for run in runs if mapping.is_skipped(run)]
        fresh = [run for run in runs if not mapping.is_skipped(run)]
        # Runs re-read in the lookback window that did not change since: nothing to write.
        # A run never synced is kept without converting its time for the comparison.
        kept = [
            run
            for run in fresh
            if (synced := stored.get(run.id)) is None or synced != as_utc(run.changed_at)
        ]
        fetched = _Fetched(runs, kept, gone, len(fresh) - len(kept), frozenset(stored))
        head, tail = mapping.trim_limits()
        # Graph versions do not change once written (AutoGPT adds a version per edit):
        # read each once per process.
        keys = sorted({(r.graph_id, r.graph_version) for r in kept} - self._graphs_seen)
        async with source_connection(self.engine, self.source) as connection:
            ids = [r.id for r in kept]
            fetched.nodes = await reader.node_executions(connection, ids, head=head, tail=tail)
            if keys:
                fetched.graphs = await reader.graphs(connection, keys)
        return fetched

    async def follow(
        self,
        interval: timedelta,
        *,
        on_pass: Callable[[SyncReport], Awaitable[None]] | None = None,
        on_error: Callable[[SourceError], None] | None = None,
    ) -> None:
        """Sync again and again, ``interval`` apart, until cancelled.

        A pass that AutoGPT's database fails (a restart, a migration under way) is
        reported to ``on_error`` and tried again after ``interval``.
        """
        while True:
            try:
                report = await self.sync_once()
            except SourceError as exc:
                if on_error is None:
                    raise
                on_error(exc)
            else:
                if on_pass:
                    await on_pass(report)
            await asyncio.sleep(interval.total_seconds())

    def _map(self, fetched: _Fetched) -> _Batch:
        """Return what to write for a fetched batch."""
        by_run = {run_id: list(n) for run_id, n in groupby(fetched.nodes, key=_RUN_ID)}
        trimmed = [run_id for run_id, nodes in by_run.items() if nodes[0]["total"] > len(nodes)]
        # [0]: runs execlens stored when read, to upsert; [1]: the others, to insert.
        executions: tuple[list[Any], list[Any]] = ([], [])
        nodes: tuple[list[Any], list[Any]] = ([], [])
        changes: tuple[list[Any], list[Any]] = ([], [])
        written, invalid = [], []
        arrived_at = datetime.now(UTC)
        for run in fetched.kept:
            try:
                run_nodes = mapping.node_executions(run.id, by_run.get(run.id, []))
                execution = mapping.execution_values(run, arrived_at)
            except ValueError as exc:  # pydantic's ValidationError is one
                invalid.append((run.id, mapping.first_problem(exc)))
                continue
            new = run.id not in fetched.stored
            executions[new].append(execution)
            nodes[new].extend(run_nodes)
            changes[new].append((run.id, run.changed_at))
            written.append(run.id)
        graphs = self._map_graphs(fetched.graphs, invalid)
        encoded = self._encode(graphs, executions[0], nodes[0])
        new_rows = self._encode([], executions[1], nodes[1])
        batch = _Batch(encoded, new_rows, written, graphs, fetched.gone, trimmed, invalid, changes)
        batch.unchanged = fetched.unchanged
        return batch

    def _encode(self, graphs: list[GraphIn], executions: list[Any], nodes: list[Any]) -> IngestRows:
        dialect = self.database.dialect
        return encode_values(dialect, graphs, executions, nodes, nodes_as_text=True)

    def _map_graphs(self, rows: _GraphRows | None, invalid: list[tuple[str, str]]) -> list[GraphIn]:
        if rows is None:
            return []
        graph_rows, node_rows, link_rows = rows
        nodes = {k: list(g) for k, g in groupby(node_rows, key=_graph_key)}
        links: dict[tuple[str, int], list[AnyRow]] = {}
        for link in link_rows:
            links.setdefault(_graph_key(link), []).append(link)
        graphs = []
        for g in graph_rows:
            key = (g.id, g.version)
            # An earlier batch read it too and writes it, or has written it.
            if key in self._graphs_claimed or key in self._graphs_seen:
                continue
            self._graphs_claimed.add(key)
            try:
                graphs.append(mapping.graph(g, nodes.get(key, []), links.get(key, [])))
            except ValueError as exc:  # runs need no stored graph: they sync without it
                self._graphs_seen.add(key)
                invalid.append((f"graph {g.id} version {g.version}", mapping.first_problem(exc)))
        return graphs

    async def _write(
        self,
        batch: _Batch,
        runs: Sequence[RunRow],
        report: SyncReport,
        after: asyncio.Task[None] | None,
    ) -> None:
        """Write a batch; commit it, with the cursor, once the write ``after`` has committed."""
        position = runs[-1].changed_at
        # Runs, removals and the cursor commit together: a crash (kill -9) between
        # batches loses nothing, and the next pass re-reads from the cursor.
        async with self.database.write() as session:
            dialect = self.database.dialect
            result = await execution_service.write(session, dialect, batch.rows)
            new = await execution_service.insert_new(session, dialect, batch.new)
            await repository.save_changes(session, dialect, batch.changes[0])
            await repository.save_new_changes(session, dialect, batch.changes[1])
            removed = await execution_service.remove(session, batch.gone)
            if after is not None:
                # Its failure rolls this batch back too: the cursor stays before both.
                await after
            # The lease and the cursor share a row: locked last, it is held only to the commit.
            if self.lease_owner is not None and not await repository.renew_lease(
                session, SOURCE, self.lease_owner, datetime.now(UTC) + self.lease
            ):
                raise LeaseLost(f"this process no longer holds the {SOURCE} sync lease")
            await repository.save_cursor(session, dialect, SOURCE, position)
        self._graphs_seen |= {(g.id, g.version) for g in batch.graphs}
        report.runs += result.executions + new.executions
        report.unchanged += batch.unchanged
        report.node_executions += result.node_executions + new.node_executions
        report.graphs += len(batch.graphs)
        report.removed += removed
        report.skipped += len(batch.gone)
        report.trimmed += len(batch.trimmed)
        report.trimmed_ids += batch.trimmed
        report.invalid += batch.invalid
        report.cursor = position
        report.read += len(runs)


def _graph_key(row: AnyRow) -> tuple[str, int]:
    return (row.graph_id, row.graph_version)

"""Stream a JSONL file of graphs and executions into the database in batches.

Parsing and validating the lines takes most of the CPU, so a large file is parsed in
worker processes, a chunk of lines at a time, while this process writes the batches in
order: it only reads lines, assembles batches from the workers' encoded rows and runs SQL.
"""

import asyncio
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass, field
from itertools import chain, islice

from execlens.db.dialect import join_rows
from execlens.db.engine import Database, Dialect
from execlens.executions.parsing import (
    ExecutionRecord,
    GraphRecord,
    ImportLineError,
    LineError,
    ParsedLine,
    parse_chunk,
)
from execlens.executions.service import IngestRows, execution_service

DEFAULT_BATCH = 500
CHUNK_LINES = 250
# Smaller inputs are parsed in this process: starting workers would cost more than it saves.
POOL_MIN_LINES = 2_000
MAX_WORKERS = 2
CHUNKS_PER_WORKER = 3
WORKER_NICENESS = 10


@dataclass
class SkippedLine:
    line: int
    reason: str


@dataclass
class ImportReport:
    graphs: int = 0
    executions: int = 0
    node_executions: int = 0
    lines: int = 0
    committed_through: int = 0
    skipped: list[SkippedLine] = field(default_factory=list)


@dataclass
class _Batch:
    graphs: list[GraphRecord] = field(default_factory=list)
    executions: list[ExecutionRecord] = field(default_factory=list)
    execution_ids: set[str] = field(default_factory=set)
    last_line: int = 0

    def __len__(self) -> int:
        return len(self.graphs) + len(self.executions)


def _chunks(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    remaining = iter(lines)
    first = 1
    while chunk := list(islice(remaining, CHUNK_LINES)):
        yield first, chunk
        first += len(chunk)


def _worker_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return min(MAX_WORKERS, len(os.sched_getaffinity(0)))
    return min(MAX_WORKERS, os.cpu_count() or 1)


def _start_workers(count: int) -> ProcessPoolExecutor:
    # fork starts a worker at once with everything imported; spawn (the default on macOS
    # and Windows) imports pydantic and SQLAlchemy again in each worker.
    context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    return ProcessPoolExecutor(
        count, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),)
    )


def _init_worker(parent: int) -> None:
    # Ctrl-C reaches the whole process group: the importing process handles it and shuts
    # the workers down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):
        # Workers run ahead of the writes (CHUNKS_PER_WORKER): yielding the CPU to the
        # writing process and the database keeps the serial part of an import moving.
        os.nice(WORKER_NICENESS)
    # Keep the garbage collector off the objects a forked worker inherits: scanning them
    # would copy every page, and collecting them could close the parent's connections.
    gc.freeze()
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    # A worker would wait for work forever if the importing process were killed before
    # it could shut the pool down.
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


async def _parsed_chunks(
    lines: Iterable[str], dialect: Dialect
) -> AsyncGenerator[tuple[int, list[ParsedLine]], None]:
    """Yield each chunk's last line number and parsed lines, in order."""
    chunks = _chunks(lines)
    head = list(islice(chunks, POOL_MIN_LINES // CHUNK_LINES))
    workers = _worker_count()
    if len(head) < POOL_MIN_LINES // CHUNK_LINES or workers < 2:
        parsed = _parse_here(chain(head, chunks), dialect)
    else:
        parsed = _parse_in_workers(chain(head, chunks), dialect, workers)
    async with aclosing(parsed):
        async for item in parsed:
            yield item


async def _parse_here(
    chunks: Iterator[tuple[int, list[str]]], dialect: Dialect
) -> AsyncGenerator[tuple[int, list[ParsedLine]], None]:
    for first, texts in chunks:
        yield first + len(texts) - 1, parse_chunk(dialect, first, texts)
        # Let the previous batch's write advance while the next chunk is parsed.
        await asyncio.sleep(0)


async def _parse_in_workers(
    chunks: Iterator[tuple[int, list[str]]], dialect: Dialect, workers: int
) -> AsyncGenerator[tuple[int, list[ParsedLine]], None]:
    loop = asyncio.get_running_loop()
    pool = _start_workers(workers)
    pending: deque[tuple[int, asyncio.Future[list[ParsedLine]]]] = deque()
    try:
        for first, texts in chunks:
            future = loop.run_in_executor(pool, parse_chunk, dialect, first, texts)
            pending.append((first + len(texts) - 1, future))
            # A bounded number of chunks in flight keeps memory flat however long the file.
            if len(pending) >= workers * CHUNKS_PER_WORKER:
                last_line, future = pending.popleft()
                yield last_line, await future
        while pending:
            last_line, future = pending.popleft()
            yield last_line, await future
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


async def _batches(
    chunks: AsyncIterator[tuple[int, list[ParsedLine]]],
    *,
    batch_size: int,
    skip_invalid: bool,
    report: ImportReport,
) -> AsyncIterator[_Batch]:
    batch = _Batch()
    async for last_line, records in chunks:
        for record in records:
            if isinstance(record, LineError):
                if not skip_invalid:
                    raise ImportLineError(record.line, record.reason)
                report.skipped.append(SkippedLine(record.line, record.reason))
                continue
            if isinstance(record, ExecutionRecord):
                if record.id in batch.execution_ids:
                    # The same execution twice in one batch: write what we have first, so
                    # the later line wins as it would across batches.
                    yield batch
                    batch = _Batch()
                batch.execution_ids.add(record.id)
                batch.executions.append(record)
            else:
                batch.graphs.append(record)
            batch.last_line = record.line
            if len(batch) >= batch_size:
                yield batch
                batch = _Batch()
        report.lines = last_line
    if len(batch):
        yield batch


async def import_lines(
    database: Database,
    lines: Iterable[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    skip_invalid: bool = False,
    on_progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import JSONL lines, committing each batch; raise ImportLineError on a bad line."""
    report = ImportReport()
    chunks = _parsed_chunks(lines, database.dialect)
    batches = _batches(chunks, batch_size=batch_size, skip_invalid=skip_invalid, report=report)
    # One batch is written while the next ones are parsed, by workers or in this thread;
    # writing is mostly the database's work in its own thread or process.
    writing: asyncio.Task[None] | None = None
    bad_line: ImportLineError | None = None
    try:
        async for batch in _without_duplicates(batches, skip_invalid=skip_invalid, report=report):
            if writing is not None:
                await writing
            writing = asyncio.create_task(_write(database, batch, report, on_progress))
            await asyncio.sleep(0)
    except ImportLineError as exc:
        bad_line = exc
    except BaseException:
        if writing is not None:
            writing.cancel()
            # Let it roll back and return its connection before the caller moves on.
            await asyncio.wait([writing])
        raise
    finally:
        # Stops the workers, also when an error or Ctrl-C ends the import early.
        await chunks.aclose()
    if writing is not None:
        await writing
    if bad_line is not None:
        raise ImportLineError(
            bad_line.line,
            f"{bad_line.reason} (nothing from line {report.committed_through + 1} on was "
            "written; fix the line and import again, or pass --skip-invalid)",
        ) from bad_line
    return report


def _first_duplicate(executions: list[ExecutionRecord]) -> tuple[int, str] | None:
    """Return the index of the first execution reusing a node execution id, and why."""
    node_ids = [execution.node_ids for execution in executions]
    if len(set().union(*node_ids)) == sum(map(len, node_ids)):
        return None
    seen: set[str] = set()
    for index, ids in enumerate(node_ids):
        here: set[str] = set()
        for node_index, node_id in enumerate(ids):
            if node_id in here:
                return index, f"node_executions[{node_index}].id {node_id!r} appears twice"
            if node_id in seen:
                return index, (
                    f"node_executions[{node_index}].id {node_id!r} is also used by "
                    "another execution in the batch"
                )
            here.add(node_id)
        seen |= here
    return None


async def _without_duplicates(
    batches: AsyncIterator[_Batch], *, skip_invalid: bool, report: ImportReport
) -> AsyncIterator[_Batch]:
    # A node execution id shared by two executions of one batch cannot be upserted in
    # one statement (PostgreSQL refuses to touch a row twice), so it is a bad line.
    async for batch in batches:
        while (duplicate := _first_duplicate(batch.executions)) is not None:
            index, problem = duplicate
            line = batch.executions[index].line
            if not skip_invalid:
                raise ImportLineError(line, problem)
            report.skipped.append(SkippedLine(line, problem))
            del batch.executions[index]
        yield batch


async def _write(
    database: Database,
    batch: _Batch,
    report: ImportReport,
    on_progress: Callable[[ImportReport], None] | None,
) -> None:
    dialect = database.dialect
    rows = IngestRows(
        graphs=[graph.row for graph in batch.graphs],
        executions=join_rows(dialect, [execution.row for execution in batch.executions]),
        node_executions=join_rows(dialect, [e.node_rows for e in batch.executions]),
        execution_count=len(batch.executions),
        node_execution_count=sum(len(execution.node_ids) for execution in batch.executions),
    )
    async with database.write() as session:
        result = await execution_service.write(session, dialect, rows)
    report.graphs += len(batch.graphs)
    report.executions += result.executions
    report.node_executions += result.node_executions
    report.committed_through = batch.last_line
    if on_progress is not None:
        on_progress(report)

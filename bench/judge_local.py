"""Measure the embedded local model's verdicts per second at concurrency 1, 2 and 4.

Usage: .venv/bin/python bench/judge_local.py [--runs 8]

One xllamacpp server with 4 slots judges the same demo executions at each concurrency
(rules off, so every run is a model call), after one warm-up call that puts the system
prompt in the server's prefix cache. Baseline: concurrency 1.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import date

from pydantic import TypeAdapter

from execlens.config import Settings
from execlens.demo.generator import generate_records
from execlens.executions.domain import GraphRecord, RunRecord, graph_record, run_record
from execlens.executions.schemas import ExecutionOut, GraphOut, ImportLine
from execlens.judge.ask import JudgeFailed
from execlens.judge.judge import Judge, JudgeRequest
from execlens.judge.local import LocalModelServer

LINE = TypeAdapter(ImportLine)


def demo_runs(count: int) -> list[tuple[RunRecord, GraphRecord | None]]:
    """Return ``count`` completed demo runs, taken in turn from each agent."""
    graphs, runs = {}, {}
    for record in generate_records(days=3, seed=7, end=date(2026, 11, 20)):
        if record["kind"] == "graph":
            graph = graph_record(GraphOut.model_validate(LINE.validate_python(record).model_dump()))
            graphs[(graph.id, graph.version)] = graph
        elif record["status"] == "COMPLETED":
            runs.setdefault(record["graph_id"], []).append(record)
    picked = []
    for index in range(count):
        queue = list(runs.values())[index % len(runs)]
        record = LINE.validate_python(queue[index // len(runs)])
        execution = run_record(ExecutionOut.model_validate(record.model_dump()))
        picked.append((execution, graphs.get((execution.graph_id, execution.graph_version))))
    return picked


async def run_at(judge: Judge, runs, concurrency: int) -> dict:
    gate = asyncio.Semaphore(concurrency)
    latencies, tokens_in, failures = [], [], 0

    async def one(execution, graph) -> None:
        nonlocal failures
        async with gate:
            try:
                verdict = await judge.judge(execution, graph, JudgeRequest(use_rules=False))
            except JudgeFailed:
                failures += 1
                return
            latencies.append(verdict.latency_ms / 1000)
            tokens_in.append(verdict.input_tokens)

    started = time.perf_counter()
    await asyncio.gather(*(one(e, g) for e, g in runs))
    elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "per_second": len(runs) / elapsed,
        "latency": statistics.mean(latencies) if latencies else float("nan"),
        "tokens_in": statistics.mean(tokens_in) if tokens_in else float("nan"),
        "failures": failures,
    }


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=tmp, local_model_parallel=4)
        judge = Judge(settings, local=LocalModelServer(parallel=4))
        runs = demo_runs(count)
        try:
            await run_at(judge, runs[:1], 1)  # warm-up: loads the model, caches the prefix
            results = {c: await run_at(judge, runs, c) for c in (1, 2, 4)}
        finally:
            await judge.aclose()
    base = results[1]["per_second"]
    print(f"\nembedded SmolLM2-135M via xllamacpp, {count} demo runs per row (rules off)")
    print(
        f"{'concurrency':>11}{'seconds':>9}{'verdicts/s':>12}{'÷ conc. 1':>11}"
        f"{'mean latency s':>16}{'mean tokens in':>16}{'failed':>8}"
    )
    for concurrency, r in results.items():
        print(
            f"{concurrency:>11}{r['elapsed']:>9.1f}{r['per_second']:>12.2f}"
            f"{r['per_second'] / base:>11.2f}{r['latency']:>16.1f}{r['tokens_in']:>16.0f}"
            f"{r['failures']:>8}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    asyncio.run(main(parser.parse_args().runs))

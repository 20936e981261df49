"""The embedded SmolLM2 model, really run by xllamacpp, judging real demo executions."""

import itertools
from datetime import date

import pytest
from pydantic import TypeAdapter

from execlens.config import Settings
from execlens.executions.domain import graph_record, run_record
from execlens.executions.schemas import (
    ExecutionIn,
    ExecutionOut,
    GraphIn,
    GraphOut,
    ImportLine,
)
from execlens.judge.ask import JudgeFailed
from execlens.judge.judge import Judge, JudgeRequest
from execlens.judge.local import LOCAL_MODEL_ID
from execlens.judge.schemas import MAX_SENTENCES, MAX_SUMMARY_CHARS, count_sentences

# Three verdicts, each allowed the local model's own 300 s timeout on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

_LINE = TypeAdapter(ImportLine)


def _demo_runs(count: int) -> tuple[dict[str, GraphIn], list[ExecutionIn]]:
    from execlens.demo.generator import generate_records

    graphs, runs = {}, []
    for record in generate_records(days=2, seed=11, end=date(2026, 11, 20)):
        parsed = _LINE.validate_python(record)
        if record["kind"] == "graph":
            graphs[(parsed.id, parsed.version)] = parsed
        elif record["status"] == "COMPLETED":
            runs.append(parsed)
    by_graph = itertools.groupby(sorted(runs, key=lambda r: r.graph_id), key=lambda r: r.graph_id)
    sample = [next(group) for _, group in by_graph][:count]
    return graphs, sample


async def test_local_model_gives_schema_valid_verdicts_offline(tmp_path):
    settings = Settings(data_dir=tmp_path, local_model_parallel=1)
    judge = Judge(settings)
    graphs, runs = _demo_runs(3)
    verdicts, failures = [], []
    try:
        for run in runs:
            execution = run_record(ExecutionOut.model_validate(run.model_dump()))
            graph = graphs.get((run.graph_id, run.graph_version))
            graph_out = graph_record(GraphOut.model_validate(graph.model_dump())) if graph else None
            try:
                verdicts.append(
                    await judge.judge(execution, graph_out, JudgeRequest(use_rules=False))
                )
            except JudgeFailed as exc:
                failures.append(str(exc))
    finally:
        await judge.aclose()

    assert verdicts, f"no verdict at all from the local model: {failures}"
    for verdict in verdicts:
        assert (verdict.provider, verdict.model) == ("local", LOCAL_MODEL_ID)
        assert 0.0 <= verdict.correctness_score <= 1.0
        assert verdict.activity_status.strip()
        assert len(verdict.activity_status) <= MAX_SUMMARY_CHARS
        assert count_sentences(verdict.activity_status) <= MAX_SENTENCES
        assert verdict.input_tokens > 0 and verdict.cost_usd == 0.0
    # A failure must be a readable reason, never a crash.
    assert all(reason.startswith(("no valid verdict", "local")) for reason in failures)

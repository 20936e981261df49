"""Measure the judge's digest of a very large run against a plain JSON dump of the same run.

Usage: .venv/bin/python bench/digest.py [--repeat 7] [--megabyte-runs 3]

Builds one run of 2,002 node executions of about 3 KB each, three of them with a 1 MB
output (5 to 12 MB in all: the run of tests/judge/test_digest.py), then times, side by
side and alternately, `build_digest` with the default budget and the baseline: one
`json.dumps` of the whole run, what a judge that sends everything would at least pay.
Goals: digest p50 ≤ 1 s (the bound the suite used to assert with a timer) and at most half
the baseline's time, a ratio that a slower or busier machine does not change.
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from execlens.executions.schemas import ExecutionOut, GraphOut
from execlens.judge.digest import DEFAULT_BUDGET_TOKENS, build_digest

GOAL_SECONDS = 1.0
GOAL_RATIO = 0.5
NODES, RUNS_PER_NODE, TEXT_CHARS = 50, 40, 1_000
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _run(node_id: str, seconds: float, **fields: Any) -> dict[str, Any]:
    queued = (T0 + timedelta(seconds=seconds)).isoformat()
    status = "FAILED" if fields.get("error") else "COMPLETED"
    return {
        "id": f"{node_id}-{seconds}",
        "node_id": node_id,
        "status": status,
        "input": {},
        "output": {},
        "queued_at": queued,
        **fields,
    }


def _graph() -> GraphOut:
    ids = ["in", *(f"n{i}" for i in range(NODES)), "out"]
    blocks = ["AgentInputBlock", *(f"Step{i}Block" for i in range(NODES)), "AgentOutputBlock"]
    nodes = [
        {"id": i, "block_id": f"b-{i}", "block_name": b, "description": f"{b}: " + "d" * 200}
        for i, b in zip(ids, blocks, strict=True)
    ]
    links = [
        {"source_id": a, "sink_id": b, "source_name": "result", "sink_name": "input"}
        for a, b in pairwise(ids)
    ]
    return GraphOut.model_validate(
        {
            "id": "g-big",
            "version": 1,
            "name": "Long agent",
            "nodes": nodes,
            "links": links,
            "description": "A long agent. " * 200,
        }
    )


def _execution(megabyte_runs: int) -> ExecutionOut:
    filler = "lorem ipsum " * (TEXT_CHARS // 12)
    runs = [_run("in", 0, input={"name": "topic", "value": filler}, output={"result": [1]})]
    for i in range(NODES):
        for k in range(RUNS_PER_NODE):
            text = "M" * 1_000_000 if len(runs) <= megabyte_runs else filler
            items = [{"rank": j, "title": f"Result {j}", "snippet": filler[:150]} for j in range(8)]
            output = {"result": [text], "items": items}
            runs.append(_run(f"n{i}", 1 + i + k / 10, input={"input": filler}, output=output))
            runs[-1]["error"] = f"Step {i} failed: " + "e" * 600 if i % 7 == 0 else None
    runs.append(_run("out", NODES + 5, input={"name": "post", "value": filler}))
    return ExecutionOut.model_validate(
        {
            "id": "e-big",
            "graph_id": "g-big",
            "graph_version": 1,
            "user_id": "u-1",
            "status": "COMPLETED",
            "created_at": T0,
            "started_at": T0,
            "ended_at": T0 + timedelta(seconds=60),
            "stats": {"error": "partial failure " * 100},
            "node_executions": runs,
        }
    )


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed calls of each")
    parser.add_argument("--megabyte-runs", type=int, default=3)
    args = parser.parse_args()

    execution, graph = _execution(args.megabyte_runs), _graph()
    size = sum(len(json.dumps([r.input, r.output])) for r in execution.node_executions)

    def digest() -> object:
        return build_digest(execution, graph)

    def baseline() -> object:
        return json.dumps(execution.model_dump(mode="json"))

    ours, theirs = [], []
    for _ in range(args.repeat):
        ours.append(_seconds(digest))
        theirs.append(_seconds(baseline))
    p50, base50 = statistics.median(ours), statistics.median(theirs)
    ratio = p50 / base50
    met = "met" if p50 <= GOAL_SECONDS and ratio <= GOAL_RATIO else "MISSED"
    tokens = build_digest(execution, graph).tokens
    print(
        f"digest of one run: {len(execution.node_executions):,} node executions, "
        f"{size / 1e6:.1f} MB of inputs and outputs, budget {DEFAULT_BUDGET_TOKENS:,} tokens "
        f"(digest {tokens:,}); {args.repeat} calls each, alternating"
    )
    print(f"{'case':<22}{'p50':>10}{'max':>10}{'baseline p50':>15}{'ratio':>8}  goal")
    print(
        f"{'build_digest':<22}{p50 * 1000:>7.0f} ms{max(ours) * 1000:>7.0f} ms"
        f"{base50 * 1000:>12.0f} ms{ratio:>7.2f}x  "
        f"p50 ≤ {GOAL_SECONDS:g} s and ≤ {GOAL_RATIO:g}x baseline: {met}"
    )
    print("baseline: json.dumps of the whole run (ExecutionOut.model_dump), the same process")


if __name__ == "__main__":
    main()

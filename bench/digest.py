"""Measure what the judge's digest keeps of a run, its size against the budget, and its cost.

Usage: .venv/bin/python bench/digest.py [--budget 6000] [--repeat 20]

Runs: the demo dataset (7 days), generated tool-calling conversations of 10, 50 and 500
steps (a customer's conversation arriving as the input block's output, one failing tool
call, a reply delivered by an output block), and a 2,000-node run. For each: the run's
raw size in tokens, the digest's tokens against the budget, the share of the run's text
kept (``evidence_kept``), and whether every error and every output block the digest could
hold was kept. Goal: 100 % kept whenever the run fits the budget.

Cost: milliseconds per digest at 500 steps, measured side by side with its baseline, one
``json.dumps`` of the same run (the least any digest must do: read every value once).
Bound: under 20 ms per digest; and under 1 s for a 2,000-node run with three 1 MB outputs.
"""

import argparse
import json
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from execlens.demo.generator import generate_records
from execlens.executions.domain import GraphRecord, RunRecord, graph_record, run_record
from execlens.executions.schemas import ExecutionOut, GraphOut, ImportLine
from execlens.judge.digest import ExecutionDigest, build_digest, estimate_tokens

LINE = TypeAdapter(ImportLine)
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
BOUND_MS = 20.0
BIG_BOUND_MS = 1_000.0  # the bound the test suite asserted before timers left it
TOOLS = ("LookupBookingBlock", "CheckRefundPolicyBlock", "IssueRefundBlock", "SendEmailBlock")


def _graph(graph_id: str, nodes: list[tuple[str, str]]) -> GraphRecord:
    return graph_record(
        GraphOut.model_validate(
            {
                "id": graph_id,
                "version": 1,
                "name": graph_id,
                "description": "Answers customers about bookings and refunds, within policy.",
                "nodes": [
                    {"id": node_id, "block_id": block, "block_name": block, "description": ""}
                    for node_id, block in nodes
                ],
                "links": [],
            }
        )
    )


def _run(graph_id: str, runs: list[dict[str, Any]], status: str = "COMPLETED") -> RunRecord:
    for index, run in enumerate(runs):
        run.setdefault("status", "FAILED" if run.get("error") else "COMPLETED")
        run["id"], run["queued_at"] = f"r{index}", (T0 + timedelta(seconds=index)).isoformat()
    record = {
        "id": f"{graph_id}-run",
        "graph_id": graph_id,
        "graph_version": 1,
        "user_id": "u-1",
        "status": status,
        "created_at": T0.isoformat(),
        "started_at": T0.isoformat(),
        "ended_at": (T0 + timedelta(seconds=len(runs))).isoformat(),
        "stats": {},
        "node_executions": runs,
    }
    return run_record(ExecutionOut.model_validate(record))


def conversation(steps: int) -> tuple[RunRecord, GraphRecord]:
    """Return a tool-calling conversation: ``steps`` model turns, each calling one tool."""
    nodes = [("in", "AgentInputBlock"), ("llm", "AIConversationBlock"), ("out", "AgentOutputBlock")]
    nodes += [(f"t{i}", tool) for i, tool in enumerate(TOOLS)]
    chat = [
        {"role": "user", "content": f"Booking BK-{4000 + n}: I was charged twice, refund one."}
        for n in range(3)
    ]
    runs: list[dict[str, Any]] = [{"node_id": "in", "input": {}, "output": {"result": chat}}]
    for step in range(steps):
        tool = step % len(TOOLS)
        call = {"tool": TOOLS[tool], "arguments": {"booking": f"BK-{4000 + step}"}}
        reasoning = f"Step {step}: the customer asks about booking BK-{4000 + step}. " * 3
        runs.append(
            {
                "node_id": "llm",
                "input": {"prompt": chat},
                "output": {"text": reasoning, "call": call},
            }
        )
        result = {"booking": f"BK-{4000 + step}", "amount": 129.5, "status": "charged twice"}
        failed = step == steps // 2
        runs.append(
            {
                "node_id": f"t{tool}",
                "input": call["arguments"],
                "output": {} if failed else {"result": result, "log": "ok " * 40},
                "error": "refund API timed out after 30 s" if failed else None,
            }
        )
    reply = "I refunded the duplicate charge of 129.50 EUR; it reaches your card in 5 days."
    runs.append(
        {
            "node_id": "out",
            "input": {"name": "reply", "value": reply},
            "output": {"output": [reply]},
        }
    )
    return _run("support-agent", runs), _graph("support-agent", nodes)


def many_nodes(count: int, megabyte_runs: int = 0) -> tuple[RunRecord, GraphRecord]:
    """Return a run of ``count`` distinct intermediate nodes, every 100th failing.

    The first ``megabyte_runs`` of them output 1 MB of text each.
    """
    nodes = [("in", "AgentInputBlock"), ("out", "AgentOutputBlock")]
    nodes += [(f"n{i}", f"Step{i}Block") for i in range(count)]
    runs: list[dict[str, Any]] = [
        {"node_id": "in", "input": {"name": "q", "value": "report"}, "output": {"result": "report"}}
    ]
    for i in range(count):
        error = f"step {i} failed: upstream 502" if i % 100 == 0 else None
        runs.append(
            {
                "node_id": f"n{i}",
                "input": {"x": f"value {i} " * 20},
                "output": {"y": "M" * 1_000_000 if i < megabyte_runs else f"result {i} " * 30},
                "error": error,
            }
        )
    runs.append(
        {
            "node_id": "out",
            "input": {"name": "report", "value": "done " * 50},
            "output": {"output": ["done " * 50]},
        }
    )
    return _run("big-graph", runs, status="COMPLETED"), _graph("big-graph", nodes)


def demo_runs() -> list[tuple[RunRecord, GraphRecord | None]]:
    """Return the finished runs of one week of the demo dataset with their graphs."""
    graphs: dict[tuple[str, int], GraphRecord] = {}
    runs = []
    for record in generate_records(days=7, seed=7, end=date(2026, 11, 20)):
        line = LINE.validate_python(record)
        if record["kind"] == "graph":
            graph = graph_record(GraphOut.model_validate(line.model_dump()))
            graphs[(graph.id, graph.version)] = graph
        elif record["status"] in ("COMPLETED", "FAILED"):
            runs.append(run_record(ExecutionOut.model_validate(line.model_dump())))
    return [(run, graphs.get((run.graph_id, run.graph_version))) for run in runs]


def raw_tokens(run: RunRecord) -> int:
    """Return the tokens of the run's node inputs, outputs and errors as raw JSON."""
    values = [[r.input, r.output, r.error] for r in run.node_runs]
    return estimate_tokens(json.dumps(values, ensure_ascii=False, separators=(",", ":")))


def essentials_kept(
    run: RunRecord, graph: GraphRecord | None, digest: ExecutionDigest
) -> tuple[int, int]:
    """Return how many errors and output-block runs the digest shows, and how many there are."""
    data = json.loads(digest.text)
    timeline = [step for step in data.get("timeline", []) if isinstance(step, dict)]
    shown = sum("error" in step for step in timeline)
    shown += sum(isinstance(entry, dict) for entry in data.get("outputs", []))
    blocks = {node.id: node.block_name for node in graph.nodes} if graph else {}
    total = sum(bool(r.error) for r in run.node_runs)
    total += sum(
        (r.block_name or blocks.get(r.node_id, "")).endswith("OutputBlock") for r in run.node_runs
    )
    return shown, total


def row(name: str, runs: list[tuple[RunRecord, GraphRecord | None]], budget: int) -> list[str]:
    digests = [(run, graph, build_digest(run, graph, budget_tokens=budget)) for run, graph in runs]
    fits = [(run, d) for run, _, d in digests if raw_tokens(run) <= budget * 0.8]
    whole = sum(d.evidence_kept == 1.0 for _, d in fits)
    kept = [essentials_kept(run, graph, d) for run, graph, d in digests]
    return [
        name,
        f"{len(runs):,}",
        f"{statistics.median(raw_tokens(run) for run, _ in runs):,.0f}",
        f"{statistics.median(d.tokens for _, _, d in digests):,.0f} / {budget:,}",
        f"{statistics.median(d.evidence_kept for _, _, d in digests):.1%}",
        f"{whole} of {len(fits)}",
        f"{sum(s for s, _ in kept)} of {sum(t for _, t in kept)}",
    ]


def time_ms(call: Any, repeat: int) -> float:
    """Return the median milliseconds of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=6_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    header = [
        "runs",
        "count",
        "raw tokens (median)",
        "digest tokens / budget",
        "evidence kept (median)",
        "fit whole, kept 100 %",
        "errors + outputs shown",
    ]
    table = [
        row("demo dataset, 7 days", demo_runs(), args.budget),
        *(row(f"conversation, {n} steps", [conversation(n)], args.budget) for n in (10, 50, 500)),
        row("2,000-node run", [many_nodes(2_000)], args.budget),
    ]
    print(f"| {' | '.join(header)} |\n|{'---|' * len(header)}")
    for line in table:
        print(f"| {' | '.join(line)} |")
    run, graph = conversation(500)
    raw = [[r.input, r.output, r.error] for r in run.node_runs]
    ours = time_ms(lambda: build_digest(run, graph, budget_tokens=args.budget), args.repeat)
    base = time_ms(lambda: json.dumps(raw), args.repeat)
    big_run, big_graph = many_nodes(2_000, megabyte_runs=3)
    big_raw = [[r.input, r.output, r.error] for r in big_run.node_runs]
    big = time_ms(lambda: build_digest(big_run, big_graph, budget_tokens=args.budget), 5)
    big_base = time_ms(lambda: json.dumps(big_raw), 5)
    print("\n| digest | ms per digest | baseline: json.dumps of the run | ratio | bound | met |")
    print("|---|---:|---:|---:|---|---|")
    met = "yes" if ours < BOUND_MS else "no"
    bound = f"< {BOUND_MS:.0f} ms"
    print(
        f"| conversation, 500 steps | {ours:.1f} | {base:.1f} | {ours / base:.1f} "
        f"| {bound} | {met} |"
    )
    met = "yes" if big < BIG_BOUND_MS else "no"
    print(
        f"| 2,000-node run, three 1 MB outputs | {big:.1f} | {big_base:.1f} | "
        f"{big / big_base:.1f} | < {BIG_BOUND_MS:.0f} ms | {met} |"
    )


if __name__ == "__main__":
    main()

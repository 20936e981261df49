"""Build wire-format records for tests."""

from typing import Any


def make_graph(graph_id: str = "g-blog", version: int = 1, **overrides: Any) -> dict:
    graph = {
        "id": graph_id,
        "version": version,
        "name": "Blog writer",
        "description": "Writes a blog post about the topic the user gives.",
        "nodes": [
            {"id": "in", "block_id": "b-in", "block_name": "AgentInputBlock", "description": ""},
            {"id": "llm", "block_id": "b-llm", "block_name": "AITextGeneratorBlock"},
            {"id": "out", "block_id": "b-out", "block_name": "AgentOutputBlock"},
        ],
        "links": [
            {"source_id": "in", "sink_id": "llm", "source_name": "result", "sink_name": "prompt"},
            {"source_id": "llm", "sink_id": "out", "source_name": "response", "sink_name": "value"},
        ],
    }
    graph.update(overrides)
    return graph


def make_execution(
    execution_id: str = "e-1",
    *,
    created_at: str = "2026-11-01T10:00:00Z",
    nodes: int = 2,
    **overrides: Any,
) -> dict:
    execution = {
        "id": execution_id,
        "graph_id": "g-blog",
        "graph_version": 1,
        "user_id": "u-1",
        "status": "COMPLETED",
        "created_at": created_at,
        "started_at": created_at,
        "ended_at": created_at,
        "stats": {"cost": 12, "walltime": 3.5, "cputime": 0.4, "node_count": nodes},
        "node_executions": [
            {
                "id": f"{execution_id}-n{i}",
                "node_id": "llm",
                "block_name": "AITextGeneratorBlock",
                "status": "COMPLETED",
                "input": {"prompt": f"Write about topic {i}"},
                "output": {"response": [f"Post number {i}"]},
                "queued_at": created_at,
            }
            for i in range(nodes)
        ],
    }
    execution.update(overrides)
    return execution

"""Deterministic verdicts for clear-cut runs, given without an LLM call."""

from dataclasses import dataclass
from typing import Any

from execlens.executions.models import ExecutionStatus
from execlens.executions.schemas import ExecutionOut, NodeExecutionOut

MAX_ERROR_CHARS = 200


@dataclass(frozen=True)
class RuleVerdict:
    rule: str
    activity_status: str
    correctness_score: float


def is_output_block(block_name: str | None) -> bool:
    """Tell whether a block delivers the graph's result (AutoGPT's AgentOutputBlock)."""
    return bool(block_name) and block_name.endswith("OutputBlock")


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(_is_empty(v) for v in value)
    if isinstance(value, dict):
        return all(_is_empty(v) for k, v in value.items() if k != "name")
    return False


def _produced_something(node: NodeExecutionOut) -> bool:
    # An output block receives its value on the input pin "value" and emits "output".
    payloads = [node.output]
    if isinstance(node.input, dict):
        payloads.append(node.input.get("value"))
    return node.status == ExecutionStatus.COMPLETED and not all(_is_empty(p) for p in payloads)


def _short(error: str) -> str:
    error = " ".join(error.split())
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


def apply_rules(execution: ExecutionOut) -> RuleVerdict | None:
    """Return a verdict for a clear-cut run, or None when the LLM must judge it."""
    outputs = [n for n in execution.node_executions if is_output_block(n.block_name)]
    if any(_produced_something(n) for n in outputs):
        return None
    match execution.status:
        case ExecutionStatus.FAILED:
            error = execution.stats.error or next(
                (n.error for n in reversed(execution.node_executions) if n.error), None
            )
            reason = f": {_short(error)}" if error else "."
            return RuleVerdict(
                "failed-without-output",
                f"The run stopped with an error before producing any result{reason}",
                0.0,
            )
        case ExecutionStatus.TERMINATED:
            return RuleVerdict(
                "stopped-without-output", "The run was stopped before it produced a result.", 0.0
            )
        case ExecutionStatus.COMPLETED if outputs:
            return RuleVerdict(
                "completed-with-empty-output",
                "The run finished, but its result came out empty, so the user got nothing.",
                0.0,
            )
    return None

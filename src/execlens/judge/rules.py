"""Deterministic verdicts for clear-cut runs, given without an LLM call."""

from dataclasses import dataclass

from execlens.executions.domain import NodeRun, RunRecord
from execlens.executions.models import ExecutionStatus
from execlens.judge.digest import delivered_nothing, is_output_block

MAX_ERROR_CHARS = 200


@dataclass(frozen=True)
class RuleVerdict:
    rule: str
    activity_status: str
    correctness_score: float


def _produced_something(node: NodeRun) -> bool:
    return node.status == ExecutionStatus.COMPLETED and not delivered_nothing(node)


def _short(error: str) -> str:
    error = " ".join(error.split())
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


def apply_rules(execution: RunRecord) -> RuleVerdict | None:
    """Return a verdict for a clear-cut run, or None when the LLM must judge it."""
    outputs = [n for n in execution.node_runs if is_output_block(n.block_name)]
    if any(_produced_something(n) for n in outputs):
        return None
    match execution.status:
        case ExecutionStatus.FAILED:
            error = execution.error or next(
                (n.error for n in reversed(execution.node_runs) if n.error), None
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

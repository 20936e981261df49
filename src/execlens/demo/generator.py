"""Generate the demo dataset: four agents, their runs over N days, failures and earlier scores."""

import json
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, TextIO

from execlens.demo import blog_writer, data_reporter, email_triager, researcher
from execlens.demo.agents import AGENTS, DEGRADED_AGENT, DEGRADED_DAYS, DEGRADED_RATES
from execlens.demo.graphs import Agent, Graph
from execlens.demo.pacing import Judge, Quota
from execlens.demo.scripts import OUTCOMES, Fault, Playbook, Run, Step

MAX_DAYS = 365
USERS = 14
# Runs start between 05:00 and 22:59 UTC, busiest when Europe and the Americas overlap.
HOUR_WEIGHTS = (1, 2, 4, 6, 8, 9, 9, 8, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2)
FIRST_HOUR = 5
SCORED_SHARE = {"good": 0.83, "recovered": 0.95, "empty": 0.95, "failed": 0.95, "terminated": 0.95}
PLAYBOOKS: dict[str, Playbook] = {
    "blog": blog_writer.PLAYBOOK,
    "email": email_triager.PLAYBOOK,
    "report": data_reporter.PLAYBOOK,
    "research": researcher.PLAYBOOK,
}
IO_BLOCKS = ("AgentInputBlock", "AgentOutputBlock")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What the generator meant each outcome to be, as a person would label it: a run that
# recovered from errors still delivered what was asked.
INTENDED_LABELS = {"good": 1.0, "recovered": 1.0, "empty": 0.0, "failed": 0.0, "terminated": 0.0}
FINISHED = ("COMPLETED", "FAILED", "TERMINATED")


def generate_records(
    *,
    days: int = 45,
    seed: int = 7,
    end: date | None = None,
    labels: dict[str, float] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the demo dataset: every graph line first, then executions in created_at order.

    With ``labels``, each finished run's intended label (1 good, 0 bad) is put there by id.
    """
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, got {days}")
    last_day = end if end is not None else datetime.now(UTC).date()
    return _records(days, random.Random(seed), last_day, {} if labels is None else labels)


def write_jsonl(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write one compact JSON object per line; return the number of lines."""
    count = 0
    for record in records:
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
        count += 1
    return count


def _records(
    days: int, rng: random.Random, end: date, labels: dict[str, float]
) -> Iterator[dict[str, Any]]:
    for agent in AGENTS:
        for graph in agent.graphs:
            yield graph.record()
    users = [_new_id(rng) for _ in range(USERS)]
    pools = {agent.key: rng.sample(users, rng.randint(6, 9)) for agent in AGENTS}
    outcomes = {agent.key: Quota(rng, OUTCOMES[1:]) for agent in AGENTS}
    # Judged per outcome kind, so skipping a few runs does not change an agent's failure mix.
    judged = {(agent.key, kind): Quota(rng, ["scored"]) for agent in AGENTS for kind in OUTCOMES}
    judges = {(agent.key, kind): Judge(rng) for agent in AGENTS for kind in OUTCOMES}
    first = end - timedelta(days=days - 1)
    for index in range(days):
        day = first + timedelta(days=index)
        midnight = int((datetime(day.year, day.month, day.day, tzinfo=UTC) - EPOCH) / _MS)
        plans: list[tuple[int, Agent]] = []
        for agent in AGENTS:
            low, high = agent.weekend_runs if day.weekday() >= 5 else agent.weekday_runs
            plans += [(midnight + _time_of_day(rng), agent) for _ in range(rng.randint(low, high))]
        plans.sort(key=lambda plan: plan[0])
        now = None
        if day == end:
            # The dataset is taken moments after a small burst of runs: those are still going.
            now = plans[-1][0] + rng.randint(1_000, 15_000)
            offsets = (
                rng.randint(5_000, 60_000),
                rng.randint(1_500, 20_000),
                rng.randint(150, 1_500),
            )
            plans[-3:] = [
                (now - offset, agent)
                for offset, (_, agent) in zip(offsets, plans[-3:], strict=True)
            ]
            plans.sort(key=lambda plan: plan[0])
        for created, agent in plans:
            degraded = agent.key == DEGRADED_AGENT and (end - day).days < DEGRADED_DAYS
            rates = DEGRADED_RATES if degraded else agent.rates
            outcome = outcomes[agent.key].draw(rng, rates) or "good"
            scored = judged[agent.key, outcome].draw(rng, {"scored": SCORED_SHARE[outcome]})
            record = _Execution(
                rng=rng,
                graph=agent.graph_for(index, days),
                playbook=PLAYBOOKS[agent.key],
                user_id=_pick_user(rng, pools[agent.key]),
                created=created,
                outcome=outcome,
                score=judges[agent.key, outcome].score(outcome) if scored else None,
            ).record(now)
            if record["status"] in FINISHED:
                labels[record["id"]] = INTENDED_LABELS[outcome]
            yield record


_MS = timedelta(milliseconds=1)


def _new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    days, rest = divmod(ms, 86_400_000)
    seconds, millis = divmod(rest, 1_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_day_text(days)}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


@cache
def _day_text(days: int) -> str:
    return (EPOCH + timedelta(days=days)).date().isoformat()


def _time_of_day(rng: random.Random) -> int:
    hour = FIRST_HOUR + rng.choices(range(len(HOUR_WEIGHTS)), weights=HOUR_WEIGHTS)[0]
    return hour * 3_600_000 + rng.randrange(3_600_000)


def _pick_user(rng: random.Random, pool: list[str]) -> str:
    # A few heavy users and a long tail, as on any real platform.
    return rng.choices(pool, weights=[1 / (rank + 1) for rank in range(len(pool))])[0]


@dataclass
class _Attempt:
    step: Step
    status: str
    error: str | None = None
    seconds: float | None = None  # overrides the step's duration
    pause: int = 0  # milliseconds before the next attempt is queued (retry backoff)


@dataclass
class _Execution:
    rng: random.Random
    graph: Graph
    playbook: Playbook
    user_id: str
    created: int  # milliseconds since the epoch
    outcome: str
    score: float | None  # set when judged earlier; such runs also carry an activity status

    def record(self, now: int | None) -> dict[str, Any]:
        """Return the execution as an import line, cut at ``now`` if it is still running."""
        rng = self.rng
        run = Run(
            rng, self.graph, EPOCH + self.created * _MS, self.user_id, self.outcome == "empty"
        )
        script = self.playbook.build(run)
        facts = dict(script.facts)
        attempts, fault_error = self._attempts(script.steps, facts)
        started = self.created + rng.randint(200, 3_000)
        clock = started
        timeline: list[tuple[_Attempt, int, int, int]] = []
        for attempt in attempts:
            queued = clock + rng.randint(5, 80)
            begun = queued + rng.randint(10, 400)
            seconds = attempt.step.seconds if attempt.seconds is None else attempt.seconds
            clock = begun + round(seconds * 1000)
            timeline.append((attempt, queued, begun, clock))
            clock += attempt.pause
        ended = clock + rng.randint(50, 600)
        execution = {
            "kind": "execution",
            "id": _new_id(rng),
            "graph_id": self.graph.id,
            "graph_version": self.graph.version,
            "user_id": self.user_id,
            "created_at": _iso(self.created),
        }
        if now is not None and ended > now:
            return self._unfinished(execution, timeline, started, now)
        nodes = [
            self._node(attempt, queued, begun, clock) for attempt, queued, begun, clock in timeline
        ]
        costs = [a.step.cost for a in attempts if a.status == "COMPLETED"]
        walltime = (ended - started) / 1000
        stats: dict[str, Any] = {
            "cost": sum(costs),
            "walltime": walltime,
            "cputime": round(
                min(walltime, walltime * rng.uniform(0.03, 0.09) + len(nodes) * 0.02), 3
            ),
            "node_count": len(nodes),
            "node_error_count": sum(node["status"] == "FAILED" for node in nodes),
            "error": fault_error,
            "activity_status": None,
            "correctness_score": None,
        }
        if self.score is not None:
            story = rng.choice(self.playbook.stories[self.outcome])
            stats["activity_status"] = story.format_map(facts)
            stats["correctness_score"] = self.score
        status = {"failed": "FAILED", "terminated": "TERMINATED"}.get(self.outcome, "COMPLETED")
        return {
            **execution,
            "status": status,
            "started_at": _iso(started),
            "ended_at": _iso(ended),
            "stats": stats,
            "node_executions": nodes,
        }

    def _attempts(
        self, steps: list[Step], facts: dict[str, str]
    ) -> tuple[list[_Attempt], str | None]:
        rng = self.rng
        attempts = [_Attempt(step, "COMPLETED") for step in steps]
        if self.outcome in ("failed", "recovered"):
            faults = self.playbook.faults if self.outcome == "failed" else self.playbook.retries
            fault = rng.choice([f for f in faults if self.graph.has(f.node)])
            index = rng.choice([i for i, step in enumerate(steps) if step.node == fault.node])
            self._explain(fault, steps[index], facts)
            failed = _Attempt(
                steps[index],
                "FAILED",
                fault.error.format_map({**facts, **steps[index].facts}),
                fault.seconds if fault.seconds is not None else rng.uniform(0.3, 2.5),
            )
            if self.outcome == "failed":
                return [*attempts[:index], failed], failed.error
            failed.pause = rng.randint(1_000, 8_000)
            attempts.insert(index, failed)
        elif self.outcome == "terminated":
            # Users stop runs that seem stuck, so mostly during the long steps.
            candidates = [i for i, step in enumerate(steps) if self._block(step) not in IO_BLOCKS]
            index = rng.choices(candidates, weights=[steps[i].seconds for i in candidates])[0]
            facts["doing"] = self.graph.node(steps[index].node).doing
            stopped = _Attempt(
                steps[index], "TERMINATED", None, steps[index].seconds * rng.random()
            )
            return [*attempts[:index], stopped], None
        return attempts, None

    def _explain(self, fault: Fault, step: Step, facts: dict[str, str]) -> None:
        facts["phrase"] = fault.phrase
        facts["phrase_cap"] = fault.phrase[:1].upper() + fault.phrase[1:]
        facts["doing"] = self.graph.node(step.node).doing

    def _block(self, step: Step) -> str:
        return self.graph.node(step.node).block

    def _node(
        self,
        attempt: _Attempt,
        queued: int,
        begun: int | None,
        ended: int | None,
        status: str | None = None,
    ) -> dict[str, Any]:
        output: Any = attempt.step.output
        error = attempt.error
        if status is not None:  # still queued or running: nothing to report yet
            output = error = None
        elif attempt.status == "FAILED":
            output = {"error": attempt.error}
        elif attempt.status == "TERMINATED":
            output = {}
        return {
            "id": _new_id(self.rng),
            "node_id": self.graph.node_id(attempt.step.node),
            "block_name": self._block(attempt.step),
            "status": status or attempt.status,
            "input": attempt.step.input,
            "output": output,
            "error": error,
            "queued_at": _iso(queued),
            "started_at": _iso(begun),
            "ended_at": _iso(ended),
        }

    def _unfinished(
        self,
        execution: dict[str, Any],
        timeline: list[tuple[_Attempt, int, int, int]],
        started: int,
        now: int,
    ) -> dict[str, Any]:
        nodes: list[dict[str, Any]] = []
        cost = 0
        if started <= now:
            for attempt, queued, begun, ended in timeline:
                if queued > now:
                    break
                if ended <= now:
                    nodes.append(self._node(attempt, queued, begun, ended))
                    cost += attempt.step.cost if attempt.status == "COMPLETED" else 0
                elif begun <= now:
                    nodes.append(self._node(attempt, queued, begun, None, "RUNNING"))
                else:
                    nodes.append(self._node(attempt, queued, None, None, "QUEUED"))
        return {
            **execution,
            "status": "RUNNING" if started <= now else "QUEUED",
            "started_at": _iso(started) if started <= now else None,
            "ended_at": None,
            "stats": {
                "cost": cost,
                "node_count": len(nodes),
                "node_error_count": sum(node["status"] == "FAILED" for node in nodes),
            },
            "node_executions": nodes,
        }

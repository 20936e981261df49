"""What one run of an agent does, block by block, before timing and failures are applied."""

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from execlens.demo.graphs import Graph

OUTCOMES = ("good", "recovered", "empty", "failed", "terminated")


@dataclass(frozen=True)
class Run:
    """The inputs of one run: who started it, when, on which graph version."""

    rng: random.Random
    graph: Graph
    created: datetime
    user_id: str
    empty: bool  # the critical LLM step returns no text this time


@dataclass
class Step:
    """One node execution as it happens when nothing goes wrong."""

    node: str
    input: dict[str, Any]
    output: dict[str, Any]
    seconds: float
    cost: int = 0  # cents
    facts: dict[str, str] = field(default_factory=dict)  # for this step's error messages


@dataclass
class Script:
    steps: list[Step]
    facts: dict[str, str] = field(default_factory=dict)  # for activity texts and error messages


@dataclass(frozen=True)
class Fault:
    """An error a node can raise; ``error`` may use the script's facts as fields."""

    node: str
    error: str
    phrase: str  # the cause in plain language, e.g. "the web search timed out"
    seconds: float | None = None  # how long the failing attempt took; short when None


@dataclass(frozen=True)
class Playbook:
    """How an agent runs, how it fails, and how a judge would describe each outcome."""

    build: Callable[[Run], Script]
    faults: tuple[Fault, ...]  # errors that end the run
    retries: tuple[Fault, ...]  # errors the run recovers from
    stories: Mapping[str, tuple[str, ...]]  # outcome -> activity texts, formatted with facts


def agent_input(name: str, value: Any, rng: random.Random) -> Step:
    """Return the step of an AgentInputBlock receiving ``value``."""
    return Step(name, {"name": name, "value": value}, {"result": value}, rng.uniform(0.01, 0.06))


def agent_output(node: str, name: str, value: Any, rng: random.Random) -> Step:
    """Return the step of an AgentOutputBlock; an empty value records nothing, as AutoGPT does."""
    if value in ("", None, [], {}):
        output: dict[str, Any] = {} if rng.random() < 0.3 else {"output": ""}
        value = ""
    else:
        output = {"output": value}
    return Step(node, {"name": name, "value": value}, output, rng.uniform(0.01, 0.05))


def llm_input(prompt: str, model: str, *, sys_prompt: str = "", **extra: Any) -> dict[str, Any]:
    """Return the input of an AutoGPT LLM block."""
    return {"model": model, "sys_prompt": sys_prompt, "prompt": prompt, "retry": 3, **extra}


def llm_cost(text: str, rng: random.Random, per_kb: float = 1.2) -> int:
    """Return a plausible cost in cents for an LLM call producing ``text``."""
    return max(1, round(len(text) / 1000 * per_kb + rng.uniform(0.2, 1.5)))


def hex_id(rng: random.Random, digits: int = 16) -> str:
    """Return a random lowercase hex id, like Gmail message ids."""
    return f"{rng.getrandbits(digits * 4):0{digits}x}"

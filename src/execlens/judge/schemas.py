"""What the judge asks the model for, and the verdicts it returns."""

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_SUMMARY_CHARS = 600
MAX_SENTENCES = 3
# At most three sentences on one line, as a regular expression: grammar-constrained servers
# (llama.cpp) then cannot produce a fourth, and others get it re-asked by validation.
SUMMARY_PATTERN = r"^([^.!?\n]+[.!?]+){0,2}[^.!?\n]+[.!?]*$"
_SENTENCE_END = re.compile(r"[.!?]+(?:\s+|$)")


def count_sentences(text: str) -> int:
    """Count sentences by their end marks; trailing text without one counts as a sentence."""
    ends = _SENTENCE_END.findall(text.strip())
    tail = _SENTENCE_END.split(text.strip())[-1].strip()
    return len(ends) + (1 if tail else 0)


class JudgeAnswer(BaseModel):
    """The model's answer. The score has no bounds here: an out-of-range score is clamped
    and recorded rather than re-asked, as long as the rest of the answer is valid."""

    # additionalProperties: false, so a grammar-constrained model cannot invent keys.
    model_config = ConfigDict(extra="forbid")

    # Field names the model reads: "summary" asks for prose, where "activity_status" made
    # small models answer with a status word ("COMPLETED").
    # max_length and pattern are also in the JSON schema, where grammar-constrained
    # servers (llama.cpp) enforce them while generating: a small model cannot ramble.
    summary: str = Field(
        max_length=MAX_SUMMARY_CHARS,
        pattern=SUMMARY_PATTERN,
        description="One to three plain sentences telling the user what the run did for them.",
    )
    score: float = Field(
        description="From 0.0 (failed) to 1.0 (fully achieved the agent's purpose)."
    )

    @field_validator("summary", mode="before")
    @classmethod
    def _readable_summary(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        value = value.strip()
        if not value:
            raise ValueError("summary must not be empty")
        if count_sentences(value) > MAX_SENTENCES:
            raise ValueError(f"summary must be at most {MAX_SENTENCES} sentences")
        return value


class Verdict(BaseModel):
    """A stored judgment with its provenance."""

    execution_id: str
    activity_status: str
    correctness_score: float = Field(ge=0, le=1)
    score_clamped_from: float | None = Field(
        default=None, description="The model's out-of-range score, when it was clamped."
    )
    judge: Literal["llm", "rules"]
    judge_version: str
    provider: str | None
    model: str | None
    prompt_hash: str
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    latency_ms: int | None
    digest_tokens: int | None
    digest_truncated: bool
    evidence_kept: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of the run's text (node inputs, outputs, errors) the digest kept.",
    )
    created_at: datetime


class DigestOut(BaseModel):
    """A run's digest as the judge reads it, and what was cut to fit the budget."""

    model: str | None = Field(description="The model whose context sets the budget, if any.")
    budget: int = Field(description="Tokens the digest may use.")
    tokens: int = Field(description="Tokens the digest uses (estimated).")
    cuts: list[str] = Field(description="What was shortened, in order; empty when kept whole.")
    evidence_kept: float = Field(ge=0, le=1, description="Share of the run's text kept.")
    text: str

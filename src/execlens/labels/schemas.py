"""Wire format of labels and of the agreement report."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

MAX_NOTE_CHARS = 2_000
SHORTCUTS = {"pass": 1.0, "fail": 0.0}


def _shortcut(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in SHORTCUTS:
        return SHORTCUTS[value.strip().lower()]
    return value


LabelScore = Annotated[
    float,
    BeforeValidator(_shortcut),
    Field(ge=0, le=1, allow_inf_nan=False, description='From 0 to 1; "pass" = 1, "fail" = 0.'),
]


class LabelIn(BaseModel):
    """A person's view of a run."""

    model_config = ConfigDict(extra="forbid")

    score: LabelScore
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)

    @field_validator("note")
    @classmethod
    def _storable_note(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError(
                "contains a NUL character (\\u0000), which cannot be stored; remove it"
            )
        return value


class LabelLine(LabelIn):
    """One line of `execlens labels import`."""

    execution_id: str = Field(min_length=1, max_length=200)


class LabelOut(BaseModel):
    execution_id: str
    labeler: str
    score: float
    note: str | None
    created_at: datetime


class ConfusionMatrix(BaseModel):
    """Judge against label at the threshold: pass is a score at or above it."""

    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int


class JudgeAgreement(BaseModel):
    """How one judge configuration's latest scores agree with the labels of the same runs."""

    judge: str = Field(description="llm or rules.")
    provider: str | None
    model: str | None
    prompt_hash: str
    judge_version: str
    n: int = Field(description="Labelled runs this configuration judged.")
    roc_auc: float | None = Field(description="Null when the labels are all pass or all fail.")
    spearman: float | None = Field(description="Null when scores or labels do not vary.")
    mae: float | None = Field(description="Mean absolute error of score against label.")
    accuracy: float | None
    cohen_kappa: float | None
    confusion: ConfusionMatrix


class AgreementReport(BaseModel):
    threshold: float
    labelled_runs: int = Field(description="Runs with at least one label.")
    judges: list[JudgeAgreement] = Field(description="Most labelled runs judged first.")

"""Wire schemas of accuracy trends and alerts; upstream field names are kept exactly."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from execlens.trends.models import AlertState, HealthAlertKind, TrendWindow


class TrendParameters(BaseModel):
    """The parameters every trend query shares; each names its own window after these."""

    model_config = ConfigDict(extra="forbid")

    graph_id: str = Field(min_length=1, max_length=200)
    user_id: str | None = Field(default=None, max_length=200)
    days_back: int = Field(default=30, ge=1, le=365, description="UTC days to look back, 1 to 365.")
    drop_threshold: float = Field(
        default=10.0,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="Alert when the 3-day average drops this many %.",
    )
    include_historical: bool = False


MinExecutions = Annotated[
    int,
    Field(
        ge=1,
        le=1_000_000,
        description="No alert when the 3-day window holds fewer scored executions.",
    ),
]


class TrendQuery(TrendParameters):
    """What to compute: one graph (optionally one user's runs), a lookback and a threshold."""

    window: TrendWindow = Field(
        default="calendar",
        description="calendar: the 3-day average covers days D-2..D; rows: the last 3 days "
        "with data (upstream), which skip missing days.",
    )
    min_executions: MinExecutions = 1


class AccuracyLatestData(BaseModel):
    """One day of the trend: scores 0 to 100, averages over the window ending that day."""

    date: datetime
    daily_score: float | None
    three_day_avg: float | None
    seven_day_avg: float | None
    fourteen_day_avg: float | None
    # Additive fields; upstream clients ignore them.
    executions: int = Field(default=0, description="Finished executions that day.")
    scored: int = Field(default=0, description="Of those, executions with a score.")
    coverage: float | None = Field(default=None, description="scored / executions.")
    min_samples: int = Field(
        default=0, description="Scored executions behind three_day_avg, the smaller window."
    )
    drop_percent: float | None = Field(
        default=None, description="(seven_day_avg - three_day_avg) / seven_day_avg * 100."
    )


class AccuracyAlertData(BaseModel):
    """A drop of the 3-day average below the 7-day average by at least the threshold."""

    graph_id: str
    user_id: str | None
    drop_percent: float
    three_day_avg: float
    seven_day_avg: float
    detected_at: datetime


class AccuracyTrendsResponse(BaseModel):
    """The latest day, the alert if any, and optionally every day, newest first."""

    latest_data: AccuracyLatestData
    alert: AccuracyAlertData | None
    historical_data: list[AccuracyLatestData] | None = None
    # Additive fields.
    window: TrendWindow = "calendar"
    min_executions: int = 1
    alert_suppressed: str | None = Field(
        default=None, description="Why a drop past the threshold raised no alert."
    )


class AlertOut(BaseModel):
    """A stored alert: open while the drop lasts, resolved once the agent recovers."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    graph_id: str
    graph_name: str | None = None
    user_id: str | None
    state: AlertState
    drop_percent: float
    three_day_avg: float
    seven_day_avg: float
    window: TrendWindow
    detected_at: datetime
    last_checked_at: datetime
    resolved_at: datetime | None
    notified_at: datetime | None
    notifications: int
    delivery_error: str | None
    dashboard_url: str


class AlertPage(BaseModel):
    items: list[AlertOut]


class AgentTrendSummary(BaseModel):
    """One agent's latest trend numbers, as the monitor judges them."""

    graph_id: str
    name: str
    date: datetime | None = Field(description="The newest day with finished runs.")
    daily_score: float | None
    three_day_avg: float | None
    seven_day_avg: float | None
    drop_percent: float | None
    direction: Literal["up", "down", "flat"] | None = Field(
        description="The 3-day average against the 7-day one: a change of 2 % or more."
    )
    executions: int = Field(description="Finished executions in the lookback.")
    scored: int
    alert: AccuracyAlertData | None


class AgentTrendList(BaseModel):
    """Every agent with finished runs, and the monitor settings they were judged with."""

    items: list[AgentTrendSummary]
    days_back: int
    drop_threshold: float
    window: TrendWindow


class HealthAlertOut(BaseModel):
    """A stored evaluator-health alert: open while the condition lasts, then resolved."""

    id: str
    kind: HealthAlertKind = Field(
        description="rule_backlog: picked runs wait too long for a verdict under an active "
        "rule; rule_failures: a rule's verdicts keep failing; judge_failures: an agent's "
        "judgments failed too often in 24 h; job_stalled: a backfill job judges nothing; "
        "label_agreement: the scores agree too little with the last 30 days' labels."
    )
    scope: str = Field(
        description="The rule id (rule_*), graph id, job id, or `labels` (label_agreement)."
    )
    subject: str = Field(description="The rule's, agent's or job's name when last checked.")
    state: AlertState
    message: str = Field(description="What was found, in one sentence.")
    value: float = Field(description="The number compared with the threshold.")
    threshold: float
    numbers: dict[str, float] = Field(description="Every number behind the alert, latest.")
    detected_at: datetime
    last_checked_at: datetime
    resolved_at: datetime | None
    notified_at: datetime | None
    notifications: int
    delivery_error: str | None
    dashboard_url: str


class HealthAlertPage(BaseModel):
    items: list[HealthAlertOut]

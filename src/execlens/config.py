"""Settings, read once from the environment (prefix ``EXECLENS_``)."""

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field, PositiveInt, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from execlens.source_url import parse_source_url


def _default_data_dir() -> Path:
    return Path(user_data_dir("execlens", appauthor=False))


# The judge's digest: its default size for hosted models, and the least that still says anything.
DEFAULT_DIGEST_BUDGET_TOKENS = 6_000
MIN_DIGEST_BUDGET_TOKENS = 200
_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Return "90s", "15m", "1h", "1d" or "1h30m" as a timedelta; raise ValueError otherwise."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration; use e.g. 90s, 15m, 1h, 1d or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in parts))


class Settings(BaseSettings):
    """Everything execlens can be configured with."""

    model_config = SettingsConfigDict(env_prefix="EXECLENS_", extra="ignore", validate_by_name=True)

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    postgres_pool_size: int = Field(default=10, ge=1)

    jwt_secret: SecretStr | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_role_claim: str = "role"
    jwt_admin_role: str = "admin"
    # Public keys (RS256/ES256/...) of an identity provider, as one of: inline JSON, a file,
    # or a URL fetched in the background and cached.
    jwt_jwks: str | None = None
    jwt_jwks_file: Path | None = None
    jwt_jwks_url: str | None = Field(default=None, pattern=r"^https?://")
    jwt_jwks_cache_seconds: int = Field(default=300, ge=10, le=86_400)

    # 32 MiB: a batch of 1,000 executions with their node inputs and outputs is large.
    max_body_bytes: int = Field(default=32 * 2**20, ge=1024)
    # Per principal (API key or token subject) and per server process; 0 turns it off.
    rate_limit_per_minute: int = Field(default=600, ge=0)

    # LLM providers. The SDKs' own variable names work too (OPENAI_API_KEY, ...).
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("EXECLENS_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("EXECLENS_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("EXECLENS_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    )
    compatible_base_url: str | None = None
    compatible_api_key: SecretStr | None = None
    compatible_provider: str = Field(default="openai_compatible", pattern=r"^[a-z][a-z0-9_]*$")
    compatible_models: str = ""
    compatible_context_window: int = Field(default=8192, ge=512)
    compatible_output_mode: Literal["native", "tool", "prompted"] = "native"
    # Local servers offered without any other setting when they answer: Ollama, and
    # another OpenAI-compatible server (vLLM's port). Empty turns a probe off.
    ollama_url: str = "http://127.0.0.1:11434"
    local_openai_url: str = "http://127.0.0.1:8000"
    local_probe_seconds: float = Field(default=0.3, gt=0, le=10)

    judge_model: str | None = None
    judge_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    judge_max_retries: int = Field(default=2, ge=0, le=10)
    # Per provider name ("openai", "anthropic", ...): requests and tokens per minute that
    # override what the provider announces, as JSON: {"openai": 500}.
    provider_requests_per_minute: dict[str, PositiveInt] = {}
    provider_tokens_per_minute: dict[str, PositiveInt] = {}
    judge_max_output_tokens: int = Field(default=400, ge=50, le=4000)
    digest_budget_tokens: int = Field(
        default=DEFAULT_DIGEST_BUDGET_TOKENS, ge=MIN_DIGEST_BUDGET_TOKENS, le=200_000
    )

    local_model_enabled: bool = True
    local_model_path: Path | None = None
    # The model's server slots, and a job's default concurrency with it: on a few cores,
    # a second request at a time halves throughput (40 runs: 436 s at 10, 238 s at 1).
    local_model_parallel: int = Field(default=1, ge=1, le=16)
    # SmolLM2 evaluates about 170 prompt tokens/s on two cores: a small digest keeps one
    # verdict to seconds. Its system prompt is cached by the server after the first call.
    local_digest_budget_tokens: int = Field(
        default=700, ge=MIN_DIGEST_BUDGET_TOKENS, le=DEFAULT_DIGEST_BUDGET_TOKENS
    )
    local_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)

    # Analytics jobs. A worker renews its leases every third of the lease; an item whose
    # worker died is judged again once its lease expires.
    job_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    job_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    serve_worker: bool = True

    host: str = "127.0.0.1"
    port: int = Field(default=8321, ge=1, le=65535)
    # Processes of `serve` answering requests on the same port (PostgreSQL only above 1).
    serve_processes: int = Field(default=1, ge=1, le=64)

    # Accuracy trends: the monitor and where it sends alerts.
    public_url: str | None = None
    monitor_in_serve: bool = False
    monitor_interval: timedelta = timedelta(hours=1)
    monitor_days_back: int = Field(default=30, ge=1, le=365)
    monitor_drop_threshold: float = Field(default=10.0, gt=0, le=100)
    monitor_window: Literal["calendar", "rows"] = "calendar"
    # The default window of AutoGPT's trends route: upstream's own numbers unless changed.
    upstream_trends_window: Literal["calendar", "rows"] = "rows"
    monitor_min_executions: int = Field(default=10, ge=1)
    monitor_min_scored: int = Field(default=3, ge=1)
    alert_cooldown: timedelta = timedelta(hours=24)
    # Evaluator health: picked runs waiting longer than this under an active rule, or a
    # backfill job that judged nothing for this long, raise an alert.
    monitor_backlog_minutes: float = Field(default=30.0, gt=0, le=7 * 24 * 60)
    # A rule's verdicts keep failing: at least this many failed in the last hour ...
    monitor_rule_failures_min: int = Field(default=5, ge=1)
    # ... and at least this share of its finished ones.
    monitor_rule_failures_share: float = Field(default=0.5, gt=0, le=1)
    # An agent's failed judgments in the last 24 h: more than this raises an alert.
    monitor_judge_failures: int = Field(default=10, ge=0)
    # Agreement of the current scores with labels given in the last 30 days: accuracy at
    # 0.5 below this raises an alert, once at least the minimum of runs is labelled (a
    # handful of labels says little).
    monitor_agreement_min: float = Field(default=0.7, ge=0, le=1)
    monitor_agreement_min_labels: int = Field(default=20, ge=1)
    alert_webhook_urls: SecretStr | None = None
    alert_slack_webhook_url: SecretStr | None = None
    alert_discord_webhook_url: SecretStr | None = None
    alert_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    alert_max_retries: int = Field(default=2, ge=0, le=10)

    # AutoGPT's own DATABASE_URL (postgresql://user:pass@host:5432/db?schema=platform):
    # `execlens sync autogpt` reads its runs with SELECT alone.
    autogpt_database_url: SecretStr | None = None
    autogpt_sync_interval: timedelta = timedelta(seconds=30)
    autogpt_sync_lookback: timedelta = timedelta(hours=1)
    # How often judging rules look for new finished runs.
    rules_interval_seconds: float = Field(default=2.0, gt=0, le=3600)
    # Opt-in: write verdicts into AutoGPT's `stats` (needs UPDATE on AgentGraphExecution).
    autogpt_write_back: bool = False
    # With write-back: replace a summary or score AutoGPT holds of its own.
    autogpt_write_back_overwrite: bool = False

    # OpenTelemetry in (POST /v1/traces) and verdicts out as GenAI evaluation events.
    # A trace is assembled once its root span arrived and nothing arrived for the grace
    # period; one whose root never arrives, after otlp_max_trace_seconds.
    otlp_grace_seconds: float = Field(default=5.0, ge=0, le=3600)
    otlp_max_trace_seconds: float = Field(default=1800.0, ge=1, le=7 * 86_400)
    otlp_max_spans_per_trace: int = Field(default=2_000, ge=1, le=20_000)
    otlp_max_value_chars: int = Field(default=16_384, ge=100, le=10_000_000)
    otlp_assembly_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # 0: assemble on the server's event loop; N: in N worker processes beside it, so
    # assembly runs on other cores than ingest (PostgreSQL shares the work among them).
    otlp_assembly_processes: int = Field(default=0, ge=0, le=16)
    otlp_export_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    # Sent with every export, as OTEL_EXPORTER_OTLP_HEADERS spells them: k=v,k2=v2.
    otlp_export_headers: SecretStr | None = None
    otlp_export_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @field_validator(
        "monitor_interval",
        "alert_cooldown",
        "autogpt_sync_interval",
        "autogpt_sync_lookback",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("monitor_interval", "autogpt_sync_interval")
    @classmethod
    def _positive_interval(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 1:
            raise ValueError("must be at least 1s")
        return value

    @field_validator(
        "alert_webhook_urls", "alert_slack_webhook_url", "alert_discord_webhook_url", "public_url"
    )
    @classmethod
    def _http_urls(cls, value: SecretStr | str | None) -> SecretStr | str | None:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        for url in (text or "").split(","):
            if url.strip() and not url.strip().startswith(("http://", "https://")):
                # The URL is not echoed: webhook URLs carry their secret in the path.
                raise ValueError("each URL must start with http:// or https://")
        return value if (text or "").strip() else None

    @field_validator("otlp_export_headers")
    @classmethod
    def _otlp_headers(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value().strip() if value else ""
        for pair in filter(None, (p.strip() for p in text.split(","))):
            name, sep, _ = pair.partition("=")
            if not sep or not name.strip():
                # The value is not echoed: it usually carries a token.
                raise ValueError("write headers as name=value pairs separated by commas")
        return value if text else None

    @field_validator("autogpt_database_url")
    @classmethod
    def _autogpt_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_source_url(value.get_secret_value())  # raises ValueError, without the URL
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "EXECLENS_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        return value

    @model_validator(mode="after")
    def _one_jwks_source(self) -> "Settings":
        given = [n for n in ("jwt_jwks", "jwt_jwks_file", "jwt_jwks_url") if getattr(self, n)]
        if len(given) > 1:
            names = " and ".join(f"EXECLENS_{n.upper()}" for n in given)
            raise ValueError(f"{names}: set only one source of JWKS keys")
        return self

    @property
    def compatible_model_ids(self) -> list[str]:
        """Return the models configured for the OpenAI-compatible server."""
        return [m.strip() for m in self.compatible_models.split(",") if m.strip()]

    @property
    def alert_webhook_url_list(self) -> list[str]:
        """Return the generic JSON webhook URLs alerts are posted to."""
        urls = self.alert_webhook_urls.get_secret_value() if self.alert_webhook_urls else ""
        return [u.strip() for u in urls.split(",") if u.strip()]

    @property
    def dashboard_url(self) -> str:
        """Return the base URL that alert messages link to."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def database_label(self) -> str:
        """Return the database URL with any password hidden, for printing."""
        return make_url(self.resolved_database_url).render_as_string(hide_password=True)

    @property
    def resolved_database_url(self) -> str:
        """Return the configured URL, or the SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'execlens.db'}"

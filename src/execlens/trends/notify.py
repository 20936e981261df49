"""Send alert messages to webhooks: generic JSON, Slack and Discord, each retried on its own.

Two kinds of message go out: accuracy drops (``AlertMessage``) and evaluator-health alerts
(``HealthMessage``). Both offer what the channel payloads need (``Notification``).
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx2

from execlens.config import Settings

log = logging.getLogger("execlens.monitor")
ChannelKind = Literal["webhook", "slack", "discord"]
# Retried: the receiver may succeed later. Other 4xx answers will not change on a retry.
_RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
_MAX_RETRY_AFTER_SECONDS = 30.0


class Notification(Protocol):
    """What every channel payload is built from."""

    @property
    def event(self) -> str: ...
    @property
    def headline(self) -> str: ...
    @property
    def details(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def dashboard_url(self) -> str: ...
    @property
    def detected_at(self) -> datetime: ...
    def alert_fields(self) -> dict[str, Any]: ...
    def facts(self) -> list[tuple[str, str]]: ...


@dataclass(frozen=True)
class AlertMessage:
    """Everything a notification says about one accuracy drop."""

    graph_id: str
    graph_name: str
    user_id: str | None
    drop_percent: float
    three_day_avg: float
    seven_day_avg: float
    drop_threshold: float
    detected_at: datetime
    dashboard_url: str
    reminder: bool = False

    @property
    def event(self) -> str:
        return "accuracy_alert.reminder" if self.reminder else "accuracy_alert.opened"

    @property
    def headline(self) -> str:
        prefix = "Still dropping" if self.reminder else "Accuracy drop"
        scope = f" (user {self.user_id})" if self.user_id else ""
        return f"{prefix}: {self.graph_name}{scope}"

    @property
    def details(self) -> str:
        return (
            f"3-day average {self.three_day_avg:.1f} is {self.drop_percent:.1f}% below the "
            f"7-day average {self.seven_day_avg:.1f} (alert threshold {self.drop_threshold:g}%)."
        )

    @property
    def text(self) -> str:
        return f"{self.headline}. {self.details} {self.dashboard_url}"

    def alert_fields(self) -> dict[str, Any]:
        """Return upstream's alert fields plus the agent's name and link."""
        return {
            "graph_id": self.graph_id,
            "graph_name": self.graph_name,
            "user_id": self.user_id,
            "drop_percent": self.drop_percent,
            "three_day_avg": self.three_day_avg,
            "seven_day_avg": self.seven_day_avg,
            "drop_threshold": self.drop_threshold,
            "detected_at": self.detected_at.isoformat(),
            "dashboard_url": self.dashboard_url,
        }

    def facts(self) -> list[tuple[str, str]]:
        """Return the numbers a chat message shows beside the text."""
        return [
            ("3-day average", f"{self.three_day_avg:.1f}"),
            ("7-day average", f"{self.seven_day_avg:.1f}"),
            ("drop", f"{self.drop_percent:.1f}%"),
        ]


@dataclass(frozen=True)
class HealthMessage:
    """Everything a notification says about one evaluator-health alert."""

    kind: str
    scope: str
    subject: str
    title: str
    details: str
    value: float
    threshold: float
    numbers: dict[str, float]
    detected_at: datetime
    dashboard_url: str
    reminder: bool = False

    @property
    def event(self) -> str:
        return "health_alert.reminder" if self.reminder else "health_alert.opened"

    @property
    def headline(self) -> str:
        prefix = "Still: " if self.reminder else ""
        return f"{prefix}{self.title}: {self.subject}"

    @property
    def text(self) -> str:
        return f"{self.headline}. {self.details} {self.dashboard_url}"

    def alert_fields(self) -> dict[str, Any]:
        """Return the alert's kind, scope, the numbers that raised it, and its link."""
        return {
            "kind": self.kind,
            "scope": self.scope,
            "subject": self.subject,
            "value": self.value,
            "threshold": self.threshold,
            "numbers": self.numbers,
            "detected_at": self.detected_at.isoformat(),
            "dashboard_url": self.dashboard_url,
        }

    def facts(self) -> list[tuple[str, str]]:
        """Return the numbers a chat message shows beside the text."""
        return [(name.replace("_", " "), f"{value:g}") for name, value in self.numbers.items()]


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_payload(message: Notification) -> dict[str, Any]:
    """Return the generic JSON body: the event, the text, and the alert's fields."""
    return {"event": message.event, "text": message.text, "alert": message.alert_fields()}


def slack_payload(message: Notification) -> dict[str, Any]:
    """Return a Slack incoming-webhook body: fallback text and one section block."""
    link = f"<{message.dashboard_url}|{_slack_escape(message.headline)}>"
    return {
        "text": message.text,
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{link}*\n{message.details}"},
            }
        ],
    }


def discord_payload(message: Notification) -> dict[str, Any]:
    """Return a Discord webhook body: one embed linking to the dashboard, no pings."""
    return {
        "content": message.headline,
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": message.headline[:256],
                "url": message.dashboard_url,
                "description": message.details,
                "color": 0xD9480F,
                "timestamp": message.detected_at.isoformat(),
                "fields": [
                    {"name": name, "value": value, "inline": True}
                    for name, value in message.facts()
                ],
            }
        ],
    }


_PAYLOADS = {"webhook": webhook_payload, "slack": slack_payload, "discord": discord_payload}


@dataclass(frozen=True)
class Channel:
    """One place alerts go. ``label`` is safe to print; the URL carries a secret."""

    kind: ChannelKind
    url: str

    @property
    def label(self) -> str:
        return f"{self.kind} ({urlsplit(self.url).hostname or '?'})"


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending one message to one channel."""

    channel: str
    ok: bool
    attempts: int
    error: str | None = None


def channels_from_settings(settings: Settings) -> list[Channel]:
    """Return the configured channels."""
    channels = [Channel("webhook", url) for url in settings.alert_webhook_url_list]
    if settings.alert_slack_webhook_url is not None:
        channels.append(Channel("slack", settings.alert_slack_webhook_url.get_secret_value()))
    if settings.alert_discord_webhook_url is not None:
        channels.append(Channel("discord", settings.alert_discord_webhook_url.get_secret_value()))
    return channels


class Notifier:
    """Post a message to every channel at once; a failing channel never stops the others."""

    def __init__(
        self,
        channels: list[Channel],
        *,
        timeout_seconds: float = 10.0,
        max_retries: int = 2,
        backoff_seconds: float = 1.0,
    ) -> None:
        self.channels = channels
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> "Notifier":
        """Build the notifier the settings describe."""
        return cls(
            channels_from_settings(settings),
            timeout_seconds=settings.alert_timeout_seconds,
            max_retries=settings.alert_max_retries,
        )

    async def send(self, message: Notification) -> list[Delivery]:
        """Send ``message`` to every channel; return each channel's outcome."""
        if not self.channels:
            return []
        async with httpx2.AsyncClient(timeout=self.timeout_seconds) as client:
            return list(
                await asyncio.gather(*(self._deliver(client, c, message) for c in self.channels))
            )

    async def _deliver(
        self, client: httpx2.AsyncClient, channel: Channel, message: Notification
    ) -> Delivery:
        payload = _PAYLOADS[channel.kind](message)
        error = "not sent"
        for attempt in range(1, self.max_retries + 2):
            delay = self.backoff_seconds * 2 ** (attempt - 1)
            try:
                response = await client.post(channel.url, json=payload)
            except httpx2.TimeoutException:
                error = f"no answer within {self.timeout_seconds:g} s"
            except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
                # The message names the error type only: str(exc) may contain the URL.
                error = f"could not connect ({type(exc).__name__})"
            else:
                if response.is_success:
                    return Delivery(channel.label, True, attempt)
                error = f"HTTP {response.status_code}"
                if response.status_code not in _RETRY_STATUSES:
                    break
                delay = _retry_after(response) or delay
            if attempt <= self.max_retries:
                await asyncio.sleep(delay)
        log.warning("alert not delivered to %s: %s", channel.label, error)
        return Delivery(channel.label, False, attempt, error)


def _retry_after(response: httpx2.Response) -> float | None:
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_SECONDS)

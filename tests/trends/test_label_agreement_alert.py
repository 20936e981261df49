"""The monitor alerts when the scores agree too little with the labels of the last 30 days."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from execlens.config import Settings
from execlens.db.engine import Database
from execlens.executions import repository as executions_repository
from execlens.executions.schemas import GraphIn
from execlens.executions.service import execution_service
from execlens.labels import repository as labels_repository
from tests.factories import make_graph
from tests.trends.conftest import Run, execution_row
from tests.trends.test_monitor import alert_settings, monitor
from tests.trends.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


async def _scored_runs(database: Database, scores: list[float]) -> list[str]:
    now = datetime.now(UTC)
    ids = [f"labelled-{n}" for n in range(len(scores))]
    rows = [
        execution_row(run_id, Run(now.date(), score))
        for run_id, score in zip(ids, scores, strict=True)
    ]
    async with database.write() as session:
        graph = GraphIn.model_validate(make_graph("g-blog", name="Blog writer"))
        await execution_service.upsert_graph(session, database.dialect, graph)
        encoded = executions_repository.encode_executions(database.dialect, rows)
        await executions_repository.upsert_executions(session, database.dialect, encoded)
    return ids


async def _label(database: Database, ids: list[str], score: float, at: datetime) -> None:
    rows = [
        labels_repository.label_row(run_id, "cli:ann", score, None, at, f"label-{run_id}")
        for run_id in ids
    ]
    async with database.write() as session:
        await labels_repository.upsert_labels(session, database.dialect, rows)


async def test_disagreeing_labels_alert_once_from_the_minimum_and_resolve_after_30_days(
    database: Database, settings: Settings, receiver: WebhookReceiver
):
    ids = await _scored_runs(database, [0.9] * 20)
    now = datetime.now(UTC)
    watcher = monitor(database, alert_settings(settings, receiver, hooks=("hook",)))

    # 19 labels that all disagree are too few to judge the judge by.
    await _label(database, ids[:19], 0.0, now)
    assert await watcher.check_health(now=now) == []

    await _label(database, ids[19:], 0.0, now)
    [opened] = await watcher.check_health(now=now)

    assert (opened.kind, opened.scope, opened.action) == ("label_agreement", "labels", "opened")
    [body] = receiver.bodies("hook")
    alert = body["alert"]
    assert alert["numbers"] == {"accuracy": 0, "labelled": 20, "threshold": 0.7, "min_labels": 20}
    assert alert["dashboard_url"] == "https://execlens.example/executions"
    [slack] = receiver.bodies("slack")
    assert slack["text"].startswith(
        "Judge disagrees with labels: scores against labels. The judge's scores agree with 0% "
        "of the 20 runs labelled in the last 30 days"
    )
    [again] = await watcher.check_health(now=now + timedelta(hours=1))
    assert (again.action, again.deliveries) == ("still_open", [])

    # Labels older than 30 days no longer count: too few are left, the alert resolves.
    [resolved] = await watcher.check_health(now=now + timedelta(days=31))
    assert resolved.action == "resolved"
    assert len(receiver.bodies("hook")) == 1


async def test_labels_the_scores_agree_with_raise_no_alert(
    database: Database, settings: Settings, receiver: WebhookReceiver
):
    ids = await _scored_runs(database, [0.9] * 15 + [0.1] * 10)
    now = datetime.now(UTC)
    await _label(database, ids[:15], 1.0, now)
    # Five of the ten failures labelled pass: 20 of 25 agree, 80 %, above the 70 % default.
    await _label(database, ids[15:20], 0.0, now)
    await _label(database, ids[20:], 1.0, now)
    watcher = monitor(database, alert_settings(settings, receiver, hooks=("hook",)))

    assert await watcher.check_health(now=now) == []

    stricter = monitor(
        database, alert_settings(settings, receiver, hooks=("hook",), monitor_agreement_min=0.9)
    )
    [opened] = await stricter.check_health(now=now)
    assert opened.kind == "label_agreement"
    assert receiver.bodies("hook")[0]["alert"]["numbers"]["accuracy"] == 0.8

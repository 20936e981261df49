"""The agreement report: each judge configuration's latest scores against the labels."""

import pytest

from tests.labels.conftest import judge_runs, run, store

AGREEMENT = "/api/judges/agreement"


@pytest.fixture
async def labelled(database, client, admin_headers) -> None:
    await store(database, [run(n) for n in range(1, 7)])
    labels = {"run-001": 1, "run-002": 1, "run-003": 0, "run-004": 0, "run-005": "pass"}
    for execution_id, score in labels.items():
        response = await client.put(
            f"/api/executions/{execution_id}/label", json={"score": score}, headers=admin_headers
        )
        assert response.status_code == 200


async def test_each_judge_configuration_gets_its_own_agreement(
    database, client, admin_headers, labelled
):
    # The good judge changed its mind about run-004: only its latest score counts.
    await judge_runs(database, {"run-004": 0.9}, model="good", minutes=0)
    good = {"run-001": 0.9, "run-002": 0.8, "run-003": 0.1, "run-004": 0.2, "run-006": 0.7}
    await judge_runs(database, good, model="good", minutes=5)
    await judge_runs(database, {"run-001": 0.1, "run-003": 0.9, "run-005": 0.2}, model="bad")

    report = (await client.get(AGREEMENT, headers=admin_headers)).json()

    assert report["threshold"] == 0.5
    assert report["labelled_runs"] == 5
    best, worst = report["judges"]
    assert (best["model"], best["n"], worst["model"], worst["n"]) == ("good", 4, "bad", 3)
    assert (best["provider"], best["prompt_hash"], best["judge_version"]) == (
        "openai",
        "0" * 16,
        "test",
    )
    assert best["roc_auc"] == 1.0
    assert best["accuracy"] == 1.0
    assert best["cohen_kappa"] == 1.0
    assert best["mae"] == pytest.approx((0.1 + 0.2 + 0.1 + 0.2) / 4)
    assert best["confusion"] == {
        "true_positive": 2,
        "false_positive": 0,
        "true_negative": 2,
        "false_negative": 0,
    }
    assert worst["accuracy"] == 0.0
    assert worst["roc_auc"] == 0.0
    assert worst["spearman"] == pytest.approx(-0.8660254037844387)


async def test_the_threshold_moves_pass_and_fail(database, client, admin_headers, labelled):
    await judge_runs(database, {"run-001": 0.6, "run-003": 0.1})

    at_half = (await client.get(AGREEMENT, headers=admin_headers)).json()["judges"][0]
    at_07 = (await client.get(AGREEMENT, params={"threshold": 0.7}, headers=admin_headers)).json()[
        "judges"
    ][0]

    assert at_half["accuracy"] == 1.0
    assert at_07["accuracy"] == 0.5
    assert at_07["confusion"]["false_negative"] == 1


async def test_no_labels_means_an_empty_report(client, admin_headers):
    report = (await client.get(AGREEMENT, headers=admin_headers)).json()

    assert report == {"threshold": 0.5, "labelled_runs": 0, "judges": []}


@pytest.mark.parametrize("threshold", ["0", "1.5", "half"])
async def test_a_bad_threshold_is_refused(client, admin_headers, threshold):
    response = await client.get(AGREEMENT, params={"threshold": threshold}, headers=admin_headers)

    assert response.status_code == 422
    assert "threshold" in response.text

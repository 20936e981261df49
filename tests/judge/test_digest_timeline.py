"""The evidence-complete digest: a whole timeline when the run fits, a documented order of
cuts when it does not, and the share of the run's text kept."""

import json
from typing import Any

from execlens.judge.digest import build_digest
from tests.judge.test_digest import (
    BLOG_LINKS,
    BLOG_NODES,
    blog_execution,
    dict_steps,
    llm_run,
    make_execution,
    make_graph,
    make_run,
    parse,
)

CHAT_NODES = [
    ("in", "AgentInputBlock", "The customer's conversation."),
    ("llm", "AIConversationBlock", "Decides the next tool call."),
    ("tool", "RefundToolBlock", "Looks up bookings and issues refunds."),
    ("out", "AgentOutputBlock", "The reply to the customer."),
]
CHAT = [{"role": "user", "content": "I was charged twice for booking BK-4711, refund one."}]


def conversation(
    turns: int, failing: int | None = None, chat: list[dict[str, str]] = CHAT
) -> list[dict[str, Any]]:
    """Return the runs of a support conversation: each turn a model call then a tool call."""
    runs = [make_run("in", 0, input={}, output={"result": chat})]
    for turn in range(turns):
        call = {"tool": "lookup_booking", "booking": f"BK-{4700 + turn}"}
        runs.append(make_run("llm", 1 + turn, input={"prompt": chat}, output={"call": call}))
        error = "refund API timed out" if turn == failing else None
        result = {} if error else {"booking": call["booking"], "charged": 2, "policy": "refund"}
        runs.append(make_run("tool", 1.5 + turn, input=call, output=result, error=error))
    reply = "I refunded the duplicate charge; it reaches your card within 5 days."
    runs.append(make_run("out", turns + 2, input={"name": "reply", "value": reply}, output={}))
    return runs


def test_input_blocks_output_is_the_graph_input_when_its_input_is_empty() -> None:
    data = parse(build_digest(make_execution(conversation(1)), make_graph(CHAT_NODES, [])))

    assert data["inputs"] == [{"result": CHAT}]
    assert data["timeline"][0] == {"block": "AgentInputBlock", "see": "inputs[0]"}


def test_input_blocks_output_that_differs_from_its_input_is_shown_in_the_timeline() -> None:
    run = make_run("in", 0, input={"name": "topic", "value": "cats"}, output={"result": "dogs"})

    data = parse(build_digest(make_execution([run]), make_graph(BLOG_NODES, BLOG_LINKS)))

    assert data["inputs"] == [{"name": "topic", "value": "cats"}]
    assert data["timeline"][0]["output"] == {"result": "dogs"}


def test_a_conversation_that_fits_keeps_every_tool_call_and_all_its_text() -> None:
    execution = make_execution(conversation(10))

    digest = build_digest(execution, make_graph(CHAT_NODES, []))
    data = parse(digest)

    assert digest.cuts == ()
    assert digest.evidence_kept == 1.0
    steps = dict_steps(data)
    calls = [step["output"]["call"] for step in steps if step["block"] == "AIConversationBlock"]
    assert [call["booking"] for call in calls] == [f"BK-{4700 + turn}" for turn in range(10)]
    assert len(dict_steps(data)) == 1 + 20 + 1


def test_a_long_loop_keeps_its_first_and_last_steps_every_error_and_the_output() -> None:
    execution = make_execution(conversation(200, failing=120))

    digest = build_digest(execution, make_graph(CHAT_NODES, []), budget_tokens=2_000)
    data = parse(digest)

    kept = dict_steps(data)
    assert kept[0] == {"block": "AgentInputBlock", "see": "inputs[0]"}
    assert kept[1]["output"]["call"]["booking"] == "BK-4700"
    assert kept[-1] == {"block": "AgentOutputBlock", "see": "outputs[0]"}
    assert kept[-2]["input"]["booking"] == "BK-4899"
    assert [step["error"] for step in kept if "error" in step] == ["refund API timed out"]
    markers = [step for step in data["timeline"] if isinstance(step, str)]
    assert markers and all(marker.startswith("…[+") for marker in markers)
    assert any("(loops)" in cut for cut in digest.cuts)
    assert data["outputs"][0]["value"].startswith("I refunded")
    assert 0 < digest.evidence_kept < 1


def test_loops_are_cut_only_after_long_values() -> None:
    chat = [{"role": "user", "content": "I was charged twice. " * 40}]
    execution = make_execution(conversation(200, failing=120, chat=chat))

    cuts = build_digest(execution, make_graph(CHAT_NODES, []), budget_tokens=2_000).cuts

    values = next(i for i, cut in enumerate(cuts) if cut.startswith("cut node inputs/outputs"))
    loops = next(i for i, cut in enumerate(cuts) if "(loops)" in cut)
    assert values < loops


def test_evidence_kept_falls_as_the_budget_shrinks() -> None:
    execution = make_execution(conversation(40, failing=3))
    graph = make_graph(CHAT_NODES, [])

    shares = [
        build_digest(execution, graph, budget_tokens=b).evidence_kept for b in (6_000, 2_000, 500)
    ]

    assert shares == sorted(shares, reverse=True)
    assert shares[0] > shares[-1]


def test_evidence_kept_counts_every_run_text_once() -> None:
    execution = blog_execution(llm_run(5, text="x" * 4_000))
    graph = make_graph(BLOG_NODES, BLOG_LINKS)

    whole = build_digest(execution, graph)
    cut = build_digest(execution, graph, budget_tokens=700)

    assert whole.evidence_kept == 1.0
    kept_text = json.loads(cut.text)["timeline"][1]["output"]["response"][0]
    # About the characters of the cut value that survived, out of the run's text.
    assert cut.evidence_kept < (len(kept_text) + 200) / 4_000

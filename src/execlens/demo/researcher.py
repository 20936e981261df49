"""How the researcher runs: planner -> one sub-agent per sub-question -> summariser."""

from execlens.demo.agents import SUB_RESEARCHER_ID
from execlens.demo.research import RESEARCH_TOPICS, SUMMARY_OPENERS, Finding, ResearchTopic
from execlens.demo.scripts import (
    Fault,
    Playbook,
    Run,
    Script,
    Step,
    agent_input,
    agent_output,
    llm_cost,
    llm_input,
)

SUB_INPUT_SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string"}, "context": {"type": "string"}},
    "required": ["question"],
}
SUB_OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {"findings": {"type": "string"}, "sources": {"type": "array"}},
}


def _report(run: Run, topic: ResearchTopic, findings: list[Finding], sources: list[str]) -> str:
    parts = [
        f"# {topic.question}",
        f"{run.rng.choice(SUMMARY_OPENERS)}{topic.answer}",
        "## Key findings",
        "\n".join(f"- **{f.question}** {f.answer}" for f in findings),
        "## Caveats",
        topic.caveat,
        "## Sources",
        "\n".join(f"- {url}" for url in sources),
    ]
    return "\n\n".join(parts)


def build(run: Run) -> Script:
    """Return the steps of one researcher run."""
    rng = run.rng
    topic = rng.choice(RESEARCH_TOPICS)
    depth = rng.choice((3, 4))
    findings = list(topic.findings[:depth])
    plan = {
        "sub_questions": [f.question for f in findings],
        "rationale": "Each sub-question can be answered independently from web sources.",
    }
    steps = [
        agent_input("question", topic.question, rng),
        agent_input("depth", depth, rng),
        Step(
            "planner",
            llm_input(
                f"Split this research question into at most {depth} focused sub-questions "
                f"that together answer it:\n\n{topic.question}",
                "gpt-4o",
                expected_format={"sub_questions": "list of strings", "rationale": "string"},
            ),
            {"response": plan},
            rng.uniform(3.0, 10.0),
            1,
        ),
    ]
    sources: list[str] = []
    for finding in findings:
        steps.append(
            Step(
                "subagent",
                {
                    "user_id": run.user_id,
                    "graph_id": SUB_RESEARCHER_ID,
                    "graph_version": 3,
                    "agent_name": "Web Sub-Researcher",
                    "inputs": {"question": finding.question, "context": topic.question},
                    "input_schema": SUB_INPUT_SCHEMA,
                    "output_schema": SUB_OUTPUT_SCHEMA,
                },
                {"findings": finding.answer, "sources": list(finding.sources)},
                rng.uniform(35.0, 140.0),
                rng.randint(6, 18),
                {"source": finding.sources[0].removeprefix("https://")},
            )
        )
        sources += finding.sources
    notes = "\n\n".join(f"Q: {f.question}\nA: {f.answer}" for f in findings)
    report = "" if run.empty else _report(run, topic, findings, sources)
    steps += [
        Step(
            "summarise",
            llm_input(
                "Merge the findings into a report with a direct answer, key findings, caveats "
                "and sources. Do not add claims that are not in the findings.",
                "claude-3-5-sonnet-latest",
                prompt_values={"question": topic.question, "findings": notes},
            ),
            {"response": report},
            rng.uniform(10.0, 30.0),
            llm_cost(report or notes, rng, 2.5),
        ),
        agent_output("report", "research_report", report, rng),
        agent_output("sources", "sources", sources, rng),
    ]
    facts = {"question": topic.question, "n": str(len(findings))}
    return Script(steps, facts)


PLAYBOOK = Playbook(
    build=build,
    faults=(
        Fault(
            "planner",
            "Invalid JSON in model response after 3 retries: Unterminated string starting at: "
            "line 3 column 5",
            "the planner never produced a valid research plan",
        ),
        Fault(
            "subagent",
            "Sub-agent 'Web Sub-Researcher' failed: Rate limit exceeded for model "
            "claude-3-5-sonnet-latest",
            "a sub-researcher hit a model rate limit",
        ),
        Fault(
            "summarise",
            "Timeout while waiting for a response from claude-3-5-sonnet-latest after 120s",
            "the summariser timed out",
            120.0,
        ),
    ),
    retries=(
        Fault(
            "subagent",
            "Sub-agent 'Web Sub-Researcher' failed: Timeout while fetching "
            "https://r.jina.ai/https://{source} after 30s",
            "one sub-researcher timed out fetching a web page",
            31.0,
        ),
        Fault("planner", "Rate limit exceeded for model gpt-4o", "the planner was rate-limited"),
    ),
    stories={
        "good": (
            'Split "{question}" into {n} sub-questions, had a sub-agent research each one and '
            "delivered a structured report with evidence, caveats and sources.",
            'Answered "{question}" with a sourced report built from {n} sub-investigations.',
        ),
        "recovered": (
            'Delivered a sourced report on "{question}" from {n} sub-investigations. '
            "{phrase_cap} at first, but a retry recovered it.",
        ),
        "empty": (
            "All {n} sub-researchers returned findings, but the final report was empty because "
            "the summariser produced no text, so the question went unanswered.",
        ),
        "failed": (
            'The research on "{question}" failed while {doing} because {phrase}. No report was '
            "delivered.",
        ),
        "terminated": (
            'The user stopped the research on "{question}" while it was {doing}; no report was '
            "delivered.",
        ),
    },
)

"""How the blog writer runs: topic -> web search -> draft (-> fact check) -> SEO -> outputs."""

from urllib.parse import quote

from execlens.demo.content import BLOG_TOPICS, BlogTopic
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

PROMPT_FORMAT = (
    'Write a blog post about "{{topic}}" for {{audience}}. Use only facts from the research '
    "notes, write in a friendly, practical tone, use markdown headings and aim for 200-400 "
    "words.\n\nResearch notes:\n{{research}}"
)
TITLES = (
    "{topic}: A Practical Guide for {audience_cap}",
    "{topic} Without the Overwhelm",
    "What {audience_cap} Should Know About {topic}",
    "{topic}: Where to Start This Week",
)


INTROS = (
    "If you are one of the many {audience} wondering where to begin, this guide keeps it "
    "practical: what matters, what to skip, and what to do this week.",
    "Most advice on this subject is written for large organisations. This post is for "
    "{audience}, who need changes that fit into a normal week and a modest budget.",
    "{audience_cap} tell us the same thing again and again: they know this matters, but the "
    "advice they find is either too vague or too expensive. Here is a shorter path.",
    "You do not need a consultant or a big project to get this right. With a few deliberate "
    "habits, {audience} can see results within a month.",
)
ELABORATIONS = (
    "The effect is small on day one and large after a few months, which is why consistency "
    "matters more than getting every detail perfect.",
    "Start with the simplest version, measure what changes for two weeks, then decide "
    "whether it is worth going further.",
    "It also costs little to try, so the risk of experimenting is low.",
    "Write the new routine down and share it, so it survives busy weeks and staff changes.",
    "The common mistake is trying to change everything at once; one change at a time makes "
    "it obvious what worked.",
    "Ask the people who do the work every day; they usually know where the problems are.",
)
CONCLUSIONS = (
    "Pick one of these steps, try it for two weeks, and keep what works. Small, steady "
    "improvements add up faster than you expect.",
    "None of this needs a big budget. It needs a decision and a calendar reminder, so set "
    "yours today.",
    "Start small, measure honestly, and build from there. Your future self will thank you.",
)
MISTAKES = (
    "Copying what large companies do without adapting it to your size.",
    "Skipping the measurement step, so nobody knows whether the change helped.",
    "Buying a tool before the underlying habit exists.",
    "Changing several things at once and not knowing which one worked.",
    "Giving up after the first week, before results have had time to show.",
)
SMALL_WORDS = frozenset({"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "the", "to"})


def _title_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _headline(text: str) -> str:
    words = text.split()
    return " ".join(
        word if index and word in SMALL_WORDS else _title_case(word)
        for index, word in enumerate(words)
    )


def _draft(run: Run, topic: BlogTopic, title: str) -> str:
    rng = run.rng
    fields = {"audience": topic.audience, "audience_cap": _title_case(topic.audience)}
    parts = [f"# {title}", rng.choice(INTROS).format(**fields)]
    headings = ("Why this matters", "What the evidence says")
    for heading, source in zip(headings, topic.sources, strict=True):
        extra = " ".join(rng.sample(ELABORATIONS, 2))
        parts += [f"## {heading}", f"{source.fact} {extra}"]
    if rng.random() < 0.35:
        mistakes = "\n".join(f"- {line}" for line in rng.sample(MISTAKES, 3))
        parts += ["## Common mistakes", mistakes]
    steps = (
        f"1. Pick one change from this post that fits {topic.audience}.",
        "2. Measure where you are today so you can compare in two weeks.",
        f"3. Review the result and decide what to try next about {topic.keywords[0]}.",
    )
    parts += ["## Where to start", "\n".join(steps), rng.choice(CONCLUSIONS)]
    return "\n\n".join(parts)


def build(run: Run) -> Script:
    """Return the steps of one blog writer run."""
    rng = run.rng
    topic = rng.choice(BLOG_TOPICS)
    research = "\n\n".join(
        f"Title: {s.title}\nURL Source: {s.url}\nDescription: {s.fact}" for s in topic.sources
    )
    title = rng.choice(TITLES).format(
        topic=_headline(topic.topic), audience_cap=_headline(topic.audience)
    )
    prompt = (
        PROMPT_FORMAT.replace("{{topic}}", topic.topic)
        .replace("{{audience}}", topic.audience)
        .replace("{{research}}", research)
    )
    draft = _draft(run, topic, title)
    checking = run.graph.has("fact_check")
    empty_draft = run.empty and not checking
    steps = [
        agent_input("topic", topic.topic, rng),
        agent_input("audience", topic.audience, rng),
        Step("search", {"query": topic.topic}, {"results": research}, rng.uniform(1.5, 6.0), 1),
        Step(
            "prompt",
            {"format": PROMPT_FORMAT, "values": {"topic": topic.topic, "research": research}},
            {"output": prompt},
            rng.uniform(0.01, 0.05),
        ),
        Step(
            "draft",
            llm_input(prompt, "gpt-4o", sys_prompt="You are an experienced blog editor."),
            {"response": "" if empty_draft else draft},
            rng.uniform(14.0, 38.0),
            llm_cost(draft, rng, 2.0),
        ),
    ]
    final = "" if empty_draft else draft
    if checking:
        cited = "\n".join(f"- [{s.title}]({s.url})" for s in topic.sources)
        final = "" if run.empty else f"{draft}\n\n## Sources\n\n{cited}"
        steps.append(
            Step(
                "fact_check",
                llm_input(
                    "Check every factual claim in the draft against the research notes. Fix "
                    "unsupported claims and append a Sources section.",
                    "gpt-4o",
                    prompt_values={"draft": draft, "research": research},
                ),
                {"response": final},
                rng.uniform(8.0, 22.0),
                llm_cost(draft, rng, 1.5),
            )
        )
    seo = (
        {
            "title": title if len(title) <= 60 else _headline(topic.topic),
            "meta_description": f"{topic.sources[0].fact[:140].rsplit(' ', 1)[0]}...",
            "slug": "-".join(topic.topic.lower().replace(",", "").split()),
            "keywords": list(topic.keywords),
        }
        if final
        else {"title": "Untitled", "meta_description": "", "slug": "untitled", "keywords": []}
    )
    steps += [
        Step(
            "seo",
            llm_input(
                f"Write SEO metadata for this blog post:\n\n{final[:1200]}",
                "gpt-4o-mini",
                expected_format={
                    "title": "max 60 characters",
                    "meta_description": "max 155 characters",
                    "slug": "url slug",
                    "keywords": "3-5 keywords",
                },
            ),
            {"response": seo},
            rng.uniform(2.0, 6.0),
            1,
        ),
        agent_output("post", "blog_post", final, rng),
        agent_output("meta", "seo", seo, rng),
    ]
    facts = {
        "topic": topic.topic,
        "topic_lc": topic.topic[:1].lower() + topic.topic[1:],
        "title": title,
        "words": f"{len(final.split()):,}",
        "query_q": quote(topic.topic),
    }
    return Script(steps, facts)


PLAYBOOK = Playbook(
    build=build,
    faults=(
        Fault(
            "search",
            "Timeout while fetching https://s.jina.ai/{query_q} after 30s",
            "the web search timed out",
            30.0,
        ),
        Fault(
            "draft", "Rate limit exceeded for model gpt-4o", "the writing model hit its rate limit"
        ),
        Fault(
            "fact_check",
            "Error code: 400 - This model's maximum context length is 128000 tokens. However, "
            "your messages resulted in 131274 tokens.",
            "the draft and sources were too long for the fact-checker",
        ),
        Fault(
            "seo",
            "Invalid JSON in model response after 3 retries: Expecting value: line 1 column 1",
            "the SEO step never got valid output from the model",
        ),
    ),
    retries=(
        Fault(
            "search",
            "Connection reset by peer while fetching https://s.jina.ai/{query_q}",
            "the web search connection dropped",
        ),
        Fault(
            "draft", "Rate limit exceeded for model gpt-4o", "the writing model was rate-limited"
        ),
    ),
    stories={
        "good": (
            'Wrote a {words}-word blog post titled "{title}" on {topic_lc}, grounded in two web '
            "sources, and returned it with SEO metadata.",
            'Researched {topic_lc} and delivered a complete post, "{title}" ({words} words), '
            "plus an SEO title, description and keywords.",
        ),
        "recovered": (
            'Delivered the blog post "{title}" ({words} words) on {topic_lc}. {phrase_cap} at '
            "first, but a retry succeeded and the post is complete.",
        ),
        "empty": (
            "The run finished without errors, but the blog post it returned was empty because "
            'the writing model produced no text, so nothing usable was delivered for "{topic}".',
        ),
        "failed": (
            "The run stopped while {doing} because {phrase}. No blog post on {topic_lc} was "
            "produced.",
        ),
        "terminated": (
            "The run was stopped by the user while {doing}, so no blog post on {topic_lc} was "
            "delivered.",
        ),
    },
)

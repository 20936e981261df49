"""How the email triager runs: read Gmail -> classify and label each email -> draft replies."""

from datetime import timedelta

from execlens.demo.inbox import (
    EMAILS,
    INBOX_QUERIES,
    LABELS,
    OWNERS,
    REPLY_CLOSERS,
    REPLY_OPENERS,
    Email,
)
from execlens.demo.scripts import (
    Fault,
    Playbook,
    Run,
    Script,
    Step,
    agent_input,
    agent_output,
    hex_id,
    llm_cost,
    llm_input,
)

CLASSIFY_PROMPT = (
    "Classify this email for the inbox owner. Categories: support, billing, sales_lead, "
    "meeting, internal, newsletter, spam. Say whether it needs a personal reply.\n\n"
    "From: {sender}\nSubject: {subject}\n\n{body}"
)
SUMMARY_FORMAT = (
    "Inbox triage ({{ count }} emails):\n{% for line in lines %}{{ line }}\n{% endfor %}"
)


def _plural(count: int, one: str, many: str = "") -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def _owner(run: Run) -> str:
    return OWNERS[int(run.user_id.replace("-", "")[:8], 16) % len(OWNERS)]


def _reply(run: Run, email: Email) -> str:
    opener = run.rng.choice(REPLY_OPENERS).format(first=email.sender.split()[0])
    return f"{opener} {email.reply}\n\n{run.rng.choice(REPLY_CLOSERS)}\n{_owner(run)}"


def build(run: Run) -> Script:
    """Return the steps of one email triager run."""
    rng = run.rng
    needing_reply = [email for email in EMAILS if email.needs_reply]
    first = rng.choice(needing_reply)
    others = rng.sample([email for email in EMAILS if email is not first], rng.randint(1, 4))
    batch = [first, *others]
    rng.shuffle(batch)
    messages = []
    for email in batch:
        received = run.created - timedelta(minutes=rng.randint(5, 900))
        message_id = hex_id(rng)
        messages.append(
            {
                "id": message_id,
                "threadId": message_id,
                "sender": f"{email.sender} <{email.address}>",
                "to": f"{_owner(run).lower()}@company.com",
                "subject": email.subject,
                "date": received.strftime("%a, %d %b %Y %H:%M:%S +0000"),
                "body": email.body,
                "labels": ["UNREAD", "INBOX"],
            }
        )
    query = rng.choice(INBOX_QUERIES)
    steps = [
        agent_input("query", query, rng),
        Step(
            "read",
            {"query": query, "max_results": 10},
            {"emails": messages},
            rng.uniform(0.8, 3.0),
        ),
    ]
    lines = []
    drafts = []
    for email, message in zip(batch, messages, strict=True):
        label = LABELS[email.category]
        verdict = {
            "category": email.category,
            "priority": email.priority,
            "needs_reply": email.needs_reply,
            "label": label,
        }
        prompt = CLASSIFY_PROMPT.format(
            sender=message["sender"], subject=email.subject, body=email.body
        )
        steps += [
            Step(
                "classify",
                llm_input(prompt, "gpt-4o-mini", expected_format={k: "" for k in verdict}),
                {"response": verdict},
                rng.uniform(1.5, 6.0),
                1,
            ),
            Step(
                "label",
                {"message_id": message["id"], "label_name": label},
                {"result": {"status": "Label added", "label_id": f"Label_{rng.randint(3, 40)}"}},
                rng.uniform(0.3, 1.2),
            ),
        ]
        action = "reply drafted" if email.needs_reply else "no reply needed"
        lines.append(f"- [{email.priority.upper()}] {label}: {email.subject} ({action})")
        if email.needs_reply:
            reply = "" if run.empty else _reply(run, email)
            steps.append(
                Step(
                    "draft",
                    llm_input(
                        f"Draft a short, polite reply to this email.\n\n{prompt}",
                        "gpt-4o",
                        sys_prompt=f"You reply on behalf of {_owner(run)}. Never invent facts.",
                    ),
                    {"response": reply},
                    rng.uniform(4.0, 14.0),
                    llm_cost(reply, rng),
                )
            )
            drafts.append(reply)
    summary = f"Inbox triage ({len(batch)} emails):\n" + "\n".join(lines)
    steps += [
        Step(
            "summary",
            {"format": SUMMARY_FORMAT, "values": {"count": len(batch), "lines": lines}},
            {"output": summary},
            rng.uniform(0.01, 0.04),
        ),
        agent_output("out_summary", "triage_summary", summary, rng),
    ]
    steps += [agent_output("out_drafts", "draft_replies", reply, rng) for reply in drafts]
    facts = {
        "emails": _plural(len(batch), "email"),
        "replies": _plural(len(drafts), "reply", "replies"),
        "urgent": str(sum(email.priority == "high" for email in batch)),
    }
    return Script(steps, facts)


PLAYBOOK = Playbook(
    build=build,
    faults=(
        Fault(
            "read",
            "Gmail API error 401: invalid_grant (Token has been expired or revoked.)",
            "the Gmail connection had expired",
        ),
        Fault(
            "classify",
            "Rate limit exceeded for model gpt-4o-mini",
            "the classification model hit its rate limit",
        ),
        Fault(
            "draft",
            "Timeout while waiting for a response from gpt-4o after 60s",
            "the reply model timed out",
            60.0,
        ),
    ),
    retries=(
        Fault(
            "label",
            "Gmail API error 429: User-rate limit exceeded",
            "Gmail briefly rate-limited the labelling",
        ),
        Fault(
            "classify",
            "Invalid JSON in model response: Expecting ',' delimiter: line 4 column 18",
            "one classification came back malformed",
        ),
    ),
    stories={
        "good": (
            "Triaged {emails}, labelled each one and drafted {replies} for review, with "
            "{urgent} marked high priority.",
            "Sorted {emails} into the right labels and prepared {replies} to review, flagging "
            "{urgent} as urgent.",
        ),
        "recovered": (
            "Triaged {emails} and drafted {replies}. {phrase_cap} at first, but the step was "
            "retried and every email was labelled.",
        ),
        "empty": (
            "Labelled {emails}, but every reply draft came back empty, so the user got no "
            "usable replies.",
        ),
        "failed": (
            "The run failed while {doing} because {phrase}; the triage was not finished and no "
            "reply drafts were delivered.",
        ),
        "terminated": (
            "The user stopped the run while it was {doing}; the inbox was left partly triaged "
            "and no reply drafts were delivered.",
        ),
    },
)

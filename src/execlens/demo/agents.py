"""The four demo agents, AutoGPT-style: a blog writer, an email triager, a data reporter and a
multi-agent researcher."""

from execlens.demo.graphs import Agent, Graph, Node

# Fixed ids: the agents keep their identity whatever the seed.
BLOG_WRITER_ID = "5b7c2e1a-8f3d-4c6b-9a2e-7d1f0c4b8e63"
EMAIL_TRIAGER_ID = "a3e9d4f2-1b7c-4e85-b6d0-2c9f8a1e5d47"
DATA_REPORTER_ID = "c81f6b3d-4a2e-4f97-8d5c-0e6b9a7f2c18"
RESEARCHER_ID = "e24d8a6c-9f1b-4b3e-a7c2-5d0f8e3b6a91"
# The sub-agent the researcher runs through AgentExecutorBlock; its own runs are not in the demo.
SUB_RESEARCHER_ID = "7f3a1c9e-2d6b-4e48-9b1a-6c8e0d2f4a75"


_BLOG_V1_NODES = (
    Node("topic", "AgentInputBlock", "Topic of the blog post.", "reading the topic"),
    Node("audience", "AgentInputBlock", "Who the post is written for.", "reading the audience"),
    Node(
        "search",
        "SearchTheWebBlock",
        "Searches the web for recent sources on the topic.",
        "searching the web",
    ),
    Node(
        "prompt",
        "FillTextTemplateBlock",
        "Builds the drafting prompt from topic, audience and research notes.",
        "preparing the writing brief",
    ),
    Node(
        "draft",
        "AITextGeneratorBlock",
        "Writes a 200-400 word markdown draft with gpt-4o.",
        "writing the draft",
    ),
    Node(
        "seo",
        "AIStructuredResponseGeneratorBlock",
        "Produces an SEO title, meta description, slug and keywords.",
        "writing the SEO title",
    ),
    Node("post", "AgentOutputBlock", "blog_post: the finished article.", "publishing the post"),
    Node("meta", "AgentOutputBlock", "seo: title, description, slug, keywords.", "saving the SEO"),
)
_BLOG_V1_LINKS = (
    ("topic", "result", "search", "query"),
    ("topic", "result", "prompt", "values_#_topic"),
    ("audience", "result", "prompt", "values_#_audience"),
    ("search", "results", "prompt", "values_#_research"),
    ("prompt", "output", "draft", "prompt"),
    ("draft", "response", "seo", "prompt"),
    ("draft", "response", "post", "value"),
    ("seo", "response", "meta", "value"),
)
_FACT_CHECK = Node(
    "fact_check",
    "AITextGeneratorBlock",
    "Checks every claim in the draft against the research and appends a Sources section.",
    "fact-checking the draft",
)

BLOG_WRITER = Agent(
    key="blog",
    graphs=(
        Graph(
            id=BLOG_WRITER_ID,
            version=1,
            name="Blog Post Writer",
            description=(
                "Writes a publish-ready blog post on the topic the user gives, for the stated "
                "audience. It researches the topic on the web, drafts a concise, practical article "
                "of 200-400 words in markdown grounded in that research, and returns the post "
                "together with an SEO title, meta description, URL slug and keywords."
            ),
            nodes=_BLOG_V1_NODES,
            links=_BLOG_V1_LINKS,
        ),
        Graph(
            id=BLOG_WRITER_ID,
            version=2,
            name="Blog Post Writer",
            description=(
                "Writes a publish-ready blog post on the topic the user gives, for the stated "
                "audience. It researches the topic on the web, drafts a concise, practical article "
                "of 200-400 words in markdown, fact-checks every claim against the sources it "
                "found and ends the post with a Sources section, then returns the post together "
                "with an SEO title, meta description, URL slug and keywords."
            ),
            nodes=(*_BLOG_V1_NODES[:5], _FACT_CHECK, *_BLOG_V1_NODES[5:]),
            links=(
                *_BLOG_V1_LINKS[:5],
                ("draft", "response", "fact_check", "prompt_values_#_draft"),
                ("search", "results", "fact_check", "prompt_values_#_research"),
                ("fact_check", "response", "seo", "prompt"),
                ("fact_check", "response", "post", "value"),
                ("seo", "response", "meta", "value"),
            ),
        ),
    ),
    weekday_runs=(11, 17),
    weekend_runs=(8, 11),
    rates={"recovered": 0.07, "empty": 0.02, "failed": 0.03, "terminated": 0.02},
)

EMAIL_TRIAGER = Agent(
    key="email",
    graphs=(
        Graph(
            id=EMAIL_TRIAGER_ID,
            version=1,
            name="Inbox Triage Assistant",
            description=(
                "Triages the user's unread Gmail. For every email matching the query it decides "
                "the category (support, billing, sales lead, meeting, internal, newsletter or "
                "spam), the priority and whether a reply is needed, applies the matching Gmail "
                "label, and drafts a polite, specific reply for each email that needs one. It "
                "returns a short triage summary and the reply drafts; it never sends email."
            ),
            nodes=(
                Node("query", "AgentInputBlock", "Gmail search query.", "reading the query"),
                Node("read", "GmailReadBlock", "Fetches the matching emails.", "reading the inbox"),
                Node(
                    "classify",
                    "AIStructuredResponseGeneratorBlock",
                    "Classifies one email: category, priority, needs_reply (gpt-4o-mini).",
                    "classifying emails",
                ),
                Node(
                    "label",
                    "GmailAddLabelBlock",
                    "Applies the category label.",
                    "labelling emails",
                ),
                Node(
                    "draft",
                    "AITextGeneratorBlock",
                    "Drafts a reply for an email that needs one (gpt-4o).",
                    "drafting replies",
                ),
                Node(
                    "summary",
                    "FillTextTemplateBlock",
                    "Formats the triage summary.",
                    "summarising the inbox",
                ),
                Node(
                    "out_summary",
                    "AgentOutputBlock",
                    "triage_summary: one line per email.",
                    "returning the summary",
                ),
                Node(
                    "out_drafts",
                    "AgentOutputBlock",
                    "draft_replies: reply drafts to review.",
                    "returning the drafts",
                ),
            ),
            links=(
                ("query", "result", "read", "query"),
                ("read", "email", "classify", "prompt_values_#_email"),
                ("read", "email_#_id", "label", "message_id"),
                ("classify", "response_#_label", "label", "label_name"),
                ("read", "email", "draft", "prompt_values_#_email"),
                ("classify", "response", "draft", "prompt_values_#_classification"),
                ("classify", "response", "summary", "values_#_classifications"),
                ("summary", "output", "out_summary", "value"),
                ("draft", "response", "out_drafts", "value"),
            ),
        ),
    ),
    weekday_runs=(15, 20),
    weekend_runs=(8, 10),
    rates={"recovered": 0.06, "empty": 0.02, "failed": 0.025, "terminated": 0.015},
)

DATA_REPORTER = Agent(
    key="report",
    graphs=(
        Graph(
            id=DATA_REPORTER_ID,
            version=1,
            name="CSV Data Report Generator",
            description=(
                "Turns a CSV file at a URL into a short business report. It downloads the file, "
                "computes per-group totals, shares and period-over-period change for the metric "
                "the user names, draws a text bar chart, and writes a report of about 300 words "
                "that states the headline numbers correctly and calls out the largest movers. "
                "It returns the report and the computed statistics."
            ),
            nodes=(
                Node("csv_url", "AgentInputBlock", "URL of the CSV file.", "reading the inputs"),
                Node(
                    "params",
                    "AgentInputBlock",
                    "Metric column and grouping column.",
                    "reading the inputs",
                ),
                Node("fetch", "SendWebRequestBlock", "Downloads the CSV.", "downloading the data"),
                Node(
                    "script",
                    "FillTextTemplateBlock",
                    "Builds the pandas analysis script.",
                    "preparing the analysis",
                ),
                Node(
                    "stats",
                    "ExecuteCodeBlock",
                    "Runs the analysis in a sandbox and prints JSON statistics.",
                    "computing statistics",
                ),
                Node(
                    "chart",
                    "FillTextTemplateBlock",
                    "Renders the totals as a text bar chart.",
                    "drawing the chart",
                ),
                Node(
                    "narrative",
                    "AITextGeneratorBlock",
                    "Writes the report from the statistics and chart (gpt-4o).",
                    "writing the report",
                ),
                Node(
                    "report",
                    "AgentOutputBlock",
                    "report: the finished report.",
                    "returning the report",
                ),
                Node(
                    "stats_out",
                    "AgentOutputBlock",
                    "statistics: the computed numbers as JSON.",
                    "returning the statistics",
                ),
            ),
            links=(
                ("csv_url", "result", "fetch", "url"),
                ("fetch", "response", "script", "values_#_csv"),
                ("params", "result", "script", "values_#_params"),
                ("script", "output", "stats", "code"),
                ("stats", "response", "chart", "values_#_stats"),
                ("stats", "response", "narrative", "prompt_values_#_stats"),
                ("chart", "output", "narrative", "prompt_values_#_chart"),
                ("narrative", "response", "report", "value"),
                ("stats", "response", "stats_out", "value"),
            ),
        ),
    ),
    weekday_runs=(12, 18),
    weekend_runs=(8, 9),
    rates={"recovered": 0.06, "empty": 0.02, "failed": 0.03, "terminated": 0.015},
)

RESEARCHER = Agent(
    key="research",
    graphs=(
        Graph(
            id=RESEARCHER_ID,
            version=1,
            name="Deep Research Team",
            description=(
                "Answers a research question with a team of agents. A planner splits the "
                "question into 2-4 focused sub-questions, a Web Sub-Researcher agent answers "
                "each one from web sources, and a summariser merges the findings into a "
                "structured report with a direct answer, the key evidence, caveats and the "
                "sources used."
            ),
            nodes=(
                Node(
                    "question", "AgentInputBlock", "The research question.", "reading the question"
                ),
                Node(
                    "depth",
                    "AgentInputBlock",
                    "Maximum number of sub-questions.",
                    "reading the settings",
                ),
                Node(
                    "planner",
                    "AIStructuredResponseGeneratorBlock",
                    "Splits the question into sub-questions (gpt-4o).",
                    "planning the research",
                ),
                Node(
                    "subagent",
                    "AgentExecutorBlock",
                    "Runs the Web Sub-Researcher agent once per sub-question.",
                    "researching the sub-questions",
                ),
                Node(
                    "summarise",
                    "AITextGeneratorBlock",
                    "Merges the findings into the final report (claude-3-5-sonnet).",
                    "writing the final report",
                ),
                Node(
                    "report",
                    "AgentOutputBlock",
                    "research_report: the final report.",
                    "returning the report",
                ),
                Node("sources", "AgentOutputBlock", "sources: URLs used.", "listing the sources"),
            ),
            links=(
                ("question", "result", "planner", "prompt_values_#_question"),
                ("depth", "result", "planner", "prompt_values_#_max_subquestions"),
                ("planner", "response_#_sub_questions", "subagent", "inputs_#_question"),
                ("subagent", "findings", "summarise", "prompt_values_#_findings"),
                ("question", "result", "summarise", "prompt_values_#_question"),
                ("summarise", "response", "report", "value"),
                ("subagent", "sources", "sources", "value"),
            ),
        ),
    ),
    weekday_runs=(10, 15),
    weekend_runs=(8, 10),
    rates={"recovered": 0.08, "empty": 0.025, "failed": 0.03, "terminated": 0.02},
)

AGENTS = (BLOG_WRITER, EMAIL_TRIAGER, DATA_REPORTER, RESEARCHER)

# Over its last days the email triager degrades: about a third of its runs return empty reply
# drafts and a fifth fail outright, so its accuracy visibly drops.
DEGRADED_AGENT = EMAIL_TRIAGER.key
DEGRADED_DAYS = 3
DEGRADED_RATES = {"recovered": 0.05, "empty": 0.32, "failed": 0.22, "terminated": 0.02}

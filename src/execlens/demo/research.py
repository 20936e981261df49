"""Content pools for the data reporter (CSV datasets) and the researcher (questions, findings)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    name: str
    url: str
    group_column: str
    metric_column: str
    unit: str
    groups: tuple[str, ...]
    typical: tuple[int, int]  # range of one group's value in one period


DATASETS = (
    Dataset(
        "Monthly revenue by plan",
        "https://data.northwind-analytics.io/exports/revenue_by_plan.csv",
        "plan",
        "revenue_usd",
        "USD",
        ("Starter", "Team", "Business", "Enterprise"),
        (18_000, 140_000),
    ),
    Dataset(
        "Support tickets by channel",
        "https://files.helpdeskhq.com/reports/tickets_by_channel.csv",
        "channel",
        "tickets",
        "tickets",
        ("Email", "Chat", "Phone", "Community"),
        (120, 2_400),
    ),
    Dataset(
        "Online orders by region",
        "https://storage.googleapis.com/shopmetrics-public/orders_by_region.csv",
        "region",
        "orders",
        "orders",
        ("North", "South", "East", "West", "Central"),
        (900, 7_500),
    ),
    Dataset(
        "Energy use by building",
        "https://opendata.campus-facilities.org/energy/kwh_by_building.csv",
        "building",
        "kwh",
        "kWh",
        ("Library", "Science Hall", "Sports Centre", "Admin Block"),
        (22_000, 190_000),
    ),
    Dataset(
        "Website sessions by traffic source",
        "https://analytics-export.brightlane.co/sessions_by_source.csv",
        "source",
        "sessions",
        "sessions",
        ("Organic search", "Direct", "Referral", "Social", "Email"),
        (3_000, 85_000),
    ),
    Dataset(
        "Warehouse shipments by carrier",
        "https://ops.northfieldlogistics.de/exports/shipments_by_carrier.csv",
        "carrier",
        "shipments",
        "shipments",
        ("DHL", "UPS", "DPD", "GLS"),
        (1_500, 26_000),
    ),
)


@dataclass(frozen=True)
class Finding:
    question: str
    answer: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class ResearchTopic:
    question: str
    answer: str
    findings: tuple[Finding, ...]
    caveat: str


RESEARCH_TOPICS = (
    ResearchTopic(
        "What are the trade-offs between sodium-ion and LFP batteries for home storage?",
        "LFP is the safer choice for most homes today; sodium-ion is promising for cold "
        "locations and may become cheaper, but products and field data are still limited.",
        (
            Finding(
                "How do costs compare today?",
                "Sodium-ion cells avoid lithium and cobalt, so their material cost is expected "
                "to fall below LFP at scale, but today's home products are few and priced "
                "close to LFP systems.",
                ("https://www.batterytrends.org/sodium-ion-cost-outlook",),
            ),
            Finding(
                "How do they behave in the cold?",
                "Sodium-ion chemistries keep more of their capacity below freezing, which "
                "matters for garage or outdoor installations in cold climates.",
                ("https://energystorage-review.com/cold-weather-performance",),
            ),
            Finding(
                "What about energy density and lifetime?",
                "LFP still stores more energy per kilogram and has the longer track record "
                "on cycle life; sodium-ion packs are bulkier for the same capacity.",
                ("https://www.cellchemistry.net/lfp-vs-sodium-ion",),
            ),
        ),
        "Field data for sodium-ion home batteries covers only a few years.",
    ),
    ResearchTopic(
        "How have congestion charges in European cities affected traffic and air quality?",
        "Congestion charges have clearly cut traffic entering the charged zones and brought "
        "smaller, local air quality gains, and public support often grows after launch.",
        (
            Finding(
                "Which cities run congestion charges?",
                "London, Stockholm and Gothenburg run long-standing schemes; Milan runs a "
                "central charging zone, and several other cities use low-emission zones.",
                ("https://urbanmobility-observatory.eu/charging-schemes",),
            ),
            Finding(
                "What happened to traffic volumes?",
                "Evaluations commonly report double-digit drops in vehicles entering the "
                "charged zone in the first year, with part of the effect persisting.",
                ("https://www.transportpolicyreview.org/congestion-pricing-evidence",),
            ),
            Finding(
                "Did air quality improve?",
                "Local reductions in nitrogen dioxide are reported inside charged zones, "
                "but the effect is smaller than the traffic drop because of through traffic "
                "and weather.",
                ("https://cleanair-cities.eu/studies/no2-charging-zones",),
            ),
            Finding(
                "How did public opinion change?",
                "Support often rises after launch once residents see the effects; Stockholm "
                "is the usual example, where a referendum followed a trial period.",
                ("https://www.citygovernance.net/public-acceptance-road-pricing",),
            ),
        ),
        "Cities differ in design, so results do not transfer one-to-one.",
    ),
    ResearchTopic(
        "What does evidence from four-day work week trials show?",
        "Most firms in the trials kept the four-day week, with broadly stable revenue and "
        "lower burnout, though the firms volunteered and were mostly office-based.",
        (
            Finding(
                "What did the large pilots measure?",
                "Organised pilots tracked revenue, staff wellbeing and retention at "
                "participating companies, mostly small and mid-sized firms in offices.",
                ("https://worktime-research.org/pilot-design",),
            ),
            Finding(
                "What were the main results?",
                "Most participating companies chose to continue after the pilot, and staff "
                "reported lower burnout; revenue was broadly stable over the trial period.",
                ("https://www.futureofworkreview.com/four-day-week-results",),
            ),
            Finding(
                "Where does it work less well?",
                "Shift-based and customer-facing roles needed rota changes, and some firms "
                "moved to a 'nine-day fortnight' instead.",
                ("https://hrpractice.net/four-day-week-operations",),
            ),
        ),
        "Participating firms volunteered, so results may overstate the typical effect.",
    ),
    ResearchTopic(
        "Which open-source vector databases suit a mid-sized RAG deployment?",
        "pgvector is the simplest choice if you already run PostgreSQL; Qdrant or Milvus make "
        "sense when you expect tens of millions of vectors or heavy filtering.",
        (
            Finding(
                "Which options are widely used?",
                "pgvector, Qdrant, Weaviate and Milvus are the most common open-source choices; "
                "pgvector is attractive when a team already runs PostgreSQL.",
                ("https://www.vectorstore-guide.dev/landscape",),
            ),
            Finding(
                "How do they scale to tens of millions of vectors?",
                "Dedicated engines such as Qdrant and Milvus offer quantisation and sharding; "
                "pgvector with HNSW indexes handles millions of vectors on a single node.",
                ("https://benchmarks.retrievalops.io/ann-at-scale",),
            ),
            Finding(
                "What matters operationally?",
                "Filtering on metadata, backups and upgrade paths usually matter more for a "
                "mid-sized team than raw query speed.",
                ("https://mlinfra-notes.com/vector-db-operations",),
            ),
        ),
        "Benchmarks depend heavily on the dataset and recall target.",
    ),
    ResearchTopic(
        "What should a small team know before adopting passkeys for login?",
        "Passkeys are ready for small teams on current browsers and devices, provided you "
        "keep a fallback sign-in method and a clear account recovery path.",
        (
            Finding(
                "How do passkeys work?",
                "A passkey is a key pair bound to the site; the private key stays on the "
                "user's device or password manager, so there is nothing to phish or reuse.",
                ("https://authbasics.dev/passkeys-explained",),
            ),
            Finding(
                "What is the support situation?",
                "Current versions of the major browsers and mobile platforms support passkeys, "
                "and several password managers sync them across devices.",
                ("https://www.identitystack.io/passkey-support",),
            ),
            Finding(
                "What are the rollout pitfalls?",
                "Teams should keep a fallback sign-in method and a clear account recovery "
                "path, because users lose devices.",
                ("https://securitypractice.net/passkey-rollout-lessons",),
            ),
        ),
        "Recovery flows are the part most often underestimated.",
    ),
    ResearchTopic(
        "How are grocery retailers using electronic shelf labels?",
        "Grocers mainly use electronic shelf labels to save labour on price changes and "
        "markdowns rather than for minute-by-minute dynamic pricing.",
        (
            Finding(
                "Why do retailers adopt them?",
                "The main reason given is labour: price changes that took staff hours to "
                "re-label are pushed to the shelf in minutes.",
                ("https://www.retailtech-insights.com/esl-adoption",),
            ),
            Finding(
                "Are they used for dynamic pricing?",
                "Most grocers use them for markdowns on short-dated food rather than "
                "minute-by-minute pricing, partly because of customer trust concerns.",
                ("https://grocerytoday.news/esl-markdowns",),
            ),
            Finding(
                "What else do they enable?",
                "Labels with LEDs help staff pick online orders faster, and some show stock "
                "levels or origin information.",
                ("https://storeops-journal.com/esl-beyond-pricing",),
            ),
        ),
        "Vendor case studies dominate the available evidence.",
    ),
)

SUMMARY_OPENERS = ("Short answer: ", "In brief: ", "Bottom line: ")

"""How the data reporter runs: fetch a CSV -> compute statistics -> chart -> written report."""

import json
from datetime import date
from typing import Any

from execlens.demo.research import DATASETS, Dataset
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

MONTHS = 6
SCRIPT_FORMAT = """import io, json
import pandas as pd

df = pd.read_csv(io.StringIO('''{{ csv }}'''))
metric, group = "{{ params.metric }}", "{{ params.group_by }}"
pivot = df.pivot_table(index="month", columns=group, values=metric, aggfunc="sum")
last, prev = pivot.iloc[-1], pivot.iloc[-2]
print(json.dumps({
    "totals": pivot.sum().round().to_dict(),
    "last_month": last.to_dict(),
    "change_pct": ((last - prev) / prev * 100).round(1).to_dict(),
}))"""
CHART_FORMAT = (
    "{% for row in rows %}{{ row.name | ljust(16) }} {{ row.bar }} {{ row.value }}\n{% endfor %}"
)


def _months(today: date) -> list[str]:
    year, month = today.year, today.month
    labels = []
    for _ in range(MONTHS):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        labels.append(f"{year}-{month:02d}")
    return labels[::-1]


def _values(run: Run, dataset: Dataset) -> dict[str, list[int]]:
    rng = run.rng
    series = {}
    for group in dataset.groups:
        value = rng.uniform(*dataset.typical)
        growth = rng.uniform(-0.06, 0.09)
        points = []
        for _ in range(MONTHS):
            points.append(round(value * rng.uniform(0.96, 1.04)))
            value *= 1 + growth
        series[group] = points
    return series


def _report(dataset: Dataset, months: list[str], stats: dict[str, Any], chart: str) -> str:
    groups = stats["groups"]
    ranked = sorted(groups, key=lambda g: groups[g]["last_month"], reverse=True)
    mover = stats["top_mover"]
    lines = [
        f"# {dataset.name}: {months[0]} to {months[-1]}",
        f"In {months[-1]} the total was {stats['overall']['last_month']:,} {dataset.unit}, "
        f"{stats['overall']['change_pct']:+.1f}% compared with {months[-2]}. "
        f"{ranked[0]} remains the largest {dataset.group_column} with "
        f"{groups[ranked[0]]['share_pct']:.1f}% of the total.",
        "## By " + dataset.group_column,
        "\n".join(
            f"- **{g}**: {groups[g]['last_month']:,} {dataset.unit} last month "
            f"({groups[g]['change_pct']:+.1f}% month over month, "
            f"{groups[g]['total']:,} over six months)"
            for g in ranked
        ),
        "## Biggest mover",
        f"{mover} changed the most, {groups[mover]['change_pct']:+.1f}% in the last month. "
        "Check whether this reflects a real shift or a one-off before acting on it.",
        "## Chart",
        f"```\n{chart}```",
    ]
    return "\n\n".join(lines)


def build(run: Run) -> Script:
    """Return the steps of one data reporter run."""
    rng = run.rng
    dataset = rng.choice(DATASETS)
    months = _months(run.created.date())
    series = _values(run, dataset)
    csv_rows = [f"month,{dataset.group_column},{dataset.metric_column}"]
    for index, month in enumerate(months):
        csv_rows += [f"{month},{group},{series[group][index]}" for group in dataset.groups]
    csv = "\n".join(csv_rows) + "\n"
    last_total = sum(points[-1] for points in series.values())
    prev_total = sum(points[-2] for points in series.values())
    groups = {
        group: {
            "total": sum(points),
            "last_month": points[-1],
            "change_pct": round((points[-1] - points[-2]) / points[-2] * 100, 1),
            "share_pct": round(points[-1] / last_total * 100, 1),
        }
        for group, points in series.items()
    }
    top = max(groups, key=lambda g: abs(groups[g]["change_pct"]))
    stats = {
        "metric": dataset.metric_column,
        "period": f"{months[0]}..{months[-1]}",
        "rows": len(csv_rows) - 1,
        "groups": groups,
        "overall": {
            "last_month": last_total,
            "change_pct": round((last_total - prev_total) / prev_total * 100, 1),
        },
        "top_mover": top,
    }
    stats_json = json.dumps(stats)
    peak = max(g["last_month"] for g in groups.values())
    chart = "".join(
        f"{name:<16} {'█' * max(1, round(g['last_month'] / peak * 30))} {g['last_month']:,}\n"
        for name, g in groups.items()
    )
    report = "" if run.empty else _report(dataset, months, stats, chart)
    params = {"metric": dataset.metric_column, "group_by": dataset.group_column}
    code = SCRIPT_FORMAT.replace("{{ csv }}", csv.strip())
    code = code.replace("{{ params.metric }}", params["metric"])
    code = code.replace("{{ params.group_by }}", params["group_by"])
    prompt = (
        f"Write a short business report on '{dataset.name}' for a manager. State the headline "
        "numbers exactly as given, name the largest group and the biggest mover, and include "
        "the chart.\n\nStatistics:\n{{stats}}\n\nChart:\n{{chart}}"
    )
    steps = [
        agent_input("csv_url", dataset.url, rng),
        agent_input("params", params, rng),
        Step(
            "fetch",
            {"url": dataset.url, "method": "GET", "headers": {"Accept": "text/csv"}},
            {"response": csv},
            rng.uniform(0.3, 2.5),
        ),
        Step(
            "script",
            {"format": SCRIPT_FORMAT, "values": {"csv": csv, "params": params}},
            {"output": code},
            rng.uniform(0.01, 0.04),
        ),
        Step(
            "stats",
            {"code": code, "language": "python", "timeout": 120, "setup_commands": []},
            {"response": stats_json, "stdout_logs": stats_json + "\n"},
            rng.uniform(3.0, 9.0),
            1,
        ),
        Step(
            "chart",
            {"format": CHART_FORMAT, "values": {"rows": list(groups)}},
            {"output": chart},
            rng.uniform(0.01, 0.04),
        ),
        Step(
            "narrative",
            llm_input(prompt, "gpt-4o", prompt_values={"stats": stats_json, "chart": chart}),
            {"response": report},
            rng.uniform(8.0, 24.0),
            llm_cost(report or stats_json, rng, 1.6),
        ),
        agent_output("report", "report", report, rng),
        agent_output("stats_out", "statistics", stats, rng),
    ]
    facts = {
        "dataset": dataset.name,
        "dataset_lc": dataset.name[:1].lower() + dataset.name[1:],
        "metric": dataset.metric_column,
        "url": dataset.url,
        "top": top,
        "change": f"{groups[top]['change_pct']:+.1f}% last month",
    }
    return Script(steps, facts)


PLAYBOOK = Playbook(
    build=build,
    faults=(
        Fault(
            "fetch",
            "Timeout while fetching {url} after 30s",
            "the data source did not respond",
            30.0,
        ),
        Fault("fetch", "HTTP 404 Not Found: {url}", "the CSV link was broken"),
        Fault(
            "stats",
            "Sandbox execution timed out after 120s",
            "the analysis sandbox timed out",
            120.0,
        ),
        Fault(
            "narrative",
            "Rate limit exceeded for model gpt-4o",
            "the writing model hit its rate limit",
        ),
    ),
    retries=(
        Fault("fetch", "HTTP 503 Service Unavailable: {url}", "the data host was briefly down"),
        Fault(
            "narrative",
            "Rate limit exceeded for model gpt-4o",
            "the writing model was rate-limited",
        ),
    ),
    stories={
        "good": (
            "Downloaded the {dataset_lc} CSV, computed totals and monthly changes for {metric} "
            "and delivered a report with a chart; {top} was the biggest mover ({change}).",
            "Turned the {dataset_lc} file into a clear report with correct totals and a chart, "
            "highlighting {top} ({change}).",
        ),
        "recovered": (
            "Delivered the {dataset_lc} report with a chart and statistics. {phrase_cap} at "
            "first, but the retry worked.",
        ),
        "empty": (
            "Statistics for {dataset_lc} were computed, but the written report came back empty, "
            "so the user received numbers without the report they asked for.",
        ),
        "failed": (
            "The {dataset_lc} report failed while {doing} because {phrase}. No report was "
            "produced.",
        ),
        "terminated": (
            "The user stopped the run while it was {doing}; no report on {dataset_lc} was "
            "produced.",
        ),
    },
)

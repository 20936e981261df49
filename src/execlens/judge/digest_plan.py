"""The shortening plan: what build_digest cuts, in order, while a digest is over its budget.

1. Long values, cut in the middle: node inputs/outputs first, then descriptions, graph
   inputs/outputs and errors, each step to a smaller size.
2. Repetitive middle steps of long loops: of a node that ran many times, only its first and
   last runs stay, plus every run that failed. Output and input blocks are never dropped.
3. Only then the rest: links, the node overview, error-free intermediate steps, and finally
   hard caps on every text and list.
"""

from dataclasses import dataclass, replace
from typing import Any

from execlens.judge.digest_text import LIST_ITEMS, MAX_DEPTH, UNLIMITED, Limits


@dataclass(frozen=True)
class Knobs:
    """Shortening levels; None means nothing is cut."""

    value_chars: int | None = None  # node inputs/outputs in the timeline
    io_chars: int | None = None  # the graph's inputs and outputs
    error_chars: int | None = None
    description_chars: int | None = None  # graph and node descriptions, links
    loop_keep: int | None = None  # first and last runs kept of a node that ran more often
    links: bool = True
    node_list: bool = True
    clean_keep: int | None = None  # first and last error-free intermediate steps kept
    io_keep: int | None = None
    step_cap: int | None = None
    str_cap: int | None = None
    list_cap: int | None = None

    def limits(self, chars: int | None) -> Limits:
        """Return value limits for chars characters (None: unlimited), within the hard caps."""
        if self.str_cap is None and self.list_cap is None:
            return Limits.cut(chars)
        items = LIST_ITEMS if self.list_cap is None else min(LIST_ITEMS, self.list_cap)
        return Limits(self.chars(chars if chars is not None else UNLIMITED), items, MAX_DEPTH)

    def chars(self, chars: int) -> int:
        """Return chars, lowered to the hard string cap."""
        return chars if self.str_cap is None else min(chars, self.str_cap)

    def keep(self, head: int, tail: int, cap: int | None = None) -> tuple[int, int]:
        """Return how many first and last items to keep, lowered to cap and the hard list cap."""
        caps = [limit for limit in (cap, self.list_cap) if limit is not None]
        if not caps:
            return head, tail
        kept_head = min(head, min(caps) // 2)
        return kept_head, min(tail, min(caps) - kept_head)


@dataclass(frozen=True)
class Facts:
    """Sizes and counts of the run that decide which steps apply, and fill their messages."""

    longest_value: int  # characters of the longest node input or output
    longest_io: int  # characters of the longest graph input or output
    longest_error: int
    longest_description: int
    max_runs: int  # most runs of one intermediate node
    links: int
    nodes: int
    clean_steps: int  # error-free intermediate steps
    io_entries: int  # the longer of the inputs and outputs lists
    steps: int  # steps kept once error-free intermediate ones are dropped


@dataclass(frozen=True)
class Step:
    """A shortening step: knob changes, reported by message (formatted with the facts).

    It applies only when the facts field named by ``when`` (if any) is above ``above``.
    """

    changes: dict[str, Any]
    message: str
    when: str = ""
    above: int = 0

    def kind(self) -> str:
        """Name what the step cuts: a deeper cut of the same kind replaces its report."""
        return ",".join(sorted(self.changes))

    def applies(self, facts: Facts) -> bool:
        """Tell whether this step would change a digest of a run with these facts."""
        return not self.when or getattr(facts, self.when) > self.above

    def apply(self, knobs: Knobs, facts: Facts) -> tuple[Knobs, str]:
        """Return the tightened knobs and the message that reports the cut."""
        return replace(knobs, **self.changes), self.message.format_map(vars(facts))


@dataclass(frozen=True)
class StepSearch:
    """Keeps as many steps as fit, found by bisection, instead of a fixed number."""

    def apply(self, knobs: Knobs, facts: Facts, steps: int) -> tuple[Knobs, str]:
        """Return knobs that keep ``steps`` timeline steps, and the message."""
        return replace(knobs, step_cap=steps), f"kept {steps:,} of {facts.steps:,} steps"


def _values(chars: int) -> Step:
    message = f"cut node inputs/outputs over {chars:,} chars in the middle"
    return Step({"value_chars": chars}, message, "longest_value", chars)


def _io(chars: int) -> Step:
    message = f"cut graph inputs/outputs over {chars:,} chars in the middle"
    return Step({"io_chars": chars}, message, "longest_io", chars)


def _errors(chars: int) -> Step:
    message = f"cut errors over {chars:,} chars in the middle"
    return Step({"error_chars": chars}, message, "longest_error", chars)


def _descriptions(chars: int) -> Step:
    message = f"cut descriptions and links over {chars:,} chars in the middle"
    return Step({"description_chars": chars}, message, "longest_description", chars)


def _loops(keep: int) -> Step:
    runs = "run" if keep == 1 else f"{keep} runs"
    message = (
        f"kept the first and last {runs} of nodes that ran more than {2 * keep} times "
        "(loops), and every run that failed"
    )
    return Step({"loop_keep": keep}, message, "max_runs", 2 * keep)


def _clean(keep: int) -> Step:
    message = (
        f"kept the first and last {keep // 2:,} of {{clean_steps:,}} error-free intermediate steps"
        if keep
        else "dropped {clean_steps:,} error-free intermediate steps"
    )
    return Step({"clean_keep": keep}, message, "clean_steps", keep)


def _str_cap(chars: int) -> Step:
    return Step({"str_cap": chars}, f"hard-truncated all texts to {chars} chars")


def _list_cap(items: int) -> Step:
    return Step({"list_cap": items}, f"kept at most {items} items per list")


# Fine levels cost little: the fitter bisects over the steps, and the digest uses the budget.
LOOP_KEEP = (64, 48, 32, 24, 16, 12, 8, 6, 4, 3, 2, 1)
CLEAN_KEEP = (2_000, 1_000, 600, 400, 250, 160, 100, 60, 40, 20, 10, 0)

STEPS: tuple[Step, ...] = (
    # 1. Long values, cut in the middle.
    _values(2_000),
    _descriptions(1_000),
    _values(1_000),
    _io(4_000),
    _errors(1_000),
    _values(500),
    _values(250),
    _io(2_000),
    _descriptions(300),
    _values(120),
    _errors(300),
    _io(1_000),
    # 2. Repetitive middle steps of long loops.
    *(_loops(keep) for keep in LOOP_KEEP),
    # 3. Everything else but errors, inputs and outputs.
    _values(60),
    Step({"links": False}, "dropped {links:,} links", "links"),
    Step({"node_list": False}, "dropped the overview of {nodes:,} nodes", "nodes"),
    _io(300),
    *(_clean(keep) for keep in CLEAN_KEEP),
    Step({"io_keep": 2}, "kept first 2 and last 2 graph inputs and outputs", "io_entries", 4),
    _descriptions(100),
    _errors(100),
)

# Used only when even the last step is over budget: hard caps on every text and list.
FALLBACK_STEPS: tuple[Step | StepSearch, ...] = (
    _str_cap(100),
    StepSearch(),
    _str_cap(50),
    _list_cap(2),
    _str_cap(25),
    _list_cap(1),
    _str_cap(12),
    _list_cap(0),
)

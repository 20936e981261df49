"""Value clipping and the shortening steps build_digest applies while a digest is over budget."""

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from itertools import islice
from typing import Any

STRING_CHARS = 1_000
IO_CHARS = 4_000  # what the user got matters most: a whole short report or post fits
LIST_ITEMS = 20
MAX_DEPTH = 6
KEY_CHARS = 100
EMPTY_DEPTH = 8  # deeper values count as not empty
ROOM_FACTOR = 5  # a whole value holds at most this many times the per-string limit


@dataclass(frozen=True)
class Limits:
    """How far clip() shortens a value: string length, items per list or dict, nesting depth."""

    chars: int
    items: int = LIST_ITEMS
    depth: int = MAX_DEPTH


@dataclass
class Tally:
    """Counts the values clip() shortened."""

    count: int = 0


def clip(value: Any, limits: Limits, tally: Tally | None = None) -> Any:
    """Return a JSON-ready copy of value with long strings, lists, dicts and nesting cut, marked."""
    return _Clipper(limits, tally).clip(value, 0)


def clip_text(text: str, chars: int, tally: Tally | None = None) -> str:
    """Return text cut to chars characters, with a marker telling how many were dropped."""
    if len(text) <= chars:
        return text
    if tally is not None:
        tally.count += 1
    return f"{text[:chars]}…[+{len(text) - chars} chars]"


class _Clipper:
    """Clips one value; ``room`` bounds its total text so wide, deep values stay small too."""

    def __init__(self, limits: Limits, tally: Tally | None) -> None:
        self.limits = limits
        self.tally = tally
        self.room = limits.chars * ROOM_FACTOR

    def clip(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, int):
            return value
        if isinstance(value, float):
            # NaN and infinities would make the digest invalid JSON.
            return value if math.isfinite(value) else str(value)
        if isinstance(value, dict):
            return self._mapping(value, depth)
        if isinstance(value, list | tuple):
            return self._sequence(value, depth)
        return self._text(value if isinstance(value, str) else str(value), self.limits.chars)

    def _text(self, text: str, chars: int) -> str:
        chars = max(0, min(chars, self.room))
        self.room -= min(len(text), chars)
        return clip_text(text, chars, self.tally)

    def _mapping(self, value: dict, depth: int) -> Any:
        if value and depth >= self.limits.depth:
            self._count()
            return f"{{…{len(value)} keys}}"
        out = {}
        for key, item in islice(value.items(), self.limits.items):
            if self.room <= 0:
                break
            clipped_key = self._text(str(key), min(KEY_CHARS, self.limits.chars))
            out[clipped_key] = self.clip(item, depth + 1)
        if len(out) < len(value):
            self._count()
            out["…"] = f"[+{len(value) - len(out)} keys]"
        return out

    def _sequence(self, value: Sequence, depth: int) -> Any:
        if value and depth >= self.limits.depth:
            self._count()
            return f"[…{len(value)} items]"
        out = []
        for item in value[: self.limits.items]:
            if self.room <= 0:
                break
            out.append(self.clip(item, depth + 1))
        if len(out) < len(value):
            self._count()
            out.append(f"…[+{len(value) - len(out)} items]")
        return out

    def _count(self) -> None:
        if self.tally is not None:
            self.tally.count += 1


def is_empty(value: Any, depth: int = 0) -> bool:
    """Return whether value holds nothing but None, blank strings and empty containers."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if depth >= EMPTY_DEPTH:
        return False
    if isinstance(value, dict):
        return all(is_empty(item, depth + 1) for item in value.values())
    if isinstance(value, list | tuple):
        return all(is_empty(item, depth + 1) for item in value)
    return False


def head_tail(
    items: Sequence[Any], head: int, tail: int, noun: str, convert: Callable[[Any], Any]
) -> list[Any]:
    """Return the first head and last tail items, converted, around a marker for the rest."""
    if len(items) <= head + tail:
        return [convert(item) for item in items]
    hidden = len(items) - head - tail
    kept_tail = items[len(items) - tail :] if tail else []
    return [
        *(convert(item) for item in items[:head]),
        f"…[+{hidden} {noun}]",
        *(convert(item) for item in kept_tail),
    ]


@dataclass(frozen=True)
class Knobs:
    """Shortening levels; build_digest starts generous and tightens them step by step."""

    latest_n: int = 3
    latest_chars: int = STRING_CHARS
    error_keep: int = 5
    error_chars: int = 500
    links: bool = True
    node_descriptions: bool = True
    clean_nodes: bool = True
    description_chars: int = STRING_CHARS
    io_chars: int = IO_CHARS
    io_keep: int = 10
    node_cap: int | None = None
    str_cap: int | None = None
    list_cap: int | None = None

    def limits(self, chars: int) -> Limits:
        """Return value limits for chars characters, within the hard caps."""
        items = LIST_ITEMS if self.list_cap is None else min(LIST_ITEMS, self.list_cap)
        return Limits(self.chars(chars), items)

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
    """Counts about the execution that the shortening steps report in their messages."""

    intermediate: int  # intermediate nodes that ran (each has latest examples)
    repeated: int  # intermediate nodes that ran more than once
    max_errors: int  # most errors of one node
    links: int
    described: int  # nodes that ran and have a description
    clean: int  # error-free intermediate nodes
    essential: int  # nodes kept once error-free intermediate ones are dropped
    io_entries: int  # the longer of the inputs and outputs lists
    description: int  # length of the graph description


Proposal = tuple[Knobs, str] | None


@dataclass(frozen=True)
class _Step:
    """A shortening step: knob changes, reported by message (formatted with the facts).

    It applies only when the facts field named by ``when`` (if any) is above ``above``.
    """

    changes: dict[str, Any]
    message: str
    when: str = ""
    above: int = 0

    def __call__(self, knobs: Knobs, facts: Facts) -> Proposal:
        if self.when and getattr(facts, self.when) <= self.above:
            return None
        return replace(knobs, **self.changes), self.message.format_map(asdict(facts))


@dataclass(frozen=True)
class _NodeSearch:
    """Keeps as many nodes as fit, found by bisection, instead of a fixed number."""

    def __call__(self, knobs: Knobs, facts: Facts, nodes: int) -> Proposal:
        return replace(knobs, node_cap=nodes), f"kept {nodes:,} of {facts.essential:,} nodes"


def _latest(chars: int) -> _Step:
    message = f"shortened intermediate nodes' latest inputs/outputs to {chars} chars per value"
    return _Step({"latest_chars": chars}, message, "intermediate")


def _description(chars: int) -> _Step:
    message = f"shortened graph description to {chars} chars"
    return _Step({"description_chars": chars}, message, "description", chars)


def _io(chars: int) -> _Step:
    message = f"shortened graph inputs/outputs to {chars} chars per value"
    return _Step({"io_chars": chars}, message, "io_entries")


def _str_cap(chars: int) -> _Step:
    return _Step({"str_cap": chars}, f"hard-truncated all texts to {chars} chars")


def _list_cap(items: int) -> _Step:
    return _Step({"list_cap": items}, f"kept at most {items} items per list")


# Least important first: graph inputs/outputs and errors are what the judge needs most. A tuple
# is a group whose last step subsumes the others: when even that one is over budget, the fitter
# goes straight to it rather than render every level of a big execution.
STEPS: tuple[_Step | tuple[_Step, ...], ...] = (
    (
        _Step(
            {"latest_n": 1}, "kept 1 of 3 latest inputs/outputs per intermediate node", "repeated"
        ),
        _latest(300),
        _latest(100),
        _Step(
            {"latest_n": 0},
            "dropped latest inputs/outputs of {intermediate:,} intermediate nodes",
            "intermediate",
        ),
    ),
    _Step(
        {"error_keep": 2, "error_chars": 200},
        "kept at most the first 2 and last 2 errors per node, each cut to 200 chars",
        "max_errors",
    ),
    _Step({"links": False}, "dropped {links:,} links", "links"),
    _Step({"node_descriptions": False}, "dropped descriptions of {described:,} nodes", "described"),
    _Step({"clean_nodes": False}, "dropped {clean:,} error-free intermediate nodes", "clean"),
    _description(300),
    _io(1_000),
    _io(300),
    _io(100),
    _Step({"io_keep": 2}, "kept first 2 and last 2 graph inputs and outputs", "io_entries", 4),
    _description(100),
)

# Used only when even the minimal digest is over budget: hard caps on every text and list.
FALLBACK_STEPS: tuple[_Step | _NodeSearch, ...] = (
    _str_cap(200),
    _Step(
        {"error_keep": 1, "error_chars": 100},
        "kept only the first and last error per node, each cut to 100 chars",
        "max_errors",
    ),
    _str_cap(100),
    _NodeSearch(),
    _str_cap(50),
    _list_cap(2),
    _str_cap(25),
    _list_cap(1),
    _str_cap(12),
    _list_cap(0),
)


def estimate_tokens(text: str) -> int:
    """Estimate tokens: one per 4 ASCII characters (rounded up) plus one per other character."""
    # Non-ASCII text (CJK, emoji, accents) costs about a token per character or more, so the
    # usual len/4 would under-count it and let digests overflow the real budget.
    if text.isascii():
        return math.ceil(len(text) / 4)
    ascii_chars = len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / 4) + len(text) - ascii_chars


def dumps(value: Any) -> str:
    """Return value as compact JSON, non-ASCII kept as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


Render = Callable[[Knobs], tuple[dict[str, str], int]]


class Fitter:
    """Tightens the knobs step by step until the rendered digest fits the budget."""

    def __init__(self, render: Render, facts: Facts, budget: int) -> None:
        self.render = render
        self.facts = facts
        self.budget = budget
        self.knobs = Knobs()
        self.steps: list[str] = []
        self._cache: dict[Knobs, tuple[dict[str, str], int]] = {}

    def fit(self) -> tuple[str, list[str]] | None:
        """Return the fitting text and its cuts, or None when even the last step is over."""
        for item in (*STEPS, *FALLBACK_STEPS):
            if isinstance(item, tuple) and self._jump(item):
                continue
            for step in item if isinstance(item, tuple) else (item,):
                if self._fits(self.knobs, self.steps):
                    return self._text(self.knobs, self.steps), self.cuts(self.knobs, self.steps)
                self._apply(step)
        if self._fits(self.knobs, self.steps):
            return self._text(self.knobs, self.steps), self.cuts(self.knobs, self.steps)
        return None

    def cuts(self, knobs: Knobs, steps: list[str]) -> list[str]:
        """Return all cuts of the digest at knobs: value truncation, then the steps taken."""
        truncated = self._sections(knobs)[1]
        return (
            [f"truncated {truncated:,} long values (marked …[+N])", *steps] if truncated else steps
        )

    def _sections(self, knobs: Knobs) -> tuple[dict[str, str], int]:
        if knobs not in self._cache:
            self._cache[knobs] = self.render(knobs)
        return self._cache[knobs]

    def _text(self, knobs: Knobs, steps: list[str]) -> str:
        return assemble(self._sections(knobs)[0], self.cuts(knobs, steps), knobs)

    def _fits(self, knobs: Knobs, steps: list[str]) -> bool:
        return estimate_tokens(self._text(knobs, steps)) <= self.budget

    def _adopt(self, proposal: Proposal) -> None:
        if proposal is None:
            return
        knobs, message = proposal
        if self._sections(knobs)[0] != self._sections(self.knobs)[0]:
            self.steps.append(message)
        self.knobs = knobs

    def _apply(self, step: _Step | _NodeSearch) -> None:
        if isinstance(step, _NodeSearch):
            self._adopt(self._search(step))
        else:
            self._adopt(step(self.knobs, self.facts))

    def _jump(self, group: tuple[_Step, ...]) -> bool:
        last: Proposal = None
        for step in group:
            last = step(last[0] if last else self.knobs, self.facts) or last
        if last is None or self._fits(last[0], [*self.steps, last[1]]):
            return False
        # Applicable group ends always change the digest: no need to render the (big) current one.
        self.knobs, message = last
        self.steps.append(message)
        return True

    def _search(self, search: _NodeSearch) -> Proposal:
        # Bisect for the most nodes that fit; size grows with the number of nodes kept.
        low, high = 0, self.facts.essential
        while low < high:
            middle = (low + high + 1) // 2
            knobs, message = search(self.knobs, self.facts, middle)
            if self._fits(knobs, [*self.steps, message]):
                low = middle
            else:
                high = middle - 1
        return search(self.knobs, self.facts, low) if low < self.facts.essential else None


def assemble(sections: dict[str, str], cuts: list[str], knobs: Knobs) -> str:
    """Return the digest JSON object from pre-serialised sections plus the cuts so far."""
    # Joining fragments equals json.dumps of the whole object, at a fraction of the cost of
    # re-serialising everything after each step.
    parts = [f'"{key}":{fragment}' for key, fragment in sections.items()]
    if cuts:
        shown = cuts
        if knobs.list_cap is not None and len(cuts) > knobs.list_cap:
            hidden = len(cuts) - knobs.list_cap
            shown = [f"…[+{hidden} earlier cuts]", *cuts[hidden:]]
        parts.append(f'"cuts":{dumps(shown)}')
    return "{" + ",".join(parts) + "}"

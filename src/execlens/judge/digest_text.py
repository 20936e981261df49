"""Value clipping (cut in the middle), size estimates and JSON text for the digest."""

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

UNLIMITED = 10**12
LIST_ITEMS = 20
MAX_DEPTH = 6
KEY_CHARS = 100
EMPTY_DEPTH = 8  # deeper values count as not empty
ROOM_FACTOR = 5  # a whole value holds at most this many times the per-string limit


@dataclass(frozen=True)
class Limits:
    """How far clip() shortens a value: string length, items per list or dict, nesting depth."""

    chars: int = UNLIMITED
    items: int = UNLIMITED
    depth: int = UNLIMITED

    @classmethod
    def cut(cls, chars: int | None) -> "Limits":
        """Return no limits for None, else chars per string within the usual item and depth caps."""
        return cls() if chars is None else cls(chars, LIST_ITEMS, MAX_DEPTH)


@dataclass
class Tally:
    """Counts the values clip() shortened and the characters of the markers it put in."""

    count: int = 0
    marks: int = 0

    def mark(self, marker: str, framing: int = 0) -> str:
        """Count one cut and its marker's characters, and return the marker."""
        self.count += 1
        self.marks += len(marker) + framing
        return marker


def clip(value: Any, limits: Limits, tally: Tally | None = None) -> Any:
    """Return a JSON-ready copy of value with long strings, lists, dicts and nesting cut, marked."""
    return _Clipper(limits, tally).clip(value, 0)


def clip_text(text: str, chars: int, tally: Tally | None = None) -> str:
    """Return text cut in the middle to chars characters, marked with how many were dropped."""
    if len(text) <= chars:
        return text
    marker = f"…[+{len(text) - chars} chars]…"
    if tally is not None:
        tally.mark(marker)
    head = (chars + 1) // 2
    tail = chars - head
    end = text[len(text) - tail :] if tail else ""
    return f"{text[:head]}{marker}{end}"


def json_size(value: Any) -> int:
    """Return the characters of a value as compact JSON: its size as run text."""
    return len(value) if isinstance(value, str) else len(dumps(value))


def clip_kept(value: Any, size: int, limits: Limits, tally: Tally) -> tuple[Any, int]:
    """Return value clipped, and how many of its size characters the clipped copy kept."""
    count, marks = tally.count, tally.marks
    clipped = clip(value, limits, tally)
    if tally.count == count:
        return clipped, size
    return clipped, max(0, json_size(clipped) - (tally.marks - marks))


class _Clipper:
    """Clips one value; ``room`` bounds its total text so wide, deep values stay small too."""

    def __init__(self, limits: Limits, tally: Tally | None) -> None:
        self.limits = limits
        self.tally = tally if tally is not None else Tally()
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
        text = value if isinstance(value, str) else str(value)
        return self._text(text, self.limits.chars)

    def _text(self, text: str, chars: int) -> str:
        chars = max(0, min(chars, self.room))
        self.room -= min(len(text), chars)
        return clip_text(text, chars, self.tally)

    def _mapping(self, value: dict[Any, Any], depth: int) -> Any:
        if value and depth >= self.limits.depth:
            return self.tally.mark(f"{{…{len(value)} keys}}", 2)
        out = {}
        for key, item in islice(value.items(), self.limits.items):
            if self.room <= 0:
                break
            clipped_key = self._text(str(key), min(KEY_CHARS, self.limits.chars))
            out[clipped_key] = self.clip(item, depth + 1)
        if len(out) < len(value):
            out["…"] = self.tally.mark(f"[+{len(value) - len(out)} keys]", 7)
        return out

    def _sequence(self, value: Sequence[Any], depth: int) -> Any:
        if value and depth >= self.limits.depth:
            return self.tally.mark(f"[…{len(value)} items]", 2)
        if len(value) <= self.limits.items:
            head, tail = list(value), []
        else:  # long lists are cut in the middle, like long strings
            half = (self.limits.items + 1) // 2
            head, tail = list(value[:half]), list(value[len(value) - self.limits.items + half :])
        out = self._items(head, depth)
        kept_tail = self._items(tail, depth)
        if len(out) + len(kept_tail) < len(value):
            out.append(self.tally.mark(f"…[+{len(value) - len(out) - len(kept_tail)} items]", 3))
        return [*out, *kept_tail]

    def _items(self, items: list[Any], depth: int) -> list[Any]:
        out = []
        for item in items:
            if self.room <= 0:
                break
            out.append(self.clip(item, depth + 1))
        return out


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


def estimate_tokens(text: str) -> int:
    """Estimate tokens: one per 4 ASCII characters (rounded up) plus one per other character."""
    # Non-ASCII text (CJK, emoji, accents) costs about a token per character or more, so the
    # usual len/4 would under-count it and let digests overflow the real budget.
    if text.isascii():
        return math.ceil(len(text) / 4)
    ascii_chars = len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / 4) + len(text) - ascii_chars


# One encoder for every call: json.dumps with options builds a new one each time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def dumps(value: Any) -> str:
    """Return value as compact JSON, non-ASCII kept as is."""
    return _ENCODER.encode(value)

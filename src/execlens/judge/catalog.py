"""Catalog of judge models: ids, providers, context windows, prices and display labels.

The built-in entries come from `catalog_data.MODELS`. Prices are taken from genai-prices' bundled
snapshot when it is installed and knows the model (no network access: the snapshot only changes if
the application itself starts `genai_prices.UpdatePrices`), otherwise from the table. Each entry
records where its prices came from in `price_source`.

Models added at runtime (e.g. those served by an OpenAI-compatible server) are not registered
globally: build them with `runtime_entries()` and pass them as `extra=` to `catalog()`,
`find_model()` and `available_models()`. There is no module-level mutable state; the built-in
entries are computed once and cached as an immutable tuple.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from execlens.judge import catalog_data

PROVIDER_NAMES: dict[str, str] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "open_router": "OpenRouter",
    "groq": "Groq",
    "ollama": "Ollama",
    "openai_compatible": "OpenAI Compatible",
    "local_server": "Local Server",
    "local": "Local",
}

UNKNOWN_PRICE_SOURCE = "unknown"

# execlens provider -> genai-prices provider; ollama, local and openai_compatible have no list price
_GENAI_PROVIDER_IDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "open_router": "openrouter",
    "groq": "groq",
}
_UPPER_WORDS = frozenset({"gpt", "llm", "api", "v0"})
_SEPARATORS = re.compile(r"[-_:]")
_PINNED_DATE_SUFFIX = re.compile(r"-\d{8}$")


@dataclass(frozen=True)
class ModelEntry:
    """One model a judge can use; prices are USD per million tokens, None when unknown."""

    id: str
    provider: str
    context_window: int
    input_price_per_mtok: float | None
    output_price_per_mtok: float | None
    price_source: str = UNKNOWN_PRICE_SOURCE


def provider_display_name(provider: str) -> str:
    """Return a provider's display name; unknown ids are title-cased (`my_vllm` -> `My Vllm`)."""
    return PROVIDER_NAMES.get(provider) or provider.replace("_", " ").title()


def _is_date_part(part: str) -> bool:
    return part.isdigit() and (len(part) >= 8 or (len(part) == 4 and int(part) >= 2020))


def _drop_dates(parts: list[str]) -> list[str]:
    kept: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        i += 1
        if not _is_date_part(part):
            kept.append(part)
            continue
        if len(part) == 4:
            # A year swallows the month and day that follow it (`2024-08-06`).
            for _ in range(2):
                if i < len(parts) and parts[i].isdigit() and len(parts[i]) <= 2:
                    i += 1
    return kept


def _join_versions(parts: list[str]) -> list[str]:
    joined: list[str] = []
    previous_single_digit = False
    for part in parts:
        single_digit = len(part) == 1 and part.isdigit()
        if single_digit and previous_single_digit:
            joined[-1] = f"{joined[-1]}.{part}"
        else:
            joined.append(part)
        previous_single_digit = single_digit
    return joined


def _format_word(word: str) -> str:
    if word.lower() in _UPPER_WORDS:
        return word.upper()
    return word[:1].upper() + word[1:]


def model_name_label(model_id: str) -> str:
    """Return a model id's label without the provider prefix (`gpt-4.1-mini` -> `GPT 4.1 Mini`)."""
    name = model_id.rsplit("/", 1)[-1]
    # `:` separates an Ollama tag, so `llama3.1:8b` reads "Llama3.1 8b".
    parts = [part for part in _SEPARATORS.split(name) if part]
    words = _join_versions(_drop_dates(parts))
    return " ".join(_format_word(word) for word in words) or model_id


def model_label(model_id: str, provider: str) -> str:
    """Return the display label `"<Provider>: <Model>"`, e.g. `Anthropic: Claude Sonnet 4.5`."""
    return f"{provider_display_name(provider)}: {model_name_label(model_id)}"


def _per_mtok(price: Any) -> float | None:
    if price is None:
        return None
    # Tiered prices (long-context surcharges) are reduced to their base tier: judge prompts are
    # far below the thresholds.
    base = getattr(price, "base", price)
    return float(base)


def _genai_prices(model_id: str, provider: str) -> tuple[float, float, str] | None:
    """Return (input, output, source) from genai-prices' bundled snapshot, or None if unknown."""
    genai_provider = _GENAI_PROVIDER_IDS.get(provider)
    if genai_provider is None:
        return None
    try:
        # Imported here: its bundled snapshot takes about 180 ms to load, which only the
        # first price look-up should pay, not every command's start-up.
        from genai_prices import __version__, data_snapshot
    except ImportError:
        return None
    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(
            model_id, None, genai_provider, None
        )
    except LookupError:
        return None
    prices = info.get_prices(datetime.now(tz=UTC))
    input_price = _per_mtok(prices.input_mtok)
    output_price = _per_mtok(prices.output_mtok)
    if input_price is None or output_price is None:
        return None
    return input_price, output_price, f"genai-prices {__version__}"


def _entry_from_row(row: catalog_data.Row) -> ModelEntry:
    model_id, provider, context_window, input_price, output_price = row
    if provider in _GENAI_PROVIDER_IDS and (found := _genai_prices(model_id, provider)):
        input_price, output_price, source = found
    elif provider in _GENAI_PROVIDER_IDS:
        known = input_price is not None and output_price is not None
        source = catalog_data.TABLE_PRICE_SOURCE if known else UNKNOWN_PRICE_SOURCE
    else:
        source = catalog_data.SELF_HOSTED_PRICE_SOURCE
    return ModelEntry(model_id, provider, context_window, input_price, output_price, source)


@cache
def _builtin_entries() -> tuple[ModelEntry, ...]:
    return tuple(_entry_from_row(row) for row in catalog_data.MODELS)


def runtime_entries(
    provider: str,
    model_ids: Iterable[str],
    context_window: int = 8192,
    input_price_per_mtok: float | None = None,
    output_price_per_mtok: float | None = None,
) -> list[ModelEntry]:
    """Build entries for models configured at runtime (e.g. an OpenAI-compatible server)."""
    if context_window <= 0:
        raise ValueError("context_window must be positive")
    known = input_price_per_mtok is not None and output_price_per_mtok is not None
    source = "configured" if known else UNKNOWN_PRICE_SOURCE
    return [
        ModelEntry(
            model_id,
            provider,
            context_window,
            input_price_per_mtok,
            output_price_per_mtok,
            source,
        )
        for model_id in dict.fromkeys(m.strip() for m in model_ids)
        if model_id
    ]


def catalog(extra: Iterable[ModelEntry] = ()) -> list[ModelEntry]:
    """Return the built-in entries plus `extra`, which overrides same (provider, id) entries."""
    merged = {(entry.provider, entry.id): entry for entry in _builtin_entries()}
    merged.update({(entry.provider, entry.id): entry for entry in extra})
    return list(merged.values())


def find_model(
    model_id: str, provider: str | None = None, extra: Iterable[ModelEntry] = ()
) -> ModelEntry | None:
    """Return the entry for a model id (optionally of one provider), resolving undated aliases."""
    candidates = [e for e in catalog(extra) if provider is None or e.provider == provider]
    for entry in candidates:
        if entry.id == model_id:
            return entry
    # Anthropic aliases such as `claude-haiku-4-5` point at the pinned snapshot we list.
    aliased = [e for e in candidates if _PINNED_DATE_SUFFIX.sub("", e.id) == model_id]
    return aliased[0] if len(aliased) == 1 else None


def estimate_cost_usd(entry: ModelEntry, input_tokens: int, output_tokens: int) -> float | None:
    """Return the USD cost of a call, or None when either price is unknown."""
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError("token counts must not be negative")
    if entry.input_price_per_mtok is None or entry.output_price_per_mtok is None:
        return None
    total = input_tokens * entry.input_price_per_mtok + output_tokens * entry.output_price_per_mtok
    return total / 1_000_000


def available_models(
    configured_providers: set[str], recommended: str, extra: Iterable[ModelEntry] = ()
) -> list[dict[str, str]]:
    """Return sorted [{value, label, provider}] for configured providers, one Recommended."""
    entries = [e for e in catalog(extra) if e.provider in configured_providers]
    entries.sort(
        key=lambda e: (provider_display_name(e.provider), model_label(e.id, e.provider), e.id)
    )
    options: list[dict[str, str]] = []
    marked = False
    for entry in entries:
        label = model_label(entry.id, entry.provider)
        # Only the first match is marked when several providers serve the same id.
        if entry.id == recommended and not marked:
            label += " (Recommended)"
            marked = True
        options.append({"value": entry.id, "label": label, "provider": entry.provider})
    return options

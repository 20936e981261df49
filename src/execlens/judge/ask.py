"""Ask a model for one structured verdict, re-asking with the problem when it is invalid.

This uses pydantic-ai's direct model requests rather than an agent run: a backfill makes
thousands of calls, and the agent's machinery cost more CPU per call (about 4 ms here)
than the request itself, which capped a single process below the provider's pace.
"""

import time
from dataclasses import dataclass
from typing import Literal

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
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.output import OutputObjectDefinition
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition

from execlens.judge.providers import OutputMode
from execlens.judge.schemas import JudgeAnswer

# Re-ask up to 2 times with the validation problem when the answer is invalid.
REASKS = 2
# Answers that mean the credentials or the model are wrong, not this execution.
FATAL_HTTP_STATUSES = (401, 403, 404)
# Answers that mean the provider is busy or down, not that this execution is at fault.
UNAVAILABLE_HTTP_STATUSES = (408, 409, 429, 500, 502, 503, 504, 529)
OUTPUT_TOOL = "final_result"
_SCHEMA = JudgeAnswer.model_json_schema()


class JudgeFailed(Exception):
    """The model gave no usable verdict; the message is safe to show and store.

    ``fatal`` marks failures that every other execution would hit too (bad credentials,
    unknown model), so a job stops instead of failing each item. ``unavailable`` marks a
    provider that is down or overloaded even after the SDK's retries: worth trying again
    later.
    """

    def __init__(self, message: str, *, fatal: bool = False, unavailable: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.unavailable = unavailable


@dataclass(frozen=True)
class Answer:
    answer: JudgeAnswer
    input_tokens: int
    output_tokens: int
    latency_ms: int


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
    text = response.text or ""
    if mode == "prompted" and "{" in text:
        # Prompted answers may wrap the JSON in prose or a code fence.
        text = text[text.index("{") : text.rindex("}") + 1]
    return text, None


def _problems(exc: ValidationError) -> list[str]:
    """Return each problem as "field: message", without echoing the model's text."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        problems.append(f"{where}: {error['msg']}" if where else error["msg"])
    return problems


def _unreachable(exc: Exception) -> str:
    """Say what went wrong with a request that got no HTTP answer."""
    names = f"{type(exc).__name__} {type(exc.__cause__).__name__}"
    if "Timeout" in names:
        return "timed out (EXECLENS_JUDGE_TIMEOUT_SECONDS)"
    if "Connect" in names:
        return "could not be reached"
    return f"request failed: {type(exc).__name__}"


def _feedback(problems: list[str], call_id: str | None) -> ToolReturnPart | RetryFeedbackPart:
    """Tell the model what was wrong: as the output tool's result, or as retry feedback."""
    cause: RetryInfo[Literal["validation_error"]] = RetryInfo(cause="validation_error")
    if call_id is not None:
        return ToolReturnPart(
            tool_name=OUTPUT_TOOL,
            content="; ".join(problems),
            tool_call_id=call_id,
            outcome="retried",
            retry=cause,
        )
    return RetryFeedbackPart(content="; ".join(problems), retry=cause)


async def ask(
    model: Model, *, mode: OutputMode, provider: str, system: str, user: str, max_tokens: int
) -> Answer:
    """Return the model's valid answer, or raise JudgeFailed."""
    # The system prompt goes first and never varies, so servers that cache prompt
    # prefixes (llama.cpp, OpenAI, vLLM) reuse it across executions.
    messages: list[ModelMessage] = [
        ModelRequest(parts=[SystemPromptPart(system), UserPromptPart(user)])
    ]
    parameters = request_parameters(mode)
    settings = ModelSettings(max_tokens=max_tokens, temperature=0.0)
    tokens_in = tokens_out = 0
    started = time.perf_counter()
    problems: list[str] = []
    for _ in range(1 + REASKS):
        try:
            response = await model_request(
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
            ) from exc
        except ModelAPIError as exc:
            # Connection refused, reset or timed out.
            raise JudgeFailed(f"{provider} {_unreachable(exc)}", unavailable=True) from exc
        except UnexpectedModelBehavior as exc:
            # A body that is not a chat completion at all (an HTML error page from a proxy,
            # a truncated stream): the provider's fault, not this run's.
            raise JudgeFailed(
                f"{provider} sent a response that is not a chat completion", unavailable=True
            ) from exc
        tokens_in += response.usage.input_tokens
        tokens_out += response.usage.output_tokens
        text, call_id = _answer_text(response, mode)
        try:
            answer = JudgeAnswer.model_validate_json(text)
        except ValidationError as exc:
            problems = _problems(exc)
            messages += [response, ModelRequest(parts=[_feedback(problems, call_id)])]
            continue
        latency_ms = int((time.perf_counter() - started) * 1000)
        return Answer(answer, tokens_in, tokens_out, latency_ms)
    raise JudgeFailed(f"no valid verdict after {1 + REASKS} attempts: {problems[0]}")

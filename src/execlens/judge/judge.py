"""Judge one execution: rules first, else one structured LLM call on its digest."""

import asyncio
import functools
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx2

from execlens.config import Settings
from execlens.errors import UserError
from execlens.executions.domain import GraphRecord, RunRecord
from execlens.judge.catalog import ModelEntry, estimate_cost_usd
from execlens.judge.digest import (
    MIN_DIGEST_BUDGET_TOKENS,
    ExecutionDigest,
    build_digest,
    estimate_tokens,
)
from execlens.judge.limits import ProviderLimits, provider_key
from execlens.judge.local import LocalModelServer, local_model_name
from execlens.judge.prompts import (
    DEFAULT_SYSTEM_PROMPT,
    DEFAULT_USER_PROMPT,
    JUDGE_VERSION,
    check_prompts,
    prompt_hash,
    render_user_prompt,
)
from execlens.judge.providers import OutputMode, output_mode, resolve_model
from execlens.judge.rules import apply_rules
from execlens.judge.schemas import JudgeAnswer, Verdict

if TYPE_CHECKING:
    from execlens.judge.llm import JudgeModel

# How long a judge reuses a model's resolution (the catalog entry, the digest budget,
# the provider's budget key): a backfill asks for the same one thousands of times, and a
# changed setup (a model pulled into Ollama, a server gone) shows within this time.
PLAN_SECONDS = 60.0


@dataclass(frozen=True)
class JudgeRequest:
    model: str | None = None
    system_prompt: str | None = None
    user_prompt: str | None = None
    use_rules: bool = True


@dataclass(frozen=True)
class PreparedCall:
    """Everything sent to the model for one execution."""

    entry: ModelEntry
    digest: ExecutionDigest
    system_prompt: str
    user_prompt: str
    prompt_hash: str
    model_name: str  # the model that answers: another GGUF may stand behind the local entry
    output_mode: OutputMode
    provider_key: str | None  # the provider's rate-limit budget; None for the local model


@dataclass(frozen=True)
class _Plan:
    """What a model and a pair of prompts resolve to, the same for every execution."""

    entry: ModelEntry
    budget: int
    model_name: str
    output_mode: OutputMode
    provider_key: str | None
    made: float


def _prompts(request: JudgeRequest) -> tuple[str, str, str]:
    """Return the system prompt, the user template and their hash, checked."""
    return _checked_prompts(request.system_prompt, request.user_prompt)


@functools.lru_cache(maxsize=64)
def _checked_prompts(system: str | None, template: str | None) -> tuple[str, str, str]:
    system = system or DEFAULT_SYSTEM_PROMPT
    template = template or DEFAULT_USER_PROMPT
    check_prompts(system, template)
    return system, template, prompt_hash(system, template)


class Judge:
    """Judges executions with the configured providers; owns the local model server."""

    def __init__(
        self,
        settings: Settings,
        *,
        http_client: httpx2.AsyncClient | None = None,
        local: LocalModelServer | None = None,
    ) -> None:
        self.settings = settings
        self._http_client = http_client
        self.local = local or LocalModelServer(
            gguf=settings.local_model_path, parallel=settings.local_model_parallel
        )
        # One client per model, so a backfill reuses its HTTP connections. Each is built
        # once, by one task every call in flight awaits, and a job can start it early.
        self._models: dict[tuple[str, str], asyncio.Task[JudgeModel]] = {}
        # The rate limits each provider key announced to this process, for the pacing.
        self.limits = ProviderLimits()
        self._plans: dict[tuple[str | None, str, str], _Plan] = {}

    def prepare(
        self, execution: RunRecord, graph: GraphRecord | None, request: JudgeRequest
    ) -> PreparedCall:
        """Choose the model, build the digest within its context, and render the prompts."""
        return self._prepare(execution, graph, request.model, *_prompts(request))

    def _prepare(
        self,
        execution: RunRecord,
        graph: GraphRecord | None,
        model: str | None,
        system: str,
        template: str,
        hashed: str,
    ) -> PreparedCall:
        plan = self._plan(model, system, template)
        digest = build_digest(execution, graph, budget_tokens=plan.budget)
        name = graph.name if graph is not None else execution.graph_id
        user = render_user_prompt(template, graph_name=name, execution_data=digest.text)
        return PreparedCall(
            plan.entry,
            digest,
            system,
            user,
            hashed,
            plan.model_name,
            plan.output_mode,
            plan.provider_key,
        )

    def _plan(self, model: str | None, system: str, template: str) -> _Plan:
        """Return the model's resolution for these prompts; raise UserError if it has none."""
        key = (model, system, template)
        now = time.monotonic()
        plan = self._plans.get(key)
        if plan is not None and now - plan.made < PLAN_SECONDS:
            return plan
        entry = resolve_model(self.settings, model)
        reserved = (
            estimate_tokens(system)
            + estimate_tokens(template)
            + self.settings.judge_max_output_tokens
        )
        wanted = (
            self.settings.local_digest_budget_tokens
            if entry.provider == "local"
            else self.settings.digest_budget_tokens
        )
        budget = min(wanted, entry.context_window - reserved)
        if budget < MIN_DIGEST_BUDGET_TOKENS:
            raise UserError(
                f"model {entry.id!r} has a {entry.context_window:,}-token context, too small "
                "for these prompts; shorten them or pick a larger model"
            )
        model_name = (
            local_model_name(self.settings.local_model_path)
            if entry.provider == "local"
            else entry.id
        )
        if len(self._plans) >= 64:
            self._plans.clear()
        plan = self._plans[key] = _Plan(
            entry,
            budget,
            model_name,
            output_mode(self.settings, entry),
            provider_key(self.settings, entry.provider),
            now,
        )
        return plan

    async def judge(
        self, execution: RunRecord, graph: GraphRecord | None, request: JudgeRequest
    ) -> Verdict:
        """Return a verdict for one execution; raise JudgeFailed when the model gives none."""
        system, template, hashed = _prompts(request)
        if request.use_rules and (ruled := apply_rules(execution)) is not None:
            return self._verdict(
                execution,
                judge="rules",
                summary=ruled.activity_status,
                score=ruled.correctness_score,
                prompt=hashed,
            )
        call = self._prepare(execution, graph, request.model, system, template, hashed)
        answer, usage, latency_ms = await self._ask(call)
        score = min(1.0, max(0.0, answer.score))
        return self._verdict(
            execution,
            judge="llm",
            summary=answer.summary,
            score=score,
            clamped_from=None if score == answer.score else answer.score,
            prompt=call.prompt_hash,
            call=call,
            usage=usage,
            latency_ms=latency_ms,
        )

    def warm(self, model: str | None) -> None:
        """Start building ``model``'s client now, so a job's first call need not wait for it."""
        try:
            entry = resolve_model(self.settings, model)
        except UserError:
            return  # the job's first call reports it
        self._model(entry)

    async def ready(self, model: str | None) -> None:
        """Build ``model``'s client and wait for it; a failure is left for its first call."""
        try:
            entry = resolve_model(self.settings, model)
        except UserError:
            return  # the job's creation or first call reports it
        with suppress(Exception):
            await asyncio.shield(self._model(entry))

    def _model(self, entry: ModelEntry) -> "asyncio.Task[JudgeModel]":
        """Return the task that builds ``entry``'s model; start one unless it built or builds."""
        key = (entry.provider, entry.id)
        task = self._models.get(key)
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            task = self._models[key] = asyncio.create_task(self._build(entry))
            # A warm-up nobody awaits must not log "exception never retrieved".
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
        return task

    async def _build(self, entry: ModelEntry) -> "JudgeModel":
        # The SDKs take about a second to import: they load on the first model call, so
        # the CLI, the server and rule-only verdicts start without them.
        from execlens.judge import llm

        return await llm.build_model(
            entry, self.settings, self.local, self._http_client, self.limits
        )

    async def _ask(self, call: PreparedCall) -> tuple[JudgeAnswer, tuple[int, int], int]:
        from execlens.judge import llm

        # Shielded: a call cancelled while it waits must not cancel the others' build.
        model = await asyncio.shield(self._model(call.entry))
        result = await llm.ask(
            model,
            mode=call.output_mode,
            provider=call.entry.provider,
            system=call.system_prompt,
            user=call.user_prompt,
            max_tokens=self.settings.judge_max_output_tokens,
        )
        tokens = (result.input_tokens, result.output_tokens)
        if call.provider_key is not None:
            self.limits.used(call.provider_key, sum(tokens))
        return result.answer, tokens, result.latency_ms

    def _verdict(
        self,
        execution: RunRecord,
        *,
        judge: str,
        summary: str,
        score: float,
        prompt: str,
        clamped_from: float | None = None,
        call: PreparedCall | None = None,
        usage: tuple[int, int] | None = None,
        latency_ms: int | None = None,
    ) -> Verdict:
        entry = call.entry if call else None
        return Verdict(
            execution_id=execution.id,
            activity_status=summary,
            correctness_score=score,
            score_clamped_from=clamped_from,
            judge=judge,
            judge_version=JUDGE_VERSION,
            provider=entry.provider if entry else None,
            model=call.model_name if call else None,
            prompt_hash=prompt,
            input_tokens=usage[0] if usage else None,
            output_tokens=usage[1] if usage else None,
            cost_usd=estimate_cost_usd(entry, *usage) if entry and usage else None,
            latency_ms=latency_ms,
            digest_tokens=call.digest.tokens if call else None,
            digest_truncated=bool(call and call.digest.cuts),
            evidence_kept=call.digest.evidence_kept if call else None,
            created_at=datetime.now(UTC),
        )

    async def aclose(self) -> None:
        """Close the model clients and stop the local model server if this judge started it."""
        tasks, self._models = list(self._models.values()), {}
        for task in tasks:
            task.cancel()
        built = await asyncio.gather(*tasks, return_exceptions=True)
        if self._http_client is None:
            for model in built:
                if not isinstance(model, BaseException):
                    await model.aclose()
        self.local.stop()

"""Labels of runs and the judge-human agreement: the logic behind the API and CLI."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from execlens.audit.service import audit_service
from execlens.db.engine import Dialect
from execlens.errors import NotFoundError, UserError
from execlens.executions.schemas import ExecutionPage
from execlens.executions.service import execution_service
from execlens.judge import repository as judge_repository
from execlens.judge.models import VerdictRecord
from execlens.labels import repository
from execlens.labels.agreement import agreement
from execlens.labels.schemas import (
    AgreementReport,
    ConfusionMatrix,
    JudgeAgreement,
    LabelIn,
    LabelLine,
    LabelOut,
)

Configuration = tuple[str, str | None, str | None, str, str]


def _out(row: object) -> LabelOut:
    return LabelOut.model_validate(row, from_attributes=True)


class LabelService:
    """Set, remove and import labels; measure how the judge agrees with them."""

    async def set_label(
        self,
        session: AsyncSession,
        dialect: Dialect,
        *,
        execution_id: str,
        label: LabelIn,
        labeler: str,
        acting_as: str | None = None,
    ) -> LabelOut:
        """Store a person's label of a run, replacing their earlier one; audit it."""
        if await repository.missing_executions(session, [execution_id]):
            raise NotFoundError(f"no execution {execution_id!r} is stored", field="execution_id")
        row = repository.label_row(
            execution_id, labeler, label.score, label.note, datetime.now(UTC), str(uuid.uuid4())
        )
        await repository.upsert_labels(session, dialect, [row])
        audit_service.record(
            session,
            actor=labeler,
            acting_as=acting_as,
            action="label.set",
            target_type="execution",
            target_id=execution_id,
            details={"score": label.score, "note": label.note is not None},
        )
        return _out(row)

    async def delete_label(
        self, session: AsyncSession, *, execution_id: str, labeler: str, acting_as: str | None
    ) -> None:
        """Remove a person's label of a run, or raise NotFoundError; audit it."""
        if not await repository.delete_label(session, execution_id, labeler):
            raise NotFoundError(
                f"you have no label on execution {execution_id!r}", field="execution_id"
            )
        audit_service.record(
            session,
            actor=labeler,
            acting_as=acting_as,
            action="label.delete",
            target_type="execution",
            target_id=execution_id,
        )

    async def list_labels(self, session: AsyncSession, execution_id: str) -> list[LabelOut]:
        """Return a run's labels, newest first."""
        return [_out(label) for label in await repository.list_labels(session, execution_id)]

    async def import_labels(
        self,
        session: AsyncSession,
        dialect: Dialect,
        lines: Sequence[tuple[int, LabelLine]],
        *,
        labeler: str,
    ) -> int:
        """Store labels read from numbered lines, all or none; audit the import."""
        missing = await repository.missing_executions(
            session, [line.execution_id for _, line in lines]
        )
        for number, line in lines:
            if line.execution_id in missing:
                raise UserError(
                    f"line {number}: execution_id: no execution {line.execution_id!r} is stored "
                    "(nothing was written; fix the line and import again)",
                    field="execution_id",
                )
        now = datetime.now(UTC)
        rows = {
            line.execution_id: repository.label_row(
                line.execution_id, labeler, line.score, line.note, now, str(uuid.uuid4())
            )
            for _, line in lines  # a later line for the same run wins
        }
        await repository.upsert_labels(session, dialect, list(rows.values()))
        audit_service.record(
            session,
            actor=labeler,
            action="label.import",
            target_type="labels",
            target_id=labeler,
            details={"labels": len(rows)},
        )
        return len(rows)

    async def list_runs(
        self,
        session: AsyncSession,
        *,
        labelled: bool | None = None,
        judged_by: str | None = None,
        **filters: Any,
    ) -> ExecutionPage:
        """Return one page of runs, newest first, also filtered by label and by judge."""
        where = []
        if labelled is not None:
            where.append(repository.labelled(labelled))
        if judged_by is not None:
            where.append(judge_repository.judged_by(judged_by))
        return await execution_service.list(session, where=where, **filters)

    async def agreement(self, session: AsyncSession, *, threshold: float) -> AgreementReport:
        """Return the agreement of every judge configuration with the labels."""
        labels = await repository.mean_labels(session)
        latest: dict[Configuration, dict[str, float]] = {}
        for verdict in await repository.verdicts_of_labelled_runs(session):
            # Oldest first: each configuration keeps its latest score of each run.
            latest.setdefault(_configuration(verdict), {})[verdict.execution_id] = (
                verdict.correctness_score
            )
        judges = [
            _judge_agreement(config, scores, labels, threshold) for config, scores in latest.items()
        ]
        judges.sort(key=lambda judge: (-judge.n, judge.judge, judge.model or ""))
        return AgreementReport(threshold=threshold, labelled_runs=len(labels), judges=judges)


def _configuration(verdict: VerdictRecord) -> Configuration:
    return (
        verdict.judge,
        verdict.provider,
        verdict.model,
        verdict.prompt_hash,
        verdict.judge_version,
    )


def _judge_agreement(
    config: Configuration, scores: dict[str, float], labels: dict[str, float], threshold: float
) -> JudgeAgreement:
    ids = sorted(scores)
    result = agreement([scores[i] for i in ids], [labels[i] for i in ids], threshold)
    judge, provider, model, prompt_hash, judge_version = config
    confusion = result.confusion
    return JudgeAgreement(
        judge=judge,
        provider=provider,
        model=model,
        prompt_hash=prompt_hash,
        judge_version=judge_version,
        n=result.n,
        roc_auc=result.roc_auc,
        spearman=result.spearman,
        mae=result.mae,
        accuracy=result.accuracy,
        cohen_kappa=result.cohen_kappa,
        confusion=ConfusionMatrix(
            true_positive=confusion.true_positive,
            false_positive=confusion.false_positive,
            true_negative=confusion.true_negative,
            false_negative=confusion.false_negative,
        ),
    )


label_service = LabelService()

"""Import every feature's models so ``Base.metadata`` knows all tables."""

from execlens.audit.models import AuditEvent
from execlens.auth.models import ApiKey, UsedSignInLink
from execlens.autogpt.models import SyncCursor, SyncedRun
from execlens.db.base import Base
from execlens.executions.models import Execution, Graph, NodeExecution
from execlens.jobs.models import AnalyticsJob, JobItem, WorkerRecord
from execlens.judge.models import VerdictRecord
from execlens.rules.models import JudgingRule, RuleMatch
from execlens.trends.models import AccuracyAlert

__all__ = [
    "AccuracyAlert",
    "AnalyticsJob",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Execution",
    "Graph",
    "JobItem",
    "JudgingRule",
    "NodeExecution",
    "RuleMatch",
    "SyncCursor",
    "SyncedRun",
    "UsedSignInLink",
    "VerdictRecord",
    "WorkerRecord",
]

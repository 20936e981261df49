"""REST endpoints for judging rules: create, list, read, change, delete."""

from fastapi import APIRouter, Response

from execlens.api.deps import ReadSession, SettingsDep, WriteSession
from execlens.api.errors import error_responses
from execlens.audit.service import actor_of
from execlens.auth.deps import AUTH_ERRORS, AdminPrincipal
from execlens.rules.schemas import RuleCreate, RuleList, RuleOut, RuleUpdate
from execlens.rules.service import rule_service

router = APIRouter(prefix="/api/judging-rules", tags=["judging rules"], responses=AUTH_ERRORS)


@router.post("", status_code=201, response_model=RuleOut, responses=error_responses(400, 413))
async def create_rule(
    body: RuleCreate,
    session: WriteSession,
    settings: SettingsDep,
    principal: AdminPrincipal,
    response: Response,
) -> RuleOut:
    """Create a rule that judges new finished runs as they arrive."""
    rule = await rule_service.create(
        session, settings, body, actor=actor_of(principal), acting_as=principal.acting_as
    )
    response.headers["Location"] = f"/api/judging-rules/{rule.id}"
    return await rule_service.out(session, rule)


@router.get("", response_model=RuleList)
async def list_rules(session: ReadSession, _: AdminPrincipal) -> RuleList:
    """List every rule with its spend today, backlog and lag."""
    rules = await rule_service.list_rules(session)
    return RuleList(rules=[await rule_service.out(session, rule) for rule in rules])


@router.get("/{rule_id}", response_model=RuleOut, responses=error_responses(404))
async def get_rule(rule_id: str, session: ReadSession, _: AdminPrincipal) -> RuleOut:
    """Return a rule with its spend today, backlog and arrival-to-verdict lag."""
    return await rule_service.out(session, await rule_service.get(session, rule_id))


@router.patch("/{rule_id}", response_model=RuleOut, responses=error_responses(400, 404, 413))
async def update_rule(
    rule_id: str,
    body: RuleUpdate,
    session: WriteSession,
    settings: SettingsDep,
    principal: AdminPrincipal,
) -> RuleOut:
    """Change a rule: pause or unpause it, its sample rate, statuses, model or budget."""
    rule = await rule_service.update(
        session, settings, rule_id, body, actor=actor_of(principal), acting_as=principal.acting_as
    )
    return await rule_service.out(session, rule)


@router.delete("/{rule_id}", status_code=204, responses=error_responses(404))
async def delete_rule(rule_id: str, session: WriteSession, principal: AdminPrincipal) -> Response:
    """Delete a rule and cancel its open job; its verdicts stay."""
    await rule_service.delete(
        session, rule_id, actor=actor_of(principal), acting_as=principal.acting_as
    )
    return Response(status_code=204)

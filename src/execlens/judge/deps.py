"""The judge as a resource: opened once per app or command, closed when it ends."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from execlens.config import Settings
from execlens.judge.judge import Judge


@asynccontextmanager
async def open_judge(settings: Settings) -> AsyncIterator[Judge]:
    """Yield a judge for ``settings``; close its clients and local model server after."""
    judge = Judge(settings)
    try:
        yield judge
    finally:
        await judge.aclose()


def judge_for(app: FastAPI) -> Judge:
    """Return the app's judge, created on first use."""
    judge: Judge | None = getattr(app.state, "judge", None)
    if judge is None:
        judge = app.state.judge = Judge(app.state.settings)
    return judge


async def close_judge(app: FastAPI) -> None:
    """Close the app's judge if one was created."""
    judge: Judge | None = getattr(app.state, "judge", None)
    if judge is not None:
        app.state.judge = None
        await judge.aclose()


def get_judge(request: Request) -> Judge:
    """Return the judge of the app serving ``request``."""
    return judge_for(request.app)


JudgeDep = Annotated[Judge, Depends(get_judge)]

"""Routes over the plugin's own table, through the tenant-bound session."""

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from madoguchi_sample.models import SampleGreeting


async def _count(session: AsyncSession) -> int:
    return (await session.exec(select(func.count()).select_from(SampleGreeting))).one()


@post("/api/v1/t/{tenant:str}/sample/greetings", opt={"permission": "greeting:log"})
async def log_greeting(session: NamedDependency[AsyncSession]) -> dict[str, Any]:
    session.add(SampleGreeting())
    await session.flush()
    return {"greetings": await _count(session)}


@get("/api/v1/t/{tenant:str}/sample/greetings", opt={"permission": "greeting:read"})
async def count_greetings(session: NamedDependency[AsyncSession]) -> dict[str, Any]:
    return {"greetings": await _count(session)}

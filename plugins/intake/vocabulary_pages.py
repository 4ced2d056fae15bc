"""The supervisors' page for the tenant's vocabularies: ``/t/{tenant}/vocabulary``."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from core import TenantContext, page
from plugins.intake.vocabulary import VocabularyError, read_vocabulary, save_vocabulary

__all__ = ["VOCABULARY_PAGES"]


async def _page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    terms = await read_vocabulary(session)
    shown = values or {
        "categories": "\n".join(terms.categories),
        "tags": "\n".join(terms.tags),
    }
    return await page(
        request,
        "intake/vocabulary.html",
        title="分類・タグ",
        values=shown,
        error=error,
        status_code=status_code,
    )


@get(
    "/t/{tenant:str}/vocabulary",
    opt={"permission": "vocabulary:configure"},
    include_in_schema=False,
)
async def vocabulary_page(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
) -> Template:
    return await _page(request, session)


@post(
    "/t/{tenant:str}/vocabulary",
    opt={"permission": "vocabulary:configure"},
    include_in_schema=False,
    status_code=200,
)
async def vocabulary_save(
    request: Request[Any, Any, Any],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
    plugin_settings: NamedDependency[dict[str, Any]],
) -> Any:
    """Both lists at once, one term a line; audited like the API (``vocabulary.configure``).
    A refusal shows the form again with what was typed, and changes nothing."""
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("categories", "tags")}
    try:
        for field, kind in (("categories", "category"), ("tags", "tag")):
            labels = [line.strip() for line in values[field].splitlines() if line.strip()]
            await save_vocabulary(session, ctx, kind, labels, plugin_settings)
    except VocabularyError as exc:
        await session.rollback()  # neither list changes
        return await _page(request, session, values=values, error=exc.message, status_code=422)
    return Redirect(path=f"/t/{ctx.slug}/vocabulary", status_code=303)


VOCABULARY_PAGES = [vocabulary_page, vocabulary_save]

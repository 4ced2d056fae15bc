"""Operator pages of the intake plugin: the inquiry list with take-next, an inquiry with its
conversation and composer, and the supervisor's view of the queues."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import ApiError, Customer, PersonalData, TenantContext, page, utcnow
from plugins.intake.models import Inquiry, InquiryMessage, InquiryStatus, Queue
from plugins.intake.services import (
    ChangeError,
    add_message,
    at_risk,
    breached,
    queue_stats,
    take_next,
    update_inquiry,
)
from plugins.intake.web import inquiry_or_404, notify_updated

__all__ = ["INTAKE_PAGES"]


def _see_other(path: str) -> Redirect:
    return Redirect(path=path, status_code=303)


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@get("/t/{tenant:str}/inquiries", opt={"permission": "inquiry:read"}, include_in_schema=False)
async def inquiry_list(
    request: Request[Any, Any, Any],
    session: NamedDependency[AsyncSession],
    status: FromQuery[str | None] = None,
    mine: FromQuery[int] = 0,
    none: FromQuery[int] = 0,
) -> Template:
    statement = select(Inquiry)
    if status in InquiryStatus.ALL:
        statement = statement.where(Inquiry.status == status)
    else:
        statement = statement.where(col(Inquiry.status).in_(InquiryStatus.ACTIVE))
    if mine:
        statement = statement.where(Inquiry.assignee_id == request.state.principal.user_id)
    rows = (
        await session.exec(
            statement.order_by(col(Inquiry.priority), col(Inquiry.first_response_due)).limit(200)
        )
    ).all()
    queues = {q.id: q.name for q in (await session.exec(select(Queue))).all()}
    now = utcnow()
    items = [
        {
            "uid": r.uid,
            "receipt_no": r.receipt_no,
            "channel": r.channel,
            "status": r.status,
            "priority": r.priority,
            "queue": queues.get(r.queue_id, ""),
            "due": r.first_response_due,
            "assignee": r.assignee_id,
            "sla": "breached"
            if r.first_responded_at is None and breached(r, now)
            else "at_risk"
            if r.first_responded_at is None and at_risk(r, now)
            else "",
        }
        for r in rows
    ]
    return await page(
        request,
        "intake/inquiries.html",
        title="問い合わせ",
        inquiries=items,
        status=status,
        mine=bool(mine),
        nothing_to_take=bool(none),
    )


@post(
    "/t/{tenant:str}/inquiries/take-next",
    opt={"permission": "inquiry:reply"},
    include_in_schema=False,
)
async def take_next_page(
    request: Request[Any, Any, Any],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Redirect:
    queues = [q.id for q in (await session.exec(select(Queue))).all() if q.id is not None]
    taken = await take_next(session, request.state.principal.user_id, queues)
    if taken is None:
        return _see_other(f"/t/{ctx.slug}/inquiries?none=1")
    return _see_other(f"/t/{ctx.slug}/inquiries/{taken.uid}")


@get(
    "/t/{tenant:str}/inquiries/{uid:str}",
    opt={"permission": "inquiry:read"},
    include_in_schema=False,
)
async def inquiry_detail(
    request: Request[Any, Any, Any],
    uid: FromPath[str],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Template:
    """One inquiry: banner with client and customer, the conversation, status and composer.
    Reading the conversation is an audited read of personal data."""
    from core import audit

    inquiry = await inquiry_or_404(session, uid)
    core = request.app.state.core
    pd = PersonalData(core.db, session, core.keyring, ctx)
    try:
        await pd.count_read(1)
    except PermissionError as exc:
        raise ApiError(429, "Hourly limit reached.") from exc
    customer_label, customer_uid = None, None
    if inquiry.customer_id is not None:
        customer = await session.get(Customer, inquiry.customer_id)
        if customer is not None:
            [shown] = await pd.view([customer])
            customer_label, customer_uid = (
                shown["name"] or shown["email"] or shown["phone"],
                customer.uid,
            )
    messages = (
        await session.exec(
            select(InquiryMessage)
            .where(InquiryMessage.inquiry_id == inquiry.id)
            .order_by(col(InquiryMessage.id))
        )
    ).all()
    timeline = [
        {
            "kind": m.kind,
            "channel": m.channel,
            "at": m.created_at,
            "author": m.author_user_id,
            "body": await pd.open_text("intake_message", "body", m.uid, m.body),
        }
        for m in messages
    ]
    subject = await pd.open_text("intake_inquiry", "subject", inquiry.uid, inquiry.subject)
    await audit(
        session,
        "pii.read",
        object_type="inquiry",
        object_id=inquiry.uid,
        fields=["subject", "messages"],
    )
    queues = (await session.exec(select(Queue).order_by(col(Queue.position)))).all()
    return await page(
        request,
        "intake/inquiry.html",
        title=f"{inquiry.receipt_no}",
        personal=True,
        inquiry=inquiry,
        subject=subject,
        timeline=timeline,
        queues=queues,
        statuses=InquiryStatus.ALL,
        customer_label=customer_label,
        customer_uid=customer_uid,
    )


@post(
    "/t/{tenant:str}/inquiries/{uid:str}/messages",
    opt={"permission": "inquiry:reply"},
    include_in_schema=False,
)
async def inquiry_message(
    request: Request[Any, Any, Any],
    uid: FromPath[str],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Redirect:
    data = await _form(request)
    body = (data.get("body") or "").strip()
    if not body:
        raise ApiError(422, "Write a message.", field="body")
    inquiry = await inquiry_or_404(session, uid)
    core = request.app.state.core
    pd = PersonalData(core.db, session, core.keyring, ctx)
    try:
        await add_message(
            session,
            pd,
            ctx,
            inquiry,
            data.get("kind", "reply"),
            body[:20_000],
            request.state.principal.user_id,
        )
    except ChangeError as exc:
        raise ApiError(422, exc.message, field=exc.field) from exc
    notify_updated(request, inquiry, [data.get("kind", "reply")])
    return _see_other(f"/t/{ctx.slug}/inquiries/{uid}")


@post(
    "/t/{tenant:str}/inquiries/{uid:str}/update",
    opt={"permission": "inquiry:reply"},
    include_in_schema=False,
)
async def inquiry_update(
    request: Request[Any, Any, Any],
    uid: FromPath[str],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Redirect:
    data = await _form(request)
    inquiry = await inquiry_or_404(session, uid)
    assignee = data.get("assignee", "")
    try:
        changes = await update_inquiry(
            session,
            inquiry,
            status=data.get("status") or None,
            queue_slug=data.get("queue") or None,
            priority=int(data["priority"]) if data.get("priority", "").isdigit() else None,
            assignee_id=int(assignee) if assignee.isdigit() else None,
            unassign=assignee == "none",
        )
    except ChangeError as exc:
        raise ApiError(422, exc.message, field=exc.field) from exc
    if changes:
        notify_updated(request, inquiry, changes)
    return _see_other(f"/t/{ctx.slug}/inquiries/{uid}")


@get("/t/{tenant:str}/supervise", opt={"permission": "queue:supervise"}, include_in_schema=False)
async def supervise(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
) -> Template:
    return await page(
        request, "intake/supervise.html", title="SVビュー", stats=await queue_stats(session)
    )


INTAKE_PAGES = [
    inquiry_list,
    take_next_page,
    inquiry_detail,
    inquiry_message,
    inquiry_update,
    supervise,
]

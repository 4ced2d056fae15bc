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

from core import ApiError, Customer, PluginContext, TenantContext, audit, page, utcnow
from plugins.intake.models import CannedReply, Inquiry, InquiryMessage, InquiryStatus, Queue
from plugins.intake.services import (
    KNOWN_CHANNELS,
    ChangeError,
    add_message,
    at_risk,
    breached,
    queue_stats,
    take_next,
    update_inquiry,
)
from plugins.intake.verification import (
    FORM_FIELDS,
    latest_verification,
    request_verification,
    verification_state,
)
from plugins.intake.vocabulary import read_vocabulary
from plugins.intake.web import check_assignee, inquiry_or_404, notify_updated

__all__ = ["INTAKE_PAGES"]


def _(message: str) -> str:
    """Marks a message for the catalogue; the template translates it."""
    return message


CHANNEL_LABELS = {
    "web": _("Web form"),
    "email": _("E-mail"),
    "chat": _("Chat"),
    "phone": _("Phone"),
}
DELIVERY_LABELS = {
    "queued": _("mail queued"),
    "retrying": _("mail not sent yet, trying again"),
    "sent": _("mail sent"),
    "failed": _("mail not sent"),
}
DELIVERY_REASONS = {
    "no_relay": _("no mail relay is configured"),
    "no_address": _("the customer has no e-mail address on file"),
    "invalid_address": _("the address on file is not one e-mail address"),
    "relay_refused": _("the mail relay refused it"),
    "relay_unreachable": _("the mail relay could not be reached"),
}
VERIFICATION_LABELS = {
    "none": _("no link yet"),
    "pending": _("waiting for the customer"),
    "expired": _("expired"),
    "verified": _("verified"),
    "mismatch": _("does not match"),
    "unverifiable": _("not verifiable (a required field is not on file)"),
    "recorded": _("recorded (nothing on file to compare)"),  # links answered before 0.2
}
CHECK_LABELS = {
    "match": _("matches"),
    "mismatch": _("does not match"),
    "not_on_file": _("not on file"),
}


def _see_other(path: str) -> Redirect:
    return Redirect(path=path, status_code=303)


async def _canned_replies(session: AsyncSession) -> list[CannedReply]:
    return list((await session.exec(select(CannedReply).order_by(col(CannedReply.title)))).all())


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@get("/t/{tenant:str}/inquiries", opt={"permission": "inquiry:read"}, include_in_schema=False)
async def inquiry_list(
    request: Request[Any, Any, Any],
    plugin: NamedDependency[PluginContext],
    session: NamedDependency[AsyncSession],
    status: FromQuery[str | None] = None,
    channel: FromQuery[str | None] = None,
    mine: FromQuery[int] = 0,
    none: FromQuery[int] = 0,
) -> Template:
    statement = select(Inquiry)
    if channel in KNOWN_CHANNELS:  # e.g. the chats an operator is holding
        statement = statement.where(Inquiry.channel == channel)
    if status in InquiryStatus.ALL:
        statement = statement.where(Inquiry.status == status)
    else:
        statement = statement.where(col(Inquiry.status).in_(InquiryStatus.ACTIVE))
    if mine:
        statement = statement.where(Inquiry.assignee_id == plugin.user_id)
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
        channel=channel if channel in KNOWN_CHANNELS else None,
        channels=KNOWN_CHANNELS,
        channel_labels=CHANNEL_LABELS,
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
    plugin: NamedDependency[PluginContext],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Redirect:
    queues = [q.id for q in (await session.exec(select(Queue))).all() if q.id is not None]
    taken = await take_next(session, plugin.user_id, queues)
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
    plugin: NamedDependency[PluginContext],
) -> Template:
    """One inquiry: banner with client and customer, the conversation, status and composer.
    Reading the conversation is an audited read of personal data."""
    inquiry = await inquiry_or_404(session, uid)
    return await _detail(request, plugin, inquiry)


async def _verification(
    session: AsyncSession, settings: dict[str, Any], inquiry: Inquiry
) -> dict[str, Any] | None:
    """The verification card: None where the tenant does not offer it."""
    if not settings["identity_verification"]:
        return None
    latest = await latest_verification(session, inquiry)
    checks = dict(latest.checks) if latest is not None else {}
    return {
        "state": VERIFICATION_LABELS[verification_state(latest)],
        "checks": [(FORM_FIELDS[f][0], CHECK_LABELS[c]) for f, c in checks.items()],
        "asks": "、".join(FORM_FIELDS[f][0] for f in settings["verification_fields"]),
    }


async def _detail(
    request: Request[Any, Any, Any],
    plugin: PluginContext,
    inquiry: Inquiry,
    verification_url: str | None = None,
) -> Template:
    session, settings = plugin.session, plugin.settings
    pd = plugin.personal_data
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
            "delivery": m.delivery,
            "delivery_error": m.delivery_error,
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
    canned = await _canned_replies(session)
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
        canned=canned,
        delivery_labels=DELIVERY_LABELS,
        delivery_reasons=DELIVERY_REASONS,
        verification=await _verification(session, settings, inquiry),
        vocabulary=await read_vocabulary(session),
        verification_url=verification_url,
    )


@post(
    "/t/{tenant:str}/inquiries/{uid:str}/verification",
    opt={"permission": "inquiry:reply"},
    include_in_schema=False,
)
async def inquiry_verification(
    request: Request[Any, Any, Any],
    uid: FromPath[str],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
    plugin: NamedDependency[PluginContext],
) -> Template:
    """A one-time identity-verification link, shown once on the page it answers with (never
    put in a redirect's URL: it is a secret for the customer); 404 where the tenant's
    settings do not offer verification."""
    if not plugin.settings["identity_verification"]:
        raise ApiError(404, "Identity verification is not offered here.")
    inquiry = await inquiry_or_404(session, uid)
    path = await request_verification(session, ctx, inquiry, plugin.user_id)
    return await _detail(request, plugin, inquiry, verification_url=path)


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
    plugin: NamedDependency[PluginContext],
) -> Redirect:
    data = await _form(request)
    body = (data.get("body") or "").strip()
    if data.get("canned", "").isdigit():  # the canned text first, then what was typed
        chosen = await session.get(CannedReply, int(data["canned"]))
        if chosen is None:
            raise ApiError(422, "No such canned reply.", field="canned")
        body = "\n\n".join(part for part in (chosen.body.strip(), body) if part)
    if not body:
        raise ApiError(422, "Write a message.", field="body")
    inquiry = await inquiry_or_404(session, uid)
    pd = plugin.personal_data
    try:
        await add_message(
            session,
            pd,
            ctx,
            inquiry,
            data.get("kind", "reply"),
            body[:20_000],
            plugin.user_id,
        )
    except ChangeError as exc:
        raise ApiError(422, exc.message, field=exc.field) from exc
    await notify_updated(plugin, inquiry, [data.get("kind", "reply")])
    return _see_other(f"/t/{ctx.slug}/inquiries/{uid}")


@post(
    "/t/{tenant:str}/inquiries/{uid:str}/update",
    opt={"permission": "inquiry:reply"},
    include_in_schema=False,
)
async def inquiry_update(
    request: Request[Any, Any, Any],
    plugin: NamedDependency[PluginContext],
    uid: FromPath[str],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Redirect:
    data = await _form(request)
    form = await request.form()
    tags = [t for t in form.getall("tags") if isinstance(t, str)] if "tags" in form else []
    inquiry = await inquiry_or_404(session, uid)
    assignee = data.get("assignee", "")
    assignee_id = int(assignee) if assignee.isdigit() else None
    await check_assignee(plugin, assignee_id)
    try:
        changes = await update_inquiry(
            session,
            inquiry,
            status=data.get("status") or None,
            queue_slug=data.get("queue") or None,
            priority=int(data["priority"]) if data.get("priority", "").isdigit() else None,
            category=data["category"].strip() if "category" in data else None,
            tags=tags if "tags.shown" in data else None,  # the form's checkboxes
            assignee_id=assignee_id,
            unassign=assignee == "none",
        )
    except ChangeError as exc:
        raise ApiError(422, exc.message, field=exc.field) from exc
    if changes:
        await notify_updated(plugin, inquiry, changes)
    return _see_other(f"/t/{ctx.slug}/inquiries/{uid}")


@get("/t/{tenant:str}/supervise", opt={"permission": "queue:supervise"}, include_in_schema=False)
async def supervise(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
) -> Template:
    canned = await _canned_replies(session)
    return await page(
        request,
        "intake/supervise.html",
        title="SVビュー",
        stats=await queue_stats(session),
        canned=canned,
    )


@post(
    "/t/{tenant:str}/canned-replies",
    opt={"permission": "queue:supervise"},
    include_in_schema=False,
)
async def canned_reply_add(
    request: Request[Any, Any, Any],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Redirect:
    """Add a canned reply (or replace the text of one with the same title); audited."""
    data = await _form(request)
    title, body = (data.get("title") or "").strip(), (data.get("body") or "").strip()
    if not title or len(title) > 100:
        raise ApiError(422, "A title of 1-100 characters is needed.", field="title")
    if not body or len(body) > 5000:
        raise ApiError(422, "A text of 1-5000 characters is needed.", field="body")
    existing = (await session.exec(select(CannedReply).where(CannedReply.title == title))).first()
    if existing is None:
        session.add(CannedReply(tenant_id=ctx.id, title=title, body=body))
    else:
        existing.body = body
    await audit(session, "canned_reply.save", object_type="canned_reply", object_id=title)
    return _see_other(f"/t/{ctx.slug}/supervise")


@post(
    "/t/{tenant:str}/canned-replies/{reply_id:int}/delete",
    opt={"permission": "queue:supervise"},
    include_in_schema=False,
)
async def canned_reply_delete(
    request: Request[Any, Any, Any],
    reply_id: FromPath[int],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Redirect:
    reply = await session.get(CannedReply, reply_id)
    if reply is None:
        raise ApiError(404, "No such canned reply.")
    await session.delete(reply)
    await audit(session, "canned_reply.delete", object_type="canned_reply", object_id=reply.title)
    return _see_other(f"/t/{ctx.slug}/supervise")


INTAKE_PAGES = [
    inquiry_list,
    take_next_page,
    inquiry_detail,
    inquiry_message,
    inquiry_update,
    inquiry_verification,
    supervise,
    canned_reply_add,
    canned_reply_delete,
]

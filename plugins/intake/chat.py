"""Chat and the secure personal-data link.

Chat: a customer starts a conversation and gets a token shown once (stored hashed). With it
they can post to, and read, that one conversation and nothing else; operators answer through
the inquiry API, where every action is bound server-side to the inquiry's uid.

Secure link (本人確認): an operator sends a one-time, expiring link; the customer enters name,
birth date and address on a form; the values are sealed on the customer record and compared
with what was on file. The operator sees the result and masked values, never the input.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from pydantic import Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import (
    ApiError,
    Customer,
    PersonalData,
    TenantContext,
    after_commit,
    audit,
    page,
    utcnow,
)
from plugins.intake.models import ChatSession, Inquiry, InquiryMessage, Verification
from plugins.intake.normalize import InputError, one_line
from plugins.intake.schemas import StrictBody
from plugins.intake.services import NewInquiry, add_inbound, create_inquiry
from plugins.intake.web import inquiry_or_404, notify_updated, relay_of

__all__ = ["CHAT_PAGES", "ChatController", "VerificationController"]

CHAT_LIFETIME = timedelta(hours=24)
LINK_LIFETIME = timedelta(minutes=30)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ChatStart(StrictBody):
    body: str = Field(min_length=1, max_length=4000)
    name: str | None = Field(default=None, max_length=100)


class ChatPost(StrictBody):
    body: str = Field(min_length=1, max_length=4000)


async def _chat(
    session: AsyncSession, request: Request[Any, Any, Any]
) -> tuple[ChatSession, Inquiry]:
    token = request.headers.get("x-chat-token", "")
    row = (
        (
            await session.exec(select(ChatSession).where(ChatSession.token_hash == _hash(token)))
        ).first()
        if token
        else None
    )
    if row is None or row.closed_at is not None or row.expires_at <= utcnow():
        raise ApiError(401, "Unknown or expired chat token.")
    inquiry = await session.get(Inquiry, row.inquiry_id)
    assert inquiry is not None
    return row, inquiry


class ChatController(Controller):
    """The customer's side of a chat. Public: the chat token is the credential."""

    path = "/api/v1/t/{tenant:str}/chat"
    tags = ("intake",)

    @post("/conversations", opt={"public": True, "per_client_per_minute": 10})
    async def start(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatStart],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin_settings: NamedDependency[dict[str, Any]],
    ) -> Response[dict[str, Any]]:
        if "chat" not in plugin_settings["channels"]:
            raise ApiError(404, "Chat is not offered here.")
        try:
            one_line(data.name, "name")  # a name may end up in a mail header
        except InputError as exc:
            raise ApiError(422, exc.message, field=exc.field) from exc
        core = request.app.state.core
        relay = relay_of(request)
        pd = PersonalData(core.db, session, core.keyring, ctx)
        inquiry = await create_inquiry(
            session,
            pd,
            ctx,
            plugin_settings,
            NewInquiry(channel="chat", subject=None, body=data.body, name=data.name),
            relay,
        )
        token = "chat_" + secrets.token_urlsafe(32)
        session.add(
            ChatSession(
                tenant_id=ctx.id,
                inquiry_id=inquiry.id,  # type: ignore[arg-type]
                token_hash=_hash(token),
                expires_at=utcnow() + CHAT_LIFETIME,
            )
        )
        uid = inquiry.uid
        after_commit(
            request, lambda: relay.on_inquiry_created(ctx=ctx, inquiry_uid=uid, channel="chat")
        )
        return Response(
            {"token": token, "receipt_no": inquiry.receipt_no},
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @post("/messages", opt={"public": True, "per_client_per_minute": 60})
    async def post_message(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatPost],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[dict[str, str]]:
        _, inquiry = await _chat(session, request)
        core = request.app.state.core
        pd = PersonalData(core.db, session, core.keyring, ctx)
        message = await add_inbound(session, pd, ctx, inquiry, "chat", data.body)
        notify_updated(request, inquiry, ["inbound"])
        return Response({"uid": message.uid}, status_code=201)

    @get("/messages", opt={"public": True})
    async def read_messages(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[list[dict[str, Any]]]:
        """The customer's conversation: their messages and the replies, never internal notes."""
        _, inquiry = await _chat(session, request)
        core = request.app.state.core
        pd = PersonalData(core.db, session, core.keyring, ctx)
        rows = (
            await session.exec(
                select(InquiryMessage)
                .where(
                    InquiryMessage.inquiry_id == inquiry.id,
                    col(InquiryMessage.kind).in_(("inbound", "reply")),
                )
                .order_by(col(InquiryMessage.id))
            )
        ).all()
        return Response(
            [
                {
                    "from": "you" if m.kind == "inbound" else "operator",
                    "at": m.created_at.isoformat(),
                    "body": await pd.open_text("intake_message", "body", m.uid, m.body),
                }
                for m in rows
            ],
            headers={"Cache-Control": "no-store"},
        )


def _norm(value: str | None) -> str:
    return "".join(unicodedata.normalize("NFKC", value or "").split()).lower()


async def request_verification(
    session: AsyncSession, ctx: TenantContext, inquiry: Any, user_id: int
) -> str:
    """A new one-time link (30 minutes) for this inquiry's customer; only its hash is kept,
    so the path returned is shown once. Audited."""
    token = secrets.token_urlsafe(32)
    session.add(
        Verification(
            tenant_id=ctx.id,
            inquiry_id=inquiry.id,
            token_hash=_hash(token),
            requested_by=user_id,
            expires_at=utcnow() + LINK_LIFETIME,
        )
    )
    await audit(session, "verification.request", object_type="inquiry", object_id=inquiry.uid)
    return f"/t/{ctx.slug}/verify/{token}"


async def latest_verification(session: AsyncSession, inquiry: Any) -> Verification | None:
    return (
        await session.exec(
            select(Verification)
            .where(Verification.inquiry_id == inquiry.id)
            .order_by(col(Verification.id).desc())
        )
    ).first()


def verification_state(latest: Verification | None) -> str:
    """A link's state: none, pending, expired, verified, mismatch or recorded."""
    if latest is None:
        return "none"
    if latest.result == "pending" and latest.expires_at <= utcnow():
        return "expired"
    return latest.result


class VerificationController(Controller):
    path = "/api/v1/t/{tenant:str}/inquiries/{uid:str}/verification"
    tags = ("intake",)

    @post("/", opt={"permission": "inquiry:reply"})
    async def create_link(
        self,
        request: Request[Any, Any, Any],
        uid: FromPath[str],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[dict[str, Any]]:
        """A one-time link (30 minutes) to send to this inquiry's customer."""
        inquiry = await inquiry_or_404(session, uid)
        url = await request_verification(session, ctx, inquiry, request.state.principal.user_id)
        return Response(
            {"url": url, "expires_in_minutes": 30},
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @get("/", opt={"permission": "inquiry:read"})
    async def status(
        self,
        request: Request[Any, Any, Any],
        uid: FromPath[str],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> dict[str, Any]:
        """The latest verification's result and the customer's masked values."""
        inquiry = await inquiry_or_404(session, uid)
        latest = await latest_verification(session, inquiry)
        if latest is None:
            return {"status": "none"}
        status = verification_state(latest)
        masked: dict[str, Any] = {}
        if inquiry.customer_id is not None and latest.used_at is not None:
            core = request.app.state.core
            customer = await session.get(Customer, inquiry.customer_id)
            if customer is not None:
                [shown] = await PersonalData(core.db, session, core.keyring, ctx).view([customer])
                masked = {k: shown[k] for k in ("name", "birth_date", "address")}
        return {"status": status, "masked": masked}


async def _link(session: AsyncSession, token: str) -> Verification:
    row = (
        await session.exec(select(Verification).where(Verification.token_hash == _hash(token)))
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise ApiError(404, "This link is no longer valid.")
    return row


@get("/t/{tenant:str}/verify/{token:str}", opt={"public": True}, include_in_schema=False)
async def verify_form(
    request: Request[Any, Any, Any], token: FromPath[str], session: NamedDependency[AsyncSession]
) -> Template:
    await _link(session, token)
    return await page(
        request, "intake/verify.html", title="本人確認", personal=True, token=token, done=False
    )


@post(
    "/t/{tenant:str}/verify/{token:str}",
    opt={"public": True, "per_client_per_minute": 10},
    include_in_schema=False,
    status_code=200,
)
async def verify_submit(
    request: Request[Any, Any, Any],
    token: FromPath[str],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Template:
    """Seal what the customer entered on the customer record and compare with what was on
    file; one use only."""
    row = await _link(session, token)
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("name", "birth_date", "address")}
    if not all(values.values()):
        return await page(
            request,
            "intake/verify.html",
            title="本人確認",
            personal=True,
            token=token,
            done=False,
            error="すべての項目を入力してください。",
            status_code=422,
        )
    core = request.app.state.core
    pd = PersonalData(core.db, session, core.keyring, ctx)
    inquiry = await session.get(Inquiry, row.inquiry_id)
    assert inquiry is not None
    customer = await session.get(Customer, inquiry.customer_id) if inquiry.customer_id else None
    on_file = {}
    if customer is not None:
        on_file = {k: await pd.field(customer, k) for k in values}
    known = {k: v for k, v in on_file.items() if v}
    if not known:
        result = "recorded"
    elif all(_norm(known[k]) == _norm(values[k]) for k in known):
        result = "verified"
    else:
        result = "mismatch"
    if customer is None:
        customer = await pd.create_customer(values)
        inquiry.customer_id = customer.id
    elif result != "mismatch":
        await pd.update_customer(customer, values)
    row.used_at, row.result = utcnow(), result
    await audit(
        session,
        "verification.submit",
        object_type="inquiry",
        object_id=inquiry.uid,
        fields=sorted(values),
        outcome=result,
    )
    return await page(
        request, "intake/verify.html", title="本人確認", personal=True, token=token, done=True
    )


CHAT_PAGES = [verify_form, verify_submit]

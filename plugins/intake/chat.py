"""Chat: one conversation per token.

A customer starts a conversation and gets a token shown once (stored hashed). With it they
can post to, and read, that one conversation and nothing else; operators answer through the
inquiry API, where every action is bound server-side to the inquiry's uid. The secure
personal-data link is :mod:`plugins.intake.verification`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, JSONBody
from pydantic import Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import (
    ApiError,
    PluginContext,
    TenantContext,
    refusals,
    utcnow,
)
from plugins.intake.models import ChatSession, Inquiry, InquiryMessage
from plugins.intake.normalize import InputError, one_line
from plugins.intake.schemas import OneLine, StrictBody
from plugins.intake.services import NewInquiry, add_inbound, create_inquiry
from plugins.intake.web import notify_updated

__all__ = ["ChatController"]

CHAT_LIFETIME = timedelta(hours=24)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


ChatToken = Annotated[
    str | None,
    HeaderParameter(
        name="X-Chat-Token", max_length=100, description="the token the conversation began with"
    ),
]
_BY_TOKEN = refusals(401, s401="Unknown or expired chat token.")


class ChatStart(StrictBody):
    body: str = Field(min_length=1, max_length=4000)
    name: OneLine | None = Field(default=None, max_length=100)


class ChatPost(StrictBody):
    body: str = Field(min_length=1, max_length=4000)


async def _chat(session: AsyncSession, token: str | None) -> tuple[ChatSession, Inquiry]:
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
        plugin: NamedDependency[PluginContext],
        plugin_settings: NamedDependency[dict[str, Any]],
    ) -> Response[dict[str, Any]]:
        if "chat" not in plugin_settings["channels"]:
            raise ApiError(404, "Chat is not offered here.")
        try:
            one_line(data.name, "name")  # a name may end up in a mail header
        except InputError as exc:
            raise ApiError(422, exc.message, field=exc.field) from exc
        relay = plugin.hooks
        pd = plugin.personal_data
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
        plugin.notify("on_inquiry_created", inquiry_uid=uid, channel="chat")
        return Response(
            {"token": token, "receipt_no": inquiry.receipt_no},
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @post("/messages", opt={"public": True, "per_client_per_minute": 60}, responses=_BY_TOKEN)
    async def post_message(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatPost],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin: NamedDependency[PluginContext],
        token: ChatToken = None,
    ) -> Response[dict[str, str]]:
        _, inquiry = await _chat(session, token)
        pd = plugin.personal_data
        message = await add_inbound(session, pd, ctx, inquiry, "chat", data.body)
        await notify_updated(plugin, inquiry, ["inbound"])
        return Response({"uid": message.uid}, status_code=201)

    @get("/messages", opt={"public": True}, responses=_BY_TOKEN)
    async def read_messages(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin: NamedDependency[PluginContext],
        token: ChatToken = None,
    ) -> Response[list[dict[str, Any]]]:
        """The customer's conversation: their messages and the replies, never internal notes."""
        _, inquiry = await _chat(session, token)
        pd = plugin.personal_data
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

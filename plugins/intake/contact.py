"""The public contact form of a tenant: ``/t/{tenant}/contact``.

Spam protection without third parties: a hidden honeypot field, and a signed form token that
must be at least a few seconds and at most two hours old (bots post at once, or replay stale
forms). Input is normalised (full-width digits and letters, phone numbers, postal codes); a
valid inquiry gets a receipt number on screen.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template
from sqlmodel.ext.asyncio.session import AsyncSession

from core import PersonalData, TenantContext, after_commit, load_or_create_key, page
from plugins.intake.normalize import InputError, clean_text, normalise_phone, normalise_postal
from plugins.intake.outbox import RECEIPT, queue_mail
from plugins.intake.services import NewInquiry, create_inquiry
from plugins.intake.web import relay_of

SUBMITS_PER_MINUTE = 20  # per client address: a person does not send more
__all__ = ["MIN_SECONDS", "contact_form", "contact_submit", "form_token"]

MIN_SECONDS, MAX_SECONDS = 3, 7200


def _key(request: Request[Any, Any, Any]) -> bytes:
    core = request.app.state.core
    return load_or_create_key(core.settings.var_dir / "keys" / "form.key", env="MADOGUCHI_FORM_KEY")


def form_token(key: bytes, tenant: str, issued: int) -> str:
    mac = hmac.new(key, f"{tenant}|{issued}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{issued}.{mac}"


def _token_ok(key: bytes, tenant: str, token: str, now: float) -> bool:
    issued_text = token.partition(".")[0]
    if not issued_text.isdigit():
        return False
    issued = int(issued_text)
    expected = form_token(key, tenant, issued)
    return hmac.compare_digest(expected, token) and MIN_SECONDS <= now - issued <= MAX_SECONDS


async def _form(
    request: Request[Any, Any, Any],
    ctx: TenantContext,
    settings: dict[str, Any],
    status_code: int = 200,
    **extra: Any,
) -> Template:
    token = form_token(_key(request), ctx.slug, int(time.time()))
    return await page(
        request,
        "intake/contact.html",
        title=f"{ctx.display_name} お問い合わせ",
        status_code=status_code,
        token=token,
        settings=settings,
        personal=True,
        **extra,
    )


@get("/t/{tenant:str}/contact", opt={"public": True}, include_in_schema=False)
async def contact_form(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[TenantContext],
    plugin_settings: NamedDependency[dict[str, Any]],
) -> Template:
    return await _form(request, ctx, plugin_settings, values={})


@post(
    "/t/{tenant:str}/contact",
    opt={"public": True, "per_client_per_minute": SUBMITS_PER_MINUTE},
    include_in_schema=False,
    status_code=200,
)
async def contact_submit(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[TenantContext],
    session: NamedDependency[AsyncSession],
    plugin_settings: NamedDependency[dict[str, Any]],
) -> Template:
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    values = {
        k: data.get(k, "")
        for k in (
            "name",
            "name_kana",
            "email",
            "phone",
            "postal_code",
            "address",
            "subject",
            "body",
        )
    }
    if "web" not in plugin_settings["channels"]:
        return await _form(
            request,
            ctx,
            plugin_settings,
            404,
            values=values,
            error="このフォームは現在受け付けていません。",
        )
    if data.get("website") or not _token_ok(
        _key(request), ctx.slug, data.get("token", ""), time.time()
    ):
        return await _form(
            request,
            ctx,
            plugin_settings,
            400,
            values=values,
            error="送信を確認できませんでした。少し時間をおいて、もう一度送信してください。",
        )
    try:
        name = clean_text(values["name"], "name", limit=100, required=True)
        body = clean_text(values["body"], "body", limit=4000, required=True)
        subject = clean_text(values["subject"], "subject", limit=200)
        email = clean_text(values["email"], "email", limit=254)
        if email is not None and "@" not in email:
            raise InputError("email", "メールアドレスの形式が正しくありません")
        phone = normalise_phone(values["phone"])
        if email is None and phone is None:
            raise InputError("email", "メールアドレスか電話番号のどちらかを入力してください")
        postal = normalise_postal(values["postal_code"])
        address = clean_text(values["address"], "address", limit=300)
    except InputError as exc:
        return await _form(
            request,
            ctx,
            plugin_settings,
            422,
            values=values,
            error=exc.message,
            error_field=exc.field,
        )
    core = request.app.state.core
    relay = relay_of(request)
    pd = PersonalData(core.db, session, core.keyring, ctx)
    full_address = " ".join(p for p in (postal and f"〒{postal}", address) if p) or None
    inquiry = await create_inquiry(
        session,
        pd,
        ctx,
        plugin_settings,
        NewInquiry(
            channel="web",
            subject=subject,
            body=body,
            name=name,
            name_kana=clean_text(values["name_kana"], "name_kana", limit=100),
            phone=phone,
            email=email,
            address=full_address,
        ),
        relay,
    )
    uid = inquiry.uid
    if email:
        await queue_mail(session, RECEIPT, {"inquiry": uid})
    after_commit(request, lambda: relay.on_inquiry_created(ctx=ctx, inquiry_uid=uid, channel="web"))
    return await page(
        request,
        "intake/contact_done.html",
        title=f"{ctx.display_name} お問い合わせ",
        receipt_no=inquiry.receipt_no,
    )

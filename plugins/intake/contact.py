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

from core import PluginContext, TenantContext, page
from plugins.intake import CONTACT_FIELDS
from plugins.intake.normalize import (
    InputError,
    clean_text,
    normalise_email,
    normalise_phone,
    normalise_postal,
)
from plugins.intake.outbox import RECEIPT, queue_mail
from plugins.intake.services import NewInquiry, create_inquiry

SUBMITS_PER_MINUTE = 20  # per client address: a person does not send more

# label, input type, max length, autocomplete, hint: how each optional field is shown
FIELD_INPUTS: dict[str, tuple[str, str, int, str, str]] = {
    "name": ("お名前", "text", 100, "name", ""),
    "name_kana": ("フリガナ", "text", 100, "off", ""),
    "email": ("メールアドレス", "email", 254, "email", ""),
    "phone": ("電話番号", "tel", 40, "tel", "例: 090-1234-5678（全角でも可）"),
    "postal_code": ("郵便番号", "text", 10, "postal-code", ""),
    "address": ("ご住所", "text", 300, "street-address", ""),
    "subject": ("件名", "text", 200, "off", ""),
}
__all__ = ["MIN_SECONDS", "contact_form", "contact_submit", "form_token"]

MIN_SECONDS, MAX_SECONDS = 3, 7200


def _key(plugin: PluginContext) -> bytes:
    return plugin.secret("form")  # MADOGUCHI_INTAKE_FORM_KEY on every node of a cluster


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


def _read_fields(
    values: dict[str, str], shown: list[str], required: set[str]
) -> dict[str, str | None]:
    """The shown fields, normalised and checked (Japanese messages); the others None. With
    both e-mail and phone on the form, one of them is needed so that the desk can answer."""
    limits = {"name": 100, "name_kana": 100, "address": 300, "subject": 200}
    read: dict[str, str | None] = dict.fromkeys(CONTACT_FIELDS)
    for name in shown:
        if name == "phone":
            read[name] = normalise_phone(values[name])
        elif name == "postal_code":
            read[name] = normalise_postal(values[name])
        elif name == "email":  # the receipt goes there: one address, nothing else
            read[name] = normalise_email(values[name])
        else:  # each may end up in a mail header: one line
            read[name] = clean_text(values[name], name, limit=limits[name], single_line=True)
        if name in required and read[name] is None:
            raise InputError(name, "入力してください")
    if {"email", "phone"} <= set(shown) and read["email"] is None and read["phone"] is None:
        raise InputError("email", "メールアドレスか電話番号のどちらかを入力してください")
    return read


async def _form(
    request: Request[Any, Any, Any],
    plugin: PluginContext,
    status_code: int = 200,
    **extra: Any,
) -> Template:
    ctx, settings = plugin.tenant, plugin.settings
    token = form_token(_key(plugin), ctx.slug, int(time.time()))
    return await page(
        request,
        "intake/contact.html",
        title=f"{ctx.display_name} お問い合わせ",
        status_code=status_code,
        token=token,
        settings=settings,
        fields=[(name, FIELD_INPUTS[name]) for name in settings["contact_fields"]],
        required=set(settings["contact_required"]),
        personal=True,
        **extra,
    )


@get("/t/{tenant:str}/contact", opt={"public": True}, include_in_schema=False)
async def contact_form(
    request: Request[Any, Any, Any],
    plugin: NamedDependency[PluginContext],
) -> Template:
    return await _form(request, plugin, values={})


@post(
    "/t/{tenant:str}/contact",
    opt={"public": True, "per_client_per_minute": SUBMITS_PER_MINUTE},
    include_in_schema=False,
    status_code=200,
)
async def contact_submit(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[TenantContext],
    plugin: NamedDependency[PluginContext],
    session: NamedDependency[AsyncSession],
    plugin_settings: NamedDependency[dict[str, Any]],
) -> Template:
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    shown = list(plugin_settings["contact_fields"])
    values = {k: data.get(k, "") for k in [*shown, "body", "category"]}
    if "web" not in plugin_settings["channels"]:
        return await _form(
            request,
            plugin,
            404,
            values=values,
            error="このフォームは現在受け付けていません。",
        )
    if data.get("website") or not _token_ok(
        _key(plugin), ctx.slug, data.get("token", ""), time.time()
    ):
        return await _form(
            request,
            plugin,
            400,
            values=values,
            error="送信を確認できませんでした。少し時間をおいて、もう一度送信してください。",
        )
    try:
        fields = _read_fields(values, shown, set(plugin_settings["contact_required"]))
        body = clean_text(values["body"], "body", limit=4000, required=True)
        categories = plugin_settings["contact_categories"]
        category = values["category"].strip()
        if categories and category not in categories:
            raise InputError("category", "お問い合わせの種類を選んでください")
    except InputError as exc:
        return await _form(
            request,
            plugin,
            422,
            values=values,
            error=exc.message,
            error_field=exc.field,
        )
    postal, address = fields["postal_code"], fields["address"]
    full_address = " ".join(p for p in (postal and f"〒{postal}", address) if p) or None
    email = fields["email"]
    inquiry = await create_inquiry(
        session,
        plugin.personal_data,
        ctx,
        plugin_settings,
        NewInquiry(
            channel="web",
            subject=fields["subject"],
            body=body,
            category=category if categories else "",
            name=fields["name"],
            name_kana=fields["name_kana"],
            phone=fields["phone"],
            email=email,
            address=full_address,
        ),
        plugin.hooks,
    )
    uid = inquiry.uid
    if email:
        await queue_mail(session, RECEIPT, {"inquiry": uid})
    plugin.notify("on_inquiry_created", inquiry_uid=uid, channel="web")
    return await page(
        request,
        "intake/contact_done.html",
        title=f"{ctx.display_name} お問い合わせ",
        receipt_no=inquiry.receipt_no,
    )

"""The secure personal-data link (本人確認) for tenants whose settings ask for it.

An operator makes a one-time, expiring link for the inquiry's customer; only its hash is
kept and the link is shown once (intake never logs it; the core's request log names the
route, not the path). The customer enters the fields the tenant requires
(``verification_fields``: of name, kana, birth date, address, phone) on a secure form; each
is compared with the customer record, normalised (widths, spaces, kana, date and number
formats), and the result is kept per field: ``match``, ``mismatch`` or ``not_on_file``.
"Verified" only when every required field matches. The record is never changed, and what
the customer typed is not stored. The operator sees the per-field result and masked values.

A link is used once: the submission claims it with one conditional UPDATE (``used_at IS
NULL``), so of several submissions at the same moment exactly one counts.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import (
    ApiError,
    Customer,
    PluginContext,
    TenantContext,
    audit,
    page,
    refusals,
    utcnow,
)
from plugins.intake.models import Inquiry, Verification
from plugins.intake.web import inquiry_or_404

__all__ = [
    "FORM_FIELDS",
    "VERIFICATION_PAGES",
    "VerificationController",
    "compare",
    "latest_verification",
    "outcome",
    "request_verification",
    "verification_state",
]

LINK_LIFETIME = timedelta(minutes=30)
# label, input type, max length: how the customer's form shows each field it may ask for
FORM_FIELDS = {
    "name": ("お名前", "text", 100),
    "name_kana": ("フリガナ", "text", 100),
    "birth_date": ("生年月日", "date", 10),
    "address": ("ご住所", "text", 300),
    "phone": ("電話番号", "tel", 40),
}
_DASHES = re.compile(r"[‐‑‒–—―ー－−]")
_POSTAL = re.compile(r"^〒?\d{3}-?\d{4}")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def _date(text: str) -> str:
    parts = re.findall(r"\d+", text)
    if len(parts) == 3:
        try:
            return date(int(parts[0]), int(parts[1]), int(parts[2])).isoformat()
        except ValueError:
            pass
    return text


def comparable(field: str, value: str) -> str:
    """What two spellings of one value have in common: NFKC, no spaces, lower case, kana as
    katakana; a date as YYYY-MM-DD; a phone number's digits; an address without its postal
    code and with one kind of dash."""
    text = "".join(unicodedata.normalize("NFKC", value).split()).lower()
    if field in ("name", "name_kana"):
        return _to_katakana(text)
    if field == "birth_date":
        return _date(text)
    if field == "phone":
        return re.sub(r"\D", "", text.replace("+81", "0", 1))
    if field == "address":
        return _POSTAL.sub("", _DASHES.sub("-", text)).lstrip("-")
    return text


def compare(entered: dict[str, str], on_file: dict[str, str | None]) -> dict[str, str]:
    """Per field entered: ``match``, ``mismatch``, or ``not_on_file``."""
    checks = {}
    for field, value in entered.items():
        known = on_file.get(field)
        if not known:
            checks[field] = "not_on_file"
        else:
            same = comparable(field, known) == comparable(field, value)
            checks[field] = "match" if same else "mismatch"
    return checks


def outcome(checks: dict[str, str], required: list[str]) -> str:
    """``verified`` only when every required field matches; ``unverifiable`` when one is not
    on file (nothing to compare with); else ``mismatch``."""
    if all(checks.get(f) == "match" for f in required):
        return "verified"
    if any(checks.get(f) == "not_on_file" for f in required):
        return "unverifiable"
    return "mismatch"


def _offered(settings: dict[str, Any]) -> None:
    if not settings["identity_verification"]:
        raise ApiError(404, "Identity verification is not offered here.")


async def request_verification(
    session: AsyncSession, ctx: TenantContext, inquiry: Any, user_id: int
) -> str:
    """A new one-time link (30 minutes) for this inquiry's customer; only its hash is kept,
    so the path returned is shown once. Audited. The caller checks the tenant offers it."""
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
    """A link's state: none, pending, expired, verified, mismatch or unverifiable."""
    if latest is None:
        return "none"
    if latest.result == "pending" and latest.expires_at <= utcnow():
        return "expired"
    return latest.result


_NOT_OFFERED = refusals(
    404, s404="No such inquiry, or the tenant's settings do not offer identity verification."
)


class VerificationController(Controller):
    path = "/api/v1/t/{tenant:str}/inquiries/{uid:str}/verification"
    tags = ("intake",)

    @post("/", opt={"permission": "inquiry:reply"}, responses=_NOT_OFFERED)
    async def create_link(
        self,
        request: Request[Any, Any, Any],
        plugin: NamedDependency[PluginContext],
        uid: FromPath[str],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin_settings: NamedDependency[dict[str, Any]],
    ) -> Response[dict[str, Any]]:
        """A one-time link (30 minutes) to send to this inquiry's customer; 404 where the
        tenant's settings do not offer identity verification."""
        _offered(plugin_settings)
        inquiry = await inquiry_or_404(session, uid)
        url = await request_verification(session, ctx, inquiry, plugin.user_id)
        return Response(
            {"url": url, "expires_in_minutes": 30},
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @get("/", opt={"permission": "inquiry:read"}, responses=_NOT_OFFERED)
    async def status(
        self,
        request: Request[Any, Any, Any],
        uid: FromPath[str],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin: NamedDependency[PluginContext],
        plugin_settings: NamedDependency[dict[str, Any]],
    ) -> dict[str, Any]:
        """The latest link's result, per field (never a value), and the customer's masked
        values of those fields once the customer answered."""
        _offered(plugin_settings)
        inquiry = await inquiry_or_404(session, uid)
        latest = await latest_verification(session, inquiry)
        if latest is None:
            return {"status": "none", "checks": {}, "masked": {}}
        masked: dict[str, Any] = {}
        if inquiry.customer_id is not None and latest.used_at is not None:
            customer = await session.get(Customer, inquiry.customer_id)
            if customer is not None:
                [shown] = await plugin.personal_data.view([customer])
                masked = {k: shown[k] for k in latest.checks}
        return {
            "status": verification_state(latest),
            "checks": dict(latest.checks),
            "masked": masked,
        }


async def _link(session: AsyncSession, token: str) -> Verification:
    row = (
        await session.exec(select(Verification).where(Verification.token_hash == _hash(token)))
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise ApiError(404, "This link is no longer valid.")
    return row


async def _form(
    request: Request[Any, Any, Any],
    settings: dict[str, Any],
    token: str,
    *,
    done: bool = False,
    error: str | None = None,
    status_code: int = 200,
) -> Template:
    fields = [(name, FORM_FIELDS[name]) for name in settings["verification_fields"]]
    return await page(
        request,
        "intake/verify.html",
        title="本人確認",
        personal=True,
        token=token,
        fields=fields,
        done=done,
        error=error,
        status_code=status_code,
    )


@get("/t/{tenant:str}/verify/{token:str}", opt={"public": True}, include_in_schema=False)
async def verify_form(
    request: Request[Any, Any, Any],
    token: FromPath[str],
    session: NamedDependency[AsyncSession],
    plugin_settings: NamedDependency[dict[str, Any]],
) -> Template:
    _offered(plugin_settings)
    await _link(session, token)
    return await _form(request, plugin_settings, token)


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
    plugin: NamedDependency[PluginContext],
    plugin_settings: NamedDependency[dict[str, Any]],
) -> Template:
    """Compare what the customer entered with the record, field by field; one use only (the
    link is claimed by one conditional UPDATE, so a second submission finds it used)."""
    _offered(plugin_settings)
    row = await _link(session, token)
    form = await request.form()
    required = list(plugin_settings["verification_fields"])
    entered = {k: str(form.get(k) or "").strip()[:300] for k in required}
    if not all(entered.values()):
        return await _form(
            request,
            plugin_settings,
            token,
            error="すべての項目を入力してください。",
            status_code=422,
        )
    pd = plugin.personal_data
    inquiry = await session.get(Inquiry, row.inquiry_id)
    assert inquiry is not None
    customer = await session.get(Customer, inquiry.customer_id) if inquiry.customer_id else None
    while customer is not None and customer.merged_into_id is not None:
        customer = await session.get(Customer, customer.merged_into_id)
    on_file = {k: await pd.field(customer, k) for k in required} if customer else {}
    checks = compare(entered, on_file)
    result = outcome(checks, required)
    now = utcnow()
    claimed = await session.exec(
        sa.update(Verification)
        .where(
            col(Verification.id) == row.id,
            col(Verification.used_at).is_(None),
            col(Verification.expires_at) > now,
        )
        .values(used_at=now, result=result, checks=checks)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # another submission of this link came first
        raise ApiError(404, "This link is no longer valid.")
    await audit(
        session,
        "verification.submit",
        object_type="inquiry",
        object_id=inquiry.uid,
        fields=[f"{k}:{v}" for k, v in sorted(checks.items())],
        outcome=result,
    )
    return await _form(request, plugin_settings, token, done=True)


VERIFICATION_PAGES = [verify_form, verify_submit]

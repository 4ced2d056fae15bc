"""The operator workspace: a client's home, its customers (masked), reveal for a purpose
chosen from a list."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.purposes import NOTE_MAX_LENGTH, REVEAL_PURPOSES
from core.identity.service import Principal, tenant_domain
from core.pii.access import PersonalData, PurposeRequired, UnknownField
from core.pii.models import Customer
from core.security.guard import LimitExceeded
from core.tenancy.context import TenantContext
from core.web.errors import ApiError
from core.web.state import CoreState
from core.web.ui.forms import form_data
from core.web.ui.i18n import translator
from core.web.ui.render import page, request_locale

__all__ = ["WORKSPACE_PAGES"]

FIELD_LABELS = (
    ("name", "Name"),
    ("name_kana", "Name (kana)"),
    ("phone", "Phone"),
    ("email", "E-mail"),
    ("address", "Address"),
    ("birth_date", "Birth date"),
    ("note", "Note"),
)


def _fields(request: Request[Any, Any, Any]) -> list[tuple[str, str]]:
    t = translator(request_locale(request))
    return [(name, t.gettext(label)) for name, label in FIELD_LABELS]


def _limit_error(request: Request[Any, Any, Any]) -> ApiError:
    return ApiError(429, translator(request_locale(request)).gettext("Hourly limit reached."))


@get("/t/{tenant:str}/", opt={"permission": "customer:read"}, include_in_schema=False)
async def tenant_home(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
    principal: NamedDependency[Principal],
) -> Template:
    count = (await session.exec(select(func.count()).select_from(Customer))).one()
    enabled = request.state.tenant.enabled
    names = [core.host.manifests[p].name for p in sorted(enabled) if p in core.host.manifests]
    t = translator(request_locale(request))
    return await page(
        request,
        "tenant/home.html",
        title=f"{ctx.display_name} · {t.gettext('Workspace')}",
        customers=int(count),
        plugins=names,
        roles=sorted(principal.roles_in(tenant_domain(ctx.id))),
    )


@get("/t/{tenant:str}/customers", opt={"permission": "customer:read"}, include_in_schema=False)
async def customer_list(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
    offset: FromQuery[int] = 0,
) -> Template:
    rows = list(
        (
            await session.exec(
                select(Customer).order_by(col(Customer.id)).offset(max(offset, 0)).limit(50)
            )
        ).all()
    )
    pd = PersonalData(core.db, session, core.keyring, ctx)
    return await _list_page(request, pd, rows, searched=False)


@post(
    "/t/{tenant:str}/customers/search",
    opt={"permission": "customer:read"},
    include_in_schema=False,
    status_code=200,
)
async def customer_search(
    request: Request[Any, Any, Any],
    core: NamedDependency[CoreState],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
) -> Template:
    query = (await form_data(request)).get("q", "").strip()
    pd = PersonalData(core.db, session, core.keyring, ctx)
    found = await pd.find(email=query) if "@" in query else await pd.find(phone=query)
    return await _list_page(request, pd, found, searched=True)


async def _list_page(
    request: Request[Any, Any, Any], pd: PersonalData, rows: list[Customer], *, searched: bool
) -> Template:
    """Customers, masked (each one shown is an audited read)."""
    try:
        shown = await pd.view(rows)
    except LimitExceeded as exc:
        raise _limit_error(request) from exc
    t = translator(request_locale(request))
    return await page(
        request,
        "tenant/customers.html",
        title=t.gettext("Customers"),
        personal=True,
        customers=shown,
        searched=searched,
    )


async def _customer_page(
    request: Request[Any, Any, Any],
    core: CoreState,
    session: AsyncSession,
    ctx: TenantContext,
    principal: Principal,
    uid: str,
    revealed: dict[str, str | None] | None = None,
    flash: str | None = None,
) -> Template:
    pd = PersonalData(core.db, session, core.keyring, ctx)
    customer = await pd.by_uid(uid)
    if customer is None:
        raise ApiError(404, "No such customer.")
    try:
        [shown] = await pd.view([customer])
    except LimitExceeded as exc:
        raise _limit_error(request) from exc
    tenant = request.state.tenant
    domain = tenant_domain(ctx.id)
    can_reveal = core.authorizer.allows(
        principal.roles_in(domain),
        domain,
        "pii:reveal",
        version=tenant.version,
        templates=tenant.role_templates,
    )
    t = translator(request_locale(request))
    return await page(
        request,
        "tenant/customer.html",
        title=t.gettext("Customer"),
        personal=True,
        customer=shown,
        fields=_fields(request),
        revealed=revealed,
        can_reveal=can_reveal,
        purposes=[(p.code, p.label(t.locale), p.needs_note) for p in REVEAL_PURPOSES],
        note_max=NOTE_MAX_LENGTH,
        customer_label=shown["name"] or uid[:8],
        flash=flash,
        flash_kind="error" if flash else None,
        status_code=422 if flash else 200,
    )


@get(
    "/t/{tenant:str}/customers/{uid:str}",
    opt={"permission": "customer:read"},
    include_in_schema=False,
)
async def customer_detail(
    request: Request[Any, Any, Any],
    uid: FromPath[str],
    core: NamedDependency[CoreState],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
    principal: NamedDependency[Principal],
) -> Template:
    return await _customer_page(request, core, session, ctx, principal, uid)


@post(
    "/t/{tenant:str}/customers/{uid:str}/reveal",
    opt={"permission": "pii:reveal"},
    include_in_schema=False,
    status_code=200,
)
async def customer_reveal(
    request: Request[Any, Any, Any],
    uid: FromPath[str],
    core: NamedDependency[CoreState],
    session: NamedDependency[AsyncSession],
    ctx: NamedDependency[TenantContext],
    principal: NamedDependency[Principal],
) -> Template:
    form = await request.form()
    fields = [v for v in form.getall("fields")] if hasattr(form, "getall") else []
    purpose, note = form.get("purpose") or "", form.get("note") or ""
    t = translator(request_locale(request))
    pd = PersonalData(core.db, session, core.keyring, ctx)
    customer = await pd.by_uid(uid)
    if customer is None:
        raise ApiError(404, "No such customer.")
    try:
        values = await pd.reveal(customer, [str(f) for f in fields], str(purpose), str(note))
    except PurposeRequired as exc:
        return await _customer_page(
            request,
            core,
            session,
            ctx,
            principal,
            uid,
            flash=t.gettext("Add a note for this purpose (at most 500 characters).")
            if exc.field == "note"
            else t.gettext("Choose the purpose from the list."),
        )
    except UnknownField:
        return await _customer_page(
            request,
            core,
            session,
            ctx,
            principal,
            uid,
            flash=t.gettext("Choose at least one field."),
        )
    except LimitExceeded as exc:
        raise _limit_error(request) from exc
    return await _customer_page(request, core, session, ctx, principal, uid, revealed=values)


WORKSPACE_PAGES = [tenant_home, customer_list, customer_search, customer_detail, customer_reveal]

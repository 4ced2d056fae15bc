"""Export requests (per tenant) and the security officer's views across tenants."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.purposes import NOTE_MAX_LENGTH, describe
from core.crypto.keyfiles import load_or_create_key
from core.identity.service import Principal
from core.pii.access import PersonalData
from core.security import exports
from core.security.models import ExportRequest, SecurityAlert
from core.tenancy.context import TenantContext
from core.tenancy.models import Tenant
from core.web.errors import ApiError
from core.web.schemas import StrictBody
from core.web.state import CoreState

__all__ = ["ExportController", "SecurityAdminController"]

REVIEW = "security-review"


class ExportIn(StrictBody):
    kind: str = Field(max_length=32, description="customers")
    purpose: str = Field(max_length=32, description="a code of the export purposes")
    note: str | None = Field(
        default=None, max_length=NOTE_MAX_LENGTH, description="optional; sealed, never shown"
    )


class ExportOut(BaseModel):
    id: int
    kind: str
    purpose: str  # the purpose's code
    purpose_label: dict[str, str] | None  # {"ja", "en"}
    purpose_note: bool  # a sealed note goes with it
    status: str
    requested_by: int
    requested_at: datetime
    decided_by: int | None
    expires_at: datetime | None
    tenant: str | None = None


def _out(row: ExportRequest, tenant: str | None = None) -> ExportOut:
    assert row.id is not None
    shown = describe(row.reason)
    return ExportOut(
        id=row.id,
        kind=row.kind,
        purpose=shown.purpose,
        purpose_label=shown.label,
        purpose_note=shown.note,
        status=row.status,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        expires_at=row.expires_at,
        tenant=tenant,
    )


def _fail(exc: exports.ExportError) -> ApiError:
    return ApiError(exc.status, str(exc), field=exc.field)


class ExportController(Controller):
    path = "/api/v1/t/{tenant:str}/exports"
    tags = ("exports",)

    @post("/", opt={"permission": "export:request"})
    async def create(
        self,
        data: JSONBody[ExportIn],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[ExportOut]:
        pd = PersonalData(core.db, session, core.keyring, ctx)
        try:
            row = await exports.request_export(session, pd, data.kind, data.purpose, data.note)
        except exports.ExportError as exc:
            raise _fail(exc) from exc
        return Response(_out(row), status_code=201)

    @get("/", opt={"permission": "export:request"})
    async def index(self, session: NamedDependency[AsyncSession]) -> list[ExportOut]:
        rows = (
            await session.exec(select(ExportRequest).order_by(col(ExportRequest.id).desc()))
        ).all()
        return [_out(r) for r in rows]

    @post("/{export_id:int}/approve", opt={"permission": "export:approve"}, status_code=200)
    async def approve(
        self, export_id: FromPath[int], session: NamedDependency[AsyncSession]
    ) -> ExportOut:
        try:
            return _out(await exports.approve(session, export_id, True))
        except exports.ExportError as exc:
            raise _fail(exc) from exc

    @post("/{export_id:int}/reject", opt={"permission": "export:approve"}, status_code=200)
    async def reject(
        self, export_id: FromPath[int], session: NamedDependency[AsyncSession]
    ) -> ExportOut:
        try:
            return _out(await exports.approve(session, export_id, False))
        except exports.ExportError as exc:
            raise _fail(exc) from exc

    @get("/{export_id:int}/download", opt={"permission": "export:download"})
    async def download(
        self,
        export_id: FromPath[int],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        principal: NamedDependency[Principal],
    ) -> Response[str]:
        key = load_or_create_key(
            core.settings.var_dir / "keys" / "watermark.key", env="MADOGUCHI_WATERMARK_KEY"
        )
        pd = PersonalData(core.db, session, core.keyring, ctx)
        try:
            body, _ = await exports.render(session, pd, export_id, principal.email, key)
        except exports.ExportError as exc:
            raise _fail(exc) from exc
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="export-{ctx.slug}-{export_id}.csv"',
            },
        )


class AlertOut(BaseModel):
    id: int
    tenant: str
    at: datetime
    kind: str
    severity: str
    user_id: int | None
    detail: str


class SecurityAdminController(Controller):
    """Across tenants, without personal values: alerts and pending exports."""

    path = "/api/v1/admin"
    tags = ("security",)

    @get("/alerts", opt={"permission": "alert:read"})
    async def alerts(
        self, core: NamedDependency[CoreState], limit: FromQuery[int] = 100
    ) -> list[AlertOut]:
        if not 1 <= limit <= 1000:
            raise ApiError(400, "limit must be 1-1000", field="limit")
        async with core.db.session(cross_tenant=REVIEW) as session:
            rows = (
                await session.exec(
                    select(SecurityAlert).order_by(col(SecurityAlert.at).desc()).limit(limit)
                )
            ).all()
        slugs = await _slugs(core)
        return [
            AlertOut(
                id=r.id or 0,
                tenant=slugs.get(r.tenant_id, "?"),
                at=r.at,
                kind=r.kind,
                severity=r.severity,
                user_id=r.user_id,
                detail=r.detail,
            )
            for r in rows
        ]

    @get("/exports", opt={"permission": "export:review"})
    async def exports(self, core: NamedDependency[CoreState]) -> list[ExportOut]:
        async with core.db.session(cross_tenant=REVIEW) as session:
            rows = (
                await session.exec(
                    select(ExportRequest)
                    .where(ExportRequest.status == "pending")
                    .order_by(col(ExportRequest.id))
                )
            ).all()
        slugs = await _slugs(core)
        return [_out(r, slugs.get(r.tenant_id)) for r in rows]


async def _slugs(core: CoreState) -> dict[int, str]:
    async with core.db.session() as session:
        return {t.id: t.slug for t in (await session.exec(select(Tenant))).all() if t.id}

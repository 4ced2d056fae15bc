"""Export requests (per tenant) and the security officer's views across tenants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.purposes import EXPORT_PURPOSES, NOTE_MAX_LENGTH, OTHER, describe
from core.crypto.keyfiles import load_or_create_key
from core.identity.service import Principal
from core.pii.access import PersonalData
from core.security import exports
from core.security.models import ExportRequest, SecurityAlert
from core.tenancy.context import TenantContext
from core.tenancy.models import Tenant
from core.web.errors import ApiError
from core.web.inputs import RowId
from core.web.openapi import refusals
from core.web.schemas import StrictBody
from core.web.state import CoreState

__all__ = ["ExportController", "SecurityAdminController"]

REVIEW = "security-review"


class ExportIn(StrictBody):
    """The purpose ``other`` says nothing without a note (422 naming ``note``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"purpose": {"const": OTHER.code}}},
            "then": {
                "required": ["note"],
                "properties": {"note": {"type": "string", "pattern": "\\S"}},
            },
        }
    )

    kind: str = Field(
        max_length=32,
        description="what to export",
        json_schema_extra={"enum": list(exports.EXPORT_KINDS)},
    )
    purpose: str = Field(
        max_length=32,
        description="a code of the export purposes",
        json_schema_extra={"enum": list(EXPORT_PURPOSES.codes)},
    )
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


_DECISION_REFUSALS = refusals(
    404, 409, s404="No such export request.", s409="The request was decided already."
)


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

    @post(
        "/{export_id:int}/approve",
        opt={"permission": "export:approve"},
        status_code=200,
        responses=_DECISION_REFUSALS,
    )
    async def approve(self, export_id: RowId, session: NamedDependency[AsyncSession]) -> ExportOut:
        """Approve another person's request (the four-eyes rule: 403 for your own, or one by
        someone you made or granted a role to lately)."""
        try:
            return _out(await exports.approve(session, export_id, True))
        except exports.ExportError as exc:
            raise _fail(exc) from exc

    @post(
        "/{export_id:int}/reject",
        opt={"permission": "export:approve"},
        status_code=200,
        responses=_DECISION_REFUSALS,
    )
    async def reject(self, export_id: RowId, session: NamedDependency[AsyncSession]) -> ExportOut:
        try:
            return _out(await exports.approve(session, export_id, False))
        except exports.ExportError as exc:
            raise _fail(exc) from exc

    @get(
        "/{export_id:int}/download",
        opt={"permission": "export:download"},
        media_type="text/csv",
        responses=refusals(
            404,
            409,
            410,
            s404="No such export request.",
            s409="The request is not approved.",
            s410="The export was downloaded already, or its approval has expired.",
        ),
    )
    async def download(
        self,
        export_id: RowId,
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
            media_type="text/csv",  # Litestar adds the charset (utf-8)
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
        self,
        core: NamedDependency[CoreState],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[AlertOut]:
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

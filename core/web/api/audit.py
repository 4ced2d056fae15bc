"""The client's own slice of the audit log: who at the BPO touched which record, when, why;
and its chain's signed checkpoints, to keep outside the system."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from pydantic import BaseModel
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from core.audit.checkpoint import chain_checkpoints, document_of
from core.audit.checkpoint_file import ChainCheckpoints, CheckpointDocument
from core.audit.log import record, tenant_chain
from core.audit.models import AuditEvent
from core.audit.purposes import describe
from core.audit.signing import SigningKeyError, load_signing_key
from core.csv_cells import safe_row
from core.identity.models import User
from core.tenancy.context import TenantContext
from core.web.errors import ApiError
from core.web.inputs import INT_MAX, Offset
from core.web.openapi import refusals
from core.web.state import CoreState

__all__ = ["AccessLogController"]

COLUMNS = (
    "seq",
    "at",
    "actor",
    "roles",
    "action",
    "object_type",
    "object_id",
    "fields",
    "purpose",
    "outcome",
    "request_id",
    "client_addr",
)


Action = Annotated[str | None, QueryParameter(max_length=64, description="an action prefix")]
ActorId = Annotated[int | None, QueryParameter(ge=1, le=INT_MAX, description="a user's id")]
ObjectId = Annotated[str | None, QueryParameter(max_length=128)]


class AccessEvent(BaseModel):
    seq: int
    at: datetime
    actor: str | None
    roles: list[str]
    action: str
    object_type: str
    object_id: str
    fields: list[str]
    purpose: str  # a purpose's code (core.audit.purposes), or older events' text
    purpose_label: dict[str, str] | None  # {"ja": ..., "en": ...} for a code
    purpose_note: bool  # a sealed note was given with the purpose
    outcome: str
    request_id: str
    client_addr: str


def _query(
    action: str | None,
    user: int | None,
    since: datetime | None,
    until: datetime | None,
    object_id: str | None,
) -> SelectOfScalar[AuditEvent]:
    statement = select(AuditEvent)
    if action:
        statement = statement.where(col(AuditEvent.action).startswith(action))
    if user is not None:
        statement = statement.where(AuditEvent.actor_user_id == user)
    if since is not None:
        statement = statement.where(col(AuditEvent.at) >= since)
    if until is not None:
        statement = statement.where(col(AuditEvent.at) < until)
    if object_id:
        statement = statement.where(AuditEvent.object_id == object_id)
    return statement.order_by(col(AuditEvent.seq).desc())


async def _events(
    core: CoreState,
    session: AsyncSession,
    statement: SelectOfScalar[AuditEvent],
) -> list[AccessEvent]:
    rows = (await session.exec(statement)).all()
    ids = {r.actor_user_id for r in rows if r.actor_user_id is not None}
    names: dict[int, str] = {}
    if ids:
        async with core.db.session() as platform:
            users = (await platform.exec(select(User).where(col(User.id).in_(ids)))).all()
            names = {u.id: u.email for u in users if u.id is not None}
    shown = [describe(r.purpose) for r in rows]
    return [
        AccessEvent(
            seq=r.seq,
            at=r.at,
            actor=names.get(r.actor_user_id) if r.actor_user_id else None,
            roles=r.actor_roles,
            action=r.action,
            object_type=r.object_type,
            object_id=r.object_id,
            fields=r.fields,
            purpose=purpose.purpose,
            purpose_label=purpose.label,
            purpose_note=purpose.note,
            outcome=r.outcome,
            request_id=r.request_id,
            client_addr=r.client_addr,
        )
        for r, purpose in zip(rows, shown, strict=True)
    ]


class AccessLogController(Controller):
    path = "/api/v1/t/{tenant:str}/audit"
    tags = ("audit",)

    @get("/events", opt={"permission": "audit:read"})
    async def events(
        self,
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        action: Action = None,
        user: ActorId = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        object_id: ObjectId = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Offset = 0,
    ) -> list[AccessEvent]:
        """The tenant's events, newest first; filter by action prefix (``pii.``), user, time
        (RFC 3339, with a zone) and record."""
        statement = _query(action, user, since, until, object_id).offset(offset).limit(limit)
        found = await _events(core, session, statement)
        await record(session, "audit.read", object_type="audit", fields=[f"rows:{len(found)}"])
        return found

    @get("/events.csv", opt={"permission": "audit:read"}, media_type="text/csv")
    async def events_csv(
        self,
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        action: Action = None,
        user: ActorId = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        object_id: ObjectId = None,
    ) -> Response[str]:
        """The same events as CSV (cells that a spreadsheet would run are neutralised)."""
        found = await _events(
            core, session, _query(action, user, since, until, object_id).limit(100_000)
        )
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for e in found:
            writer.writerow(
                safe_row(
                    [
                        e.seq,
                        e.at.isoformat(),
                        e.actor or "",
                        " ".join(e.roles),
                        e.action,
                        e.object_type,
                        e.object_id,
                        " ".join(e.fields),
                        e.purpose,
                        e.outcome,
                        e.request_id,
                        e.client_addr,
                    ]
                )
            )
        await record(session, "audit.export", object_type="audit", fields=[f"rows:{len(found)}"])
        return Response(
            out.getvalue(),
            media_type="text/csv",  # Litestar adds the charset (utf-8)
            headers={"Content-Disposition": 'attachment; filename="access-log.csv"'},
        )

    @get(
        "/checkpoints",
        opt={"permission": "audit:read"},
        responses=refusals(503, s503="The audit signing key is not available."),
    )
    async def checkpoints(
        self,
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Offset = 0,
    ) -> Response[CheckpointDocument]:
        """The signed checkpoints of the tenant's audit chain, newest first, with the public key
        that checks them (nothing else is needed). Keep the downloads: a later rewrite of the
        log cannot match them (``madoguchi audit verify --checkpoints FILE``)."""
        try:
            public = load_signing_key(core.settings, create=False).public_key()
        except SigningKeyError:
            raise ApiError(503, "the audit signing key is not available") from None
        heads = await chain_checkpoints(session, ctx.id, limit=limit, offset=offset)
        await record(
            session, "audit.read", object_type="audit_checkpoint", fields=[f"rows:{len(heads)}"]
        )
        newest = heads[0].seq if heads else 0
        return Response(
            document_of(public, [ChainCheckpoints(tenant_chain(ctx.id), heads, ctx.slug)]),
            headers={
                "Content-Disposition": (
                    f'attachment; filename="audit-checkpoints-{ctx.slug}-{newest}.json"'
                )
            },
        )

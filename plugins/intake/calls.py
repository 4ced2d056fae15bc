"""Phone calls from the contact-centre system: by webhook, one at a time, or by CSV import.

Each call becomes an inquiry, or joins the caller's open phone inquiry of the last week. A
call id seen before is not stored twice (the system may resend). A CSV file is checked whole
first: one bad row refuses the file, naming the row and the field, and nothing is stored.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import PersonalData, TenantContext, audit, utcnow
from plugins.intake.models import CallRecord, Inquiry, InquiryStatus
from plugins.intake.normalize import InputError, normalise_email, normalise_phone
from plugins.intake.schemas import Email, Phone, StrictBody
from plugins.intake.services import NewInquiry, add_inbound, create_inquiry

__all__ = ["CSV_COLUMNS", "CallIn", "LoggedCall", "log_call", "parse_csv"]

CSV_COLUMNS = (
    "call_id",
    "caller_number",
    "queue",
    "started_at",
    "ended_at",
    "outcome",
    "operator",
    "memo",
)
JOIN_WITHIN = timedelta(days=7)
OUTCOMES = ("answered", "abandoned", "voicemail", "callback", "transferred")


class CallIn(StrictBody):
    """Times carry a zone; ``ended_at`` is not before ``started_at`` (422 otherwise)."""

    call_id: str = Field(min_length=1, max_length=100)
    caller_number: Phone | None = Field(default=None, max_length=40)
    queue: str = Field(default="", max_length=100)
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str = Field(
        default="answered", max_length=32, json_schema_extra={"enum": list(OUTCOMES)}
    )
    operator: Email = Field(default="", max_length=254, description="the staff's address")
    memo: str | None = Field(default=None, max_length=4000)


@dataclass
class LoggedCall:
    call_id: str
    inquiry_uid: str
    receipt_no: str
    created: bool  # a new inquiry (False: joined an open one)
    duplicate: bool  # this call id was stored before


def _check(call: CallIn) -> str | None:
    if call.outcome not in OUTCOMES:
        raise InputError("outcome", f"one of {', '.join(OUTCOMES)}")
    if call.started_at.tzinfo is None:
        raise InputError("started_at", "needs a timezone (e.g. +09:00)")
    if call.ended_at is not None and call.ended_at < call.started_at:
        raise InputError("ended_at", "before started_at")
    normalise_email(call.operator, "operator")  # one staff address, or none
    return normalise_phone(call.caller_number, "caller_number")


async def log_call(
    session: AsyncSession,
    pd: PersonalData,
    ctx: TenantContext,
    settings: dict[str, Any],
    call: CallIn,
    relay: Any,
) -> LoggedCall:
    phone = _check(call)
    existing = (
        await session.exec(select(CallRecord).where(CallRecord.call_id == call.call_id))
    ).first()
    if existing is not None:
        inquiry = await session.get(Inquiry, existing.inquiry_id)
        assert inquiry is not None
        return LoggedCall(call.call_id, inquiry.uid, inquiry.receipt_no, False, True)
    memo = call.memo or f"通話 ({call.outcome})"
    inquiry = None
    if phone:
        customers = await pd.find(phone=phone)
        if customers:
            inquiry = (
                await session.exec(
                    select(Inquiry)
                    .where(
                        Inquiry.customer_id == customers[0].id,
                        Inquiry.channel == "phone",
                        col(Inquiry.status).in_(InquiryStatus.ACTIVE),
                        col(Inquiry.created_at) >= utcnow() - JOIN_WITHIN,
                    )
                    .order_by(col(Inquiry.id).desc())
                )
            ).first()
    created = inquiry is None
    if inquiry is None:
        inquiry = await create_inquiry(
            session,
            pd,
            ctx,
            settings,
            NewInquiry(channel="phone", subject=None, body=memo, phone=phone),
            relay,
        )
    else:
        await add_inbound(session, pd, ctx, inquiry, "phone", memo)
    session.add(
        CallRecord(
            tenant_id=ctx.id,
            call_id=call.call_id,
            inquiry_id=inquiry.id,  # type: ignore[arg-type]
            queue=call.queue,
            started_at=call.started_at,
            ended_at=call.ended_at,
            outcome=call.outcome,
            operator_email=normalise_email(call.operator, "operator") or "",
        )
    )
    await session.flush()
    await audit(
        session, "call.log", object_type="inquiry", object_id=inquiry.uid, fields=[call.outcome]
    )
    return LoggedCall(call.call_id, inquiry.uid, inquiry.receipt_no, created, False)


def parse_csv(text: str) -> list[CallIn]:
    """Every row checked before anything is stored; raises InputError naming row and field."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in ("call_id", "started_at") if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError("header", f"missing columns: {', '.join(missing)}")
    calls = []
    for number, row in enumerate(reader, start=2):
        values = {k: (v or None) for k, v in row.items() if k in CSV_COLUMNS}
        values = {k: v for k, v in values.items() if v is not None}
        try:
            call = CallIn(**values)
            _check(call)
        except InputError as exc:
            raise InputError(f"row {number}: {exc.field}", exc.message) from None
        except ValueError as exc:
            field = exc.errors()[0]["loc"][0] if hasattr(exc, "errors") else "row"
            raise InputError(f"row {number}: {field}", "invalid value") from None
        calls.append(call)
    if not calls:
        raise InputError("file", "no rows")
    return calls

"""Intake API: register inquiries (idempotently), list and read them, work them, take next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import (
    FromPath,
    FromQuery,
    HeaderParameter,
    JSONBody,
    PathParameter,
    QueryParameter,
)
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core import (
    INT_MAX,
    ApiError,
    Customer,
    PluginContext,
    TenantContext,
    audit,
    refusals,
)
from plugins.intake import idempotency
from plugins.intake.calls import CSV_COLUMNS, CallIn, log_call, parse_csv
from plugins.intake.models import Inquiry, InquiryMessage, Queue
from plugins.intake.normalize import InputError, normalise_email, normalise_phone, one_line
from plugins.intake.schemas import (
    CategoriesUpdate,
    Delivery,
    InquiryCreate,
    InquiryDetail,
    InquiryRead,
    InquiryUpdate,
    MessageCreate,
    MessageRead,
    QueueConfig,
    StatusName,
    TagsUpdate,
)
from plugins.intake.services import (
    KNOWN_CHANNELS,
    QUEUE_SLUG,
    ROUTING,
    ChangeError,
    NewInquiry,
    add_message,
    channel_summary,
    delete_queue,
    queue_stats,
    save_queue,
    take_next,
    update_inquiry,
)
from plugins.intake.vocabulary import VocabularyError, read_vocabulary, save_vocabulary
from plugins.intake.web import check_assignee, inquiry_or_404, notify_updated
from plugins.intake.writer import Submission, writer_of

log = structlog.get_logger("madoguchi.intake")


def _error(status: int, message: str, field: str | None = None) -> Exception:
    return ApiError(status, message, field=field)


async def _queues(session: AsyncSession) -> dict[int, str]:
    return {q.id: q.slug for q in (await session.exec(select(Queue))).all() if q.id is not None}


async def _read(
    session: AsyncSession, inquiry: Inquiry, queues: dict[int, str] | None = None
) -> InquiryRead:
    queues = queues if queues is not None else await _queues(session)
    customer_uid = None
    if inquiry.customer_id is not None:
        customer = await session.get(Customer, inquiry.customer_id)
        while customer is not None and customer.merged_into_id is not None:  # merged duplicate
            customer = await session.get(Customer, customer.merged_into_id)
        customer_uid = customer.uid if customer else None
    return InquiryRead(
        uid=inquiry.uid,
        receipt_no=inquiry.receipt_no,
        channel=inquiry.channel,
        status=inquiry.status,
        priority=inquiry.priority,
        queue=queues.get(inquiry.queue_id) if inquiry.queue_id else None,
        category=inquiry.category,
        assignee_id=inquiry.assignee_id,
        customer_uid=customer_uid,
        first_response_due=inquiry.first_response_due,
        resolution_due=inquiry.resolution_due,
        created_at=inquiry.created_at,
    )


def delivery_of(message: InquiryMessage) -> Delivery | None:
    """Where a reply by e-mail stands, for the operator (None: not sent by e-mail)."""
    if message.delivery is None:
        return None
    return Delivery(state=message.delivery, reason=message.delivery_error)


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=idempotency.MAX_KEY,
        description="optional: a repeat with the same key and body replays the first answer",
    ),
]
# checked by save_queue (422 naming it), as the document states it
QueueSlug = Annotated[
    str, PathParameter(max_length=63, schema_extra={"pattern": QUEUE_SLUG.pattern})
]


_INQUIRY_REFUSALS = refusals(
    404,
    422,
    s404="No such inquiry.",
    s422="A value names what the tenant lacks: a category or tag of its vocabulary, a queue, "
    "someone who works its queues (or a field the body does not declare).",
)


class InquiryController(Controller):
    path = "/api/v1/t/{tenant:str}/inquiries"
    tags = ("intake",)

    @post(
        "/",
        opt={"permission": "inquiry:create", "recheck_on_write": True},
        responses=refusals(
            409,
            422,
            s409="A request with this Idempotency-Key is still being processed.",
            s422="This Idempotency-Key was used with another body, or a category or tag is "
            "not in the tenant's vocabulary (or a field the body does not declare).",
        ),
    )
    async def create(
        self,
        data: JSONBody[InquiryCreate],
        ctx: NamedDependency[TenantContext],
        request: Request[Any, Any, Any],
        plugin: NamedDependency[PluginContext],
        key: IdempotencyKey = None,
    ) -> Response[dict[str, Any]]:
        """Register an inquiry. With ``Idempotency-Key`` a repeat replays the stored answer
        (with ``Idempotent-Replayed: true``), a repeat while the first is running gets 409,
        the same key with another body 422. Committed together with the tenant's other
        inquiries of the moment (``writer``)."""
        if data.channel not in KNOWN_CHANNELS:
            raise _error(422, f"channel must be one of {', '.join(KNOWN_CHANNELS)}", "channel")
        try:
            phone = normalise_phone(data.phone)
            email = normalise_email(data.email)
            for name in ("subject", "name", "name_kana"):  # may become mail headers
                one_line(getattr(data, name), name)
        except InputError as exc:
            raise _error(422, exc.message, exc.field) from exc
        claim = request.state.access_claim
        relay = plugin.hooks
        inquiry = NewInquiry(
            channel=data.channel,
            subject=data.subject,
            body=data.body,
            category=data.category,
            priority=data.priority,
            name=data.name,
            name_kana=data.name_kana,
            phone=phone,
            email=email,
            tags=data.tags,
            actor=claim.actor,
        )
        inquiry.chosen_queue = relay.resolve_queue(
            ctx=ctx, channel=data.channel, category=data.category, text=inquiry.text
        )
        body = idempotency.canonical_body(data.model_dump()) if key is not None else b""
        outcome = await writer_of(request).submit(ctx, Submission(claim, key, body, inquiry))
        if outcome.replayed:
            return Response(
                outcome.body, status_code=outcome.status, headers={"Idempotent-Replayed": "true"}
            )
        uid = outcome.body["uid"]
        plugin.notify("on_inquiry_created", inquiry_uid=uid, channel=data.channel)
        return Response(outcome.body, status_code=outcome.status)

    @get("/", opt={"permission": "inquiry:read"})
    async def index(
        self,
        request: Request[Any, Any, Any],
        plugin: NamedDependency[PluginContext],
        session: NamedDependency[AsyncSession],
        status: FromQuery[StatusName | None] = None,
        queue: Annotated[str | None, QueryParameter(max_length=63)] = None,
        mine: FromQuery[bool] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=INT_MAX)] = 0,
    ) -> list[InquiryRead]:
        queues = await _queues(session)
        statement = select(Inquiry)
        if status:
            statement = statement.where(Inquiry.status == status)
        if queue:
            ids = [i for i, slug in queues.items() if slug == queue]
            statement = statement.where(col(Inquiry.queue_id).in_(ids))
        if mine:
            statement = statement.where(Inquiry.assignee_id == plugin.user_id)
        rows = (
            await session.exec(
                statement.order_by(col(Inquiry.priority), col(Inquiry.id))
                .offset(offset)
                .limit(limit)
            )
        ).all()
        return [await _read(session, r, queues) for r in rows]

    @get(
        "/{uid:str}",
        opt={"permission": "inquiry:read"},
        responses=refusals(
            404, 429, s404="No such inquiry.", s429="The hourly read limit is reached."
        ),
    )
    async def show(
        self,
        request: Request[Any, Any, Any],
        uid: FromPath[str],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin: NamedDependency[PluginContext],
    ) -> Response[InquiryDetail]:
        """The inquiry with its conversation; free text is personal data, so the read is
        audited (``pii.read``) and counts toward the hourly limits."""
        inquiry = await inquiry_or_404(session, uid)
        pd = plugin.personal_data
        try:
            await pd.count_read(1)
        except PermissionError as exc:  # the hourly hard limit
            raise _error(429, "Hourly read limit reached.") from exc
        messages = (
            await session.exec(
                select(InquiryMessage)
                .where(InquiryMessage.inquiry_id == inquiry.id)
                .order_by(col(InquiryMessage.id))
            )
        ).all()
        detail = InquiryDetail(
            **(await _read(session, inquiry)).model_dump(),
            subject=await pd.open_text("intake_inquiry", "subject", inquiry.uid, inquiry.subject),
            messages=[
                MessageRead(
                    uid=m.uid,
                    kind=m.kind,
                    channel=m.channel,
                    body=await pd.open_text("intake_message", "body", m.uid, m.body),
                    author_user_id=m.author_user_id,
                    created_at=m.created_at,
                    delivery=delivery_of(m),
                )
                for m in messages
            ],
        )
        await audit(
            session,
            "pii.read",
            object_type="inquiry",
            object_id=inquiry.uid,
            fields=["subject", "messages"],
        )
        return Response(detail, headers={"Cache-Control": "no-store"})

    @patch("/{uid:str}", opt={"permission": "inquiry:reply"}, responses=_INQUIRY_REFUSALS)
    async def update(
        self,
        request: Request[Any, Any, Any],
        plugin: NamedDependency[PluginContext],
        uid: FromPath[str],
        data: JSONBody[InquiryUpdate],
        session: NamedDependency[AsyncSession],
    ) -> InquiryRead:
        inquiry = await inquiry_or_404(session, uid)
        await check_assignee(plugin, data.assignee_id)
        try:
            changes = await update_inquiry(
                session,
                inquiry,
                status=data.status,
                priority=data.priority,
                category=data.category,
                tags=data.tags,
                queue_slug=data.queue,
                assignee_id=data.assignee_id,
                unassign=data.unassign,
            )
        except ChangeError as exc:
            raise _error(422, exc.message, exc.field) from exc
        if changes:
            await notify_updated(plugin, inquiry, changes)
        return await _read(session, inquiry)

    @post("/{uid:str}/messages", opt={"permission": "inquiry:reply"}, responses=_INQUIRY_REFUSALS)
    async def add_message(
        self,
        request: Request[Any, Any, Any],
        uid: FromPath[str],
        data: JSONBody[MessageCreate],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin: NamedDependency[PluginContext],
    ) -> Response[MessageRead]:
        """A reply to the customer or an internal note, bound server-side to this inquiry."""
        inquiry = await inquiry_or_404(session, uid)
        pd = plugin.personal_data
        message = await add_message(session, pd, ctx, inquiry, data.kind, data.body, plugin.user_id)
        await notify_updated(plugin, inquiry, [data.kind])
        return Response(
            MessageRead(
                uid=message.uid,
                kind=message.kind,
                channel=message.channel,
                body=data.body,
                author_user_id=message.author_user_id,
                created_at=message.created_at,
                delivery=delivery_of(message),
            ),
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @post(
        "/take-next",
        opt={"permission": "inquiry:reply"},
        status_code=200,
        responses={204: ResponseSpec(None, description="Nothing is waiting.")},
    )
    async def take(
        self,
        request: Request[Any, Any, Any],
        plugin: NamedDependency[PluginContext],
        session: NamedDependency[AsyncSession],
        queue: Annotated[str | None, QueryParameter(max_length=63)] = None,
    ) -> Response[InquiryRead | None]:
        """The most urgent unassigned inquiry of the queues (or one queue), now yours; 204
        when none is waiting."""
        queues = await _queues(session)
        ids = [i for i, slug in queues.items() if queue in (None, slug)]
        taken = await take_next(session, plugin.user_id, ids)
        if taken is None:
            return Response(None, status_code=204)
        await notify_updated(plugin, taken, ["assignee", "status"])
        return Response(await _read(session, taken, queues))


class IntakeChannelsController(Controller):
    path = "/api/v1/t/{tenant:str}/intake"
    tags = ("intake",)

    @get("/channels", opt={"permission": "intake:configure"})
    async def channels(self, plugin_settings: NamedDependency[dict[str, Any]]) -> dict[str, Any]:
        """The tenant's intake channels and SLA targets."""
        return channel_summary(plugin_settings)

    @get("/queues", opt={"permission": "queue:supervise"})
    async def queues(self, session: NamedDependency[AsyncSession]) -> list[dict[str, Any]]:
        """Per queue: its routing; depth, oldest waiting, SLA at risk or breached, load per
        operator."""
        return await queue_stats(session)

    @put(
        "/queues/{slug:str}",
        opt={"permission": "queue:configure"},
        responses={
            201: ResponseSpec(dict[str, Any], description="The queue was created."),
            **refusals(422, s422="A category is not in the tenant's vocabulary."),
        },
    )
    async def configure_queue(
        self,
        slug: QueueSlug,
        data: JSONBody[QueueConfig],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[dict[str, Any]]:
        """Create a queue or change its name and routing (201 when created)."""
        try:
            queue, created = await save_queue(session, ctx, slug, data.model_dump())
        except ChangeError as exc:
            raise _error(422, exc.message, exc.field) from exc
        body = {"queue": queue.slug, **{f: getattr(queue, f) for f in ROUTING}}
        return Response(body, status_code=201 if created else 200)

    @delete(
        "/queues/{slug:str}",
        opt={"permission": "queue:configure"},
        status_code=204,
        responses=refusals(
            404, 409, s404="No such queue.", s409="The queue holds inquiries: change its routing."
        ),
    )
    async def remove_queue(self, slug: QueueSlug, session: NamedDependency[AsyncSession]) -> None:
        """Remove a queue that never held an inquiry (409 for one that did)."""
        try:
            await delete_queue(session, slug)
        except LookupError as exc:
            raise _error(404, "No such queue.", "slug") from exc
        except ChangeError as exc:
            raise _error(409, exc.message, exc.field) from exc

    @get("/vocabulary", opt={"permission": "inquiry:read"})
    async def vocabulary(self, session: NamedDependency[AsyncSession]) -> dict[str, list[str]]:
        """The categories and tags an inquiry of this tenant may carry."""
        terms = await read_vocabulary(session)
        return {"categories": list(terms.categories), "tags": list(terms.tags)}

    @put(
        "/vocabulary/categories",
        opt={"permission": "vocabulary:configure"},
        responses=refusals(422, s422="A category a queue routes by or the web form offers."),
    )
    async def configure_categories(
        self,
        data: JSONBody[CategoriesUpdate],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin_settings: NamedDependency[dict[str, Any]],
    ) -> dict[str, Any]:
        """Set every category (audited); one a queue routes by or the web form offers cannot
        be removed (422 naming it)."""
        return await _save_terms(session, ctx, "category", data.labels, plugin_settings)

    @put(
        "/vocabulary/tags",
        opt={"permission": "vocabulary:configure"},
        responses=refusals(422),
    )
    async def configure_tags(
        self,
        data: JSONBody[TagsUpdate],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin_settings: NamedDependency[dict[str, Any]],
    ) -> dict[str, Any]:
        """Set every tag (audited)."""
        return await _save_terms(session, ctx, "tag", data.labels, plugin_settings)


async def _save_terms(
    session: AsyncSession,
    ctx: TenantContext,
    kind: str,
    labels: list[str],
    plugin_settings: dict[str, Any],
) -> dict[str, Any]:
    try:
        added, removed = await save_vocabulary(session, ctx, kind, labels, plugin_settings)
    except VocabularyError as exc:
        raise _error(422, exc.message, exc.field) from exc
    terms = await read_vocabulary(session)
    held = terms.categories if kind == "category" else terms.tags
    return {"labels": list(held), "added": added, "removed": removed}


@dataclass
class CsvUpload(Operation):
    """An operation whose body is a CSV file (read raw by the handler, so Litestar does not
    document it)."""

    def __post_init__(self) -> None:
        header = ", ".join(CSV_COLUMNS)
        self.request_body = RequestBody(
            required=True,
            description=f"CSV, UTF-8 or Shift_JIS, with a header row: {header}",
            content={"text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
        )


class CallController(Controller):
    """Call records from the contact-centre system (give it a token bound to the tenant)."""

    path = "/api/v1/t/{tenant:str}/calls"
    tags = ("intake",)

    @post(
        "/",
        opt={"permission": "call:log"},
        responses={
            200: ResponseSpec(dict[str, Any], description="A call id sent before: nothing new."),
            **refusals(
                422,
                s422="A value the record refuses: a phone number or address that does not fold "
                "into one, ended_at before started_at (or a field the body does not declare).",
            ),
        },
    )
    async def webhook(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CallIn],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin: NamedDependency[PluginContext],
        plugin_settings: NamedDependency[dict[str, Any]],
    ) -> Response[dict[str, Any]]:
        """One call; a call id sent before answers 200 with the same inquiry."""
        pd = plugin.personal_data
        try:
            logged = await log_call(session, pd, ctx, plugin_settings, data, plugin.hooks)
        except InputError as exc:
            raise _error(422, exc.message, exc.field) from exc
        if not logged.duplicate:
            _notify_call(plugin, logged)
        return Response(logged.__dict__, status_code=200 if logged.duplicate else 201)

    @post(
        "/import",
        opt={"permission": "call:log"},
        status_code=200,
        operation_class=CsvUpload,
        responses=refusals(
            400,
            413,
            422,
            s400="The file is neither UTF-8 nor Shift_JIS.",
            s422="A row the import refuses (the row and the field are named); nothing is stored.",
        ),
    )
    async def import_csv(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        plugin: NamedDependency[PluginContext],
        plugin_settings: NamedDependency[dict[str, Any]],
    ) -> dict[str, Any]:
        """A CSV of call logs (UTF-8, header row). All rows or none."""
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = raw.decode("cp932")  # Excel in Japan saves Shift_JIS
            except UnicodeDecodeError as exc:
                raise _error(400, "the file is neither UTF-8 nor Shift_JIS", "file") from exc
        try:
            calls = parse_csv(text)
        except InputError as exc:
            raise _error(422, exc.message, exc.field) from exc
        pd = plugin.personal_data
        relay = plugin.hooks
        results = [await log_call(session, pd, ctx, plugin_settings, call, relay) for call in calls]
        for logged in results:
            if not logged.duplicate:
                _notify_call(plugin, logged)
        return {
            "rows": len(results),
            "stored": sum(not r.duplicate for r in results),
            "duplicates": sum(r.duplicate for r in results),
            "new_inquiries": sum(r.created for r in results),
        }


def _notify_call(plugin: PluginContext, logged: Any) -> None:
    if logged.created:
        plugin.notify("on_inquiry_created", inquiry_uid=logged.inquiry_uid, channel="phone")
    plugin.notify("on_call_logged", inquiry_uid=logged.inquiry_uid, call_id=logged.call_id)

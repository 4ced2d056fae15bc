"""Customer routes: create, look up and list (masked), reveal (with a purpose)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.pii.access import PersonalData, PurposeRequired, UnknownField
from core.pii.models import Customer
from core.pii.schemas import CustomerIn, CustomerOut, CustomerSearch, MergeRequest, RevealRequest
from core.security.guard import LimitExceeded
from core.tenancy.context import TenantContext
from core.web.errors import ApiError
from core.web.inputs import Offset
from core.web.openapi import refusals
from core.web.state import CoreState

__all__ = ["CustomerController"]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# every view of a customer counts toward the hourly read limit
_VIEWS = refusals(429, s429="The hourly read limit is reached.")
_ONE = refusals(404, 429, s404="No such customer.", s429="The hourly read limit is reached.")


def _accessor(core: CoreState, session: AsyncSession, ctx: TenantContext) -> PersonalData:
    return PersonalData(core.db, session, core.keyring, ctx)


async def _view(pd: PersonalData, customers: list[Customer]) -> list[CustomerOut]:
    try:
        return [CustomerOut(**row) for row in await pd.view(customers)]
    except LimitExceeded as exc:
        raise ApiError(
            429, "1時間あたりの閲覧上限に達しました。 Hourly read limit reached."
        ) from exc


class CustomerController(Controller):
    path = "/api/v1/t/{tenant:str}/customers"
    tags = ("customers",)

    @post("/", opt={"permission": "customer:create"}, responses=_VIEWS)
    async def create(
        self,
        data: JSONBody[CustomerIn],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[CustomerOut]:
        pd = _accessor(core, session, ctx)
        customer = await pd.create_customer(data.model_dump())
        [shown] = await _view(pd, [customer])
        return Response(shown, status_code=201, headers=NO_STORE)

    @get("/", opt={"permission": "customer:read"}, responses=_VIEWS)
    async def index(
        self,
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> Response[list[CustomerOut]]:
        customers = list(
            (
                await session.exec(
                    select(Customer)
                    .where(col(Customer.merged_into_id).is_(None))
                    .order_by(col(Customer.id))
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
        )
        return Response(await _view(_accessor(core, session, ctx), customers), headers=NO_STORE)

    @post("/search", opt={"permission": "customer:read"}, status_code=200, responses=_VIEWS)
    async def search(
        self,
        data: JSONBody[CustomerSearch],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[list[CustomerOut]]:
        if not data.phone and not data.email:
            raise ApiError(400, "Give a phone number or an e-mail address.", field="phone")
        pd = _accessor(core, session, ctx)
        found = await pd.find(phone=data.phone, email=data.email)
        return Response(await _view(pd, found), headers=NO_STORE)

    @get("/duplicates", opt={"permission": "customer:read"}, responses=_VIEWS)
    async def duplicates(
        self,
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[list[list[CustomerOut]]]:
        """Groups of records sharing a phone number or e-mail address, masked."""
        pd = _accessor(core, session, ctx)
        groups = await pd.duplicates()
        return Response([await _view(pd, group) for group in groups], headers=NO_STORE)

    @post(
        "/{uid:str}/merge",
        opt={"permission": "customer:merge"},
        status_code=200,
        responses=refusals(
            404,
            409,
            429,
            s404="No such customer (this one or ``into``).",
            s409="The two records cannot be merged.",
            s429="The hourly read limit is reached.",
        ),
    )
    async def merge(
        self,
        uid: FromPath[str],
        data: JSONBody[MergeRequest],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[CustomerOut]:
        """Merge this (duplicate) record into ``into``; the answer is the merged record."""
        pd = _accessor(core, session, ctx)
        source = (await session.exec(select(Customer).where(Customer.uid == uid))).first()
        target = await pd.by_uid(data.into)
        if source is None or target is None:
            raise ApiError(404, "No such customer.")
        try:
            await pd.merge(source, target)
        except UnknownField as exc:
            raise ApiError(409, str(exc)) from exc
        [shown] = await _view(pd, [target])
        return Response(shown, headers=NO_STORE)

    @get("/{uid:str}", opt={"permission": "customer:read"}, responses=_ONE)
    async def show(
        self,
        uid: FromPath[str],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[CustomerOut]:
        pd = _accessor(core, session, ctx)
        customer = await pd.by_uid(uid)
        if customer is None:
            raise ApiError(404, "No such customer.")
        [shown] = await _view(pd, [customer])
        return Response(shown, headers=NO_STORE)

    @post(
        "/{uid:str}/reveal",
        opt={"permission": "pii:reveal"},
        status_code=200,
        responses=refusals(
            404, 429, s404="No such customer.", s429="The hourly reveal limit is reached."
        ),
    )
    async def reveal(
        self,
        uid: FromPath[str],
        data: JSONBody[RevealRequest],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[dict[str, Any]]:
        pd = _accessor(core, session, ctx)
        customer = await pd.by_uid(uid)
        if customer is None:
            raise ApiError(404, "No such customer.")
        try:
            values = await pd.reveal(customer, data.fields, data.purpose, data.note)
        except PurposeRequired as exc:
            raise ApiError(
                422, f"閲覧目的を一覧から選んでください。 Choose a purpose: {exc}", field=exc.field
            ) from exc
        except UnknownField as exc:
            raise ApiError(422, f"Not a personal field: {exc}", field="fields") from exc
        except LimitExceeded as exc:
            raise ApiError(
                429, "1時間あたりの開示上限に達しました。 Hourly reveal limit reached."
            ) from exc
        return Response({"uid": uid, "values": values}, headers=NO_STORE)

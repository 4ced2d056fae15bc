# mypy: disable-error-code="empty-body"
"""The hooks the intake plugin declares, for other plugins to implement.

Registered through the core's ``register_hookspecs`` hook, so they exist only where intake
is installed. A plugin that should also run without intake marks its implementations
``@hookimpl(optionalhook=True)``: the host's start-up check then lets them pass when no
plugin declares them. ``README.md`` (section "Hooks it declares") has one section per hook
headed by its exact signature; ``tests/core/plugins/test_hook_docs.py`` fails when one is
missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import hookspec

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from core import TenantContext, TenantServices

__all__ = [
    "on_call_logged",
    "on_inquiry_created",
    "on_inquiry_resolved",
    "on_inquiry_updated",
    "resolve_queue",
]


# ---------------------------------------------------------------------------------------
# resolve_*: the first non-None answer wins
# ---------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def resolve_queue(ctx: TenantContext, channel: str, category: str, text: str) -> str | None:
    """Return the slug of the queue a new inquiry should land in, or None to let the next
    plugin (and finally the intake plugin's own keyword and channel rules) decide.

    Called for each new inquiry, only for plugins the tenant enabled, inside the request
    (not a coroutine function); ``text`` is the subject and first message, in plaintext:
    use it to route, never store or log it. The first non-None answer wins; a slug that
    names no queue of the tenant is ignored.
    """


# ---------------------------------------------------------------------------------------
# inquiry notifications: sent after commit, may be coroutine functions
# ---------------------------------------------------------------------------------------


@hookspec
def on_inquiry_created(
    ctx: TenantContext, inquiry_uid: str, channel: str, services: TenantServices
) -> Awaitable[None] | None:
    """An inquiry was registered (from any channel) and committed.

    Sent after commit to the plugins the tenant enabled; may be a coroutine function
    (awaited); the return value is ignored. Read the inquiry through the intake API or the
    core's session and accessor, never raw SQL.
    """


@hookspec
def on_inquiry_updated(
    ctx: TenantContext, inquiry_uid: str, changes: list[str], services: TenantServices
) -> Awaitable[None] | None:
    """An inquiry changed (status, queue, assignee, priority, a reply or note was added).

    ``changes`` names what changed (``status``, ``assignee``, ``reply``, ...), never values.
    Sent after commit; may be a coroutine function; the return value is ignored.
    """


@hookspec
def on_inquiry_resolved(
    ctx: TenantContext,
    inquiry_uid: str,
    queue: str | None,
    assignee_id: int | None,
    customer_uid: str | None,
    services: TenantServices,
) -> Awaitable[None] | None:
    """An inquiry reached the status ``resolved``. Sent after commit, after
    :func:`on_inquiry_updated`; ``queue`` is its queue's slug, ``assignee_id`` the user who
    had it, ``customer_uid`` its customer (reach their contact details through
    ``services.personal_data``, audited). May be a coroutine function; the return value is
    ignored."""


@hookspec
def on_call_logged(
    ctx: TenantContext, inquiry_uid: str, call_id: str, services: TenantServices
) -> Awaitable[None] | None:
    """A phone call record (webhook or CSV import) was stored and attached to an inquiry.

    Sent after commit; ``call_id`` is the contact-centre system's id. May be a coroutine
    function; the return value is ignored.
    """

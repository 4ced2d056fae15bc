"""Users, role grants and API tokens (the parts the core needs before the login issue).

Tokens are random 32-byte strings shown once; only their SHA-256 is stored, so a copy of the
database does not hold a usable token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import record
from core.audit.trail import record_for_tenants
from core.authz.roles import PLATFORM_DOMAIN
from core.db.base import utcnow
from core.db.statements import Read, TenantStatement, run
from core.identity.models import ApiToken, Invitation, RoleGrant, User
from core.tenancy.models import Tenant

__all__ = [
    "EMAIL_RE",
    "IdentityError",
    "Principal",
    "UserExists",
    "accept_invitation",
    "authenticate_token",
    "create_token",
    "create_user",
    "enrol_totp",
    "hash_token",
    "invite",
    "principal_for",
    "principals_for_tokens",
    "principals_from_rows",
    "principals_read",
    "revoke_token",
    "set_password",
    "tenants_of",
]

# one address, nothing around it (no display name, no list, no line break)
EMAIL_RE = re.compile(
    r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+"
)
TOKEN_PREFIX = "mdg_"  # noqa: S105 (a marker that makes leaked tokens greppable, not a secret)


class IdentityError(ValueError):
    """A user, role or tenant named in an identity operation does not fit."""


class UserExists(IdentityError):
    """An account with this e-mail address exists already."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    user_id: int
    email: str
    roles: dict[str, frozenset[str]] = field(default_factory=dict)  # domain -> roles
    token_tenant_id: int | None = None
    language: str = "ja"
    display_name: str = ""

    def roles_in(self, domain: str) -> frozenset[str]:
        return self.roles.get(domain, frozenset())


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tenant_domain(tenant_id: int) -> str:
    return f"t:{tenant_id}"


def _id(user: User) -> int:
    assert user.id is not None, "a stored user has an id"
    return user.id


async def _user(session: AsyncSession, email: str) -> User:
    user = (await session.exec(select(User).where(User.email == email.lower()))).first()
    if user is None:
        raise IdentityError(f"no user {email}")
    return user


async def _tenant_id(session: AsyncSession, slug: str | None) -> int | None:
    if slug is None:
        return None
    tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).first()
    if tenant is None:
        raise IdentityError(f"no tenant {slug}")
    return tenant.id


async def create_user(
    session: AsyncSession, email: str, display_name: str = "", *, created_by: int | None = None
) -> User:
    """A new account without a password (its owner sets one through an invitation, or the
    server's console sets it). ``created_by`` is who made it (None: the console)."""
    email = email.strip().lower()
    if not EMAIL_RE.fullmatch(email):
        raise IdentityError("not an e-mail address")
    existing = (await session.exec(select(User).where(User.email == email))).first()
    if existing is not None:
        raise UserExists(f"user {email} exists already")
    user = User(email=email, display_name=display_name.strip()[:200], created_by=created_by)
    session.add(user)
    await session.flush()
    await record(session, "user.create", object_type="user", object_id=_id(user))
    return user


async def tenants_of(session: AsyncSession, user_id: int) -> list[int]:
    """The tenants a person holds a role in: where what happens to their access is shown."""
    rows = await session.exec(
        select(RoleGrant.tenant_id).where(
            RoleGrant.user_id == user_id, col(RoleGrant.tenant_id).is_not(None)
        )
    )
    return sorted({tid for tid in rows.all() if tid is not None})


async def create_token(
    session: AsyncSession,
    email: str,
    *,
    tenant_slug: str | None = None,
    expires_days: int | None = None,
) -> str:
    """Create an API token for the person ``email`` and return it; it cannot be shown again.

    Only two callers may: the person themselves (``/api/v1/auth/tokens``, their account page)
    and the server's console, for bootstrapping. Audited in the platform chain and in every
    tenant the token reaches."""
    user = await _user(session, email)
    tenant_id = await _tenant_id(session, tenant_slug)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    row = ApiToken(
        user_id=_id(user),
        token_hash=hash_token(token),
        prefix=token[:12],
        tenant_id=tenant_id,
        expires_at=expires,
    )
    session.add(row)
    await session.flush()
    reached = [tenant_id] if tenant_id else await tenants_of(session, _id(user))
    await record_for_tenants(
        session,
        reached,
        "token.create",
        object_type="user",
        object_id=_id(user),
        fields=[f"token:{row.id}", f"tenant:{tenant_id or 'any'}"],
    )
    return token


async def revoke_token(session: AsyncSession, token_id: int, *, owner: int | None = None) -> bool:
    """Revoke a token (only the owner's own when ``owner`` is given); False if there is no
    such live token. Audited like its creation."""
    token = await session.get(ApiToken, token_id)
    if token is None or (owner is not None and token.user_id != owner):
        return False
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    reached = [token.tenant_id] if token.tenant_id else await tenants_of(session, token.user_id)
    await record_for_tenants(
        session,
        reached,
        "token.revoke",
        object_type="user",
        object_id=token.user_id,
        fields=[f"token:{token_id}"],
    )
    return True


INVITATION_VALID_FOR = timedelta(hours=72)


async def invite(session: AsyncSession, user: User, *, created_by: int | None) -> str:
    """A one-time link secret with which the account's owner chooses their own password
    (valid 72 hours; only its hash is stored). Whoever made the account never knows it."""
    token = secrets.token_urlsafe(32)
    session.add(
        Invitation(
            user_id=_id(user),
            token_hash=hash_token(token),
            created_by=created_by,
            expires_at=utcnow() + INVITATION_VALID_FOR,
        )
    )
    await session.flush()
    await record(session, "user.invite", object_type="user", object_id=_id(user))
    return token


async def accept_invitation(session: AsyncSession, token: str, password: str) -> User:
    """Use an invitation once: the conditional update is the one-time check, so two uses of
    the same link at the same moment cannot both set a password."""
    from core.identity.passwords import hash_password

    hashed = hash_password(password)  # refuses a weak one before the link is spent
    now = utcnow()
    used = await session.exec(
        sa.update(Invitation)
        .where(
            col(Invitation.token_hash) == hash_token(token),
            col(Invitation.used_at).is_(None),
            col(Invitation.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(Invitation.user_id))
    )
    user_id = used.scalar_one_or_none()
    if user_id is None:
        raise IdentityError("this invitation link is unknown, used or expired")
    user = await session.get(User, user_id)
    assert user is not None
    user.password_hash, user.activated_at = hashed, now
    user.failed_logins, user.locked_until = 0, None
    await record_for_tenants(
        session,
        await tenants_of(session, user_id),
        "user.activate",
        object_type="user",
        object_id=user_id,
    )
    return user


async def authenticate_token(session: AsyncSession, token: str) -> Principal | None:
    """The principal behind a bearer token, or None if it is unknown, expired or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    digest = hash_token(token)
    return (await principals_for_tokens(session, [digest])).get(digest)


@dataclass(frozen=True)
class _Person:
    """The user fields a principal carries, as read (no ORM instance needed)."""

    id: int
    email: str
    language: str
    display_name: str


def _principal(
    user: _Person, grants: Iterable[tuple[str, int | None]], token_tenant_id: int | None
) -> Principal:
    """``grants`` as (role, tenant id or None for the platform)."""
    roles: dict[str, set[str]] = {}
    for role, scope in grants:
        if token_tenant_id is not None and scope != token_tenant_id:
            continue  # a tenant-bound token carries only that tenant's roles
        domain = tenant_domain(scope) if scope else PLATFORM_DOMAIN
        roles.setdefault(domain, set()).add(role)
    return Principal(
        user_id=user.id,
        email=user.email,
        roles={d: frozenset(r) for d, r in roles.items()},
        token_tenant_id=token_tenant_id,
        language=user.language,
        display_name=user.display_name,
    )


async def principal_for(
    session: AsyncSession, user: User, token_tenant_id: int | None = None
) -> Principal:
    """The user's roles by domain, read fresh (a revoked grant counts at once)."""
    grants = (await session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id))).all()
    person = _Person(_id(user), user.email, user.language, user.display_name)
    return _principal(person, [(g.role, g.tenant_id) for g in grants], token_tenant_id)


# built once (building a statement costs more than SQLite running this one)
_PRINCIPALS_OF_TOKENS = TenantStatement(
    sa.select(
        col(ApiToken.token_hash),
        col(ApiToken.tenant_id),
        col(ApiToken.revoked_at),
        col(ApiToken.expires_at),
        col(User.id),
        col(User.email),
        col(User.is_active),
        col(User.language),
        col(User.display_name),
        col(RoleGrant.role),
        col(RoleGrant.tenant_id),
    )
    .join(User, col(User.id) == col(ApiToken.user_id))
    .outerjoin(RoleGrant, col(RoleGrant.user_id) == col(User.id))
    .where(col(ApiToken.token_hash).in_(sa.bindparam("hashes", expanding=True)))
)


def principals_read(token_hashes: Iterable[str]) -> Read | None:
    """The read behind :func:`principals_for_tokens` (None for no hashes), for a caller that
    sends it with others (:func:`core.db.statements.run_reads`)."""
    wanted = sorted(set(token_hashes))
    return Read(_PRINCIPALS_OF_TOKENS, {"hashes": wanted}) if wanted else None


def principals_from_rows(rows: Iterable[Any]) -> dict[str, Principal]:
    """The principals in the rows of :func:`principals_read`; a token that is expired,
    revoked or of a disabled user is left out."""
    now = utcnow()
    found: dict[str, tuple[_Person, int | None, list[tuple[str, int | None]]]] = {}
    for digest, token_tenant, revoked, expires, uid, email, active, lang, name, role, scope in rows:
        if not active or revoked is not None or (expires is not None and expires <= now):
            continue
        if digest not in found:  # one row per grant: the token and user repeat
            found[digest] = (_Person(uid, email, lang, name), token_tenant, [])
        if role is not None:
            found[digest][2].append((role, scope))
    return {
        digest: _principal(user, grants, token_tenant)
        for digest, (user, token_tenant, grants) in found.items()
    }


async def principals_for_tokens(
    session: AsyncSession, token_hashes: Iterable[str]
) -> dict[str, Principal]:
    """The principals behind many token hashes at once, read fresh in one statement; a hash
    that is unknown, expired, revoked or of a disabled user is missing from the answer."""
    read = principals_read(token_hashes)
    if read is None:
        return {}
    return principals_from_rows((await run(session, read.statement, read.params)).all())


async def set_password(session: AsyncSession, email: str, password: str) -> None:
    from core.identity.passwords import hash_password

    user = await _user(session, email)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    user.activated_at = user.activated_at or utcnow()
    await record_for_tenants(
        session,
        await tenants_of(session, _id(user)),
        "user.password",
        object_type="user",
        object_id=_id(user),
    )


async def enrol_totp(session: AsyncSession, keyring: Any, email: str) -> tuple[str, str]:
    """A new TOTP secret for the user (sealed with the master key); returns (secret, URI)."""
    from core.identity.passwords import new_totp_secret, totp_uri

    user = await _user(session, email)
    secret = new_totp_secret()
    user.totp_sealed = keyring.seal_secret(f"totp|{_id(user)}", secret)
    user.totp_last_step = 0
    await record(session, "user.totp", object_type="user", object_id=_id(user))
    return secret, totp_uri(secret, user.email)

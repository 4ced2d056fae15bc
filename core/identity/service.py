"""Users, role grants and API tokens (the parts the core needs before the login issue).

Tokens are random 32-byte strings shown once; only their SHA-256 is stored, so a copy of the
database does not hold a usable token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import record
from core.authz.roles import PLATFORM_DOMAIN, PLATFORM_ROLES, TENANT_ROLES
from core.db.base import utcnow
from core.db.statements import Read, TenantStatement, run
from core.identity.models import ApiToken, RoleGrant, User
from core.tenancy.models import Tenant

__all__ = [
    "IdentityError",
    "Principal",
    "authenticate_token",
    "create_token",
    "create_user",
    "enrol_totp",
    "grant_role",
    "hash_token",
    "principal_for",
    "principals_for_tokens",
    "principals_from_rows",
    "principals_read",
    "revoke_role",
    "set_password",
]

TOKEN_PREFIX = "mdg_"  # noqa: S105 (a marker that makes leaked tokens greppable, not a secret)


class IdentityError(ValueError):
    """A user, role or tenant named in an identity operation does not fit."""


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


async def create_user(session: AsyncSession, email: str, display_name: str = "") -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise IdentityError("not an e-mail address")
    existing = (await session.exec(select(User).where(User.email == email))).first()
    if existing is not None:
        raise IdentityError(f"user {email} exists already")
    user = User(email=email, display_name=display_name)
    session.add(user)
    await session.flush()
    await record(session, "user.create", object_type="user", object_id=_id(user))
    return user


async def grant_role(
    session: AsyncSession, email: str, role: str, tenant_slug: str | None = None
) -> bool:
    """Grant a role; returns False when the user held it already."""
    if role in PLATFORM_ROLES and tenant_slug is not None:
        raise IdentityError(f"{role} is a platform role: give no tenant")
    if role in TENANT_ROLES and tenant_slug is None:
        raise IdentityError(f"{role} is a tenant role: give --tenant")
    if role not in PLATFORM_ROLES + TENANT_ROLES:
        raise IdentityError(f"unknown role {role}")
    user = await _user(session, email)
    tenant_id = await _tenant_id(session, tenant_slug)
    existing = (
        await session.exec(
            select(RoleGrant).where(
                RoleGrant.user_id == user.id,
                RoleGrant.role == role,
                RoleGrant.tenant_id == tenant_id if tenant_id else RoleGrant.tenant_id.is_(None),  # type: ignore[union-attr]
            )
        )
    ).first()
    if existing is not None:
        return False
    session.add(RoleGrant(user_id=_id(user), role=role, tenant_id=tenant_id))
    await session.flush()
    await record(
        session,
        "role.grant",
        object_type="user",
        object_id=_id(user),
        fields=[role, f"tenant:{tenant_id or 'platform'}"],
    )
    return True


async def revoke_role(
    session: AsyncSession, email: str, role: str, tenant_slug: str | None = None
) -> bool:
    user = await _user(session, email)
    tenant_id = await _tenant_id(session, tenant_slug)
    grants = (await session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id))).all()
    removed = False
    for grant in grants:
        if grant.role == role and grant.tenant_id == tenant_id:
            await session.delete(grant)
            removed = True
    if removed:
        await record(
            session,
            "role.revoke",
            object_type="user",
            object_id=_id(user),
            fields=[role, f"tenant:{tenant_id or 'platform'}"],
        )
    return removed


async def create_token(
    session: AsyncSession,
    email: str,
    *,
    tenant_slug: str | None = None,
    expires_days: int | None = None,
) -> str:
    """Create an API token and return it; it cannot be shown again."""
    user = await _user(session, email)
    tenant_id = await _tenant_id(session, tenant_slug)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    session.add(
        ApiToken(
            user_id=_id(user),
            token_hash=hash_token(token),
            prefix=token[:12],
            tenant_id=tenant_id,
            expires_at=expires,
        )
    )
    await session.flush()
    await record(
        session,
        "token.create",
        object_type="user",
        object_id=_id(user),
        fields=[f"tenant:{tenant_id or 'any'}"],
    )
    return token


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
    await record(session, "user.password", object_type="user", object_id=_id(user))


async def enrol_totp(session: AsyncSession, keyring: Any, email: str) -> tuple[str, str]:
    """A new TOTP secret for the user (sealed with the master key); returns (secret, URI)."""
    from core.identity.passwords import new_totp_secret, totp_uri

    user = await _user(session, email)
    secret = new_totp_secret()
    user.totp_sealed = keyring.seal_secret(f"totp|{_id(user)}", secret)
    user.totp_last_step = 0
    await record(session, "user.totp", object_type="user", object_id=_id(user))
    return secret, totp_uri(secret, user.email)

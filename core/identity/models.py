"""Identities and their grants: platform tables, read before any tenant is in context.

They say *who may enter which tenant*, so they cannot sit behind the tenant filter: the
``tenant_id`` on a grant or token is a scope, not ownership of client data. They hold no
personal data of any client's customers.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db.base import TZDateTime, utcnow

__all__ = ["ApiToken", "Invitation", "LoginSession", "RoleGrant", "User"]


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    display_name: str = Field(default="", max_length=200)
    is_active: bool = Field(default=True)
    password_hash: str | None = Field(default=None, max_length=200)
    # the TOTP secret, sealed with the master key (core.crypto.sealing); None until enrolled
    totp_sealed: str | None = Field(default=None, max_length=200)
    totp_last_step: int = Field(default=0)
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_type=TZDateTime)
    language: str = Field(default="ja", max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    # who made the account (None: the server's console); the four-eyes rules compare it
    created_by: int | None = Field(default=None, foreign_key="user_account.id")
    # when the person chose their own password (an invitation used, or the console)
    activated_at: datetime | None = Field(default=None, sa_type=TZDateTime)


class RoleGrant(SQLModel, table=True):
    __tablename__ = "role_grant"
    __table_args__ = (sa.UniqueConstraint("user_id", "role", "tenant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    role: str = Field(max_length=40)
    tenant_id: int | None = Field(default=None, foreign_key="tenant.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    # the request that made it effective (who asked, who approved): core.approvals
    request_id: int | None = Field(default=None, foreign_key="change_request.id")


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=12)
    tenant_id: int | None = Field(default=None, foreign_key="tenant.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=TZDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=TZDateTime)


class LoginSession(SQLModel, table=True):
    """A signed-in browser. Stored in the database so that any node can serve any request."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    expires_at: datetime = Field(sa_type=TZDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=TZDateTime)


class Invitation(SQLModel, table=True):
    """A one-time link with which a new account's owner chooses their own password: nobody
    who creates an account ever knows its password. Only the link's SHA-256 is stored."""

    __tablename__ = "invitation"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_by: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=TZDateTime)
    expires_at: datetime = Field(sa_type=TZDateTime)
    used_at: datetime | None = Field(default=None, sa_type=TZDateTime)

"""Master keys (outside the database) and each tenant's data key (inside, wrapped).

``KeyRing`` is one per process. It loads master keys from ``var/keys/master-*.key`` (created on
first run, mode 0600) or from ``MADOGUCHI_MASTER_KEY``, and caches unwrapped data keys per
(tenant, version) in memory only, once the transaction that read or made them has committed
(:class:`core.db.commit_cache.CommitCache`): a key made in a transaction that rolled back is
held by no row, and nothing may be sealed with it.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.crypto.keyfiles import owner_only
from core.crypto.sealing import (
    SealError,
    forget_index_keys,
    key_id,
    new_data_key,
    unwrap_key,
    wrap_key,
    wrapped_by,
)
from core.db.base import utcnow
from core.db.commit_cache import CommitCache
from core.db.statements import TENANT, TenantStatement
from core.db.statements import run as run_statement
from core.db.upsert import insert_ignore
from core.pii.models import TenantKey
from core.settings import Settings

__all__ = ["KeyRing", "KeyShredded"]


class KeyShredded(SealError):
    """The tenant's data key was destroyed (offboarding): its data is gone for good."""


# built once, run in the tenant's session
_ACTIVE_ROW = TenantStatement(
    sa.select(col(TenantKey.tenant_id), col(TenantKey.version), col(TenantKey.wrapped))
    .where(col(TenantKey.tenant_id) == TENANT, col(TenantKey.active))
    .order_by(col(TenantKey.version).desc())
    .limit(1)
)


class KeyRing:
    def __init__(self, settings: Settings) -> None:
        self.folder = settings.var_dir / "keys"
        self._masters: dict[str, bytes] = {}
        # (tenant, version) -> (wrapped as stored, data key)
        self._data_keys: CommitCache[tuple[int, int], tuple[str, bytes]] = CommitCache()
        # tenant -> (its config_version when read, active key version, data key)
        self._active: CommitCache[int, tuple[int, int, bytes]] = CommitCache()
        self._load_masters()

    # -- master keys ---------------------------------------------------------------------

    def _load_masters(self) -> None:
        env = os.environ.get("MADOGUCHI_MASTER_KEY")
        if env:
            key = base64.b64decode(env, validate=True)
            if len(key) != 32:
                raise SealError("MADOGUCHI_MASTER_KEY must hold 32 bytes (base64)")
            self._masters = {key_id(key): key}
            self.current = key_id(key)
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        files = sorted(self.folder.glob("master-*.key"), key=lambda p: p.stat().st_mtime)
        for path in files:
            owner_only(path)
            key = path.read_bytes()
            self._masters[key_id(key)] = key
        if not files:
            self.current = self._write_master(secrets.token_bytes(32))
        else:
            self.current = key_id(files[-1].read_bytes())

    def _write_master(self, key: bytes) -> str:
        ident = key_id(key)
        path = self.folder / f"master-{ident}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        self._masters[ident] = key
        return ident

    def new_master(self) -> str:
        """Create a new master key (used for wrapping from now on); the old ones stay until
        :meth:`forget_master` once nothing is wrapped by them."""
        if os.environ.get("MADOGUCHI_MASTER_KEY"):
            raise SealError("the master key comes from MADOGUCHI_MASTER_KEY: rotate it there")
        self.current = self._write_master(secrets.token_bytes(32))
        return self.current

    def forget_master(self, ident: str) -> Path | None:
        path = self.folder / f"master-{ident}.key"
        if ident == self.current or not path.exists():
            return None
        path.unlink()
        self._masters.pop(ident, None)
        return path

    def master_ids(self) -> list[str]:
        return sorted(self._masters)

    def seal_secret(self, label: str, plaintext: str) -> str:
        """Seal a platform secret (a TOTP seed) under the current master key."""
        nonce = os.urandom(12)
        body = AESGCM(self._masters[self.current]).encrypt(
            nonce, plaintext.encode(), label.encode()
        )
        return f"{self.current}:{base64.urlsafe_b64encode(nonce + body).decode()}"

    def open_secret(self, label: str, sealed: str) -> str:
        ident, _, body = sealed.partition(":")
        master = self._masters.get(ident)
        if master is None:
            raise SealError("the master key that sealed this secret is missing")
        raw = base64.urlsafe_b64decode(body)
        try:
            return AESGCM(master).decrypt(raw[:12], raw[12:], label.encode()).decode()
        except InvalidTag as exc:
            raise SealError("secret does not open") from exc

    # -- data keys -----------------------------------------------------------------------

    def _unwrap(self, row: Any) -> bytes:
        if row.wrapped is None:
            raise KeyShredded(f"data key {row.version} of tenant {row.tenant_id} was destroyed")
        master = self._masters.get(wrapped_by(row.wrapped))
        if master is None:
            raise SealError("the master key that wrapped this data key is missing")
        return unwrap_key(master, row.wrapped, row.tenant_id, row.version)

    def _key_of(self, session: AsyncSession, row: Any) -> bytes:
        """The data key a stored row holds, as this transaction read it. The cache is keyed by
        the wrapped value itself, so a key that is not stored so can never be used."""
        if row.wrapped is None:
            self._data_keys.forget(lambda k: k == (row.tenant_id, row.version))
            raise KeyShredded(f"data key {row.version} of tenant {row.tenant_id} was destroyed")
        cached = self._data_keys.get(session, (row.tenant_id, row.version))
        if cached is not None and cached[0] == row.wrapped:
            return cached[1]
        key = self._unwrap(row)
        self._data_keys.put(session, (row.tenant_id, row.version), (row.wrapped, key))
        return key

    async def _active_row(self, session: AsyncSession) -> Any:
        """(tenant_id, version, wrapped) of the tenant's active key, or None."""
        return (await run_statement(session, _ACTIVE_ROW)).first()

    async def active_key(
        self, session: AsyncSession, tenant_id: int, config_version: int | None = None
    ) -> tuple[int, bytes]:
        """The tenant's current (version, data key); created on first use. A caller that read
        the tenant's ``config_version`` in this transaction, before asking, passes it: a key
        read under the same version is still the active one (any write of the tenant's keys
        moves the version on), and the read is saved. What this transaction reads or creates
        is kept for the next ones only once it has committed."""
        if config_version is not None:
            known = self._active.get(session, tenant_id)
            if known is not None and known[0] == config_version:
                return known[1], known[2]
        row = await self._active_row(session)
        if row is None:
            await self._insert_key(session, tenant_id, 1)
            row = await self._active_row(session)
            assert row is not None
        if row.wrapped is None:
            raise KeyShredded(f"tenant {tenant_id} has been offboarded")
        key = self._key_of(session, row)
        if config_version is not None:
            self._active.put(session, tenant_id, (config_version, row.version, key))
        return row.version, key

    async def key_version(self, session: AsyncSession, tenant_id: int, version: int) -> bytes:
        # the row is read every time: another node may have shredded or rotated it meanwhile
        row = (await session.exec(select(TenantKey).where(TenantKey.version == version))).first()
        if row is None:
            raise SealError(f"tenant {tenant_id} has no data key version {version}")
        return self._key_of(session, row)

    async def _insert_key(self, session: AsyncSession, tenant_id: int, version: int) -> None:
        """Store a new data key unless another request or node stored this version first
        (INSERT ... ON CONFLICT DO NOTHING: the loser waits for the winner and keeps its key)."""
        wrapped = wrap_key(self._masters[self.current], new_data_key(), tenant_id, version)
        await insert_ignore(
            session,
            TenantKey,
            {
                "tenant_id": tenant_id,
                "version": version,
                "active": True,
                "wrapped": wrapped,
                "created_at": utcnow(),
            },
            ["tenant_id", "version"],
        )

    async def new_version(self, session: AsyncSession, tenant_id: int) -> tuple[int, bytes]:
        """Start a new data key version; the previous ones stay readable until destroyed."""
        rows = (await session.exec(select(TenantKey))).all()
        for row in rows:
            row.active = False
        version = max((r.version for r in rows), default=0) + 1
        await session.flush()
        await self._insert_key(session, tenant_id, version)
        stored = (await session.exec(select(TenantKey).where(TenantKey.version == version))).one()
        return version, self._key_of(session, stored)

    async def rewrap(self, session: AsyncSession, tenant_id: int) -> int:
        """Re-wrap every live data key of the tenant under the current master key."""
        count = 0
        for row in (await session.exec(select(TenantKey))).all():
            if row.wrapped is None:
                continue
            key = self._unwrap(row)
            row.wrapped = wrap_key(self._masters[self.current], key, tenant_id, row.version)
            row.rewrapped_at = utcnow()
            count += 1
        return count

    async def destroy(self, session: AsyncSession, tenant_id: int) -> int:
        """Crypto-shredding: forget every data key of the tenant, in the database and here."""
        count = 0
        for row in (await session.exec(select(TenantKey))).all():
            if row.wrapped is not None:
                row.wrapped, row.active, row.destroyed_at = None, False, utcnow()
                count += 1
        self._data_keys.forget(lambda k: k[0] == tenant_id)
        self._active.forget(lambda k: k == tenant_id)
        forget_index_keys()
        return count

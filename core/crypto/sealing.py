"""AES-256-GCM sealing of personal fields and data keys; keyed blind indexes.

* Master keys live outside the database (``var/keys/master-<id>.key``, or
  ``MADOGUCHI_MASTER_KEY``); each wraps the tenants' data keys.
* A data key seals a field with associated data binding it to (tenant, table, column, row
  uid, key version): ciphertext copied to another row, column or tenant does not open.
* Blind indexes are HMAC-SHA256 of the normalised value under a key derived from the tenant's
  data key, so exact lookups work without storing the value, and shredding the data key
  makes the indexes meaningless too.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "SealError",
    "blind_index",
    "forget_index_keys",
    "new_data_key",
    "open_field",
    "seal_field",
    "unwrap_key",
    "wrap_key",
]

_NONCE = 12


class SealError(ValueError):
    """Ciphertext that does not open: wrong key, wrong binding, or tampered."""


def new_data_key() -> bytes:
    return secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(master: bytes) -> str:
    """A short public fingerprint of a master key (which key wrapped a data key)."""
    return hashlib.sha256(b"madoguchi-master-id" + master).hexdigest()[:12]


def wrap_key(master: bytes, data_key: bytes, tenant_id: int, version: int) -> str:
    nonce = os.urandom(_NONCE)
    aad = f"tenant-key|{tenant_id}|{version}".encode()
    return f"{key_id(master)}:{_b64(nonce + AESGCM(master).encrypt(nonce, data_key, aad))}"


def wrapped_by(wrapped: str) -> str:
    return wrapped.split(":", 1)[0]


def unwrap_key(master: bytes, wrapped: str, tenant_id: int, version: int) -> bytes:
    _, body = wrapped.split(":", 1)
    raw = _unb64(body)
    try:
        return AESGCM(master).decrypt(
            raw[:_NONCE], raw[_NONCE:], f"tenant-key|{tenant_id}|{version}".encode()
        )
    except InvalidTag as exc:
        raise SealError("data key does not unwrap with this master key") from exc


def _aad(tenant_id: int, table: str, column: str, uid: str, version: int) -> bytes:
    return f"{tenant_id}|{table}|{column}|{uid}|{version}".encode()


def seal_field(
    key: bytes, version: int, tenant_id: int, table: str, column: str, uid: str, plaintext: str
) -> str:
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(
        nonce, plaintext.encode(), _aad(tenant_id, table, column, uid, version)
    )
    return f"v{version}:{_b64(nonce + sealed)}"


def sealed_version(sealed: str) -> int:
    head, _, _ = sealed.partition(":")
    if not head.startswith("v") or not head[1:].isdigit():
        raise SealError("not a sealed value")
    return int(head[1:])


def open_field(key: bytes, tenant_id: int, table: str, column: str, uid: str, sealed: str) -> str:
    version = sealed_version(sealed)
    raw = _unb64(sealed.partition(":")[2])
    try:
        plain = AESGCM(key).decrypt(
            raw[:_NONCE], raw[_NONCE:], _aad(tenant_id, table, column, uid, version)
        )
    except InvalidTag as exc:
        raise SealError("sealed value does not open here") from exc
    return plain.decode()


@functools.lru_cache(maxsize=1024)  # derived once per key and kind; cleared on shredding
def _index_key(data_key: bytes, kind: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"madoguchi-blind-index|{kind}".encode(),
    ).derive(data_key)


def forget_index_keys() -> None:
    """Drop the derived index keys from memory (a tenant's data key was destroyed)."""
    _index_key.cache_clear()


def blind_index(data_key: bytes, kind: str, normalised: str) -> str:
    # hmac.digest is OpenSSL's one-shot HMAC: the same value as hmac.new(...).hexdigest(),
    # without building a Python HMAC object per lookup (it showed in the intake profile)
    return hmac.digest(_index_key(data_key, kind), normalised.encode(), "sha256").hex()

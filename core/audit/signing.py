"""The key that signs audit checkpoints, and the signed form of one checkpoint.

The key is an Ed25519 private key given in ``MADOGUCHI_AUDIT_SIGNING_KEY`` (base64 of its 32
bytes) or kept in the file ``MADOGUCHI_AUDIT_SIGNING_KEY_FILE`` (by default
``~/.config/madoguchi/audit-signing.key``, created on first use). It must never sit in the data
directory ``MADOGUCHI_HOME/var``: whoever holds the database, or a copy of ``var/``, could
otherwise rewrite a chain and sign the forgery. Checking a signature needs only the public key,
which the client downloads with its checkpoints.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.crypto.keyfiles import load_or_create_key
from core.settings import Settings, default_audit_signing_key_file

__all__ = [
    "ENV_KEY",
    "ENV_KEY_FILE",
    "SigningKeyError",
    "check_key_location",
    "checkpoint_message",
    "key_id",
    "load_signing_key",
    "public_key_pem",
    "read_public_key",
    "signature_holds",
    "signed_at_text",
]

ENV_KEY = "MADOGUCHI_AUDIT_SIGNING_KEY"
ENV_KEY_FILE = "MADOGUCHI_AUDIT_SIGNING_KEY_FILE"
FORMAT = "madoguchi-audit-checkpoint/1"


class SigningKeyError(RuntimeError):
    """The signing key is missing, unreadable, or kept where it must not be."""


def _legacy_file(settings: Settings) -> Path:
    return settings.var_dir / "keys" / "audit-signing.key"


def check_key_location(settings: Settings) -> None:
    """Refuse a signing key inside ``MADOGUCHI_HOME/var``: the configured file, or the file an
    older release created at ``var/keys/audit-signing.key``."""
    var = settings.var_dir.resolve()
    legacy = _legacy_file(settings)
    if legacy.exists():
        target = settings.audit_signing_key_file
        if target.resolve().is_relative_to(var):
            target = default_audit_signing_key_file()
        raise SigningKeyError(
            f"the audit signing key {legacy} (made by an older release) lies in the data "
            "directory, where whoever holds the database could sign a rewritten audit log. "
            f"Move it out, e.g. `mkdir -p -m 700 {target.parent} && mv {legacy} {target}`, "
            f"or set {ENV_KEY_FILE} to a file outside {var}, or give the key (base64) in "
            f"{ENV_KEY} and delete the file."
        )
    configured = settings.audit_signing_key_file.resolve()
    if configured.is_relative_to(var):
        raise SigningKeyError(
            f"{ENV_KEY_FILE} names {configured}, inside the data directory {var}: whoever "
            "holds the database could sign a rewritten audit log. Keep the key outside it "
            f"(the default is {default_audit_signing_key_file()}), or give it in {ENV_KEY}."
        )


def load_signing_key(settings: Settings, *, create: bool = True) -> Ed25519PrivateKey:
    """The signing key, from ``MADOGUCHI_AUDIT_SIGNING_KEY`` or its file (made if missing and
    ``create``). Raises :class:`SigningKeyError` when it is kept inside the data directory."""
    check_key_location(settings)
    path = settings.audit_signing_key_file
    if not create and not os.environ.get(ENV_KEY) and not path.exists():
        raise SigningKeyError(
            f"no audit signing key: {path} does not exist and {ENV_KEY} is not set "
            f"(set {ENV_KEY_FILE} to where the key is kept)"
        )
    try:
        raw = load_or_create_key(path, env=ENV_KEY)
    except (OSError, RuntimeError) as exc:
        raise SigningKeyError(f"audit signing key: {exc}") from exc
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def read_public_key(pem: str) -> Ed25519PublicKey:
    """A public key from its PEM text; ValueError if it is not an Ed25519 key."""
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint for people to compare: SHA-256 of the raw public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


def signed_at_text(at: datetime) -> str:
    """The signing time as it is signed (UTC, always with microseconds)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def checkpoint_message(chain: str, seq: int, hash_: str, signed_at: str) -> bytes:
    """The bytes signed for one checkpoint: compact JSON with sorted keys."""
    body = {"format": FORMAT, "chain": chain, "seq": seq, "hash": hash_, "signed_at": signed_at}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def signature_holds(
    key: Ed25519PublicKey, chain: str, seq: int, hash_: str, signed_at: str, signature: str
) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, checkpoint_message(chain, seq, hash_, signed_at))
    except (ValueError, InvalidSignature):
        return False
    return True

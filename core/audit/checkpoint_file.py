"""The checkpoint document: what a client downloads and ``audit verify --checkpoints`` reads.

One JSON document holds the public key and, per chain, signed checkpoints::

    {"format": "madoguchi-audit-checkpoints/1",
     "public_key": "-----BEGIN PUBLIC KEY-----...", "key_id": "ed25519:...",
     "chains": [{"chain": "t:3", "tenant": "mitsubachi-honpo",
                 "checkpoints": [{"seq": 120, "hash": "...", "signed_at": "...",
                                  "signature": "..."}]}]}

Each checkpoint's signature covers :func:`core.audit.signing.checkpoint_message` of its chain,
seq, hash and signed_at, so a checkpoint cannot be moved to another chain, and the document
needs no signature of its own: a client's download names its own chain only.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from core.audit.signing import read_public_key, signature_holds

__all__ = [
    "FORMAT",
    "ChainCheckpoints",
    "CheckpointDocument",
    "CheckpointFileError",
    "SignedHead",
    "chain_tenant_id",
    "read_document",
]

FORMAT = "madoguchi-audit-checkpoints/1"


class CheckpointFileError(ValueError):
    """A checkpoint file is unreadable or not in the format above."""


class SignedHead(msgspec.Struct, frozen=True):
    """The chain's event ``seq`` had ``hash`` when it was signed at ``signed_at``."""

    seq: int
    hash: str
    signed_at: str
    signature: str


class ChainCheckpoints(msgspec.Struct, frozen=True):
    chain: str  # "t:<tenant id>" or "platform"
    checkpoints: list[SignedHead]
    tenant: str | None = None  # the tenant's slug, for people (not signed)


class CheckpointDocument(msgspec.Struct, frozen=True):
    format: str
    public_key: str  # PEM; checking the signatures needs nothing else
    chains: list[ChainCheckpoints]
    key_id: str = ""

    def key(self) -> Ed25519PublicKey:
        return read_public_key(self.public_key)

    def forged(self) -> list[tuple[str, int]]:
        """(chain, seq) of every checkpoint whose signature does not verify with the key."""
        key = self.key()
        return [
            (chain.chain, c.seq)
            for chain in self.chains
            for c in chain.checkpoints
            if not signature_holds(key, chain.chain, c.seq, c.hash, c.signed_at, c.signature)
        ]


def read_document(path: Path) -> CheckpointDocument:
    """Parse a checkpoint file; :class:`CheckpointFileError` says what is wrong with it."""
    try:
        document = msgspec.json.decode(path.read_bytes(), type=CheckpointDocument)
    except OSError as exc:
        raise CheckpointFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except msgspec.ValidationError as exc:
        raise CheckpointFileError(f"{path}: not a checkpoint file: {exc}") from None
    except msgspec.DecodeError as exc:
        raise CheckpointFileError(f"{path}: not JSON: {exc}") from None
    if document.format != FORMAT:
        raise CheckpointFileError(f"{path}: format {document.format!r}, expected {FORMAT!r}")
    try:
        document.key()
    except ValueError as exc:
        raise CheckpointFileError(f"{path}: public_key is not an Ed25519 key in PEM") from exc
    for chain in document.chains:
        if chain.chain != "platform" and chain_tenant_id(chain.chain) is None:
            raise CheckpointFileError(f"{path}: {chain.chain!r} is not a chain name")
    return document


def chain_tenant_id(chain: str) -> int | None:
    """The tenant id in a tenant chain's name (``t:<id>``); None for any other name."""
    prefix, _, number = chain.partition(":")
    if prefix != "t" or not number.isascii() or not number.isdigit() or len(number) > 18:
        return None
    return int(number)

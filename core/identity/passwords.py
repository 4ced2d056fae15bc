"""Password hashing (argon2id) and TOTP second factors."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "MIN_PASSWORD",
    "PasswordPolicyError",
    "check_password",
    "hash_password",
    "new_totp_secret",
    "totp_step",
    "totp_uri",
]

MIN_PASSWORD = 12
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class PasswordPolicyError(ValueError):
    """The password is too weak to store."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise PasswordPolicyError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Whether it matches, and a fresh hash when the parameters have changed since."""
    if stored is None:
        _hasher.hash("timing-equaliser")  # no account: spend the same time
        return False, None
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, (_hasher.hash(password) if _hasher.check_needs_rehash(stored) else None)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Madoguchi")


def totp_step(secret: str, code: str, last_step: int) -> int | None:
    """The time step the code belongs to (±1 step of drift), or None; a step at or before
    ``last_step`` is refused so that a code cannot be used twice."""
    totp = pyotp.TOTP(secret)
    now = int(totp.timecode(datetime.now(UTC)))
    for step in (now, now - 1, now + 1):
        if step > last_step and pyotp.utils.strings_equal(totp.generate_otp(step), code.strip()):
            return step
    return None

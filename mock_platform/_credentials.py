"""Device credentials at rest: HMAC-SHA256 of each token under a per-database secret (ST-PROTO-002).

The secret is 32 random bytes kept in the database's ``meta`` table; a copied database without its process cannot
be brute-forced with a precomputed table, and equal tokens of two databases give different hashes. Databases from
before this (unsalted SHA-256 in ``devices.token_sha256``) stay usable: such a hash is checked as SHA-256 once,
and replaced by the HMAC at the first successful authentication.

Example::

    creds = Credentials()                  # a process-local secret until the store gives its own
    creds.secret = load_secret(conn)       # on the database thread, at start
    h = creds.digest("token")
    creds.matches("token", h, legacy=False)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3

__all__ = ["Credentials", "enrolment_token", "load_secret"]

_SECRET_KEY = "token_hmac_secret"


def load_secret(conn: sqlite3.Connection) -> bytes:
    """The database's token secret, created on first use (runs on the database thread)."""
    row = conn.execute("SELECT value FROM meta WHERE key=?", (_SECRET_KEY,)).fetchone()
    if row is not None:
        return bytes.fromhex(row[0])
    secret = secrets.token_bytes(32)
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (_SECRET_KEY, secret.hex()))
    return secret


def enrolment_token(key: str, device_id: str) -> str:
    """The token of a device under a group enrolment: HMAC-SHA256(group key, device ID) in lower-case hex (the
    pattern of symmetric-key group enrolment: the platform keeps one key per group, never per-device tokens)."""
    return hmac.new(key.encode("utf-8"), device_id.encode("utf-8"), hashlib.sha256).hexdigest()


class Credentials:
    """Hashes tokens under the current secret and compares in constant time."""

    def __init__(self) -> None:
        self.secret = secrets.token_bytes(32)

    def digest(self, token: str) -> bytes:
        """HMAC-SHA256 of the token under the secret."""
        return hmac.new(self.secret, token.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def matches(self, token: str, expected: bytes | None, *, legacy: bool = False) -> bool:
        """True when ``token`` hashes to ``expected`` (an HMAC, or a bare SHA-256 when ``legacy``); the
        comparison runs even without an expected hash, so that timing reveals nothing."""
        got = (
            hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest() if legacy else self.digest(token)
        )
        return hmac.compare_digest(got, expected or b"\0" * 32) and expected is not None and bool(token)

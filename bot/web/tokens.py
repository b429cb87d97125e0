"""Login links and session cookies: random ids, signed where a browser carries them.

A login link carries ``<login id>.<HMAC-SHA256 of the id>`` (URL-safe base64, no padding): the
page checks the signature (``hmac.compare_digest``) before it looks the id up, so a guessed or
altered link costs no database read. A session cookie is a random token of which only the
SHA-256 is stored: a copy of the database opens no session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from urllib.parse import quote

LOGIN_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=12)
_SEPARATOR = "."


def new_login_id() -> str:
    return secrets.token_urlsafe(24)


def _signature(login_id: str, key: bytes) -> str:
    digest = hmac.new(key, login_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(login_id: str, key: bytes) -> str:
    """What the link carries: the id and its signature."""
    return f"{login_id}{_SEPARATOR}{_signature(login_id, key)}"


def verify(token: str, key: bytes) -> str | None:
    """The login id of a token signed with ``key``; None if altered, cut short or malformed."""
    login_id, separator, signature = token.rpartition(_SEPARATOR)
    if not separator or not login_id or not signature:
        return None
    expected = _signature(login_id, key)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return None
    return login_id


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a session token (SHA-256, hex)."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def login_url(base_url: str, token: str) -> str:
    return f"{base_url}/login?t={quote(token, safe='')}"

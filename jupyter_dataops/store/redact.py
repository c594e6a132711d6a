"""Hide secret-looking parameter values before they reach the run store."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "***"

# A key is secret when one of its word parts is one of these ...
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "secrets",
        "token",
        "tokens",
        "key",
        "keys",
        "apikey",
        "credential",
        "credentials",
        "auth",
        "authorization",
        "private",
        "privatekey",
        "passphrase",
        "cookie",
        "dsn",
    }
)
# ... or when it contains one of these anywhere (catches "dbpassword", "accesstoken").
_SECRET_FRAGMENTS = ("password", "passwd", "secret", "token", "credential", "apikey", "passphrase")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_ASSIGNMENT = re.compile(r"^\s*(?P<name>[\w.\-]+)\s*=(?P<value>.*)$", re.DOTALL)
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^:/@\s]+:)(?P<pw>[^@/\s]+)(?=@)")


def is_secret_name(name: str) -> bool:
    """Whether a parameter name looks like it holds a secret (password, token, api_key, ...)."""
    lowered = name.lower()
    if any(fragment in lowered for fragment in _SECRET_FRAGMENTS):
        return True
    return any(word.lower() in _SECRET_WORDS for word in _WORD.findall(name))


def redact_parameters(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy of ``params`` with secret-looking values replaced by ``"***"``.

    Keys are judged by name (nested mappings too); a password inside a URL value
    (``postgresql://user:pw@host/db``) is masked whatever the key is called, and so is the value
    of a ``name=value`` string with a secret name (``-p db.password=...`` as the CLI got it).
    """
    if params is None:
        return None
    return {str(k): _redact_value(str(k), v) for k, v in params.items()}


def _redact_value(key: str, value: Any) -> Any:
    if is_secret_name(key) and value is not None:
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    if isinstance(value, str):
        assignment = _ASSIGNMENT.match(value)
        if assignment and is_secret_name(assignment.group("name").rsplit(".", 1)[-1]):
            return f"{assignment.group('name')}={REDACTED}"
        return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, value)
    return value

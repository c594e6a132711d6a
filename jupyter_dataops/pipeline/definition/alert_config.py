"""What an ``alerts:`` entry of ``dataops.yaml`` says: a channel, its target and options, and the
events it wants (``AlertSpec``). Parsed with the rest of the pipeline file (``spec``), so a bad
entry is refused at load with its line; sent by the alert observer (``observers.alerts``).

Channels are one registry (``channels``, entry-point group ``jupyter_dataops.alert_channel``):
each class says its ``options`` and checks its own target (``check``). The built-in channels'
checks live here as ``WebhookConfig`` and ``EmailConfig``; ``observers.alerts`` registers the
classes that also send (``WebhookChannel``, ``EmailChannel``) under the same names, so a
lookup answers a class that can check and, once the observers are loaded, send.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.plugins import Registry

# In the order a message names them when one step raises several.
EVENTS: tuple[str, ...] = ("failure", "check_failed", "spc_signal", "interrupted", "late")
# incidents (observers.incidents): a problem reported by a person, and an incident resolved
EVENTS += ("reported", "resolved")
#: options every channel takes: how often a still-open incident is alerted again
COMMON_OPTIONS = ("remind_after",)
_EVERY = re.compile(r"^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?$")


class AlertConfigError(DataOpsError, ValueError):  # ValueError: as before, for callers
    """A bad ``alerts:`` entry; ``key`` names the key at fault (None: the entry itself)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class AlertSpec:
    """One ``alerts:`` entry: a channel, its target (URL, addresses...), options and events."""

    channel: str
    target: Any
    options: Mapping[str, Any]
    events: tuple[str, ...]


class ChannelConfig:
    """What an ``alerts:`` entry of one channel may say: its ``options`` and ``check``. A
    channel that sends (``observers.alerts.Channel``) is one of these."""

    name: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def check(cls, target: Any, options: Mapping[str, Any]) -> Any:
        """Validate the target and options of an entry (``AlertConfigError``); return the
        target normalised."""
        raise NotImplementedError


class WebhookConfig(ChannelConfig):
    """``webhook: URL``, ``format: json|slack``, ``timeout: seconds``."""

    name = "webhook"
    options = ("format", "timeout")

    @classmethod
    def check(cls, target: Any, options: Mapping[str, Any]) -> Any:
        if not isinstance(target, str) or urlsplit(target).scheme not in ("http", "https"):
            raise AlertConfigError(
                f"expected an http(s) URL such as 'https://hooks.example.com/T000', got {target!r}",
                "webhook",
            )
        fmt = options.get("format", "json")
        if fmt not in ("json", "slack"):
            raise AlertConfigError(f"format must be json or slack, got {fmt!r}", "format")
        timeout = options.get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise AlertConfigError(f"timeout must be seconds above 0, got {timeout!r}", "timeout")
        return target


class EmailConfig(ChannelConfig):
    """``email: address(es)`` through ``smtp: host:port``; the login comes from environment
    variables named in the file (``user_env``, ``password_env``), never from the file itself."""

    name = "email"
    options = ("smtp", "sender", "user_env", "password_env", "starttls", "timeout")

    @classmethod
    def check(cls, target: Any, options: Mapping[str, Any]) -> Any:
        addresses = [target] if isinstance(target, str) else target
        if (
            not isinstance(addresses, list)
            or not addresses
            or not all(isinstance(a, str) and "@" in a for a in addresses)
        ):
            raise AlertConfigError(
                f"expected an address or a list of addresses, got {target!r}", "email"
            )
        smtp = options.get("smtp")
        if not isinstance(smtp, str) or not smtp.strip():
            raise AlertConfigError(
                "missing `smtp: host:port` (the mail server to send through)", "smtp"
            )
        host_port(smtp)
        for key in ("user_env", "password_env"):
            value = options.get(key)
            if value is not None and (not isinstance(value, str) or not value.isidentifier()):
                raise AlertConfigError(
                    f"{key} names an environment variable (e.g. DATAOPS_SMTP_USER), got "
                    f"{value!r}; never put the secret itself in the file",
                    key,
                )
        if "password" in options or "user" in options:
            raise AlertConfigError(
                "credentials never go in dataops.yaml: use user_env/password_env naming "
                "environment variables",
                "password" if "password" in options else "user",
            )
        if "starttls" in options and not isinstance(options["starttls"], bool):
            raise AlertConfigError("starttls must be true or false", "starttls")
        return addresses


def host_port(text: str) -> tuple[str, int]:
    """``smtp:`` as (host, port); the port defaults to 25."""
    host, _, port = text.strip().rpartition(":")
    if not host:
        return text.strip(), 25
    if not port.isdigit():
        raise AlertConfigError(f"smtp must be host or host:port, got {text!r}", "smtp")
    return host, int(port)


#: alert channel classes by ``alerts:`` key; also the ``jupyter_dataops.alert_channel`` group
channels = Registry("alert channel", "jupyter_dataops.alert_channel", base=ChannelConfig)
channels.register("webhook", WebhookConfig)
channels.register("email", EmailConfig)


def parse_every(value: Any) -> float:
    """Seconds of a ``remind_after:`` such as ``1d``, ``12h``, ``1d12h``, ``30m`` (at least a
    minute); ``AlertConfigError`` otherwise."""
    match = _EVERY.match(value.strip().lower()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise AlertConfigError(
            f"remind_after is a duration such as 1d, 12h or 30m, got {value!r}", "remind_after"
        )
    d, h, m = (int(g) if g else 0 for g in match.groups())
    seconds = d * 86400 + h * 3600 + m * 60
    if seconds < 60:
        raise AlertConfigError("remind_after is at least 1m", "remind_after")
    return float(seconds)


def parse_alert(entry: Any) -> AlertSpec:
    """One ``alerts:`` entry as an ``AlertSpec``; ``AlertConfigError`` names the bad key."""
    if not isinstance(entry, Mapping):
        raise AlertConfigError(
            "an alert is a mapping such as `{webhook: https://..., on: [failure]}`"
        )
    kinds = [k for k in entry if str(k) in channels]
    if len(kinds) != 1:
        raise AlertConfigError(
            f"an alert names exactly one channel ({', '.join(channels.names())}); got "
            f"{', '.join(map(str, kinds)) or 'none'}"
        )
    kind = str(kinds[0])
    cls = channels[kind]
    events = entry.get("on")
    if events is None:
        raise AlertConfigError(f"missing `on:` (events: {', '.join(EVENTS)})", "on")
    events = [events] if isinstance(events, str) else events
    if not isinstance(events, list) or not events:
        raise AlertConfigError(f"`on:` lists events ({', '.join(EVENTS)})", "on")
    for e in events:
        if e not in EVENTS:
            raise AlertConfigError(f"unknown event {e!r}; known: {', '.join(EVENTS)}", "on")
    options = {str(k): v for k, v in entry.items() if k not in (kind, "on")}
    if "remind_after" in options:
        options["remind_after"] = parse_every(options["remind_after"])
    for key in options:
        if key not in (*cls.options, *COMMON_OPTIONS) and key not in ("user", "password"):
            raise AlertConfigError(
                f"unknown option for a {kind} alert; known: {', '.join(cls.options)}", key
            )
    target = cls.check(entry[kind], options)
    return AlertSpec(kind, target, options, tuple(dict.fromkeys(events)))

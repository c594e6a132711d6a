"""Alerts: tell people when a step fails, a data test fails or an SPC rule breaks.

``alerts:`` in ``dataops.yaml`` lists channels and the events each wants (parsed when the file
is loaded, by ``definition.alert_config``). Channels are a registry, like executors: adding one
is a ``Channel`` subclass and a ``channels.register`` line (or the
``jupyter_dataops.alert_channel`` entry-point group). Built in: ``webhook`` (a JSON POST,
optionally Slack-shaped) and ``email`` (SMTP): ``WebhookConfig`` / ``EmailConfig`` check their
entries, the channels here add the sending.

A delivery failure is retried a few times, logged (without secrets) and written to the store's
alert log; it never raises into the runner or the scheduler and never changes a run's outcome.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from jupyter_dataops.checks.display import (
    format_value,
    parameters_text,
    status_label,
    unit_of,
)
from jupyter_dataops.checks.source_text import without_comment
from jupyter_dataops.errors import DataOpsError
from jupyter_dataops.pipeline.definition.alert_config import (
    EVENTS,
    AlertSpec,
    ChannelConfig,
    EmailConfig,
    WebhookConfig,
    channels,
    host_port,
)
from jupyter_dataops.pipeline.observers.base import RunObserver
from jupyter_dataops.pipeline.observers.incidents import (
    KIND_EVENTS,
    incident_lines,
    incidents_of,
)

if TYPE_CHECKING:
    from jupyter_dataops.store.api import Store

log = logging.getLogger("jupyter_dataops.alerts")

EVENT_WORDS = {
    "failure": "step failed",
    "check_failed": "data test failed",
    "spc_signal": "SPC signal",
    "interrupted": "run interrupted",
    "late": "partition late",
    "reported": "problem reported",
    "resolved": "resolved",
}
RETRIES = 3
RETRY_DELAY = 1.0


@dataclass
class AlertEvent:
    """What happened, with everything a person needs to act on it."""

    events: list[str]
    pipeline: str
    step: str | None = None
    step_run_id: int | None = None
    pipeline_run_id: int | None = None
    status: str | None = None
    error: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)  # failing/warning check lines
    spc: list[str] = field(default_factory=list)  # rules broken, in words
    notebook: str | None = None
    time: str | None = None
    partition: str | None = None  # the period the event is about (``late``)
    parameters: dict[str, Any] | None = None  # what the step ran with (secrets as ***)
    host: str | None = None  # where it ran
    # the incident this event opens, reminds of or resolves (``observers.incidents``)
    incident: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # an event no run's host is known for (late, reported, a reminder) names the machine
        # that noticed it: every alert says where it comes from
        self.host = self.host or socket.gethostname()

    @property
    def event(self) -> str:
        return self.events[0]

    def wanted_by(self, spec: AlertSpec) -> list[str]:
        """The events of this one that ``spec`` asked for. A channel that asked for what opens
        an incident also hears when it resolves; one that asked for ``failure`` also hears of a
        reported problem."""
        wanted = [e for e in self.events if e in spec.events]
        if wanted or not self.incident:
            return wanted
        opening = KIND_EVENTS.get(self.incident.get("kind"), "")
        if opening in spec.events or (opening == "reported" and "failure" in spec.events):
            return list(self.events)
        return []

    def title(self) -> str:
        what = ", ".join(EVENT_WORDS.get(e, e) for e in self.events)
        where = f"{self.pipeline}/{self.step}" if self.step else self.pipeline
        if self.partition:
            where += f" [{self.partition}]"
        run = f" (run {self.step_run_id})" if self.step_run_id else ""
        return f"[dataops] {where}{run}: {what}"

    def text(self) -> str:
        lines = [self.title(), "", f"pipeline: {self.pipeline}"]
        shown = (  # (label, value, text): a line for each value that is set
            ("step", self.step, self.step),
            ("step run", self.step_run_id, f"{self.step_run_id} (dataops show {self.step_run_id})"),
            ("pipeline run", self.pipeline_run_id, self.pipeline_run_id),
            ("partition", self.partition, self.partition),
            ("parameters", self.parameters, self.parameters and parameters_text(self.parameters)),
            ("host", self.host, self.host),
            ("status", self.status, self.status),
            ("error", self.error, self.error),
        )
        lines.extend(f"{label}: {text}" for label, value, text in shown if value)
        for c in self.checks:
            observed = f" (observed {c['observed_text']})" if c.get("observed_text") else ""
            source = without_comment(c.get("source") or "")
            lines.append(
                f"check line {c.get('line')} {status_label(c.get('status') or '')}: {source}"
                f"{observed}" + (f" — {c['message']}" if c.get("message") else "")
            )
        for rule in self.spc:
            lines.append(f"SPC: {rule}")
        if self.notebook:
            lines.append(f"executed notebook: {self.notebook}")
        if self.incident:
            lines.extend(incident_lines(self.incident))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["event"] = self.event
        out["title"] = self.title()
        return out


class Channel(ChannelConfig, ABC):
    """Sends alert events to one place. Subclasses say how (and what their options are)."""

    def __init__(self, spec: AlertSpec) -> None:
        self.spec = spec

    @classmethod
    @abstractmethod
    def check(cls, target: Any, options: Mapping[str, Any]) -> Any:
        """Validate the target and options of an entry (``AlertConfigError``); return the
        target normalised."""

    @abstractmethod
    def send(self, event: AlertEvent) -> None:
        """Deliver one event; raise on failure (the caller retries and logs)."""

    def describe(self) -> str:
        """The target without secrets, for logs and the alert log."""
        return str(self.spec.target)


def redact_url(url: str) -> str:
    """A URL safe to log: no password, no query, and the path cut to its first part (webhook
    URLs carry their secret in the path, e.g. Slack's ``/services/T000/B000/XXXX``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    first = "/".join(parts.path.split("/")[:2])
    path = f"{first}/***" if parts.path.strip("/").count("/") or parts.query else parts.path
    return urlunsplit((parts.scheme, host, path, "", ""))


class WebhookChannel(WebhookConfig, Channel):
    """A JSON POST (httpx). ``format: slack`` sends Slack's ``{"text": ...}`` body instead."""

    def body(self, event: AlertEvent) -> dict[str, Any]:
        if self.spec.options.get("format", "json") == "slack":
            return {"text": event.text()}
        return event.to_dict()

    def send(self, event: AlertEvent) -> None:
        import httpx

        response = httpx.post(
            self.spec.target,
            json=self.body(event),
            timeout=float(self.spec.options.get("timeout", 10)),
        )
        if response.status_code >= 400:
            raise RuntimeError(f"HTTP {response.status_code} from {self.describe()}")

    def describe(self) -> str:
        return redact_url(self.spec.target)


class EmailChannel(EmailConfig, Channel):
    """Mail through an SMTP server. The login comes from environment variables named in the
    file (``user_env``, ``password_env``), never from the file itself."""

    def send(self, event: AlertEvent) -> None:
        opts = self.spec.options
        host, port = host_port(opts["smtp"])
        msg = EmailMessage()
        msg["Subject"] = event.title()
        msg["From"] = opts.get("sender") or f"dataops@{os.uname().nodename}"
        msg["To"] = ", ".join(self.spec.target)
        msg.set_content(event.text())
        with smtplib.SMTP(host, port, timeout=float(opts.get("timeout", 10))) as smtp:
            if opts.get("starttls", port == 587):
                smtp.starttls()
            user_env, password_env = opts.get("user_env"), opts.get("password_env")
            if user_env or password_env:
                user = os.environ.get(user_env or "", "")
                password = os.environ.get(password_env or "", "")
                if not user or not password:
                    raise RuntimeError(
                        f"environment variables {user_env} / {password_env} are not both set"
                    )
                smtp.login(user, password)
            smtp.send_message(msg)

    def describe(self) -> str:
        return f"{', '.join(self.spec.target)} via {self.spec.options['smtp']}"


#: the channels that check and send, under the names alert_config registered their checks with
channels.register("webhook", WebhookChannel)
channels.register("email", EmailChannel)


# -- building events from the store ---------------------------------------------------------------


def step_events(run: Mapping[str, Any]) -> AlertEvent | None:
    """The alert event of a finished step run (``store.get_run`` dict), or None when nothing
    in it is worth an alert."""
    events = []
    status = run.get("status")
    if status == "failed":
        events.append("failure")
    if status == "interrupted":
        events.append("interrupted")
    checks = run.get("check_results") or []
    failing = [c for c in checks if c.get("status") in ("fail", "error")]
    if failing:
        events.append("check_failed")
    signals = [c for c in checks if (c.get("spc") or {}).get("broken")]
    if signals:
        events.append("spc_signal")
    if not events:
        return None
    from jupyter_dataops.spc.rules import describe

    spc_words = [
        f"{c.get('source')}: " + "; ".join(f"{r} {describe(r)}" for r in c["spc"]["broken"])
        for c in signals
    ]
    shown = failing + [c for c in signals if c not in failing]
    return AlertEvent(
        events=[e for e in EVENTS if e in events],
        pipeline=str(run.get("pipeline")),
        step=run.get("step"),
        step_run_id=run.get("id"),
        pipeline_run_id=run.get("pipeline_run_id"),
        status=status,
        error=run.get("error"),
        checks=[
            {k: c.get(k) for k in ("line", "source", "status", "observed", "threshold", "message")}
            # the number as the CLI and the panel show it (one formatter: checks/display)
            | {"observed_text": format_value(c.get("observed"), unit_of(c.get("metric")))}
            for c in shown
        ],
        spc=spc_words,
        notebook=run.get("notebook_path"),
        time=run.get("ended_at"),
        partition=run.get("partition"),
        parameters=run.get("parameters") or None,
        host=run.get("host"),
    )


# -- delivery ---------------------------------------------------------------------------------------


def deliver(
    alerts: Sequence[AlertSpec],
    event: AlertEvent,
    *,
    store: Store | None = None,
    retries: int = RETRIES,
    retry_delay: float = RETRY_DELAY,
) -> list[dict[str, Any]]:
    """Send ``event`` to every channel that wants one of its events. Never raises: each
    delivery is tried ``retries`` times, logged, and written to the store's alert log."""
    results = []
    for spec in alerts:
        wanted = event.wanted_by(spec)
        if not wanted:
            continue
        try:
            cls = channels[spec.channel]
        except DataOpsError as exc:  # parse_alert checked it; a plug-in gone since then
            log.warning("alert not delivered: %s", exc)
            continue
        if not issubclass(cls, Channel):  # a plug-in that checks entries but cannot send
            log.warning(
                "alert not delivered: %s channel %r has no send", cls.__name__, spec.channel
            )
            continue
        channel = cls(spec)
        try:
            target = channel.describe()
        except Exception:  # noqa: BLE001 - a describe bug must not stop delivery
            target = spec.channel
        error = None
        attempts = 0
        for attempts in range(1, retries + 1):  # noqa: B007 - attempts is reported
            try:
                channel.send(event)
                error = None
                break
            except Exception as exc:  # noqa: BLE001 - any failure is logged, never raised
                error = f"{type(exc).__name__}: {_scrub(str(exc), spec)}"
                if attempts < retries:
                    time.sleep(retry_delay * attempts)
        status = "failed" if error else "sent"
        line = {
            "event": "alert_" + status,
            "channel": spec.channel,
            "target": target,
            "alert": event.event,
            "pipeline": event.pipeline,
            "step": event.step,
            "step_run_id": event.step_run_id,
            "attempts": attempts,
        }
        if error:
            line["error"] = error
            log.warning("alert not delivered", extra={"fields": line})
        else:
            log.info("alert delivered", extra={"fields": line})
        results.append(line)
        if store is not None:
            try:
                store.record_alert(
                    pipeline=event.pipeline,
                    step=event.step,
                    event=event.event,
                    channel=spec.channel,
                    target=target,
                    status=status,
                    attempts=attempts,
                    error=error,
                    pipeline_run_id=event.pipeline_run_id,
                    step_run_id=event.step_run_id,
                )
            except Exception as exc:  # noqa: BLE001 - the alert log is best effort
                log.warning("alert log not written: %s", exc)
    return results


def _scrub(text: str, spec: AlertSpec) -> str:
    """An error message without the channel's secret (httpx errors quote the full URL)."""
    if isinstance(spec.target, str) and spec.target in text:
        text = text.replace(spec.target, redact_url(spec.target))
    return text


def alert_step_runs(
    alerts: Sequence[AlertSpec], store: Store, step_run_ids: Iterable[int]
) -> list[dict[str, Any]]:
    """Send the alerts of finished step runs (read back from the store, so the message says
    exactly what was recorded)."""
    out: list[dict[str, Any]] = []
    if not alerts:
        return out
    for srid in step_run_ids:
        try:
            run = store.get_run(srid)
        except Exception as exc:  # noqa: BLE001
            log.warning("alert skipped: cannot read step run %s: %s", srid, exc)
            continue
        event = step_events(run) if run else None
        incidents = incidents_of(store, srid) if run else []
        if event is not None:
            event = once_per_incident(event, incidents)
        if event is not None:
            out.extend(deliver(alerts, event, store=store))
        for incident in incidents:
            if incident.get("resolved_here"):
                resolved = incident_event(incident, "resolved")
                # the run that resolved it: which, what it ran with and where
                resolved.step_run_id = run.get("id") or resolved.step_run_id
                resolved.parameters = run.get("parameters") or None
                resolved.host = run.get("host") or resolved.host
                out.extend(deliver(alerts, resolved, store=store))
    return out


# -- incidents: one alert when one opens, one when it resolves --------------------------------


def incident_event(incident: Mapping[str, Any], event: str) -> AlertEvent:
    """The alert of an incident on its own: ``reported``, ``resolved``, or (any other
    ``event``: the one that opened it) a reminder that it is still open."""
    runs = [r["step_run_id"] for r in incident.get("runs") or [] if r.get("step_run_id")]
    verb = {"resolved": "resolved", "reported": "reported"}.get(event, "still open")
    return AlertEvent(
        events=[event],
        pipeline=str(incident.get("pipeline")),
        step=incident.get("step"),
        step_run_id=runs[-1] if runs else None,
        status=incident.get("status"),
        error=f"incident {incident.get('id')} {verb}: {incident.get('title')}",
        partition=(incident.get("partitions") or [None])[-1],
        time=incident.get("resolved_at") or incident.get("last_seen"),
        incident=dict(incident),
    )


def once_per_incident(
    event: AlertEvent, incidents: Sequence[Mapping[str, Any]]
) -> AlertEvent | None:
    """``event`` (a step run's alert) keeping only what opened an incident in this run: a
    failure of an incident already open is not alerted again. ``None``: nothing new. An event
    no incident covers (an interrupted run, a test run) goes out as it is."""
    failing = [i for i in incidents if not i.get("resolved_here")]
    if not failing:
        return event
    new = [i for i in failing if i.get("opened_here")]
    new_events = {KIND_EVENTS.get(i["kind"]) for i in new}
    events = [
        e for e in event.events if e == "interrupted" or e in new_events or (e == "failure" and new)
    ]
    if not events:
        return None
    new_checks = {i["key"] for i in new if i["kind"] == "check"}
    event.events = events
    event.checks = [
        c
        for c in event.checks
        if c.get("status") not in ("fail", "error") or c.get("source") in new_checks
    ]
    if "spc_signal" not in events:
        event.spc = []
    event.incident = dict(new[0]) if new else None
    return event


def remind_open(
    alerts: Sequence[AlertSpec], store: Store, pipeline: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Alert again each incident still open longer than a channel's ``remind_after`` since it
    opened or was last reminded of (claimed first: the scheduler's tick and a run's end may
    both look at once). Returns the deliveries made."""
    reminding = [a for a in alerts if a.options.get("remind_after")]
    if not reminding:
        return []
    now = now or datetime.now(timezone.utc)
    out: list[dict[str, Any]] = []
    for incident in store.list_incidents(pipeline=pipeline):
        since = datetime.fromisoformat(incident["reminded_at"] or incident["first_seen"])
        due = [a for a in reminding if now - since >= timedelta(seconds=a.options["remind_after"])]
        if not due:
            continue
        if not store.claim_reminder(incident["id"], incident["reminded_at"], now):
            continue  # another process reminded of it just now
        event = incident_event(incident, KIND_EVENTS.get(incident["kind"], "failure"))
        out.extend({**r, "incident": incident["id"]} for r in deliver(due, event, store=store))
    return out


class AlertObserver(RunObserver):
    """Sends a run's alerts: after each step's record is committed, on a background thread (a
    slow channel never holds up the run); ``close`` waits for them (bounded), so a short-lived
    process (``dataops run``, an Airflow task, the server's worker) delivers before it exits."""

    def __init__(self, pipeline: Any, store: Store) -> None:
        super().__init__(pipeline, store)
        self.alerts = list(getattr(pipeline, "alerts", ()) or ())
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataops-alerts")
        self._futures: list[Any] = []
        self._lock = threading.Lock()

    @classmethod
    def enabled(cls, pipeline: Any) -> bool:
        return bool(getattr(pipeline, "alerts", ()))

    def _submit(self, step_run_ids: list[int]) -> None:
        with self._lock:
            self._futures.append(
                self._pool.submit(alert_step_runs, self.alerts, self.store, step_run_ids)
            )

    def step_finished(self, outcome: Any) -> None:
        if outcome.status in ("failed", "success") and outcome.step_run_ids:
            self._submit([outcome.step_run_ids[-1]])

    def run_finished(self, result: Any) -> None:
        """Reminders of incidents still open past a channel's ``remind_after``."""
        if any(a.options.get("remind_after") for a in self.alerts):
            with self._lock:
                self._futures.append(
                    self._pool.submit(remind_open, self.alerts, self.store, self.pipeline.name)
                )

    def run_interrupted(self, run_id: int) -> None:
        """Alerts for the steps the runner recorded ``interrupted``."""
        run = self.store.get_pipeline_run(run_id) or {}
        stopped = [s["id"] for s in run.get("steps", []) if s["status"] == "interrupted"]
        if stopped:
            self._submit(stopped)

    def close(self, timeout: float) -> None:
        """Let queued alerts go out (at most ``timeout`` seconds), then stop the sender."""
        deadline = time.monotonic() + timeout
        with self._lock:
            futures = list(self._futures)
        for f in futures:
            try:
                f.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception as exc:  # noqa: BLE001
                log.warning("alert sender: %s: %s", type(exc).__name__, exc)
        self._pool.shutdown(wait=False)

"""``alerts:`` entries are parsed with the pipeline file, in the definition room: loading a file
with alerts imports no observer, a bad entry is refused at load with its line, and a plug-in
channel's own check runs at load too."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from jupyter_dataops.pipeline.definition.alert_config import (
    AlertConfigError,
    ChannelConfig,
    channels,
    parse_alert,
)
from jupyter_dataops.pipeline.definition.model import PipelineFileError
from jupyter_dataops.pipeline.definition.spec import load_pipeline


def write(tmp_path, alerts: str):
    (tmp_path / "a.ipynb").write_text("{}")
    path = tmp_path / "dataops.yaml"
    path.write_text(
        "pipeline: p\n" + textwrap.dedent(alerts) + "steps:\n  a: {notebook: a.ipynb}\n"
    )
    return path


def test_loading_alerts_imports_no_observer(tmp_path):
    path = write(
        tmp_path,
        """\
        alerts:
          - {webhook: "https://hooks.example.com/T0", format: slack, on: [failure]}
          - {email: ops@example.com, smtp: "mail:587", on: [late], remind_after: 1d}
        """,
    )
    code = textwrap.dedent(f"""\
        import sys
        from jupyter_dataops.pipeline.definition.spec import load_pipeline
        p = load_pipeline({str(path)!r})
        print([a.channel for a in p.alerts], p.alerts[1].options["remind_after"])
        print(sorted(m for m in sys.modules if m.startswith("jupyter_dataops.pipeline.observers")))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["['webhook', 'email'] 86400.0", "[]"]


def test_a_bad_entry_is_refused_at_load_with_its_line(tmp_path):
    path = write(
        tmp_path,
        """\
        alerts:
          - webhook: https://hooks.example.com/T0
            on: [failure]
          - email: ops@example.com
            smtp: "mail:x"
            on: [failure]
        """,
    )
    with pytest.raises(PipelineFileError) as info:
        load_pipeline(path)
    err = info.value
    assert (err.key, err.line) == ("smtp", 6)
    assert "alert 2: smtp must be host or host:port" in str(err)


class Pager(ChannelConfig):
    """A plug-in channel's check: the pager id is digits."""

    name = "pager"
    options = ("urgency",)

    @classmethod
    def check(cls, target, options):
        if not str(target).isdigit():
            raise AlertConfigError(f"a pager id is digits, got {target!r}", "pager")
        return int(target)


@pytest.fixture
def pager():
    channels.register("pager", Pager)
    yield
    channels.unregister("pager")


def test_a_plug_in_channel_checks_its_entry_at_load(tmp_path, pager):
    spec = parse_alert({"pager": "42", "urgency": "high", "on": ["failure"]})
    assert (spec.channel, spec.target, dict(spec.options)) == ("pager", 42, {"urgency": "high"})
    path = write(tmp_path, "alerts:\n  - {pager: abc, on: [failure]}\n")
    with pytest.raises(PipelineFileError, match=r"line 3, key 'pager': alert 1: a pager id is"):
        load_pipeline(path)
    with pytest.raises(AlertConfigError, match="unknown option for a pager alert; known: urgency"):
        parse_alert({"pager": "42", "format": "slack", "on": ["failure"]})


def test_a_channel_that_cannot_send_is_skipped_by_delivery_not_raised(pager, caplog):
    from jupyter_dataops.pipeline.observers.alerts import AlertEvent, deliver

    spec = parse_alert({"pager": "42", "on": ["failure"]})
    assert deliver([spec], AlertEvent(events=["failure"], pipeline="p")) == []
    assert "'pager' has no send" in caplog.text

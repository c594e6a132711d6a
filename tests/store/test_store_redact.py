"""Secret-looking parameters never reach the run store in clear."""

from __future__ import annotations

import pytest

from jupyter_dataops.store import REDACTED, is_secret_name, redact_parameters


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "db_password",
        "DB_PASSWORD",
        "dbpassword",
        "passwd",
        "pwd",
        "api_key",
        "apiKey",
        "API-KEY",
        "key",
        "secret",
        "client_secret",
        "token",
        "accessToken",
        "credentials",
        "aws_credential",
        "auth",
        "private_key",
        "passphrase",
    ],
)
def test_secret_like_names_are_recognised(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["day", "monkey", "keyboard", "author", "n_rows", "region", "threshold", "tokyo"]
)
def test_ordinary_names_are_kept(name):
    assert not is_secret_name(name)


def test_redaction_masks_values_nested_mappings_and_passwords_inside_urls():
    params = {
        "day": "2026-01-01",
        "n": 3,
        "api_token": "abc",
        "warehouse": {"user": "ana", "password": "pw", "hosts": [{"secret": 1}, "h2"]},
        "source": "postgresql://ana:hunter2@db:5432/sales",
        "empty_token": None,
    }
    assert redact_parameters(params) == {
        "day": "2026-01-01",
        "n": 3,
        "api_token": REDACTED,
        "warehouse": {"user": "ana", "password": REDACTED, "hosts": [{"secret": REDACTED}, "h2"]},
        "source": f"postgresql://ana:{REDACTED}@db:5432/sales",
        "empty_token": None,
    }
    assert params["api_token"] == "abc"  # the caller's dict is untouched
    assert redact_parameters(None) is None


def test_key_value_strings_as_typed_on_the_command_line_are_masked_by_name():
    cli = {"-p": ["day=2026-01-01", "load.db_password=hunter2", "token = abc", "note=a=b"]}
    assert redact_parameters(cli) == {
        "-p": ["day=2026-01-01", f"load.db_password={REDACTED}", f"token={REDACTED}", "note=a=b"]
    }

"""Settings: defaults, the environment, and messages that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cloud.settings import DAY, AuthMode, CloudSettings
from shared.wire.uplink import MAX_BODY


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    settings = CloudSettings()

    assert (settings.database, settings.host, settings.port) == (
        Path("citytwin-cloud.db"),
        "127.0.0.1",
        8000,
    )
    assert (settings.stale_after_s, settings.offline_after_s) == (90, 300)
    assert settings.max_body_bytes == MAX_BODY
    assert (settings.auth, settings.admin_key, settings.enrollment_ttl_s) == (
        AuthMode.AUTO,
        None,
        DAY,
    )
    assert not settings.configured_credentials


def test_the_environment_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYTWIN_CLOUD_DATABASE", str(tmp_path / "twin.db"))
    monkeypatch.setenv("CITYTWIN_CLOUD_GATEWAY_TOKENS", '{"gw-01": "0123456789abcdef"}')

    settings = CloudSettings()

    assert settings.database == tmp_path / "twin.db"
    assert settings.gateway_tokens == {"gw-01": "0123456789abcdef"}
    assert settings.configured_credentials


def test_the_admin_key_is_read_from_the_environment_and_kept_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITYTWIN_CLOUD_ADMIN_KEY", "admin-key-0123456789")
    monkeypatch.setenv("CITYTWIN_CLOUD_AUTH", "required")

    settings = CloudSettings()

    assert settings.admin_key is not None
    assert settings.admin_key.get_secret_value() == "admin-key-0123456789"
    assert "admin-key-0123456789" not in repr(settings)
    assert settings.auth is AuthMode.REQUIRED
    assert settings.configured_credentials


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"database": ":memory:"}, "database\n  Value error, needs a file path"),
        ({"database": "/no/such/dir/c.db"}, "directory /no/such/dir does not exist"),
        ({"port": 70000}, "port\n  Input should be less than or equal to 65535"),
        ({"stale_after_s": 0}, "stale_after_s\n  Input should be greater than 0"),
        ({"stale_after_s": 300}, "offline_after_s (300.0) must be greater than stale_after_s"),
        ({"max_body_bytes": 10}, "max_body_bytes\n  Input should be greater than or equal to 1024"),
        ({"gateway_tokens": {"gw 1": "0123456789abcdef"}}, "'gw 1' is not a gateway id"),
        ({"gateway_tokens": {"gw-1": "short"}}, "token of 'gw-1' must be 16+ characters"),
        ({"gateway_tokens": {"a": "0123456789abcdef", "b": "0123456789abcdef"}}, "share a token"),
        ({"colour": "red"}, "colour\n  Extra inputs are not permitted"),
        ({"auth": "maybe"}, "auth\n  Input should be 'auto', 'required' or 'off'"),
        ({"admin_key": "short"}, "admin_key\n  Value error, must be 16+ characters"),
        ({"enrollment_ttl_s": 0}, "enrollment_ttl_s\n  Input should be greater than 0"),
    ],
    ids=[
        "memory",
        "no dir",
        "port",
        "stale zero",
        "offline before stale",
        "tiny body",
        "bad gateway id",
        "short token",
        "shared token",
        "unknown field",
        "auth mode",
        "short admin key",
        "enrollment ttl",
    ],
)
def test_bad_values_are_refused_naming_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CloudSettings(**fields)

    assert message in str(caught.value)


def test_settings_are_frozen() -> None:
    settings = CloudSettings()

    with pytest.raises(ValidationError, match="frozen"):
        settings.port = 1

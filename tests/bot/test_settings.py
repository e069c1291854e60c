"""Settings: production refuses to start without real secrets; development makes its own and keeps them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.services import Services
from bot.settings import PRODUCTION_SECRETS, SECRET_VALUES, ConfigError, Settings, get_settings
from tests.conftest import AES_KEY, make_settings
from tests.support.wechat import FakeWeChat

REAL_SECRETS = {
    "wechat_token": "a-real-token-4f9c",
    "wechat_app_id": "wx8c1d2e3f4a5b6c7d",
    "wechat_app_secret": "9f86d081884c7d659a2feaa0c55ad015",
    "wechat_aes_key": AES_KEY,
    "wecom_corp_id": "ww1234567890",
    "wecom_agent_id": "1000002",
    "wecom_secret": "wecom-secret-7b1e",
    "wecom_token": "wecom-token-91ad",
    "wecom_aes_key": AES_KEY,
    "admin_token": "admin-token-c0ffee",
    "secret_key": "secret-key-5eed",
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets: no SHEGONG_* from the shell (the Makefile exports one), no .env file."""
    for name in list(os.environ):
        if name.startswith("SHEGONG_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()


# Production names its database; without it the embedded SQLite default would be used silently.
DATABASE_URL = "postgresql+psycopg://shegong@db.internal/shegong"


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {"env": "production", "database_url": DATABASE_URL, **REAL_SECRETS, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_production_starts_with_every_secret_set() -> None:
    settings = production()
    assert settings.env == "production" and not settings.is_development
    # Production never invents secrets.
    assert settings.with_development_secrets() == (settings, {})


@pytest.mark.parametrize("name", PRODUCTION_SECRETS)
def test_production_without_a_secret_names_the_variable(name: str) -> None:
    with pytest.raises(ConfigError, match=f"SHEGONG_{name.upper()}"):
        production(**{name: ""})


@pytest.mark.parametrize("placeholder", ["changeme", "CHANGE-ME", " todo ", "your-app-secret", "<secret>", "xxx"])
def test_production_with_a_placeholder_secret_names_the_variable(placeholder: str) -> None:
    with pytest.raises(ConfigError, match="SHEGONG_WECHAT_APP_SECRET"):
        production(wechat_app_secret=placeholder)


def test_production_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEGONG_ENV", "production")
    monkeypatch.setenv("SHEGONG_DATABASE_URL", DATABASE_URL)
    for name, value in REAL_SECRETS.items():
        monkeypatch.setenv(f"SHEGONG_{name.upper()}", value)
    monkeypatch.setenv("SHEGONG_ADMIN_TOKEN", "changeme")
    with pytest.raises(ConfigError, match="SHEGONG_ADMIN_TOKEN"):
        get_settings()
    monkeypatch.setenv("SHEGONG_ADMIN_TOKEN", "admin-token-c0ffee")
    get_settings.cache_clear()
    assert get_settings().admin_token == "admin-token-c0ffee"


def test_a_production_env_file_is_read_too(tmp_path: Path) -> None:
    lines = [f"SHEGONG_{k.upper()}={v}" for k, v in REAL_SECRETS.items() if k != "secret_key"]
    lines.append(f"SHEGONG_DATABASE_URL={DATABASE_URL}")
    (tmp_path / ".env").write_text("SHEGONG_ENV=production\n" + "\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="SHEGONG_SECRET_KEY"):
        Settings()


@pytest.mark.parametrize("name", ["wechat_aes_key", "wechat_aes_key_previous", "wecom_aes_key"])
def test_an_aes_key_of_the_wrong_length_is_refused_in_any_environment(name: str) -> None:
    with pytest.raises(ConfigError, match=f"SHEGONG_{name.upper()}"):
        Settings(_env_file=None, **{name: AES_KEY[:-1]})  # type: ignore[call-arg]


def test_development_generates_missing_secrets_and_keeps_them(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first, generated = Settings(_env_file=None, data_dir=data_dir).with_development_secrets()  # type: ignore[call-arg]
    assert set(generated) >= {"wechat_token", "admin_token", "secret_key"}
    for name in generated:
        value = getattr(first, name)
        assert len(value) >= 16 and value == generated[name]

    kept = data_dir / "dev-secrets.env"
    assert kept.exists()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600  # secrets: readable by the owner only
    assert f"admin_token={first.admin_token}" in kept.read_text(encoding="utf-8")

    # A restart finds the same secrets (WeChat's configured token must not change under it).
    again, regenerated = Settings(_env_file=None, data_dir=data_dir).with_development_secrets()  # type: ignore[call-arg]
    for name in generated:
        assert getattr(again, name) == getattr(first, name)
    assert regenerated == {k: v for k, v in generated.items()}


def test_development_keeps_secrets_that_were_given(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings, generated = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data_dir, wechat_token="my-own-token"
    ).with_development_secrets()
    assert settings.wechat_token == "my-own-token"
    assert "wechat_token" not in generated
    assert "my-own-token" not in (data_dir / "dev-secrets.env").read_text(encoding="utf-8")


def test_development_with_every_secret_given_writes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(_env_file=None, data_dir=data_dir, **REAL_SECRETS)  # type: ignore[call-arg]
    assert settings.with_development_secrets() == (settings, {})
    assert not (data_dir / "dev-secrets.env").exists()


def test_defaults_are_the_embedded_development_setup() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.is_development
    assert settings.database_url.startswith("sqlite:///")
    assert settings.reply_budget_seconds < 5  # WeChat stops waiting at 5 s
    assert settings.max_body_bytes == 64 * 1024
    assert settings.timestamp_window_seconds == 300


@pytest.mark.parametrize(
    "weak", ["a", "123456", "password", "example", "123456789012", "Password1234", "passwordpassword"]
)
@pytest.mark.parametrize("name", SECRET_VALUES)
def test_production_refuses_short_or_common_secrets(name: str, weak: str) -> None:
    with pytest.raises(ConfigError, match=f"SHEGONG_{name.upper()}"):
        production(**{name: weak})


def test_production_refuses_a_secret_that_repeats_another() -> None:
    with pytest.raises(ConfigError, match="SHEGONG_ADMIN_TOKEN is the same as SHEGONG_WECHAT_TOKEN"):
        production(admin_token=REAL_SECRETS["wechat_token"])


def test_production_needs_its_database_named() -> None:
    values = {"env": "production", **REAL_SECRETS}
    with pytest.raises(ConfigError, match="SHEGONG_DATABASE_URL is not set"):
        Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize("env", ["development", "production"])
def test_an_empty_database_url_is_a_clear_error(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEGONG_DATABASE_URL", "")
    with pytest.raises(ConfigError, match="SHEGONG_DATABASE_URL is empty"):
        Settings(_env_file=None, env=env, **REAL_SECRETS)  # type: ignore[call-arg]


def test_request_body_limits_and_health_timeout_have_sensible_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.max_request_body_bytes == 1024 * 1024
    assert 0 < settings.health_timeout_seconds < 5
    assert settings.wechat_allow_plaintext is False


def production_webhook(sqlite_url: str, tmp_path: Path, **overrides: object) -> tuple[TestClient, FakeWeChat]:
    settings = make_settings(sqlite_url, tmp_path, env="production", **{**REAL_SECRETS, **overrides})
    client = TestClient(create_app(settings, Services(settings)))
    return client, FakeWeChat(settings.wechat_token, settings.wechat_app_id, settings.wechat_aes_key)


def test_production_refuses_plaintext_wechat_callbacks(sqlite_url: str, tmp_path: Path) -> None:
    client, wechat = production_webhook(sqlite_url, tmp_path)
    try:
        message = wechat.event("oPLAIN-resident", "CLICK", "HELP")
        path, body = wechat.request(message, mode="plain")
        # A logged URL re-posted with a forged body is signed just the same in plaintext mode: refused.
        assert client.post(path, content=body).status_code == 403
        assert client.post(path + "&encrypt_type=raw", content=body).status_code == 403
        # The encrypted modes still work.
        for mode in ("safe", "compatible"):
            path, body = wechat.request(wechat.event("oPLAIN-resident", "CLICK", "HELP"), mode=mode)
            assert client.post(path, content=body).status_code == 200, mode
    finally:
        client.app.state.services.close()  # type: ignore[attr-defined]


def test_production_accepts_plaintext_only_when_allowed_and_warns(sqlite_url: str, tmp_path: Path) -> None:
    client, wechat = production_webhook(sqlite_url, tmp_path, wechat_allow_plaintext=True)
    try:
        path, body = wechat.request(wechat.event("oPLAIN-resident", "CLICK", "HELP"), mode="plain")
        assert client.post(path, content=body).status_code == 200
        assert any("SHEGONG_WECHAT_ALLOW_PLAINTEXT" in w for w in client.app.state.services.settings.warnings())  # type: ignore[attr-defined]
    finally:
        client.app.state.services.close()  # type: ignore[attr-defined]
    assert production().warnings() == []
    # Development has nothing to warn of: plaintext is how a test account starts.
    assert Settings(_env_file=None).warnings() == []  # type: ignore[call-arg]

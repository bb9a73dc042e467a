"""Configuration, read from the environment and an optional ``.env`` file.

Every knob an operator may turn lives here, with a default that works on a laptop:
SQLite in the working directory, the sample district, Chinese as the default language.
"""

import re
from functools import lru_cache
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from redgrid.languages import N_

Locale = Literal["zh_CN", "en"]
# The drivers the bot is built and tested on; anything else fails at the first query.
DATABASE_DRIVERS = frozenset({"sqlite+aiosqlite", "postgresql+asyncpg"})
# An invite is for someone about to join; a year is far beyond any real wait.
MAX_INVITE_TTL_DAYS = 365
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
SOURCES = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")


class SettingError(ValueError):
    """A setting's fault, said to the operator: ``template`` is an English msgid, which the
    command line translates and fills with ``values`` (never the setting's own value where
    it may be a secret)."""

    def __init__(self, template: str, **values: str) -> None:
        super().__init__(template.format(**values))
        self.template = template
        self.values = values


class Settings(BaseSettings):
    model_config = SOURCES

    bot_token: SecretStr | None = None
    # The bot's @username, for invite links printed by `redgrid invite` (else asked via getMe).
    bot_username: str | None = None
    database_url: str = "sqlite+aiosqlite:///redgrid.db"
    redis_url: SecretStr | None = None
    telegram_api_base: str | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    timezone: str = "Asia/Shanghai"
    default_locale: Locale = "zh_CN"
    routing_buffer_m: float = Field(default=300.0, ge=0, le=5000)

    ticket_prefix: str = "DX"
    daily_ticket_limit: int = Field(default=10, ge=1)
    auto_close_days: float = Field(default=3, gt=0)
    invite_ttl_days: float = Field(default=7, gt=0, le=MAX_INVITE_TTL_DAYS)
    duplicate_radius_m: float = Field(default=100, ge=0)
    duplicate_window_days: float = Field(default=14, ge=0)
    # Extensions of a ticket's resolve deadline in one round of work (a rework starts a new
    # round): without a cap, "extend" would put off any deadline and hide it from the
    # district's figures. 0 turns extensions off.
    max_extensions: int = Field(default=2, ge=0)
    # Days a sent or failed push stays in the outbox. Its rows hold each message's text, the
    # reporter's name and phone included where they consented, so they are kept no longer
    # than delivery and hand-over need them.
    outbox_retention_days: float = Field(default=30, gt=0)
    # Photos of the problem a ticket holds in all: those it was filed with and those the
    # reporter and followers add later ("Add a photo"). The team's photo of the result
    # is not counted.
    max_ticket_photos: int = Field(default=10, ge=1)

    # Red informants: reports a day (they report far more than residents complain), and
    # the points a report graded valid earns, by its category's priority.
    informant_daily_limit: int = Field(default=30, ge=1)
    informant_points_urgent: int = Field(default=3, ge=0)
    informant_points_normal: int = Field(default=1, ge=0)
    informant_points_complex: int = Field(default=2, ge=0)

    reminder_share: float = Field(default=0.8, gt=0, lt=1)
    escalation_grace_hours: float = Field(default=24, ge=0)
    digest_time: str = "08:30"
    sweep_interval_seconds: float = Field(default=60, gt=0)

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    webhook_path: str = "/telegram/webhook"

    @field_validator(
        "webhook_url", "webhook_secret", "telegram_api_base", "redis_url", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An uncommented ``REDIS_URL=`` in .env means unset, not a URL that fails at start."""
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("default_locale", mode="before")
    @classmethod
    def _supported_locale(cls, locale: object) -> object:
        if locale not in get_args(Locale):
            raise SettingError(N_("must be zh_CN or en"))
        return locale

    @field_validator("telegram_api_base")
    @classmethod
    def _http_base(cls, url: str | None) -> str | None:
        """Else aiohttp refuses the first request with the whole URL, the token in its path."""
        if url is not None and not url.startswith(("http://", "https://")):
            raise SettingError(
                N_("must start with http:// or https://, e.g. http://127.0.0.1:8081")
            )
        return url

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: SecretStr | None) -> SecretStr | None:
        """The value is never repeated: it may hold a password."""
        if url is not None and not url.get_secret_value().startswith(REDIS_SCHEMES):
            raise SettingError(N_("must start with redis://, rediss:// or unix://"))
        return url

    # Pydantic's own message for these would be the regular expression itself.
    @field_validator("bot_username")
    @classmethod
    def _username_shape(cls, username: str | None) -> str | None:
        if username is not None and not re.fullmatch(r"[A-Za-z0-9_]{5,32}", username):
            raise SettingError(N_("5 to 32 letters, digits and _ (the bot's @username without @)"))
        return username

    @field_validator("ticket_prefix")
    @classmethod
    def _prefix_shape(cls, prefix: str) -> str:
        if not re.fullmatch(r"[A-Z]{1,6}", prefix):
            raise SettingError(N_("1 to 6 capital letters A-Z, e.g. DX"))
        return prefix

    @field_validator("digest_time")
    @classmethod
    def _clock_time(cls, time: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", time):
            raise SettingError(N_("a 24-hour time HH:MM, e.g. 08:30"))
        return time

    @field_validator("webhook_path")
    @classmethod
    def _absolute_path(cls, path: str) -> str:
        if not path.startswith("/"):
            raise SettingError(N_("must start with /, e.g. /telegram/webhook"))
        return path

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith("https://"):
            raise SettingError(N_("Telegram posts only to an https:// address"))
        return url

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, secret: SecretStr | None) -> SecretStr | None:
        """Telegram's rule: else setWebhook fails at start-up. The value is never repeated."""
        if secret is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", secret.get_secret_value()
        ):
            raise SettingError(N_("1 to 256 letters, digits, _ and - only"))
        return secret

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        """Accept the URLs people paste (``postgresql://``, ``sqlite:///``): add the driver."""
        for plain, async_ in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                url = async_ + url.removeprefix(plain)
                break
        try:
            driver = make_url(url).drivername
        except ArgumentError:
            raise SettingError(
                N_("not a database URL, e.g. postgresql://user@host/redgrid")
            ) from None
        if driver not in DATABASE_DRIVERS:
            raise SettingError(
                N_("{driver} is not supported: use postgresql://… or sqlite:///…"), driver=driver
            )
        return url

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token_shape(cls, token: object) -> object:
        """Empty (as in .env.example) means unset; anything else must look like a token,
        so a pasted fragment fails here with a message, not deep in aiogram."""
        if isinstance(token, str):
            token = token.strip()
            if not token:
                return None
            if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
                # The message must not repeat the value: it is a secret.
                raise SettingError(
                    N_("not a bot token from @BotFather (digits, a colon, then letters)")
                )
        return token

    @field_validator("bot_username", mode="before")
    @classmethod
    def _without_at(cls, username: object) -> object:
        """``@redgrid_bot`` and ``redgrid_bot`` both work; empty means unset."""
        if isinstance(username, str):
            return username.strip().removeprefix("@") or None
        return username

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``ADMIN_IDS=123,456`` is how operators write a list in an env file."""
        if isinstance(value, str):
            # "[1, 2]" too: the JSON list pydantic-settings reads for other list settings.
            parts = [
                part.strip() for part in value.strip().strip("[]").replace(";", ",").split(",")
            ]
            ids = [part for part in parts if part]
            if not all(part.isdigit() for part in ids):
                raise SettingError(
                    N_("must be Telegram user ids (numbers) separated by commas, e.g. 123,456")
                )
            return frozenset(int(part) for part in ids)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise SettingError(N_("unknown time zone {name}"), name=repr(name)) from error
        return name

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class EnvFileError(ValueError):
    """``.env`` is not UTF-8 text; ``byte`` is where its first undecodable byte is."""

    def __init__(self, byte: int) -> None:
        super().__init__(f"not UTF-8 text (byte {byte}): save it as UTF-8")
        self.byte = byte


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    try:
        return Settings()
    except UnicodeDecodeError as error:  # saved as GBK, say, by an editor on Windows
        raise EnvFileError(error.start) from None


class _DefaultLocale(BaseSettings):
    model_config = SOURCES
    default_locale: str = "zh_CN"


def default_locale_leniently() -> Locale:
    """DEFAULT_LOCALE alone, from the same sources as the settings: the command line speaks
    it even when other settings (or this one) are wrong, so as to name them. A value that
    is no supported locale, or a .env that cannot be read, means zh_CN."""
    try:
        locale = _DefaultLocale().default_locale
    except ValueError:  # UnicodeDecodeError (a .env saved as GBK) is one
        return "zh_CN"
    return locale if locale in get_args(Locale) else "zh_CN"

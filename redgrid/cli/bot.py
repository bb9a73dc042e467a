"""`redgrid run` and `redgrid webhook`: the checks before the bot starts, then the bot,
imported only here (aiogram takes most of a second to import)."""

import asyncio
import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from redgrid.bot.settings import Settings, get_settings
from redgrid.cli.base import EXIT_REFUSED, EXIT_USAGE, _, _require_current_schema, _with_engine, app
from redgrid.languages import N_


@app.command(
    "run",
    help=N_("Run the bot with long polling (BOT_TOKEN; TELEGRAM_API_BASE for a self-hosted API)."),
)
def run() -> None:
    settings = _bot_settings()
    _with_engine(_require_current_schema)
    _require_redis(settings)
    _configure_logging()
    from redgrid.bot.app import run_polling  # aiogram only for the commands that need it

    with _telegram_refusals(settings):
        asyncio.run(run_polling(settings))


@app.command(
    "webhook",
    help=N_("Run the bot behind a webhook (WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_HOST/PORT/PATH)."),
)
def webhook() -> None:
    settings = _bot_settings()
    if settings.webhook_url is None or settings.webhook_secret is None:
        typer.echo(_("WEBHOOK_URL and WEBHOOK_SECRET must be set for webhook mode."), err=True)
        raise typer.Exit(EXIT_USAGE)
    _with_engine(_require_current_schema)
    _require_redis(settings)
    _configure_logging()
    from redgrid.bot.app import run_webhook

    try:
        with _telegram_refusals(settings):
            run_webhook(settings)
    except OSError as error:
        if error.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        where = f"{settings.webhook_host}:{settings.webhook_port}"
        typer.echo(
            _("Cannot listen on {address} (WEBHOOK_HOST, WEBHOOK_PORT): {reason}").format(
                address=where, reason=error
            ),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None


@contextmanager
def _telegram_refusals(settings: Settings) -> Iterator[None]:
    """A start Telegram refuses (a revoked token, no route to the Bot API) ends in one line;
    once running, the bot rides out Telegram's failures by itself."""
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

    try:
        yield
    except TelegramUnauthorizedError:
        typer.echo(
            _("Telegram refused BOT_TOKEN (Unauthorized): check it with @BotFather."), err=True
        )
        raise typer.Exit(EXIT_REFUSED) from None
    except TelegramNetworkError as error:
        where = settings.telegram_api_base or "api.telegram.org"
        # aiohttp names the URL of some failures, and the token is part of every URL.
        token = settings.bot_token.get_secret_value()
        reason = error.message.replace(token, "<BOT_TOKEN>")
        typer.echo(
            _("Cannot reach the Bot API at {url}: {reason}").format(url=where, reason=reason),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None


def _require_redis(settings: Settings) -> None:
    """With REDIS_URL, Redis holds every conversation: unreachable, the bot would start and
    fail every update, so it does not start."""
    if settings.redis_url is None:
        return
    from urllib.parse import urlsplit

    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    url = settings.redis_url.get_secret_value()

    async def ping() -> None:
        client = Redis.from_url(url)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except (RedisError, OSError, ValueError) as error:
        where = urlsplit(url).netloc.rpartition("@")[2]  # never the password
        typer.echo(
            _("Cannot reach Redis (REDIS_URL) at {address}: {reason}").format(
                address=where, reason=error
            ),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None


def _bot_settings():
    settings = get_settings()
    if settings.bot_token is None:
        typer.echo(_("BOT_TOKEN is not set: put it in the environment or .env."), err=True)
        raise typer.Exit(EXIT_USAGE)
    return settings


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The ticker wakes every few seconds; a line per tick would drown everything else.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

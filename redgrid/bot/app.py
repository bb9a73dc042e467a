"""Start-up and shutdown of the bot, in polling or webhook mode.

Both modes build the same ``BotApp``: the database, the bot, the storage, the dispatcher
and the outbox sender, and the same start-up work (command menus in both languages,
pending pushes from before a restart).
"""

import asyncio
import gc
import logging
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from aiogram.utils.i18n import I18n
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid import lean_aiogram
from redgrid.bot.factory import create_bot, create_dispatcher, create_storage
from redgrid.bot.i18n import create_i18n
from redgrid.bot.notifier import OutboxSender
from redgrid.bot.settings import Settings
from redgrid.languages import N_, SUPPORTED_LOCALES
from redgrid.models.db import create_engine, create_session_factory
from redgrid.scheduler.ticker import Ticker, configure_deadlines, create_ticker
from redgrid.services import people
from redgrid.services.categories import CategoryCatalogue, load_categories

# Descriptions are translated per language at start-up.
COMMANDS = (
    ("start", N_("Main menu")),
    ("new", N_("Raise a complaint")),
    ("mytickets", N_("My tickets")),
    ("queue", N_("My grid's open tickets")),
    ("report", N_("Report from the road (red informants)")),
    ("mine", N_("My reports (red informants)")),
    ("top", N_("This month's informant leaderboard")),
    ("language", N_("Language")),
    ("mydata", N_("A copy of my data")),
    ("forget", N_("Erase my personal data")),
    ("cancel", N_("Cancel what I am doing")),
    ("help", N_("Help")),
)
# aiogram's models are built on first use (redgrid/lean_aiogram.py), each in a few tenths
# of a second: these the first updates need are built at start-up instead, so that no
# resident waits for them. The rest are built when (and if) something uses them.
FIRST_USE = (
    Update,
    Message,
    InlineKeyboardMarkup,
    InlineKeyboardButton,
    SendMessage,
    AnswerCallbackQuery,
    EditMessageText,
    EditMessageReplyMarkup,
)
# A stop (SIGTERM, SIGINT) waits this long for the updates being handled; a service
# manager's own stop timeout is longer (systemd: 90 s).
SHUTDOWN_GRACE_SECONDS = 30

logger = logging.getLogger(__name__)

# Telegram matches a client's language by its two-letter code.
TELEGRAM_LANGUAGE = {"zh_CN": "zh", "en": "en"}


def settle_heap() -> None:
    """Move what start-up built out of the garbage collector's way.

    The thousands of objects built at import and start-up (aiogram's models above all)
    live as long as the process; left in, every full collection walks them all and stalls
    the bot for tens of milliseconds.
    """
    gc.collect()
    gc.freeze()


@dataclass
class BotApp:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    bot: Bot
    dispatcher: Dispatcher
    sender: OutboxSender
    i18n: I18n
    catalogue: CategoryCatalogue

    ticker: Ticker | None = None

    async def on_startup(self) -> None:
        lean_aiogram.build_now(*FIRST_USE)
        settle_heap()
        await self.warn_of_admins_never_met()  # connects before the ticker's jobs all ask
        await set_command_menus(self.bot, self.i18n)
        # Its first tick, right away, sends what fell due while the bot was down.
        self.ticker = create_ticker(self)
        self.ticker.start()

    async def warn_of_admins_never_met(self) -> None:
        """An admin in ADMIN_IDS who never opened the bot cannot be written to: the desks'
        and the district queue's tickets, and escalations, would reach nobody."""
        async with self.session_factory() as session:
            absent = await people.never_met(session, self.settings.admin_ids)
        for telegram_id in absent:
            logger.warning(
                "admin %s (ADMIN_IDS) has not started the bot: district desk tickets and "
                "escalations cannot reach them until they do",
                telegram_id,
            )

    async def run_polling(self, *, handle_signals: bool = True) -> None:
        """Long polling until stopped (SIGINT/SIGTERM, or ``dispatcher.stop_polling()``)."""
        try:
            await self.bot.delete_webhook(drop_pending_updates=False)
            await self.dispatcher.start_polling(self.bot, handle_signals=handle_signals)
        finally:  # also when Telegram refused the start: nothing left open
            await self.bot.session.close()
            await self.engine.dispose()

    async def register_webhook(self) -> None:
        settings = self.settings
        if settings.webhook_url is None or settings.webhook_secret is None:
            raise ValueError("WEBHOOK_URL and WEBHOOK_SECRET must be set for webhook mode")
        await self.bot.set_webhook(
            settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=self.dispatcher.resolve_used_update_types(),
        )

    async def on_shutdown(self) -> None:
        # Telegram counts an update fetched as delivered: cut off, it would be lost, its
        # reply half sent. The bot's session stays open until this returns.
        try:
            await asyncio.wait_for(
                self.dispatcher["updates"].wait_idle(), timeout=SHUTDOWN_GRACE_SECONDS
            )
        except TimeoutError:
            logger.warning("stopping with updates still running after %s s", SHUTDOWN_GRACE_SECONDS)
        if self.ticker is not None:
            await self.ticker.stop()
        await self.sender.wait_idle()
        await self.dispatcher.storage.close()
        await self.engine.dispose()


def build_app(settings: Settings, bot_session: BaseSession | None = None) -> BotApp:
    engine = create_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    bot = create_bot(settings, session=bot_session)
    i18n = create_i18n(settings.default_locale)
    storage, isolation = create_storage(settings, session_factory)
    sender = OutboxSender(bot, session_factory, i18n=i18n, admin_telegram_ids=settings.admin_ids)
    catalogue = load_categories()
    configure_deadlines(settings)
    dispatcher = create_dispatcher(
        settings,
        session_factory=session_factory,
        storage=storage,
        events_isolation=isolation,
        i18n=i18n,
        catalogue=catalogue,
        sender=sender,
    )
    app = BotApp(settings, engine, session_factory, bot, dispatcher, sender, i18n, catalogue)
    dispatcher.startup.register(app.on_startup)
    dispatcher.shutdown.register(app.on_shutdown)
    return app


async def set_command_menus(bot: Bot, i18n: I18n) -> None:
    """The "/" menu in each language, and the default language's for everyone else."""
    for locale in SUPPORTED_LOCALES:
        commands = [
            BotCommand(command=name, description=i18n.gettext(text, locale=locale))
            for name, text in COMMANDS
        ]
        await bot.set_my_commands(commands, language_code=TELEGRAM_LANGUAGE[locale])
        if locale == i18n.default_locale:
            await bot.set_my_commands(commands, scope=BotCommandScopeDefault())


async def run_polling(settings: Settings) -> None:
    await build_app(settings).run_polling()


class UpdateRequestHandler(SimpleRequestHandler):
    """Answers 400 to a body that is not an update (not JSON, not an Update), logging only
    that: aiogram's own answer is a 500 and a traceback that quotes the body, message text
    and phone numbers included."""

    # Overrides aiogram's (private) step after the secret check; aiogram's minor is pinned.
    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            body = await request.json(loads=bot.session.json_loads)
            update = Update.model_validate(body, context={"bot": bot})
        except ValueError as error:  # json's and pydantic's errors both are
            logger.warning(
                "webhook: refused a body that is not an update (%s)", type(error).__name__
            )
            return web.Response(status=400, text="Bad Request: not a Telegram update")
        result = await self.dispatcher.feed_webhook_update(bot, update, **self.data)
        return web.Response(body=self._build_response_writer(bot=bot, result=result))


def create_webhook_app(app: BotApp) -> web.Application:
    """An aiohttp application that takes Telegram's posts on ``WEBHOOK_PATH``.

    A request without the right ``X-Telegram-Bot-Api-Secret-Token`` is refused before
    anything is processed. Updates are handled before the answer (not in the background):
    an update the process dies on is never answered, and Telegram delivers it again. (A
    handler that fails is answered 200: it is rolled back and the person asked to retry.)
    """
    settings = app.settings
    if settings.webhook_secret is None:
        raise ValueError("WEBHOOK_SECRET is not set: a webhook without one accepts forgeries")
    web_app = web.Application()
    UpdateRequestHandler(
        dispatcher=app.dispatcher,
        bot=app.bot,
        secret_token=settings.webhook_secret.get_secret_value(),
        handle_in_background=False,
    ).register(web_app, path=settings.webhook_path)
    app.dispatcher.startup.register(app.register_webhook)
    setup_application(web_app, app.dispatcher, bot=app.bot)
    return web_app


def run_webhook(settings: Settings) -> None:
    app = build_app(settings)
    web_app = create_webhook_app(app)
    web.run_app(web_app, host=settings.webhook_host, port=settings.webhook_port)

"""Factories for the bot, its storage and its dispatcher: no module-level globals.

The polling runner, the webhook runner, the tests and the benchmark all build the bot the
same way, so what the tests drive is what production runs.
"""

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.utils.callback_answer import CallbackAnswerMiddleware
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import PersonI18nMiddleware
from redgrid.bot.middlewares import UpdateMiddleware
from redgrid.bot.notifier import OutboxSender
from redgrid.bot.settings import Settings
from redgrid.bot.storage import (
    ABANDONED_AFTER,
    CommitBoundStorage,
    DatabaseStorage,
    PerKeyIsolation,
    conversation_keys,
)
from redgrid.handlers import get_routers
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.district import RoutingCache


class MissingBotToken(RuntimeError):  # noqa: N818 - reads as the problem it reports
    pass


def create_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    """A bot speaking HTML, talking to Telegram or to the server in ``TELEGRAM_API_BASE``."""
    if settings.bot_token is None:
        raise MissingBotToken("BOT_TOKEN is not set (see .env.example)")
    if session is None:
        session = AiohttpSession()
        if settings.telegram_api_base:
            session.api = TelegramAPIServer.from_base(settings.telegram_api_base)
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_storage(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> tuple[BaseStorage, BaseEventIsolation]:
    """Redis when configured (several instances), else the database.

    Either way a half-written complaint survives a restart, and is dropped once abandoned
    for ``ABANDONED_AFTER``. With Redis, one person's
    updates are serialised across instances; with the database, within this process.
    """
    if settings.redis_url is not None:
        # Imported here: the redis client costs ~7 MB that a bot without Redis never uses.
        from aiogram.fsm.storage.redis import RedisStorage

        redis = RedisStorage.from_url(
            settings.redis_url.get_secret_value(),
            key_builder=conversation_keys(),
            state_ttl=ABANDONED_AFTER,
            data_ttl=ABANDONED_AFTER,
        )
        return CommitBoundStorage(redis), redis.create_isolation()
    return DatabaseStorage(session_factory), PerKeyIsolation()


def create_dispatcher(
    settings: Settings,
    *,
    session_factory: async_sessionmaker[AsyncSession],
    storage: BaseStorage,
    events_isolation: BaseEventIsolation,
    i18n: I18n,
    catalogue: CategoryCatalogue,
    sender: OutboxSender,
) -> Dispatcher:
    # aiogram's own FSM middleware is replaced by ``UpdateMiddleware``, which reads the
    # state in the update's transaction; the dispatcher still owns (and closes) the storage.
    dispatcher = Dispatcher(
        storage=storage,
        events_isolation=events_isolation,
        disable_fsm=True,
        settings=settings,
        catalogue=catalogue,
        routing=RoutingCache(buffer_m=settings.routing_buffer_m),
        i18n=i18n,
    )
    updates = UpdateMiddleware(
        storage,
        events_isolation,
        session_factory,
        sender,
        admin_telegram_ids=settings.admin_ids,
        default_locale=settings.default_locale,
    )
    dispatcher.update.outer_middleware(updates)
    dispatcher["updates"] = updates  # for a shutdown that lets running updates finish
    translate = PersonI18nMiddleware(i18n)
    for observer in (dispatcher.message, dispatcher.callback_query, dispatcher.my_chat_member):
        observer.outer_middleware(translate)
    dispatcher.callback_query.middleware(CallbackAnswerMiddleware())
    dispatcher.include_routers(*get_routers())
    return dispatcher

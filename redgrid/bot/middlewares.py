"""Outer middlewares: one database session per update, and who is talking.

Order matters and is set in ``factory.create_dispatcher``: the database middleware first
(session, notifier), then the person middleware (needs the session), then i18n (needs the
person's saved language).
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramForbiddenError
from aiogram.types import TelegramObject, User
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import negotiate_locale
from redgrid.bot.notifier import Notifier, OutboxSender
from redgrid.bot.storage import flush_update, update_scope
from redgrid.models.base import utcnow
from redgrid.services.people import Actor, identify, mark_unreachable

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DatabaseMiddleware(BaseMiddleware):
    """Gives each update a session and a notifier; commits when the handler returns.

    The FSM storage joins this session, so a conversation step and the writes it makes
    commit together. A handler that replies about something it wrote commits first (``await
    session.commit()``), then answers: a reply must never announce what a failed commit
    lost. Pushes staged by the notifier are committed with the update's last commit and
    sent right after it.

    When Telegram refuses a reply because the person blocked the bot, what the handler did
    still stands (it is committed, and the person marked unreachable): a ticket must not
    vanish, nor a finished conversation come back, because its confirmation could not be
    delivered.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        sender: OutboxSender,
    ) -> None:
        self.session_factory = session_factory
        self.sender = sender

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.session_factory() as session:
            with update_scope(session) as fsm:
                notifier = Notifier(session)
                data["session"] = session
                data["notifier"] = notifier
                try:
                    result = await handler(event, data)
                except TelegramForbiddenError as error:
                    logger.info("reply refused, the work stands: %s", error.message)
                    result = None
                    await mark_unreachable(session, data.get("person"), utcnow())
                except BaseException:
                    await session.rollback()
                    raise
                await flush_update(fsm)
                await session.commit()
        if notifier.staged:
            self.sender.deliver_soon([row.id for row in notifier.staged])
        return result


class PersonMiddleware(BaseMiddleware):
    """Loads (or creates) the person behind the update and says whether they are an admin."""

    def __init__(self, admin_telegram_ids: frozenset[int], default_locale: str) -> None:
        self.admin_telegram_ids = admin_telegram_ids
        self.default_locale = default_locale

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return await handler(event, data)
        session: AsyncSession = data["session"]
        # A new person's language is their client's, so pushes reach them in it too.
        locale = negotiate_locale(None, user.language_code, self.default_locale)
        person, admin = await identify(
            session, user.id, user.full_name, locale, self.admin_telegram_ids
        )
        data["person"] = person
        data["actor"] = Actor(person_id=person.id, telegram_id=user.id, is_admin=admin)
        return await handler(event, data)

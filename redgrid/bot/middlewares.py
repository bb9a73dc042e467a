"""Outer middlewares: one database session per update, and who is talking.

Order matters and is set in ``factory.create_dispatcher``: the database middleware first
(session, notifier), then the person middleware (needs the session), then i18n (needs the
person's saved language).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import negotiate_locale
from redgrid.bot.notifier import Notifier, OutboxSender
from redgrid.bot.storage import update_session
from redgrid.services.people import Actor, get_or_create_person, is_admin

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DatabaseMiddleware(BaseMiddleware):
    """Gives each update a session and a notifier; commits when the handler returns.

    The FSM storage joins this session, so a conversation step and the writes it makes
    commit together. A handler that replies about something it wrote commits first (``await
    session.commit()``), then answers: a reply must never announce what a failed commit
    lost. Pushes staged by the notifier are committed with the update's last commit and
    sent right after it.
    """

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], sender: OutboxSender
    ) -> None:
        self.session_factory = session_factory
        self.sender = sender

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.session_factory() as session:
            notifier = Notifier(session)
            data["session"] = session
            data["notifier"] = notifier
            bound = update_session.set(session)
            try:
                result = await handler(event, data)
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            finally:
                update_session.reset(bound)
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
        person = await get_or_create_person(session, user.id, user.full_name, locale)
        data["person"] = person
        data["actor"] = Actor(
            person_id=person.id,
            telegram_id=user.id,
            is_admin=await is_admin(session, person, self.admin_telegram_ids),
        )
        return await handler(event, data)
